"""The core never imports Qt: checked in a fresh interpreter."""

import subprocess
import sys
import textwrap
from pathlib import Path

import bci_app

QT_MODULES = ("PySide6", "pyqtgraph", "superqt")


def test_core_imports_leave_qt_out():
    root = Path(bci_app.__file__).resolve().parent.parent
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        import bci_app, calibration, pretraining
        for pkg in (bci_app, calibration, pretraining):
            for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                if info.name.startswith("bci_app.gui") or info.name.endswith("__main__"):
                    continue
                importlib.import_module(info.name)
        leaked = [m for m in {QT_MODULES!r} if m in sys.modules]
        print("LEAKED", leaked)
        sys.exit(1 if leaked else 0)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
