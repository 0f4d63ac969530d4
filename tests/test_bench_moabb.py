"""bench/moabb_compare.py: MOABB's evaluation on the local EEGMMIDB copy, never downloading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("moabb")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_moabb_compare_scores_one_person_from_the_local_files(eegmmidb_dir, tmp_path):
    out = tmp_path / "moabb.json"
    env = {**os.environ, "BCI_APP_EEGMMIDB": str(eegmmidb_dir), "OMP_NUM_THREADS": "1",
           "MNE_DATA": str(tmp_path / "mne_data"), "MNE_DATASETS_EEGBCI_PATH": str(tmp_path / "mne_data")}
    done = subprocess.run([sys.executable, "bench/moabb_compare.py", "--subjects", "S001", "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nemar" not in done.stderr.lower() and "download" not in done.stderr.lower()
    result = json.loads(out.read_text())
    row = result["per_person"]["S001"]
    assert row["base"] == "sensorimotor16.fold0"  # the fold base that never saw S001
    for pipeline in ("bci-app", "TS+LR", "FgMDM", "MDM", "CSP+LDA"):
        assert 0.0 <= row[pipeline]["score"] <= 1.0
    assert row["bci-app"]["score"] > 0.6  # S001's AUC is well above chance
    assert not any((tmp_path / "mne_data").rglob("*.edf"))  # nothing fetched into MNE's data folder


def test_local_dataset_refuses_files_it_does_not_have(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "bench"))
    import moabb_compare

    monkeypatch.setattr(moabb_compare, "DATA", tmp_path)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        moabb_compare.local_dataset().data_path(1)
