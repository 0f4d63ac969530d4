"""Small ATCNet fixtures shared by the model tests (fast on one CPU thread)."""

from __future__ import annotations

import pytest
import torch

from bci_app.models import ATCNet

SMALL = {"n_chans": 4, "n_outputs": 3, "sfreq": 128.0, "n_times": 320}


def make_small(seed: int = 0, **overrides) -> ATCNet:
    """A 4-channel, 2.5 s ATCNet (5 pooled steps, 3 windows of 3) seeded for reproducibility."""
    torch.manual_seed(seed)
    return ATCNet(**{**SMALL, **overrides})


@pytest.fixture
def small_model() -> ATCNet:
    return make_small()


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs (12, 4, 320) and labels in 0..2 with a learnable class-dependent offset."""
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(12) % 3
    x = torch.randn(12, SMALL["n_chans"], SMALL["n_times"], generator=gen)
    x[:, 0, :] += y[:, None].float()
    return x, y


@pytest.fixture
def make_model():
    """Factory ``make_model(seed=0, **overrides) -> ATCNet`` for a small seeded model."""
    return make_small
