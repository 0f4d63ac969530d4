"""Test-wide set-up: LSL kept on this machine, one torch thread, offscreen Qt, shared data path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from bci_app.lsl_config import configure_lsl  # noqa: E402

configure_lsl("machine")  # before anything else imports pylsl

import torch  # noqa: E402

torch.set_num_threads(1)

from shared_data import require_eegmmidb  # noqa: E402 - tests/ is on sys.path (this conftest's folder)


@pytest.fixture(scope="session")
def eegmmidb_dir() -> Path:
    """Folder of the shared PhysioNet EEGMMIDB recordings (override with ``BCI_APP_EEGMMIDB``); a
    skip locally when absent, a failure under CI (:mod:`shared_data`)."""
    return require_eegmmidb()


@pytest.fixture
def unique_name(request) -> str:
    """A stream name unique to this test (LSL outlets from other tests must not be picked up)."""
    import uuid

    return f"bciapp-test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
