"""Calibration and online reports, Qt-free: figures (matplotlib on Agg, MNE), numbers, and one
self-contained HTML file.

- :func:`write_calibration_report` / :func:`build_calibration_report`: a calibration outcome ->
  :class:`CalibrationReport` (``figures`` for a GUI, ``save(path)``, ``add_online_run``).
- :mod:`bci_app.report.erd`: ERD/ERS time-frequency and scalp maps; :mod:`bci_app.report.accuracy`:
  confusion matrix, kappa, ITR.
"""

from bci_app.report.accuracy import Classification, classify
from bci_app.report.calibration_report import CalibrationReport, build_calibration_report, write_calibration_report
from bci_app.report.erd import ErdMaps, ErdWindows, erd_maps

__all__ = ["CalibrationReport", "build_calibration_report", "write_calibration_report", "Classification",
           "classify", "ErdMaps", "ErdWindows", "erd_maps"]
