"""LoRA per the guide: targets, warning, zero init, frozen base, working msa adapters, merge, summary."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from bci_app.errors import ModelError
from bci_app.models import count_parameters, linear_module_names
from bci_app.models.io import base_state_dict
from bci_app.models.lora import (
    LinearWithLoRA,
    add_lora,
    lora_parameters,
    lora_summary,
    lora_train_mode,
    merge_lora,
)


def _train(model: nn.Module, batch, steps: int = 5, lr: float = 0.05) -> None:
    """A few Adam steps on the LoRA parameters only (BatchNorm kept in eval mode)."""
    x, y = batch
    opt = torch.optim.Adam(lora_parameters(model), lr=lr)
    lora_train_mode(model)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["dense"], ["dense0", "dense1", "dense2"]),
        (["msa"], ["msa0.out_proj", "msa1.out_proj", "msa2.out_proj"]),
        (["dense", "msa"], ["dense0", "dense1", "dense2", "msa0.out_proj", "msa1.out_proj", "msa2.out_proj"]),
        (["dense0", "msa0"], ["dense0", "msa0.out_proj"]),
        (["dense", "msa2"], ["dense0", "dense1", "dense2", "msa2.out_proj"]),
    ],
)
def test_targets_per_guide_option(small_model, targets, expected):
    wrapped = add_lora(small_model, targets, rank=4, alpha=8, dropout=0.0)
    assert wrapped == expected
    assert sorted(n for n, m in small_model.named_modules() if isinstance(m, LinearWithLoRA)) == sorted(expected)


def test_empty_string_targets_every_linear(small_model):
    linears = sorted(n for n, m in small_model.named_modules() if isinstance(m, nn.Linear))
    wrapped = add_lora(small_model, [""], rank=2, alpha=4, dropout=0.0)
    assert sorted(wrapped) == linears
    assert not any(isinstance(m, nn.Linear) and not n.endswith(".linear") for n, m in small_model.named_modules())


def test_no_match_warns_with_guide_text_and_available_names(small_model, caplog):
    before = {n: p.requires_grad for n, p in small_model.named_parameters()}
    with caplog.at_level(logging.WARNING, logger="bci_app.models.lora"):
        with pytest.warns(UserWarning, match=r"^No modules matched target_modules=\['xyz'\]") as rec:
            assert add_lora(small_model, ["xyz"], rank=8, alpha=16, dropout=0.1) == []
    message = str(rec[0].message)
    assert "Available module names:" in message
    for name in linear_module_names(small_model):
        assert f"  - {name}" in message
    assert any(r.getMessage().startswith("No modules matched target_modules=['xyz']") for r in caplog.records)
    assert {n: p.requires_grad for n, p in small_model.named_parameters()} == before  # untouched


def test_target_string_instead_of_list_is_an_error(small_model):
    with pytest.raises(ModelError, match=r"write \['dense'\]"):
        add_lora(small_model, "dense", rank=8, alpha=16, dropout=0.1)


def test_bad_rank_alpha_dropout_and_double_add(small_model):
    with pytest.raises(ModelError, match="rank"):
        add_lora(small_model, ["dense"], rank=0, alpha=16, dropout=0.1)
    with pytest.raises(ModelError, match="dropout"):
        add_lora(small_model, ["dense"], rank=8, alpha=16, dropout=1.0)
    add_lora(small_model, ["dense"], rank=8, alpha=16, dropout=0.1)
    with pytest.raises(ModelError, match="already has LoRA"):
        add_lora(small_model, ["msa"], rank=8, alpha=16, dropout=0.1)


def test_zero_init_equals_base_and_only_a_b_train(small_model, batch):
    x, _ = batch
    base = copy.deepcopy(small_model).eval()
    add_lora(small_model, ["dense", "msa"], rank=8, alpha=16, dropout=0.1)
    small_model.eval()
    for w in (m for m in small_model.modules() if isinstance(m, LinearWithLoRA)):
        assert torch.count_nonzero(w.lora_B) == 0
        assert torch.count_nonzero(w.lora_A) > 0
    with torch.no_grad():
        torch.testing.assert_close(small_model(x), base(x), rtol=0, atol=0)
    trainable = {n for n, p in small_model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in small_model.named_parameters() if n.endswith(("lora_A", "lora_B"))}
    assert len(trainable) == 12
    assert {id(p) for p in lora_parameters(small_model)} == {
        id(p) for p in small_model.parameters() if p.requires_grad
    }


def test_effective_weight_includes_the_update():
    torch.manual_seed(0)
    w = LinearWithLoRA(nn.Linear(6, 5), rank=2, alpha=6, dropout=0.0)
    with torch.no_grad():
        w.lora_B.normal_()
    assert w.scaling == 3.0
    torch.testing.assert_close(w.weight, w.linear.weight + 3.0 * w.lora_B @ w.lora_A)
    assert w.bias is w.linear.bias
    x = torch.randn(7, 6)
    torch.testing.assert_close(w(x), F.linear(x, w.weight, w.bias), atol=1e-6, rtol=1e-5)


def test_training_only_msa_changes_outputs_and_grads_reach_every_msa_adapter(small_model, batch):
    x, y = batch
    base = copy.deepcopy(small_model).eval()
    wrapped = add_lora(small_model, ["msa"], rank=4, alpha=8, dropout=0.0)
    assert wrapped == ["msa0.out_proj", "msa1.out_proj", "msa2.out_proj"]
    _train(small_model, batch, steps=3)
    # one more backward with B != 0: A receives gradient too
    lora_train_mode(small_model)
    for p in lora_parameters(small_model):
        p.grad = None
    F.cross_entropy(small_model(x), y).backward()
    for name in wrapped:
        w = small_model.get_submodule(name)
        assert w.lora_A.grad is not None and torch.count_nonzero(w.lora_A.grad) > 0, name
        assert w.lora_B.grad is not None and torch.count_nonzero(w.lora_B.grad) > 0, name
    small_model.eval()
    with torch.no_grad():
        assert (small_model(x) - base(x)).abs().max() > 1e-4


def test_base_stays_bit_identical_after_training(small_model, batch):
    reference = copy.deepcopy(small_model.state_dict())
    add_lora(small_model, ["dense", "msa"], rank=4, alpha=8, dropout=0.1)
    _train(small_model, batch, steps=5)
    assert any(torch.count_nonzero(w.lora_B) for w in small_model.modules() if isinstance(w, LinearWithLoRA))
    after = base_state_dict(small_model)
    assert sorted(after) == sorted(reference)
    for key, tensor in reference.items():
        assert torch.equal(after[key], tensor), key


def test_merge_matches_unmerged_and_removes_wrappers(small_model, batch):
    x, _ = batch
    add_lora(small_model, ["dense", "msa"], rank=4, alpha=8, dropout=0.1)
    _train(small_model, batch, steps=4)
    with torch.no_grad():
        unmerged = small_model(x)
    merge_lora(small_model)
    assert not any(isinstance(m, LinearWithLoRA) for m in small_model.modules())
    assert lora_parameters(small_model) == []
    assert type(small_model.msa0.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert not any("lora" in k for k in small_model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(small_model(x), unmerged, rtol=0, atol=1e-5)


def test_summary_reports_adapters_trainable_and_percent(small_model):
    base_total = count_parameters(small_model)
    add_lora(small_model, ["dense", "msa"], rank=8, alpha=16, dropout=0.1)
    trainable = count_parameters(small_model, trainable_only=True)
    text = lora_summary(small_model)
    assert "LoRA adapters: 6" in text
    assert f"Trainable params: {trainable:,} ({100 * trainable / base_total:.2f}% of model)" in text
    assert f"Base model params: {base_total:,}" in text
    for name in ["dense0", "dense2", "msa0.out_proj", "msa2.out_proj"]:
        assert name in text
    assert trainable == sum(p.numel() for p in lora_parameters(small_model))
