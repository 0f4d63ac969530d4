"""ATCNet (Altaheri et al. 2022) with the module names of the LoRA guide.

Altaheri H., Muhammad G., Alsulaiman M. "Physics-informed attention temporal convolutional network
for EEG-based motor imagery classification", IEEE TII 19(2), 2023 (arXiv:2106.11170).

Layout (``n_windows`` = 3 by default)::

    x (batch, n_chans, n_times)
      -> conv_block: EEGNet-style temporal conv, depthwise spatial conv, separable conv,
         BatchNorm, ELU, two average pools               -> z (batch, F2, T_pooled)
      -> for window i in 0..n_windows-1 (z[:, :, i : i + T_pooled - n_windows + 1]):
           attn_norm{i} (LayerNorm) -> msa{i} (MultiheadAttention) -> residual
           -> tcn{i} (causal residual TCN, dilations 1, 2, ...) -> last time step
           -> dense{i} (Linear F2 -> n_outputs)
      -> window logits averaged                          -> logits (batch, n_outputs)

Only the per-window heads ``dense{i}`` and attention blocks ``msa{i}`` carry the substrings
``dense`` / ``msa``; no other module name contains them, so the guide's substring matching is exact.

The forward pass is split into stages so that frozen stages can be cached during fine-tuning:
:meth:`ATCNet.encode`, :meth:`ATCNet.window_features`, :meth:`ATCNet.classify`.

Differences from the Keras original: no max-norm weight constraints; the pools are scaled down for
inputs too short to leave ``n_windows`` pooled time steps; the temporal kernel is given in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bci_app.errors import ModelError

__all__ = ["ATCNet", "count_parameters", "select_outputs"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def select_outputs(model: ATCNet, rows: Sequence[int]) -> ATCNet:
    """A copy of ``model`` whose classification heads keep only output ``rows`` (in that order):
    e.g. a 4-class base restricted to the classes a paradigm cues. Returns an eval-mode model."""
    rows = [int(r) for r in rows]
    if not rows or min(rows) < 0 or max(rows) >= model.n_outputs or len(set(rows)) != len(rows):
        raise ModelError(f"select_outputs: rows {rows} must be distinct indices below {model.n_outputs}")
    out = ATCNet(**dict(model.hparams, n_outputs=len(rows)))
    state = model.state_dict()
    for key, value in list(state.items()):
        if key.startswith("dense") and key.split(".")[-1] in ("weight", "bias"):
            state[key] = value[rows].clone()
    out.load_state_dict(state)
    return out.eval()


def _scaled_pools(n_times: int, pool1: int, pool2: int, n_windows: int) -> tuple[int, int]:
    """Shrink the pools (second first) until ``n_times // pool1 // pool2 >= n_windows``."""
    while (n_times // pool1) // pool2 < n_windows:
        if pool2 > 1:
            pool2 -= 1
        elif pool1 > 1:
            pool1 -= 1
        else:
            raise ModelError(
                f"ATCNet needs at least n_windows={n_windows} time samples, got n_times={n_times}; "
                "use a longer window or fewer n_windows."
            )
    return pool1, pool2


class _ConvBlock(nn.Module):
    """EEGNet-style block: (batch, n_chans, n_times) -> (batch, F1 * D, T_pooled)."""

    def __init__(
        self, n_chans: int, F1: int, D: int, kern: int, sep_kern: int, pool1: int, pool2: int, drop_prob: float
    ) -> None:
        super().__init__()
        F2 = F1 * D
        # "same" padding done by hand (left (k-1)//2, right k//2, as Keras) to avoid torch's copy warning
        self.pad_temporal = ((kern - 1) // 2, kern // 2)
        self.pad_separable = ((sep_kern - 1) // 2, sep_kern // 2)
        self.temporal = nn.Conv2d(1, F1, (1, kern), bias=False)
        self.bn_temporal = nn.BatchNorm2d(F1)
        self.spatial = nn.Conv2d(F1, F2, (n_chans, 1), groups=F1, bias=False)
        self.bn_spatial = nn.BatchNorm2d(F2)
        self.pool_a = nn.AvgPool2d((1, pool1))
        self.drop_a = nn.Dropout(drop_prob)
        self.separable = nn.Conv2d(F2, F2, (1, sep_kern), bias=False)
        self.bn_separable = nn.BatchNorm2d(F2)
        self.pool_b = nn.AvgPool2d((1, pool2))
        self.drop_b = nn.Dropout(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, n_chans, n_times) -> (batch, F2, T_pooled)."""
        x = self.bn_temporal(self.temporal(F.pad(x.unsqueeze(1), self.pad_temporal)))
        x = F.elu(self.bn_spatial(self.spatial(x)))
        x = self.drop_a(self.pool_a(x))
        x = F.elu(self.bn_separable(self.separable(F.pad(x, self.pad_separable))))
        x = self.drop_b(self.pool_b(x))
        return x.squeeze(2)


class _CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left only, so output step t sees inputs <= t. Keeps the length."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__(channels, channels, kernel_size, dilation=dilation)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class _TCNBlock(nn.Module):
    """Residual block: 2 x (causal dilated conv, BatchNorm, ELU, dropout) + identity, then ELU."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, drop_prob: float) -> None:
        super().__init__()
        self.conv_a = _CausalConv1d(channels, kernel_size, dilation)
        self.bn_a = nn.BatchNorm1d(channels)
        self.conv_b = _CausalConv1d(channels, kernel_size, dilation)
        self.bn_b = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, channels, length) -> same shape."""
        y = self.drop(F.elu(self.bn_a(self.conv_a(x))))
        y = self.drop(F.elu(self.bn_b(self.conv_b(y))))
        return F.elu(x + y)


class _TCN(nn.Module):
    """Temporal convolutional network: ``depth`` residual blocks with dilations 1, 2, 4, ..."""

    def __init__(self, channels: int, depth: int, kernel_size: int, drop_prob: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *[_TCNBlock(channels, kernel_size, 2**d, drop_prob) for d in range(depth)]
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, channels, length) -> same shape."""
        return self.blocks(x)


#: upper bounds of ATCNet's integer hyperparameters (1024 for those not listed): a model file
#: cannot make the constructor allocate more than a few hundred MB
HPARAM_LIMITS = {"n_times": 100_000, "n_outputs": 64, "n_windows": 64, "D": 16, "n_heads": 64, "tcn_depth": 16}


class ATCNet(nn.Module):
    """Attention temporal convolutional network for motor-imagery EEG.

    Parameters
    ----------
    n_chans, n_outputs, sfreq, n_times
        Input channels, classes, sampling rate (Hz) and window length (samples).
    n_windows
        Sliding windows over the pooled sequence; one ``msa{i}`` / ``tcn{i}`` / ``dense{i}`` each.
    F1, D
        Temporal filters and depth multiplier; features per time step ``F2 = F1 * D``.
    kern_seconds
        Temporal kernel length in seconds (0.25 s = 64 samples at 250 Hz, as in the paper).
    sep_kern
        Kernel of the second (separable) conv, in pooled samples (16 in the paper).
    pool1, pool2
        Average-pool sizes; scaled down (``pool2`` first) when fewer than ``n_windows`` pooled
        time steps would remain. Effective values: ``model.pools``.
    n_heads
        Attention heads (``F2`` must be divisible by it).
    tcn_depth, tcn_kernel
        Residual TCN blocks (dilations ``1, 2, ...``) and their kernel size.
    drop_prob, attn_drop_prob
        Dropout in the conv block / TCN, and after attention.

    Input ``(batch, n_chans, n_times)`` float32 (volts, preprocessed); output logits
    ``(batch, n_outputs)``. Constructor arguments are kept in ``self.hparams`` (JSON-serialisable),
    so ``ATCNet(**model.hparams)`` rebuilds the architecture.
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        sfreq: float,
        n_times: int,
        *,
        n_windows: int = 3,
        F1: int = 16,
        D: int = 2,
        kern_seconds: float = 0.25,
        sep_kern: int = 16,
        pool1: int = 8,
        pool2: int = 7,
        n_heads: int = 2,
        tcn_depth: int = 2,
        tcn_kernel: int = 4,
        drop_prob: float = 0.3,
        attn_drop_prob: float = 0.5,
    ) -> None:
        super().__init__()
        self.hparams: dict[str, Any] = {
            "n_chans": int(n_chans),
            "n_outputs": int(n_outputs),
            "sfreq": float(sfreq),
            "n_times": int(n_times),
            "n_windows": int(n_windows),
            "F1": int(F1),
            "D": int(D),
            "kern_seconds": float(kern_seconds),
            "sep_kern": int(sep_kern),
            "pool1": int(pool1),
            "pool2": int(pool2),
            "n_heads": int(n_heads),
            "tcn_depth": int(tcn_depth),
            "tcn_kernel": int(tcn_kernel),
            "drop_prob": float(drop_prob),
            "attn_drop_prob": float(attn_drop_prob),
        }
        for key in ("n_chans", "n_outputs", "n_times", "n_windows", "F1", "D", "sep_kern", "pool1", "pool2",
                    "n_heads", "tcn_depth", "tcn_kernel"):
            if not 1 <= self.hparams[key] <= HPARAM_LIMITS.get(key, 1024):
                raise ModelError(f"ATCNet: {key} must be from 1 to {HPARAM_LIMITS.get(key, 1024)}, "
                                 f"got {self.hparams[key]}.")
        if not (0 < sfreq <= 100_000 and 0 < kern_seconds <= 10):
            raise ModelError(f"ATCNet: sfreq must be in (0, 100000] Hz and kern_seconds in (0, 10], "
                             f"got {sfreq} and {kern_seconds}.")
        if sfreq <= 0 or kern_seconds <= 0:
            raise ModelError(f"ATCNet: sfreq and kern_seconds must be > 0, got {sfreq} and {kern_seconds}.")
        self.n_chans, self.n_outputs, self.n_times = int(n_chans), int(n_outputs), int(n_times)
        self.sfreq = float(sfreq)
        self.n_windows = int(n_windows)
        self.F2 = F2 = int(F1) * int(D)
        if F2 % n_heads:
            raise ModelError(f"ATCNet: F1 * D = {F2} must be divisible by n_heads = {n_heads}.")
        kern = max(1, round(kern_seconds * sfreq))
        self.pools = _scaled_pools(self.n_times, int(pool1), int(pool2), self.n_windows)
        self.n_times_pooled = self.n_times // self.pools[0] // self.pools[1]
        self.window_len = self.n_times_pooled - self.n_windows + 1

        self.conv_block = _ConvBlock(self.n_chans, F1, D, kern, sep_kern, *self.pools, drop_prob)
        self.attn_dropout = nn.Dropout(attn_drop_prob)
        for i in range(self.n_windows):
            self.add_module(f"attn_norm{i}", nn.LayerNorm(F2))
            self.add_module(f"msa{i}", nn.MultiheadAttention(F2, n_heads, dropout=0.0, batch_first=True))
            self.add_module(f"tcn{i}", _TCN(F2, tcn_depth, tcn_kernel, drop_prob))
            self.add_module(f"dense{i}", nn.Linear(F2, self.n_outputs))

    def encode(self, x: Tensor) -> Tensor:
        """Conv block. x (batch, n_chans, n_times) -> z (batch, F2, n_times_pooled)."""
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            raise ModelError(
                f"ATCNet expects input (batch, n_chans={self.n_chans}, n_times={self.n_times}), "
                f"got {tuple(x.shape)}; check the channel selection and window length."
            )
        return self.conv_block(x)

    def window_features(self, z: Tensor, i: int) -> Tensor:
        """Window ``i`` of z (batch, F2, n_times_pooled) through attention and TCN -> (batch, F2).

        The window is ``z[:, :, i : i + window_len]``; attention is pre-LayerNorm with a residual,
        the TCN is causal, and the last time step is returned.
        """
        w = z[:, :, i : i + self.window_len].transpose(1, 2)  # (batch, window_len, F2)
        y = getattr(self, f"attn_norm{i}")(w)
        attn, _ = getattr(self, f"msa{i}")(y, y, y, need_weights=False)
        w = w + self.attn_dropout(attn)
        h = getattr(self, f"tcn{i}")(w.transpose(1, 2))  # (batch, F2, window_len)
        return h[:, :, -1]

    def classify(self, features: list[Tensor]) -> Tensor:
        """Per-window heads ``dense{i}`` on features[i] (batch, F2), averaged -> (batch, n_outputs)."""
        if len(features) != self.n_windows:
            raise ModelError(f"ATCNet.classify expects {self.n_windows} window features, got {len(features)}.")
        logits = [getattr(self, f"dense{i}")(f) for i, f in enumerate(features)]
        return torch.stack(logits, dim=0).mean(dim=0)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, n_chans, n_times) float32 -> logits (batch, n_outputs)."""
        z = self.encode(x)
        return self.classify([self.window_features(z, i) for i in range(self.n_windows)])
