"""``bci-app demo --headless`` end to end over real LSL, and ``bci-app replay --compare`` on the
session it recorded (identical model and data → identical labels).

The demo's own defaults (16-channel sensorimotor headset and base, 15 calibration trials per class,
3x time scale) on simulated subject 0. The demo's result is reproducible per seed: calibration and
online trials start on fixed samples of the stream, the simulated user plans its imagery from the
paradigm's schedule, decisions are tied to sample indices and fine-tuning is seeded.

The bounds are principled, not the observed figures: accuracy must beat chance by a one-sided
binomial test at 5 % (32 online trials: at least 22 correct; seed 0 gives 27), and the wall time must
keep up with the session's own schedule (the samples published at the time scale)."""

from __future__ import annotations

import json

import pytest
import torch
from scipy.stats import binom

from bci_app.cli import main
from bci_app.models import ATCNet, save_model
from bci_app.signal.preprocess import PreprocessingSpec
from bci_app.vocabulary import SENSORIMOTOR_16


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
@pytest.mark.timeout(400)
def test_demo_headless_over_lsl_then_replay_compare(tmp_path, capsys):
    base, pretrained = _base(tmp_path)
    out, rec = tmp_path / "demo.json", tmp_path / "demo.xdf"
    assert main(["demo", "--headless", "--seed", "0", "--base", base, "--json", str(out), "--record", str(rec),
                 "--online-trials-per-class", "16"]) == 0
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert report["reproducible_timing"] is True
    assert report["samples_lost"] == 0 and report["buffer_overflow"] == 0
    assert report["samples_received"] == report["samples_published"] > 0
    n = report["n_online_trials"]
    assert n == 32 and report["n_undecided"] == 0
    if pretrained:
        correct = round(report["accuracy"] * n)
        assert binom.sf(correct - 1, n, report["chance"]) < 0.05, report["trials"]  # P(>= correct | chance)
        assert report["n_calib_trials"] == 30 and report["channels"] == 16
    assert report["latency_ms"]["p50"] < 15
    schedule_s = report["samples_published"] / report["sfreq"] / report["time_scale"]
    assert report["wall_seconds"] < 1.25 * schedule_s + 10  # keeps up with its own schedule
    capsys.readouterr()

    cmp_out = tmp_path / "replay.json"
    assert main(["replay", str(rec), "--compare", "--json", str(cmp_out)]) == 0
    replay = json.loads(cmp_out.read_text())["compare"]
    assert replay["n_matched"] == replay["n_live"] == report["n_predictions"]
    assert replay["agreement"] == 1.0
    assert replay["max_probability_difference"] == 0.0


def test_stream_time_slot_on_a_fixed_sample_or_the_next_second():
    from bci_app.acquisition import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.commands.demo import stream_time_slot

    clock = ManualClock(50.0)
    with StreamSimulated(clock=clock, ch_names=["C3"], sfreq=160.0) as sim:
        assert stream_time_slot(sim, clock, 10.0) == (50.0 + 1600 / 160.0, True)
        clock.set(59.8)  # the slot at 10 s is less than the margin away: the next whole second
        at, aligned = stream_time_slot(sim, clock, 10.0)
        assert not aligned and at == sim.sample_time(11 * 160)
