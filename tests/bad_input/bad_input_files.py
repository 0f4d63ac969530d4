"""Files and snapshots for the bad-input tests (imported by their conftest and the tests)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import numpy as np


def write_xdf(path: Path, seconds: float = 40.0, sfreq: float = 160.0, *, cues: bool = True,
              timestamps: np.ndarray | None = None, onsets: np.ndarray | None = None) -> Path:
    """A real XDF (our writer): simulated EEG (volts → µV) plus a GDF marker stream with cues 769/770
    at ``onsets`` (s from the first sample; default every 8 s from 2 s)."""
    from bci_app.io.xdf import XdfRecorder
    from bci_app.vocabulary import SENSORIMOTOR_16

    n = int(seconds * sfreq)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((16, n)) * 10.0  # µV
    ts = 100.0 + np.arange(n) / sfreq if timestamps is None else timestamps
    with XdfRecorder(path, flush_interval=None, clock=lambda: 100.0) as rec:
        eeg = rec.add_stream("eeg", "EEG", list(SENSORIMOTOR_16), units=["microvolts"] * 16, sfreq=sfreq)
        rec.push(eeg, data.astype(np.float32), ts)
        if cues:
            markers = rec.add_stream("markers", "Markers", ["marker"], channel_format="string")
            onsets = np.arange(2.0, seconds - 6.0, 8.0) if onsets is None else np.asarray(onsets, dtype=float)
            codes = ["769" if i % 2 == 0 else "770" for i in range(len(onsets))]
            rec.push(markers, codes, 100.0 + onsets)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fingerprint(p: Path) -> str:
    """sha256 of a regular file's bytes; 'dir', 'link -> target', or the inode kind and number of
    anything else (a FIFO or socket is never read: reading a FIFO would block)."""
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode):
        return f"link -> {os.readlink(p)}"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return digest(p)
    return f"special {stat.S_IFMT(st.st_mode):o} inode {st.st_ino}"


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (relative name) with its :func:`_fingerprint`."""
    return {str(p.relative_to(folder)): _fingerprint(p) for p in sorted(folder.rglob("*"))}


def edit_json(path: Path, change) -> None:
    """Rewrite a JSON file through ``change(dict) -> dict`` (NaN allowed, as a careless editor would)."""
    info = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(change(info)), encoding="utf-8")


def assert_refused_cleanly(result, expected: list[str], before: dict[str, str], folder: Path, argv: list) -> None:
    """The catalogue's verdict on one run (``result``: code, out, err): exit 2, exactly one error line
    holding every ``expected`` fragment, no traceback, and ``folder`` unchanged since ``before``."""
    text = result.out + result.err
    assert result.code != 0, f"exit 0 for {argv}:\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in result.err.splitlines() if re.match(r"bci-app [\w-]+: (internal )?error", line)]
    assert len(errors) == 1, result.err[-3000:]
    assert result.code == 2, f"exit {result.code} (an internal error, not a message about the input):\n{result.err[-3000:]}"
    message = result.err[result.err.index(errors[0]):]
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message[-2000:]}"
    assert snapshot(folder) == before, "an input changed or an output was left behind"
