"""Fine-tuning settings that regularise on few trials: label smoothing of the loss and augmentation of
the cached window features (noise, within-class mixup). Each changes training, is validated, and is
off by default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bci_app.config import AppConfig, FinetuneConfig, LoraConfig, config_from_dict, resolve_lora
from bci_app.errors import ConfigError
from bci_app.models import ATCNet, model_hash
from bci_app.models.lora import LinearWithLoRA
from calibration.finetune import FeatureAugmentation, FrozenFeatures, finetune, run_to_end


def _trials(n: int = 12, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, k, 4, 160)).astype(np.float32), np.arange(n) % 2


def _adapter(**settings) -> tuple[dict[str, torch.Tensor], str, str]:
    """The LoRA tensors trained with ``settings``, the base's hash before and after."""
    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 160)
    before = model_hash(model)
    X, y = _trials()
    cfg = FinetuneConfig(max_epochs=3, batch_size=8, validation_fraction=0.0, **settings)
    run_to_end(finetune(model, X, y, lora=resolve_lora(LoraConfig(target_modules=["dense"]), len(y)), config=cfg))
    state = {f"{n}.{p}": getattr(m, p).detach().clone() for n, m in model.named_modules()
             if isinstance(m, LinearWithLoRA) for p in ("lora_A", "lora_B")}
    return state, before, model_hash(model)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_settings_are_off_by_default():
    ft = AppConfig().finetune
    assert (ft.label_smoothing, ft.feature_noise, ft.feature_mixup) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("setting", [{"label_smoothing": 0.2}, {"feature_noise": 0.5}, {"feature_mixup": 1.0}])
def test_each_setting_changes_the_trained_adapter_and_leaves_the_base_bit_identical(setting):
    default, _, _ = _adapter()
    assert _same(default, _adapter()[0])  # training is deterministic: a difference is the setting's
    changed, before, after = _adapter(**setting)
    assert not _same(default, changed), f"{setting} changed nothing"
    assert before == after
    assert _same(changed, _adapter(**setting)[0])  # seeded: the same draws every run


@pytest.mark.parametrize(("key", "value"), [("label_smoothing", -0.1), ("label_smoothing", 1.0),
                                            ("feature_noise", -1.0), ("feature_noise", 11.0),
                                            ("feature_mixup", -0.5), ("feature_mixup", "lots")])
def test_out_of_range_values_are_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"finetune\.{key}"):
        config_from_dict({"finetune": {key: value}})


def _cached(labels: np.ndarray) -> tuple[FrozenFeatures, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 160)
    X = np.random.default_rng(1).standard_normal((len(labels), 1, 4, 160)).astype(np.float32)
    frozen = FrozenFeatures(model, X, "window_features")
    rows = frozen.rows(np.arange(len(labels)))
    return frozen, rows, torch.from_numpy(np.asarray(labels, dtype=np.int64))


def test_mixup_mixes_windows_of_the_same_class_only():
    labels = np.array([0, 1] * 20)
    frozen, rows, y = _cached(labels)
    # every window of a class gets the same features: a mix within the class leaves them, across would not
    frozen.cache = [torch.where(y[:, None] == 0, 0.0, 1.0).expand(-1, f.shape[1]).clone() for f in frozen.cache]
    augment = FeatureAugmentation(frozen, rows, y, noise=0.0, mixup=1.0, seed=0)
    positions = torch.arange(len(labels))
    for s in augment.stages(positions, y[positions]):
        assert torch.equal(s, frozen.cache[0][positions])


def test_noise_is_scaled_by_each_features_spread_over_the_training_windows():
    labels = np.array([0, 1] * 200)
    frozen, rows, y = _cached(labels)
    augment = FeatureAugmentation(frozen, rows, y, noise=0.5, mixup=0.0, seed=0)
    positions = torch.arange(len(labels))
    clean = frozen.stages(rows)
    for noisy, x in zip(augment.stages(positions, y), clean):
        ratio = (noisy - x).std(0) / x.std(0)
        spread = x.std(0) > 1e-6
        assert torch.allclose(ratio[spread], torch.full_like(ratio[spread], 0.5), rtol=0.2)
