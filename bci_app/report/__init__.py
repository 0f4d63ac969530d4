"""Calibration and online reports, Qt-free: figures (matplotlib on Agg, MNE), numbers, and one
self-contained HTML file.

- :func:`write_calibration_report` / :func:`build_calibration_report`: a calibration outcome ->
  :class:`CalibrationReport` (``figures`` for a GUI, ``save(path)``, ``add_online_run``).
- :mod:`bci_app.report.rendered`: :class:`RenderedReport`, a report as drawn (HTML and PNG bytes
  plus its numbers), the form that crosses processes; matplotlib-free.
- :mod:`bci_app.report.inputs`: :class:`ReportInputs`, what a report needs from a calibration
  outcome, without torch.
- :mod:`bci_app.report.process`: the report drawn in a process of its own, so its figures never
  hold the app's interpreter.
- :mod:`bci_app.report.erd`: ERD/ERS time-frequency and scalp maps; :mod:`bci_app.report.accuracy`:
  confusion matrix, kappa, ITR.

The names load on first use (PEP 562): importing a light part (the rendered report, the inputs)
does not import matplotlib or MNE.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "CalibrationReport": "calibration_report", "build_calibration_report": "calibration_report",
    "write_calibration_report": "calibration_report", "Classification": "accuracy", "classify": "accuracy",
    "ErdMaps": "erd", "ErdWindows": "erd", "erd_maps": "erd", "RenderedReport": "rendered",
    "ReportInputs": "inputs", "report_inputs": "inputs",
}

__all__ = ["CalibrationReport", "build_calibration_report", "write_calibration_report", "Classification",
           "classify", "ErdMaps", "ErdWindows", "erd_maps", "RenderedReport", "ReportInputs", "report_inputs"]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"bci_app.report.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'bci_app.report' has no attribute {name!r}")
