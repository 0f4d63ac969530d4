"""Where the tests find the shared PhysioNet EEGMMIDB recordings (``../shared/data/eegmmidb`` from the
repository root, or ``BCI_APP_EEGMMIDB``), and what a missing copy does: locally a test that needs it
is skipped with the reason; under CI (``CI`` set to true, as ``.ci/run`` does) it fails, so a
missing copy never lets CI pass by skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pretraining.eegmmidb import EEGMMIDB_DIR, eegmmidb_missing

#: the file every test that reads the recordings needs first
EEGMMIDB_EDF = EEGMMIDB_DIR / "S001" / "S001R04.edf"
#: why the recordings are missing (empty when they are there)
MISSING = eegmmidb_missing() or ""


def under_ci() -> bool:
    """CI runs (``CI=true``/``1``/``yes``): missing shared data is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def have_eegmmidb() -> bool:
    return eegmmidb_missing() is None


def missing_data(reason: str) -> None:
    """Skip the test (locally) or fail it (under CI) because shared data is missing: ``reason``."""
    if under_ci():
        pytest.fail(f"{reason}; CI must have the shared data", pytrace=False)
    pytest.skip(reason)


def require_eegmmidb() -> Path:
    """The recordings' folder; :func:`missing_data` when absent."""
    if not have_eegmmidb():
        missing_data(MISSING)
    return EEGMMIDB_DIR


#: for parametrised cases built at import: skipped locally without the data; under CI not skipped, so
#: the case runs and fails on the missing file
needs_eegmmidb = pytest.mark.skipif(not have_eegmmidb() and not under_ci(), reason=MISSING)


def cue_count(path: Path, cues: tuple[str, ...] = ("T1", "T2")) -> int:
    """Cue annotations (EEGMMIDB's T1/T2) in a recording, read from the file itself with MNE, so a test
    states how many trials a file holds as a property of the file, not a number of one subject."""
    import mne

    return sum(str(d) in cues for d in mne.read_annotations(path).description)
