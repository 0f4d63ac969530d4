import json
import subprocess
import sys

import pytest

from bci_app import __version__
from bci_app.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_sys_info(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "sys-info" in capsys.readouterr().out


def test_sys_info_json_reports_every_package():
    out = subprocess.run(
        [sys.executable, "-m", "bci_app", "sys-info", "--json"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    report = json.loads(out)
    for name in ("python", "torch", "numpy", "scipy", "pylsl", "brainflow", "PySide6", "pyqtgraph", "mne"):
        assert name in report
    assert report["torch"]["imports"] and report["torch"]["threads"] >= 1
    assert report["pylsl"]["imports"] and report["pylsl"]["liblsl"]
