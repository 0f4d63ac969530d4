"""The cue paradigm of a live session: when each cue comes and the markers that time it.

- :mod:`~bci_app.paradigm.timing`: the Graz motor-imagery paradigm on an injectable clock (schedule,
  pauses, rejected trials) and the checks of its timeline against the model's window.
- :mod:`~bci_app.paradigm.markers`: the LSL outlet that sends its events as GDF codes.
- :mod:`~bci_app.paradigm.external_cues`: cues from another program's LSL Markers stream, driving the
  same session in place of the Graz paradigm.
"""
