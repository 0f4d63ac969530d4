"""A faster, output-equivalent inference path for :class:`~bci_app.models.ATCNet`.

:class:`FastATCNet` is built once from a trained model (LoRA merged, BatchNorm folded) and the
window's :class:`~bci_app.signal.preprocess.PreprocessingSpec`. It takes the *band-passed window*
(n_chans, n_times) in volts — the output of ``StreamingPreprocessor.latest_window`` — and returns
the logits the eager model gives on ``finalize_window(window, spec)``:

1. the one final step (:func:`~bci_app.signal.preprocess.final_step`: per-channel demean, ``* scale``,
   alignment ``R``) and ATCNet's depthwise spatial conv are all linear across channels, and the
   temporal conv is shared by every channel, so they commute. The window is first projected by
   ``W = diag(bn) · W_spatial · R · scale`` (F2 × n_chans, float64), demeaned *after* the
   projection (``W (x - m) = W x - mean_t(W x)``), then filtered by a depthwise temporal conv (F2
   kernels). This replaces a (F1, n_chans, n_times)
   convolution by a (F2, n_times) one: about 12× fewer multiply-adds at 64 channels.
2. Every BatchNorm is folded into the convolution before it.
3. The per-window blocks (``attn_norm{i}``, ``msa{i}``, ``tcn{i}``, ``dense{i}``) run batched over
   the windows: stacked weights with ``bmm`` and grouped convolutions.
4. The tensor part is traced with ``torch.jit.trace`` and frozen.

:func:`build_fast_model` checks on random windows that the logits match the eager model (run in
float64: the exact logits) within ``atol`` (1e-5 relative to the logits' scale) and raises
:class:`~bci_app.errors.ModelError` otherwise.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bci_app.errors import ModelError
from bci_app.models.atcnet import ATCNet
from bci_app.models.lora import LinearWithLoRA, merge_lora
from bci_app.signal.preprocess import PreprocessingSpec, finalize_window

__all__ = ["FastATCNet", "build_fast_model", "merged_copy"]


def merged_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with any LoRA adapters merged into their base layers."""
    m = copy.deepcopy(model)
    if any(isinstance(x, LinearWithLoRA) for x in m.modules()):
        merge_lora(m)
    return m.eval()


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[Tensor, Tensor]:
    """(scale, shift) of an eval-mode BatchNorm: ``bn(x) = scale * x + shift`` per channel."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    return scale.detach(), shift.detach()


class _Core(nn.Module):
    """Tensor part of :class:`FastATCNet`: z0 (1, F2, n_times) projected window -> logits (1, n_outputs)."""

    def __init__(self, m: ATCNet) -> None:
        super().__init__()
        cb = m.conv_block
        F1 = cb.temporal.out_channels
        F2 = m.F2
        D = F2 // F1
        s_t, b_t = _bn_affine(cb.bn_temporal)
        s_s, b_s = _bn_affine(cb.bn_spatial)
        grp = torch.arange(F2) // D  # temporal filter feeding each spatial output
        wt = cb.temporal.weight.detach()[:, 0, 0, :]  # (F1, kern)
        ws = cb.spatial.weight.detach()[:, 0, :, 0]  # (F2, n_chans)
        # depthwise temporal kernel per F2 row, with both BatchNorm scales
        self.register_buffer("w_temporal", (wt[grp] * (s_t[grp] * s_s)[:, None]).unsqueeze(1).contiguous())
        # constant: spatial conv of the temporal BN shift, through the spatial BN
        self.register_buffer("b_temporal", (s_s * b_t[grp] * ws.sum(dim=1) + b_s).contiguous())
        self.pad_temporal = cb.pad_temporal
        self.pool1, self.pool2 = m.pools
        s_p, b_p = _bn_affine(cb.bn_separable)
        self.register_buffer("w_sep", (cb.separable.weight.detach()[:, :, 0, :] * s_p[:, None, None]).contiguous())
        self.register_buffer("b_sep", b_p.contiguous())
        self.pad_separable = cb.pad_separable
        # batched per-window blocks
        nw, L = m.n_windows, m.window_len
        self.n_windows, self.window_len, self.F2 = nw, L, F2
        norms = [getattr(m, f"attn_norm{i}") for i in range(nw)]
        self.ln_eps = float(norms[0].eps)
        self.register_buffer("ln_w", torch.stack([n.weight.detach() for n in norms])[:, None, :])
        self.register_buffer("ln_b", torch.stack([n.bias.detach() for n in norms])[:, None, :])
        msas = [getattr(m, f"msa{i}") for i in range(nw)]
        self.n_heads = msas[0].num_heads
        self.head_dim = F2 // self.n_heads
        self.register_buffer("in_w", torch.stack([a.in_proj_weight.detach().t() for a in msas]).contiguous())
        self.register_buffer("in_b", torch.stack([a.in_proj_bias.detach() for a in msas])[:, None, :].contiguous())
        self.register_buffer("out_w", torch.stack([a.out_proj.weight.detach().t() for a in msas]).contiguous())
        self.register_buffer("out_b", torch.stack([a.out_proj.bias.detach() for a in msas])[:, None, :].contiguous())
        tcns = [getattr(m, f"tcn{i}") for i in range(nw)]
        self.tcn_pads: list[int] = []
        self.tcn_dil: list[int] = []
        for d, _ in enumerate(tcns[0].blocks):
            for part in ("a", "b"):
                ws_, bs_ = [], []
                for t in tcns:
                    block = t.blocks[d]
                    conv, bn = getattr(block, f"conv_{part}"), getattr(block, f"bn_{part}")
                    sc, sh = _bn_affine(bn)
                    ws_.append(conv.weight.detach() * sc[:, None, None])
                    bs_.append(conv.bias.detach() * sc + sh)
                self.register_buffer(f"tcn{d}{part}_w", torch.cat(ws_).contiguous())
                self.register_buffer(f"tcn{d}{part}_b", torch.cat(bs_).contiguous())
            conv = tcns[0].blocks[d].conv_a
            self.tcn_pads.append(conv.left_pad)
            self.tcn_dil.append(conv.dilation[0])
        self.tcn_depth = len(tcns[0].blocks)
        dense = [getattr(m, f"dense{i}") for i in range(nw)]
        self.register_buffer("dense_w", torch.stack([d.weight.detach().t() for d in dense]).contiguous())
        self.register_buffer("dense_b", torch.stack([d.bias.detach() for d in dense])[:, None, :].contiguous())

    def forward(self, z0: Tensor) -> Tensor:
        # conv block
        x = F.conv1d(F.pad(z0, self.pad_temporal), self.w_temporal, self.b_temporal, groups=self.F2)
        x = F.avg_pool1d(F.elu(x), self.pool1)
        x = F.conv1d(F.pad(x, self.pad_separable), self.w_sep, self.b_sep)
        z = F.avg_pool1d(F.elu(x), self.pool2)  # (1, F2, Tp)
        nw, L, F2 = self.n_windows, self.window_len, self.F2
        w = torch.stack([z[0, :, i : i + L] for i in range(nw)]).transpose(1, 2)  # (nw, L, F2)
        y = F.layer_norm(w, (F2,), None, None, self.ln_eps) * self.ln_w + self.ln_b
        qkv = torch.baddbmm(self.in_b, y, self.in_w)  # (nw, L, 3F2)
        q, k, v = qkv.split(F2, dim=2)
        h, hd = self.n_heads, self.head_dim
        q = q.reshape(nw, L, h, hd).transpose(1, 2).reshape(nw * h, L, hd)
        k = k.reshape(nw, L, h, hd).transpose(1, 2).reshape(nw * h, L, hd)
        v = v.reshape(nw, L, h, hd).transpose(1, 2).reshape(nw * h, L, hd)
        att = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(hd)), dim=-1)
        o = torch.bmm(att, v).reshape(nw, h, L, hd).transpose(1, 2).reshape(nw, L, F2)
        w = w + torch.baddbmm(self.out_b, o, self.out_w)
        t = w.transpose(1, 2).reshape(1, nw * F2, L)
        for d in range(self.tcn_depth):
            pad, dil = self.tcn_pads[d], self.tcn_dil[d]
            wa, ba = getattr(self, f"tcn{d}a_w"), getattr(self, f"tcn{d}a_b")
            wb, bb = getattr(self, f"tcn{d}b_w"), getattr(self, f"tcn{d}b_b")
            u = F.elu(F.conv1d(F.pad(t, (pad, 0)), wa, ba, dilation=dil, groups=nw))
            u = F.elu(F.conv1d(F.pad(u, (pad, 0)), wb, bb, dilation=dil, groups=nw))
            t = F.elu(t + u)
        feats = t[0, :, -1].reshape(nw, 1, F2)
        logits = torch.baddbmm(self.dense_b, feats, self.dense_w)  # (nw, 1, n_out)
        return logits.mean(dim=0)


class FastATCNet:
    """Output-equivalent fast inference for one ATCNet + preprocessing spec (see module doc).

    Call with a band-passed window (n_chans, n_times) float64 volts; returns logits (n_outputs,)
    as a float32 numpy array. Not thread-safe (preallocated buffers): one caller at a time.
    """

    def __init__(self, model: nn.Module, spec: PreprocessingSpec, *, trace: bool = True) -> None:
        m = merged_copy(model)
        if not isinstance(m, ATCNet):
            raise ModelError(f"FastATCNet supports ATCNet models, got {type(m).__name__}")
        if spec.n_chans != m.n_chans:
            raise ModelError(
                f"the preprocessing spec has {spec.n_chans} channels but the model expects {m.n_chans}"
            )
        self.n_chans, self.n_times, self.n_outputs = m.n_chans, m.n_times, m.n_outputs
        ws = m.conv_block.spatial.weight.detach().double()[:, 0, :, 0].numpy()  # (F2, n_chans)
        R = spec.alignment_matrix
        proj = ws @ R if R is not None else ws.copy()
        self.projection = np.ascontiguousarray(proj * spec.scale)  # (F2, n_chans) float64
        with torch.no_grad():
            core = _Core(m).eval()
            self._z = torch.zeros(1, m.F2, m.n_times)
            if trace:
                with torch.inference_mode(False), warnings.catch_warnings():
                    # TorchScript is deprecated in favour of torch.compile, which needs a compiler
                    # toolchain at run time; trace + freeze still works and is what we measure
                    warnings.simplefilter("ignore", DeprecationWarning)
                    traced = torch.jit.trace(core, (self._z,), check_trace=False)
                    core = torch.jit.freeze(traced.eval())
        self.core = core
        self._proj_out = np.empty((m.F2, m.n_times))
        self._z_np = self._z.numpy()

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """window (n_chans, n_times) band-passed volts -> logits (n_outputs,) float32."""
        if window.shape != (self.n_chans, self.n_times):
            raise ModelError(f"expected a window ({self.n_chans}, {self.n_times}), got {window.shape}")
        p = np.matmul(self.projection, window, out=self._proj_out)
        p -= p.mean(axis=1, keepdims=True)
        self._z_np[0] = p  # float64 -> float32 into the preallocated input
        with torch.inference_mode():
            out = self.core(self._z)
        return out[0].numpy().copy()


def build_fast_model(
    model: nn.Module, spec: PreprocessingSpec, *, check: bool = True, atol: float = 1e-5, seed: int = 0
) -> FastATCNet:
    """Build a :class:`FastATCNet` and (``check``) verify it against the eager model.

    The check feeds 3 random band-limited-looking windows (~20 µV) through ``finalize_window`` +
    the eager merged model *in float64* (the exact logits) and through the fast path; raises
    :class:`ModelError` when any logit differs by more than ``atol`` relative to the logit scale
    (``atol * max(1, max|logit|)``: float32 rounding grows with the logits' magnitude). The reference
    is float64 because the float32 eager model is not exact either: with an ill-conditioned
    alignment (8 channels interpolated to 64 give a rank-8 covariance) its own rounding reached
    7e-6 of the logits' scale, while the fast path projects in float64 first.
    """
    fast = FastATCNet(model, spec)
    if check:
        ref = merged_copy(model).double()
        rng = np.random.default_rng(seed)
        for _ in range(3):
            w = rng.standard_normal((fast.n_chans, fast.n_times)) * 20e-6
            exact_input = finalize_window(w, spec, out=np.empty(w.shape, dtype=np.float64))
            with torch.inference_mode():
                expected = ref(torch.from_numpy(exact_input)[None])[0].numpy()
            got = fast(w)
            err = float(np.max(np.abs(got - expected)))
            tolerance = atol * max(1.0, float(np.max(np.abs(expected))))
            if not err <= tolerance:
                raise ModelError(
                    f"the fast inference path differs from the model by {err:.2e} (> {tolerance:.2e}); "
                    "use Decoder(fast=False) and report this as a bug"
                )
    return fast
