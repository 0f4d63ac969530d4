"""Choosing the base for a paradigm's classes and restricting its heads to them."""

from __future__ import annotations

import pytest
import torch

from bci_app.errors import ModelError
from bci_app.models.pretrained import base_for_classes, list_base_models, load_base_model, restrict_classes


def test_a_base_that_decodes_the_classes_is_kept():
    assert base_for_classes("sensorimotor16", ["right_hand", "left_hand"])[0] == "sensorimotor16"


def test_restricting_reorders_and_drops_head_rows_exactly():
    model, meta = load_base_model("sensorimotor16")
    swapped, smeta = restrict_classes(model, meta, ["right_hand", "left_hand"])
    assert smeta["classes"] == ["right_hand", "left_hand"] and smeta["base_classes"] == ["left_hand", "right_hand"]
    x = torch.randn(3, model.n_chans, model.n_times)
    with torch.no_grad():
        assert torch.allclose(swapped(x), model(x)[:, [1, 0]], atol=1e-6)
    same, _ = restrict_classes(model, meta, ["left_hand", "right_hand"])
    assert same is model


def test_classes_no_base_decodes_are_a_clear_error():
    with pytest.raises(ModelError, match="no shipped base on its channels decodes"):
        base_for_classes("sensorimotor16", ["left_hand", "tongue"])
    model, meta = load_base_model("sensorimotor16")
    with pytest.raises(ModelError, match="tongue"):
        restrict_classes(model, meta, ["left_hand", "tongue"])


@pytest.mark.skipif("sensorimotor16_4class" not in list_base_models(), reason="4-class base not shipped")
def test_feet_in_the_paradigm_picks_the_four_class_base():
    base, reason = base_for_classes("sensorimotor16", ["left_hand", "right_hand", "feet"])
    assert base == "sensorimotor16_4class" and "feet" in reason
    model, meta = load_base_model(base)
    restricted, rmeta = restrict_classes(model, meta, ["left_hand", "right_hand", "feet"])
    assert restricted.n_outputs == 3 and rmeta["classes"] == ["left_hand", "right_hand", "feet"]
