"""Adaptation that adapts: training on the decoder's windows, the prior toward the base, fold-averaged
adapters, the 4-class base chosen by the cues, and pretraining with one adapter per person."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.model_selection import RepeatedStratifiedKFold

from bci_app.config import AppConfig, FinetuneConfig, LoraConfig, resolve_lora
from bci_app.models import ATCNet, model_hash
from bci_app.models.lora import LinearWithLoRA, add_lora, remove_lora
from bci_app.models.pretrained import fold_base_for, load_base_model
from calibration.finetune import as_trial_windows, finetune, predict_proba, prior_penalty, run_to_end
from calibration.job import CalibrationJob, _trained_state, average_adapters, cross_validate_adapter
from calibration.prepare import prepare_calibration, window_offsets


def _config(**finetune) -> AppConfig:
    cfg = AppConfig()
    cfg.finetune = cfg.finetune.model_copy(update=finetune)
    return cfg


def test_window_offsets_cover_the_span_at_the_stride():
    assert window_offsets(_config(window_span_s=0.5, window_stride_s=0.125)) == (0.0, 0.125, 0.25, 0.375, 0.5)
    assert window_offsets(_config(window_span_s=0.0)) == (0.0,)
    assert window_offsets(_config(window_span_s=0.3, window_stride_s=0.125)) == (0.0, 0.125, 0.25)
    # a paradigm whose imagery ends 0.3 s after the model's window: no window reaches past it
    assert window_offsets(_config(window_span_s=0.5, window_stride_s=0.125), 0.3) == (0.0, 0.125, 0.25)
    assert window_offsets(_config(window_span_s=0.5), -0.2) == (0.0,)


@pytest.fixture(scope="module")
def s001_data(eegmmidb_dir):
    base = fold_base_for("S001", "sensorimotor16")
    return prepare_calibration([eegmmidb_dir / "S001" / "S001R04.edf"], _config(window_span_s=0.5), base), base


def test_calibration_cuts_the_windows_the_decoder_decides_on(s001_data, eegmmidb_dir):
    data, base = s001_data
    n, k, c, t = data.windows.shape
    assert (n, c, t) == data.X.shape and k == 5 and data.window_offsets_s[-1] == 0.5
    assert np.array_equal(data.windows[:, 0], data.X)  # the first window is the trial's usual window
    # window j is the usual window of a cut starting j * stride later (the same spec: repair, alignment)
    later = prepare_calibration([eegmmidb_dir / "S001" / "S001R04.edf"], _config(window_span_s=0.0), base)
    assert later.windows is None and np.array_equal(later.decision_windows[:, 0], later.X)
    assert not np.allclose(data.windows[:, 1], data.windows[:, 0])


def test_finetune_trains_on_every_window_and_leaves_the_base_bit_identical(s001_data):
    data, base = s001_data
    model, _ = load_base_model(base)
    before = model_hash(model)
    cfg = FinetuneConfig(max_epochs=3, validation_fraction=0.0)
    dense = resolve_lora(LoraConfig(target_modules=["dense"]), len(data.y))
    result = run_to_end(finetune(model, data.windows, data.y, lora=dense, config=cfg))
    assert result.windows_per_trial == 5 and result.n_train == len(data.y)
    assert model_hash(model) == before  # only A and B trained
    # the validation split holds out whole trials
    model2, _ = load_base_model(base)
    result2 = run_to_end(finetune(model2, data.windows, data.y, lora=dense,
                                  config=FinetuneConfig(max_epochs=2, validation_fraction=0.2)))
    assert result2.n_train + result2.n_val == len(data.y) and result2.val_accuracy is not None


def test_predict_proba_averages_a_trials_windows():
    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 160)
    X = np.random.default_rng(0).standard_normal((3, 2, 4, 160)).astype(np.float32)
    per_window = predict_proba(model, X.reshape(6, 4, 160)).reshape(3, 2, 2)
    assert np.allclose(predict_proba(model, X), per_window.mean(1), atol=1e-6)
    assert np.allclose(predict_proba(model, X).sum(1), 1.0, atol=1e-6)
    assert as_trial_windows(X[:, 0]).shape == (3, 1, 4, 160)


def _value(penalty) -> float:
    return float(penalty.detach()) if isinstance(penalty, torch.Tensor) else float(penalty)


def test_the_prior_is_zero_at_the_base_and_grows_with_the_update():
    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 160)
    add_lora(model, ["dense"], 4, 8, 0.0)
    x = torch.randn(5, 4, 160)
    logits = model(x)
    assert float(_value(prior_penalty(model, "l2", 1.0))) == 0.0  # B = 0
    assert float(_value(prior_penalty(model, "kl", 1.0, logits, logits.detach()))) == pytest.approx(0.0, abs=1e-7)
    assert prior_penalty(model, "none", 1.0) == 0.0 and prior_penalty(model, "l2", 0.0) == 0.0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LinearWithLoRA):
                m.lora_B.normal_()
    assert float(_value(prior_penalty(model, "l2", 1.0))) > 0
    assert float(_value(prior_penalty(model, "kl", 1.0, model(x), logits.detach()))) > 0


def test_average_adapters_holds_the_mean_update_at_the_layers_rank():
    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 160)
    add_lora(model, ["dense"], 4, 8, 0.0)
    states = []
    for _ in range(3):
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, LinearWithLoRA):
                    m.lora_A.normal_()
                    m.lora_B.normal_()
        states.append(_trained_state(model, False))
    average_adapters(model, states)
    for name, m in model.named_modules():
        if isinstance(m, LinearWithLoRA):
            mean = torch.stack([s[f"{name}.lora_B"] @ s[f"{name}.lora_A"] for s in states]).mean(0)
            # dense heads have 2 outputs: the mean update has rank <= 2 <= 4, so it is held exactly
            assert torch.allclose(m.lora_B @ m.lora_A, mean, atol=1e-5)


def test_the_gate_splits_trials_not_windows_and_collects_fold_adapters(s001_data):
    data, base = s001_data
    model, _ = load_base_model(base)
    cfg = FinetuneConfig(max_epochs=2, validation_fraction=0.0, gate_folds=3, gate_repeats=1)
    folds: list = []
    gate = cross_validate_adapter(model, data.windows, data.y, lora=resolve_lora(LoraConfig(), len(data.y)),
                                  config=cfg, fold_adapters=folds)
    assert len(folds) == 3 and gate.predicted_adapted.shape == (1, len(data.y))
    assert (gate.predicted_adapted >= 0).all()  # every trial decided exactly once per repeat
    assert not any(isinstance(m, LinearWithLoRA) for m in model.modules())  # left as it came
    # the probabilities behind the decisions: the log-loss of each model on the same trials
    assert gate.proba_adapted.shape == (1, len(data.y), 2) and np.allclose(gate.proba_adapted.sum(2), 1.0, atol=1e-5)
    assert (gate.proba_adapted.argmax(2) == gate.predicted_adapted).all()
    adapted_loss, base_loss = gate.log_loss()
    p = gate.proba_base[np.arange(len(data.y)), data.y]
    assert base_loss == pytest.approx(-np.log(p / gate.proba_base.sum(1)).mean(), rel=1e-5)
    assert adapted_loss > 0 and gate.as_dict()["cv_log_loss_base"] == pytest.approx(base_loss, abs=1e-4)



def test_the_gate_decides_from_the_cached_conv_block_as_a_full_forward_would(s001_data, monkeypatch):
    """The folds and the base are decided from the frozen stages' cached outputs (shared with the job's
    own fine-tune): the conv block runs once per window for the whole gate, and the probabilities are
    those of a full forward pass."""
    data, base = s001_data
    model, _ = load_base_model(base)
    cfg = FinetuneConfig(max_epochs=2, validation_fraction=0.0, gate_folds=3, gate_repeats=1)
    lora = resolve_lora(LoraConfig(), len(data.y))
    encoded = []
    encode = type(model).encode
    monkeypatch.setattr(type(model), "encode", lambda self, x: (encoded.append(len(x)), encode(self, x))[1])
    features: dict = {}
    run_to_end(finetune(model, data.windows, data.y, lora=lora, config=cfg, features=features))  # the job's own
    remove_lora(model)
    gate = cross_validate_adapter(model, data.windows, data.y, lora=lora, config=cfg, features=features)
    assert sum(encoded) == data.windows.shape[0] * data.windows.shape[1]  # every window encoded once, in all
    monkeypatch.undo()
    assert np.allclose(gate.proba_base, predict_proba(model, data.windows), atol=1e-5)
    # each held-out fold as a full forward pass of that fold's adapter would decide it
    splitter = RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=cfg.seed)
    inner = cfg.model_copy(update={"min_trials_per_class": 1})
    train, test = next(iter(splitter.split(np.zeros(len(data.y)), data.y)))
    run_to_end(finetune(model, data.windows, data.y, trials=train, lora=lora, config=inner))
    assert np.allclose(gate.proba_adapted[0, test], predict_proba(model, data.windows[test]), atol=1e-5)


def test_fold_averaged_adapter_is_installed_when_the_gate_chooses_it(eegmmidb_dir):
    path = eegmmidb_dir / "S001" / "S001R04.edf"
    base = fold_base_for("S001", "sensorimotor16")
    data = prepare_calibration([path], _config(), base)
    wrong = 1 - predict_proba(data.model, data.X).argmax(1)  # labels the base gets all wrong: adapting must flip
    cfg = _config(average_folds=True, validation_fraction=0.0, max_epochs=30)
    outcome = CalibrationJob([path], cfg, base=base, labels=lambda y: wrong).run_to_end()
    assert outcome.chosen == "adapted"
    assert (predict_proba(outcome.model, outcome.data.X).argmax(1) == wrong).mean() > 0.8


def test_the_cues_choose_the_four_class_base_and_a_pinned_base_says_what_it_drops(eegmmidb_dir, caplog):
    files = [eegmmidb_dir / "S001" / f"S001R{r:02d}.edf" for r in (4, 6)]
    cfg = _config(gate=False, max_epochs=1)
    job = CalibrationJob(files, cfg)
    outcome = job.run_to_end()
    assert job.base.startswith("sensorimotor16_4class")
    assert set(outcome.data.classes) == {"left_hand", "right_hand", "both_hands", "feet"}
    with caplog.at_level(logging.WARNING, logger="calibration.job"):
        pinned = CalibrationJob(files, cfg, base="sensorimotor16").run_to_end()
    assert pinned.data.classes == ["left_hand", "right_hand"]
    assert any("does not decode both_hands, feet" in r.getMessage() for r in caplog.records)


def test_decision_trials_are_the_cue_windows_at_each_offset(s001_data, eegmmidb_dir):
    from bci_app.vocabulary import window_tmin
    from calibration.prepare import cue_trials, decision_trials

    data, _ = s001_data
    test = [eegmmidb_dir / "S001" / "S001R08.edf"]
    tmin, n_times = window_tmin(data.meta), int(data.model.n_times)
    X, y = decision_trials(test, data.spec, data.classes, tmin, n_times, (0.0, 0.25, 0.5))
    for j, off in enumerate((0.0, 0.25, 0.5)):
        Xj, yj = cue_trials(test, data.spec, data.classes, tmin + off, n_times)
        assert np.array_equal(yj[:len(y)], y) and np.allclose(X[:, j], Xj[:len(y)], atol=1e-5)
