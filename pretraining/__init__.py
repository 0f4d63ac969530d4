"""Research on the public EEGMMIDB recordings behind the shipped base models.

- :mod:`~pretraining.eegmmidb`: its files and trials, through the app's own preprocessing (cached).
- :mod:`~pretraining.split`: the one split of its people into a development and a final test group.
- :mod:`~pretraining.train`: cross-subject pretraining of the ATCNet bases (``bci-app pretrain``).

It builds on :mod:`calibration` (the epocher) and :mod:`bci_app`'s core; only ``bci-app pretrain``
and the benchmarks import it.
"""
