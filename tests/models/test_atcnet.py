"""ATCNet: shapes, staged forward, guide module names, pool scaling, hparams, causality."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bci_app.errors import ModelError
from bci_app.models import ATCNet, count_parameters, linear_module_names
from bci_app.models.lora import add_lora

GUIDE_NAMES = [
    "dense0",
    "dense1",
    "dense2",
    "msa0.in_proj_weight",
    "msa0.out_proj",
    "msa1.in_proj_weight",
    "msa1.out_proj",
    "msa2.in_proj_weight",
    "msa2.out_proj",
]


def test_forward_shape_and_dtype(small_model, batch):
    x, _ = batch
    out = small_model.eval()(x)
    assert out.shape == (12, 3)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_staged_forward_equals_forward(small_model, batch):
    x, _ = batch
    model = small_model.eval()
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (12, model.F2, model.n_times_pooled)
        feats = [model.window_features(z, i) for i in range(model.n_windows)]
        assert all(f.shape == (12, model.F2) for f in feats)
        staged = model.classify(feats)
        full = model(x)
    torch.testing.assert_close(staged, full, rtol=0, atol=0)


def test_default_config_lists_exactly_the_guides_names():
    model = ATCNet(64, 2, 160, 480)
    assert model.n_windows == 3
    assert linear_module_names(model) == GUIDE_NAMES
    add_lora(model, ["dense", "msa"], rank=8, alpha=16, dropout=0.1)
    assert linear_module_names(model) == GUIDE_NAMES  # wrapped modules keep their names


def test_only_heads_and_attention_carry_dense_or_msa(small_model):
    hits = [n for n, _ in small_model.named_modules() if "dense" in n or "msa" in n]
    expected = [f"{p}{i}" for i in range(3) for p in ("msa", "dense")] + [f"msa{i}.out_proj" for i in range(3)]
    assert sorted(hits) == sorted(expected)
    for i in range(3):
        assert isinstance(small_model.get_submodule(f"dense{i}"), nn.Linear)
        assert isinstance(small_model.get_submodule(f"msa{i}"), nn.MultiheadAttention)
        assert small_model.get_submodule(f"msa{i}").num_heads == 2


def test_default_pools_and_windows_for_3s_at_160hz():
    model = ATCNet(16, 2, 160, 480)
    assert model.pools == (8, 7)
    assert model.n_times_pooled == 480 // 8 // 7
    assert model.window_len == model.n_times_pooled - 3 + 1
    assert model.conv_block.temporal.kernel_size == (1, 40)  # 0.25 s at 160 Hz


def test_pools_scaled_down_for_short_inputs():
    model = ATCNet(4, 2, 128, 64).eval()  # 64 // 8 // 7 = 1 < 3 windows
    assert model.pools[0] * model.pools[1] < 56
    assert model.n_times_pooled >= 3
    assert model(torch.randn(2, 4, 64)).shape == (2, 2)
    with pytest.raises(ModelError, match="at least n_windows=3"):
        ATCNet(4, 2, 128, 2)


def test_wrong_input_shape_is_a_clear_error(small_model):
    with pytest.raises(ModelError, match=r"n_chans=4, n_times=320"):
        small_model(torch.randn(2, 5, 320))


def test_bad_hyperparameters_raise():
    with pytest.raises(ModelError, match="divisible by n_heads"):
        ATCNet(4, 2, 128, 320, F1=3, D=1, n_heads=2)
    with pytest.raises(ModelError, match="n_outputs must be from 1 to 64"):
        ATCNet(4, 0, 128, 320)


def test_hparams_rebuild_same_architecture(small_model):
    text = json.dumps(small_model.hparams)
    rebuilt = ATCNet(**json.loads(text))
    a, b = small_model.state_dict(), rebuilt.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)


def test_seed_reproduces_weights_and_predictions(make_model, batch):
    x, _ = batch
    m1, m2 = make_model(seed=3).eval(), make_model(seed=3).eval()
    assert torch.equal(m1(x), m2(x))


def test_count_parameters(small_model):
    total = count_parameters(small_model)
    assert total == sum(p.numel() for p in small_model.parameters())
    for name, p in small_model.named_parameters():
        p.requires_grad_(name.startswith("dense"))
    heads = sum(small_model.get_submodule(f"dense{i}").weight.numel() + 3 for i in range(3))
    assert count_parameters(small_model, trainable_only=True) == heads
    assert count_parameters(small_model) == total


def test_tcn_is_causal(small_model):
    tcn = small_model.tcn0.eval()
    h = torch.randn(2, small_model.F2, 6)
    changed = h.clone()
    changed[:, :, 4:] += 1.0
    with torch.no_grad():
        a, b = tcn(h), tcn(changed)
    torch.testing.assert_close(a[:, :, :4], b[:, :, :4], rtol=0, atol=0)
    assert not torch.allclose(a[:, :, 4:], b[:, :, 4:])
