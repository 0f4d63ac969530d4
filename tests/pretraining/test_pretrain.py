"""Pretraining: folds, shipped-head slicing, a short real run, and the same run under torchrun (2 CPU processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bci_app.models import ATCNet, load_model
from pretraining.train import PersonAdapted, PretrainOptions, pretrain, subject_folds, to_shipped

REPO = Path(__file__).resolve().parents[2]
TINY_SUBJECTS = ("S001", "S002", "S004")


def _exclude_all_but(data_dir: Path, keep: tuple[str, ...]) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.is_dir() and p.name not in keep)


def test_subject_folds_partition_subjects():
    subjects = [f"S{i:03d}" for i in range(1, 18)]
    folds = subject_folds(subjects, 4, seed=0)
    assert len(folds) == 4 and sorted(s for f in folds for s in f) == subjects
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert folds == subject_folds(subjects, 4, seed=0)


def test_to_shipped_keeps_left_right_logits():
    opts = PretrainOptions(montage="sensorimotor8", extra_runs=True)
    torch.manual_seed(0)
    from pretraining.train import build_model

    model = build_model(opts, 4).eval()
    shipped = to_shipped(model, opts)
    x = torch.randn(3, 8, opts.n_times)
    with torch.no_grad():
        torch.testing.assert_close(shipped(x), model(x)[:, :2])
    assert shipped.n_outputs == 2


def _changed_by_training(model, opts: PretrainOptions) -> list[str]:
    """Parameters of ``model`` that differ from the seeded initialisation pretraining starts from."""
    from pretraining.train import build_model

    torch.manual_seed(opts.seed)
    init = to_shipped(build_model(opts, 2), opts).state_dict()
    return [k for k, v in model.state_dict().items() if not torch.equal(v, init[k])]


def test_pretrain_one_process_writes_model_with_provenance(eegmmidb_dir, tmp_path):
    opts = PretrainOptions(montage="sensorimotor8", epochs=1, folds=0,
                           exclude_subjects=_exclude_all_but(eegmmidb_dir, TINY_SUBJECTS))
    pretrain([eegmmidb_dir], tmp_path / "m", opts, cache_dir=tmp_path / "cache", command=["test"])
    model, meta = load_model(tmp_path / "m")
    assert meta["classes"] == ["left_hand", "right_hand"] and meta["ch_names"][:2] == ["FC3", "FC4"]
    assert meta["training_subjects"] == list(TINY_SUBJECTS)
    assert len(meta["data_sha256"]) == 9 and all(len(h) == 64 for h in meta["data_sha256"].values())
    assert meta["world_size"] == 1 and meta["seed"] == 0 and meta["n_times"] == 480
    assert model.n_chans == 8
    # the written weights are the trained ones: the heads and the first convolution moved
    changed = _changed_by_training(model, opts)
    assert any(k.startswith("dense") for k in changed) and any("conv" in k for k in changed), changed


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_pretrain_under_torchrun_two_cpu_processes(eegmmidb_dir, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "bci_app", "pretrain", "--data", str(eegmmidb_dir), "--out", str(out), "--montage", "sensorimotor8",
           "--epochs", "1", "--folds", "2", "--report", str(tmp_path / "report.json"),
           "--cache", str(tmp_path / "cache"), "--exclude-subjects", *_exclude_all_but(eegmmidb_dir, TINY_SUBJECTS)]
    # gloo on the loopback interface only: nothing leaves the machine
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), GLOO_SOCKET_IFNAME="lo")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=220)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both workers
        output, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish in 220 s:\n{output[-3000:]}")
    assert proc.returncode == 0, output[-3000:]
    model, meta = load_model(out)
    assert meta["world_size"] == 2 and meta["command"][1:3] == ["pretrain", "--data"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["validation"]["held_out_accuracy"]) == set(TINY_SUBJECTS)
    assert all(0 <= a <= 1 for a in report["validation"]["held_out_accuracy"].values())
    assert np.isfinite(sum(float(p.detach().sum()) for p in model.parameters()))
    # the final model written by rank 0 is the trained one (both processes' gradients), not the seed's
    opts = PretrainOptions(montage="sensorimotor8", epochs=1, folds=2)
    changed = _changed_by_training(model, opts)
    assert any(k.startswith("dense") for k in changed) and any("conv" in k for k in changed), changed


def test_pretraining_with_one_adapter_per_person_starts_as_the_base_and_merges_the_mean():
    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 160)
    x = torch.randn(6, 4, 160)
    model.eval()
    plain = model(x)
    pa = PersonAdapted(model, n_people=3, rank=2, alpha=4.0)
    person = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.allclose(pa(x, person), plain, atol=1e-6)  # B = 0: every person starts at the shared model
    with torch.no_grad():
        pa.B.normal_()
    adapted = pa(x, person)
    assert not torch.allclose(adapted, plain)
    # each person's logits differ only through their own update
    d0 = pa(x[:1], torch.tensor([0])) - pa(x[:1], torch.tensor([1]))
    assert float(d0.detach().abs().max()) > 0
    expected = [getattr(model, f"dense{i}").weight + pa.scaling * torch.einsum("sor,srd->od", pa.B[i], pa.A[i]) / 3
                for i in range(model.n_windows)]
    merged = pa.merge_mean()
    for i in range(model.n_windows):
        assert torch.allclose(getattr(merged, f"dense{i}").weight, expected[i], atol=1e-6)
