"""Reading and writing recordings (EDF/BDF/GDF/FIF via MNE, XDF via pyxdf and our writer)."""
