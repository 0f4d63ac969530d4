"""The README's scripted session runs as written: connect, calibrate, train, decode online, save, export."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    """The first Python block under the README's 'Scripting a session from Python' heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Scripting a session from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's scripting section has no python block"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_scripted_session_runs(tmp_path):
    (tmp_path / "example.py").write_text(readme_example(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "BCI_APP_LOG_DIR": str(tmp_path / "logs")}
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "error:" not in done.stdout, done.stdout
    accuracy = float(re.search(r"online accuracy: ([0-9.]+)", done.stdout).group(1))
    assert accuracy >= 0.6  # the simulated person is decodable
    (folder,) = (tmp_path / "sessions" / "P001").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert {"calibration.xdf", "online.xdf", "adapter.json", "adapter.safetensors", "calibration_report.html"} <= names
    vhdr = sorted((tmp_path / "bids" / "sub-P001").rglob("*_eeg.vhdr"))
    assert [p.name.split("_run-")[1] for p in vhdr] == ["1_eeg.vhdr", "2_eeg.vhdr"]
