"""``bci-app demo --headless`` end to end over real LSL, and ``bci-app replay --compare`` on the
session it recorded (identical model and data → identical labels).

The demo's own defaults (16-channel sensorimotor headset and base, 15 calibration trials per class,
3x time scale) on simulated subject 0, the weakest of the first simulated people before the
simulator's ERD was brought to the good-user range; the demo's result is deterministic per seed
(decisions are tied to sample indices, fine-tuning is seeded)."""

from __future__ import annotations

import json

import pytest
import torch

from bci_app.cli import main
from bci_app.models import ATCNet, save_model
from bci_app.signal.channels import SENSORIMOTOR_16
from bci_app.signal.preprocess import PreprocessingSpec


def _base(tmp_path) -> tuple[str, bool]:
    """The shipped 16-channel base when present (True); else a freshly initialised ATCNet of that
    shape (False): the pipeline, LSL and replay checks still hold, the accuracy check needs the base."""
    from bci_app.models.pretrained import list_base_models

    if "sensorimotor16" in list_base_models():
        return "sensorimotor16", True
    torch.manual_seed(0)
    model = ATCNet(16, 2, 160.0, 480).eval()
    path = tmp_path / "base16"
    save_model(model, path, {
        "classes": ["left_hand", "right_hand"], "window": {"tmin_s": 0.5}, "euclidean_alignment": True,
        "preprocessing": PreprocessingSpec(SENSORIMOTOR_16, 160.0).to_dict(),
    })
    return str(path), False


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_demo_headless_over_lsl_then_replay_compare(tmp_path, capsys):
    base, pretrained = _base(tmp_path)
    out, rec = tmp_path / "demo.json", tmp_path / "demo.xdf"
    assert main(["demo", "--headless", "--seed", "0", "--base", base, "--json", str(out), "--record", str(rec),
                 "--online-trials-per-class", "8"]) == 0
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert report["samples_lost"] == 0 and report["buffer_overflow"] == 0
    assert report["samples_received"] == report["samples_published"] > 0
    assert report["n_online_trials"] == 16 and report["n_undecided"] == 0
    if pretrained:
        # chance 0.5; >= 12 of 16 correct has p < 0.04 under chance
        assert report["accuracy"] >= 0.75, report["trials"]
        assert report["n_calib_trials"] == 30 and report["channels"] == 16
    assert report["latency_ms"]["p50"] < 15
    assert report["wall_seconds"] < 120
    capsys.readouterr()

    cmp_out = tmp_path / "replay.json"
    assert main(["replay", str(rec), "--compare", "--json", str(cmp_out)]) == 0
    replay = json.loads(cmp_out.read_text())["compare"]
    assert replay["n_matched"] == replay["n_live"] == report["n_predictions"]
    assert replay["agreement"] == 1.0
    assert replay["max_probability_difference"] == 0.0
