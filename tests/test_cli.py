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


def test_gui_takes_a_stimulus_programs_cue_stream(capsys):
    """``bci-app gui --cue-stream NAME --cue-events MAP``: checked before any window opens."""
    from bci_app.cli import build_parser
    from bci_app.commands.gui import cue_source

    parse = build_parser().parse_args
    assert cue_source(parse(["gui"])) is None
    choice = cue_source(parse(["gui", "--cue-stream", "psychopy", "--cue-events", "T1=left_hand,T2=right_hand"]))
    assert (choice.stream, choice.mapping()) == ("psychopy", {"T1": "left_hand", "T2": "right_hand"})
    assert main(["gui", "--cue-stream", "psychopy"]) == 2
    assert "--cue-stream and --cue-events go together" in capsys.readouterr().err
    assert main(["gui", "--cue-stream", "psychopy", "--cue-events", "T1=rest"]) == 2
    assert "unknown class 'rest'" in capsys.readouterr().err
