"""The desktop app (PySide6 + pyqtgraph): the only package that imports Qt.

Public API: :class:`MainWindow`, :func:`run_gui`, :func:`run_demo_window` (:func:`build_demo`).
"""

from __future__ import annotations

__all__ = ["MainWindow", "run_demo", "run_demo_window", "run_gui"]


def __getattr__(name: str):
    if name == "MainWindow":
        from bci_app.gui.main_window import MainWindow

        return MainWindow
    if name in ("run_gui", "run_demo_window", "run_demo", "build_demo", "DemoDriver"):
        from bci_app.gui import app

        return getattr(app, name)
    raise AttributeError(name)
