"""The one CalibrationJob: gate, lora.enabled, bad-channel repair, no refusal, saved metadata."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from bci_app.config import AppConfig, resolve_lora
from bci_app.models.lora import LinearWithLoRA
from bci_app.models.pretrained import fold_base_for, load_base_model
from calibration.finetune import predict_proba
from calibration.job import CalibrationJob
from calibration.prepare import prepare_calibration


def _lora_b(model) -> list[torch.Tensor]:
    return [m.lora_B.detach() for m in model.modules() if isinstance(m, LinearWithLoRA)]


@pytest.fixture(scope="module")
def s001(eegmmidb_dir):
    """S001 run 4 and the sensorimotor16 fold base that never saw S001."""
    return eegmmidb_dir / "S001" / "S001R04.edf", fold_base_for("S001", "sensorimotor16")


def _base_predictions(path, base, config) -> np.ndarray:
    """The base's decision per calibration trial, as the gate decides it (mean over the trial's windows)."""
    data = prepare_calibration([path], config, base)
    return predict_proba(data.model, data.decision_windows).argmax(1)


def test_gate_keeps_the_base_when_the_adapter_cannot_beat_it(s001):
    path, base = s001
    config = AppConfig()
    config.finetune.gate_margin = 0.0  # the strict gate: the adapter must cross-validate better
    perfect = _base_predictions(path, base, config)  # labels the base already gets 100 % right
    if len(np.unique(perfect)) < 2:
        pytest.skip("the base predicts one class for every trial")
    outcome = CalibrationJob([path], config, base=base, labels=lambda y: perfect).run_to_end()
    assert outcome.chosen == "base"
    assert outcome.gate.cv_accuracy_base == 1.0 and outcome.gate.cv_accuracy_adapted <= 1.0
    assert all(float(b.abs().max()) == 0.0 for b in _lora_b(outcome.model))  # computes exactly the base
    model, _ = load_base_model(base)
    X = outcome.data.X
    assert np.allclose(predict_proba(outcome.model, X), predict_proba(model, X), atol=1e-6)
    assert outcome.metadata["gate"]["chosen"] == "base" and "unadapted base installed" in outcome.summary()


def test_the_gate_margin_decides_how_much_worse_an_adapter_may_cross_validate(s001):
    path, base = s001
    perfect = _base_predictions(path, base, AppConfig())
    if len(np.unique(perfect)) < 2:
        pytest.skip("the base predicts one class for every trial")
    chosen = {}
    for margin in (1.0, -1.0):  # never better by 100 points; always above 100 points worse
        config = AppConfig()
        config.finetune.gate_margin = margin
        outcome = CalibrationJob([path], config, base=base, labels=lambda y: perfect).run_to_end()
        chosen[margin] = outcome.chosen
        assert f"margin {margin:+.0%}" in outcome.gate.reason
    assert chosen == {1.0: "base", -1.0: "adapted"}


def test_gate_installs_the_adapter_when_it_cross_validates_better(s001, tmp_path):
    path, base = s001
    config = AppConfig()
    wrong = 1 - _base_predictions(path, base, config)  # labels the base gets 0 % right: the heads learn to flip
    outcome = CalibrationJob([path], config, base=base, labels=lambda y: wrong).run_to_end()
    assert outcome.gate.cv_accuracy_base == 0.0
    assert outcome.chosen == "adapted" and outcome.gate.cv_accuracy_adapted > 0.5
    assert any(float(b.abs().max()) > 0 for b in _lora_b(outcome.model))
    # the LoRA settings are resolved once, on the trials kept, and the adapter JSON and summary say them
    resolved = resolve_lora(config.lora, outcome.metadata["n_trials"])
    info = json.loads(outcome.save(tmp_path / "a").with_suffix(".json").read_text())
    assert {k: info[k] for k in ("target_modules", "rank", "alpha", "dropout")} == resolved.as_dict()
    assert info["lora_reason"] == resolved.reason and outcome.finetune.rank == resolved.rank
    assert f"rank {resolved.rank}, alpha {resolved.alpha:g} ({resolved.reason})" in outcome.summary()


def test_lora_disabled_is_the_base_with_the_persons_alignment(s001, tmp_path):
    path, base = s001
    config = AppConfig()
    config.lora.enabled = False
    outcome = CalibrationJob([path], config, base=base).run_to_end()
    assert outcome.chosen == "base (lora disabled)" and outcome.finetune is None and outcome.gate is None
    assert outcome.decoder_model.spec.alignment_matrix is not None
    assert all(float(b.abs().max()) == 0.0 for b in _lora_b(outcome.model))
    from bci_app.online.calibrate import adapted_decoder_model

    saved = outcome.save(tmp_path / "a")
    loaded, info = adapted_decoder_model(saved)
    assert info["lora_enabled"] is False and info["chosen"] == "base (lora disabled)"
    assert loaded.spec == outcome.decoder_model.spec


def test_a_bad_electrode_is_repaired_not_refused(s001, tmp_path):
    """A loose C3 (large 7 Hz oscillation on every trial) is interpolated from its neighbours; the
    repair is saved and applies to online decoding through the shared preprocessing."""
    from bci_app.io.recording import read_recording
    from bci_app.signal.channels import match_channels
    from bci_app.signal.preprocess import StreamingPreprocessor

    path, base = s001
    rec = read_recording(path)
    i = match_channels(rec.ch_names, ("C3",))[0]
    data = rec.data.copy()
    data[i] += 400e-6 * np.sin(2 * np.pi * 7.0 * np.arange(rec.n_times) / rec.sfreq)
    broken = dataclasses.replace(rec, data=data)
    outcome = CalibrationJob([broken], AppConfig(), base=base).run_to_end()
    assert outcome.data.repaired == ("C3",) and len(outcome.data.y) == 15
    spec = outcome.decoder_model.spec
    assert spec.repaired == ("C3",) and spec.repair_matrix is not None
    assert outcome.metadata["repaired_channels"] == ["C3"] and "repaired channels: C3" in outcome.summary()
    # online: the streaming stage applies the same map (C3 carries no trace of the oscillation)
    pre = StreamingPreprocessor(spec, rec.sfreq, rec.ch_names, capacity_s=130)
    pre.push(data, rec.timestamps)
    window, _ = pre.latest_window(int(100 * spec.sfreq))
    c3 = spec.ch_names.index("C3")
    assert np.abs(window[c3]).max() < 150e-6
    saved = json.loads(outcome.save(tmp_path / "a").with_suffix(".json").read_text())
    assert saved["preprocessing"]["repaired"] == ["C3"]


def test_rejection_alone_never_refuses_a_calibration(s001):
    """Thresholds that reject every trial: the least extreme trials come back, and it is reported."""
    path, base = s001
    config = AppConfig()
    config.preprocessing.reject_amplitude_uv = 5.0
    config.preprocessing.repair_bad_channels = False
    outcome = CalibrationJob([path], config, base=base).run_to_end()
    counts = np.bincount(outcome.data.y)
    assert counts.min() >= config.finetune.min_trials_per_class
    assert outcome.data.readmitted >= 2 * config.finetune.min_trials_per_class
    assert outcome.metadata["readmitted_trials"] == outcome.data.readmitted


def test_cancel_stops_the_job_and_leaves_the_base(s001):
    from bci_app.errors import TrainingCancelled

    path, base = s001
    job = CalibrationJob([path], AppConfig(), base=base)
    gen = job.run()
    next(gen)  # first epoch done
    job.cancel.set()
    with pytest.raises(TrainingCancelled):
        for _ in gen:
            pass


def test_paradigm_classes_choose_and_restrict_the_base(eegmmidb_dir):
    """A paradigm cueing feet gets the 4-class base on the same channels, restricted to its classes."""
    from bci_app.models.pretrained import list_base_models

    if "sensorimotor16_4class" not in list_base_models():
        pytest.skip("4-class base not shipped")
    d = eegmmidb_dir / "S001"
    classes = ["left_hand", "right_hand", "feet"]
    outcome = CalibrationJob([d / "S001R04.edf", d / "S001R06.edf"], AppConfig(), base="sensorimotor16",
                             classes=classes).run_to_end()
    assert outcome.metadata["base_model"] == "sensorimotor16_4class"
    assert "feet" in outcome.metadata["base_choice"] and outcome.metadata["base_choice"] in outcome.summary()
    assert outcome.decoder_model.classes == tuple(classes) and outcome.model.n_outputs == 3
    assert set(np.unique(outcome.data.y)) == {0, 1, 2}
