"""LoRA adapters per ``LORA_TARGET_MODULES_GUIDE.md``, with the DESIGN.md correction.

``target_modules`` is a list of substrings matched against ``model.named_modules()`` names; only
``nn.Linear`` modules (including MultiheadAttention's ``out_proj``) are wrapped; ``''`` matches all.
Each wrapped layer computes ``W x + b + (alpha / rank) * B A dropout(x)``; ``B`` starts at zero so
the adapted model equals the base model until trained. Every base parameter is frozen.

Correction to the guide: ``nn.MultiheadAttention`` never calls ``out_proj(x)``; it reads
``out_proj.weight`` and ``out_proj.bias``. :class:`LinearWithLoRA` therefore exposes the *effective*
weight ``W + (alpha / rank) * B @ A`` as ``.weight``, so ``msa`` adapters change the outputs and
receive gradients. (Adapter dropout applies only where the wrapper is called as a module, i.e. not
inside MultiheadAttention.)

Pure ``nn``: adapter files (``save_adapter`` / ``load_adapter``) live in :mod:`bci_app.models.adapters`,
next to the model files.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bci_app.config import ResolvedLora
from bci_app.errors import ModelError

__all__ = [
    "LinearWithLoRA",
    "add_lora",
    "lora_parameters",
    "merge_lora",
    "lora_wrappers",
    "natural_key",
    "lora_summary",
    "lora_train_mode",
    "lora_adapters_train_mode",
    "remove_lora",
    "linear_module_names",
]

logger = logging.getLogger(__name__)
#: where a model keeps its adapters' settings (a ResolvedLora; read with lora_settings)
_SETTINGS = "lora_settings"

class LinearWithLoRA(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update.

    ``lora_A`` (rank, in_features) is Kaiming-uniform initialised, ``lora_B`` (out_features, rank)
    starts at zero. ``forward(x)`` for x (..., in_features) returns (..., out_features):
    ``linear(x) + dropout(x) @ A.T @ B.T * scaling`` with ``scaling = alpha / rank``.

    ``weight`` is the effective weight ``W + scaling * B @ A`` (differentiable in A and B) and
    ``bias`` the base bias, so modules that read ``.weight`` directly (MultiheadAttention) see
    the adapter too.
    """

    def __init__(self, linear: nn.Linear, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise ModelError(f"LinearWithLoRA wraps nn.Linear only, got {type(linear).__name__}.")
        _check_lora_args(rank, alpha, dropout)
        self.linear = linear
        self.rank = int(rank)
        self.alpha = float(alpha)
        self.dropout_p = float(dropout)
        self.scaling = self.alpha / self.rank
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        factory = {"device": linear.weight.device, "dtype": linear.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(self.rank, self.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, self.rank, **factory))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        for p in self.linear.parameters():
            p.requires_grad_(False)

    @property
    def weight(self) -> Tensor:
        """Effective weight (out_features, in_features): ``W + scaling * B @ A``."""
        return self.linear.weight + self.scaling * (self.lora_B @ self.lora_A)

    @property
    def bias(self) -> Tensor | None:
        """The base bias (out_features,), or None."""
        return self.linear.bias

    def delta_weight(self) -> Tensor:
        """The low-rank update ``scaling * B @ A`` (out_features, in_features)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: Tensor) -> Tensor:
        """x (..., in_features) -> (..., out_features)."""
        update = F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)
        return self.linear(x) + update * self.scaling

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}, scaling={self.scaling:g}, dropout={self.dropout_p:g}"


#: the largest LoRA rank accepted anywhere (config ``lora.rank``, adapter files); a rank is also at
#: most the width (the larger of in/out features) of every layer it adapts
MAX_RANK = 256


def _check_lora_args(rank: int, alpha: float, dropout: float) -> None:
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= MAX_RANK:
        raise ModelError(f"LoRA rank must be an integer from 1 to {MAX_RANK}, got {rank!r}.")
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ModelError(f"LoRA alpha must be a finite number > 0, got {alpha!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ModelError(f"LoRA dropout must be in [0, 1), got {dropout!r}.")


def natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def lora_wrappers(model: nn.Module) -> dict[str, LinearWithLoRA]:
    return {n: m for n, m in model.named_modules() if isinstance(m, LinearWithLoRA)}


def _inside(name: str, prefixes: Sequence[str]) -> bool:
    return any(name.startswith(p + ".") for p in prefixes)


def linear_module_names(model: nn.Module) -> list[str]:
    """The guide's "Available module names": every Linear (LoRA-wrapped ones under their own name)
    and every ``<attention>.in_proj_weight`` of an ``nn.MultiheadAttention``, naturally sorted."""
    wrapped = list(lora_wrappers(model))
    names: list[str] = []
    for name, module in model.named_modules():
        if _inside(name, wrapped):
            continue
        if isinstance(module, (nn.Linear, LinearWithLoRA)):
            names.append(name)
        elif isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None:
            names.append(f"{name}.in_proj_weight")
    return sorted(names, key=natural_key)


def _no_match_message(model: nn.Module, target_modules: Sequence[str]) -> str:
    available = "\n".join(f"  - {n}" for n in linear_module_names(model))
    return (
        f"No modules matched target_modules={list(target_modules)!r}. "
        "Check the spelling; for ATCNet use ['dense'], ['msa'] or ['dense', 'msa'].\n"
        f"Available module names:\n{available}"
    )


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def add_lora(
    model: nn.Module, target_modules: Sequence[str], rank: int, alpha: float, dropout: float
) -> list[str]:
    """Wrap every ``nn.Linear`` whose name contains one of ``target_modules`` with LoRA.

    Freezes every base parameter of ``model`` (targeted or not); only the new ``lora_A`` /
    ``lora_B`` train. Returns the wrapped module names (naturally sorted). When nothing matches,
    warns (and logs) ``No modules matched target_modules=[...]`` with the available names and
    returns ``[]``, leaving the model unchanged. The settings are kept on the model as a
    :class:`~bci_app.config.ResolvedLora` (:func:`lora_settings`); :func:`apply_lora` takes one.
    """
    if isinstance(target_modules, str):
        raise ModelError(
            f"target_modules must be a list of substrings, got the string {target_modules!r}; "
            f"write [{target_modules!r}] (resolve 'auto' with bci_app.config.resolve_lora first)."
        )
    return _apply(model, ResolvedLora(tuple(str(t) for t in target_modules), rank, alpha, dropout, "add_lora"))


def lora_settings(model: nn.Module) -> ResolvedLora | None:
    """The LoRA settings of ``model``'s adapters (``None`` without adapters)."""
    return model.__dict__.get(_SETTINGS)


def apply_lora(model: nn.Module, settings: ResolvedLora) -> list[str]:
    """:func:`add_lora` with the settings resolved once for a calibration (kept on the model as
    they are, reason included, for the adapter file and the summaries)."""
    return _apply(model, settings)


def _apply(model: nn.Module, settings: ResolvedLora) -> list[str]:
    """The one implementation of :func:`add_lora` / :func:`apply_lora` (a warning points at their caller)."""
    targets, rank, alpha, dropout = list(settings.target_modules), settings.rank, settings.alpha, settings.dropout
    _check_lora_args(rank, alpha, dropout)
    settings = replace(settings, target_modules=tuple(targets), rank=int(rank), alpha=float(alpha), dropout=float(dropout))
    if lora_wrappers(model):
        raise ModelError(
            "This model already has LoRA adapters; call merge_lora(model) first or start from a fresh base model."
        )
    matched = [
        name
        for name, module in model.named_modules()
        if name and isinstance(module, nn.Linear) and any(t in name for t in targets)
    ]
    if not matched:
        message = _no_match_message(model, targets)
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
        return []
    too_narrow = {n: max(m.in_features, m.out_features) for n in matched
                  if rank > max((m := model.get_submodule(n)).in_features, m.out_features)}
    if too_narrow:
        raise ModelError(f"LoRA rank {rank} exceeds the width of {sorted(too_narrow, key=natural_key)[:5]} "
                         f"(max(in, out features) = {min(too_narrow.values())}); use rank <= {min(too_narrow.values())}.")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in matched:
        _set_submodule(model, name, LinearWithLoRA(model.get_submodule(name), rank, alpha, dropout))
    model.__dict__[_SETTINGS] = settings
    wrapped = sorted(matched, key=natural_key)
    logger.info("LoRA added to %d modules: %s", len(wrapped), ", ".join(wrapped))
    return wrapped


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """All ``lora_A`` and ``lora_B`` parameters of ``model`` (what the optimiser should get)."""
    params: list[nn.Parameter] = []
    for _, module in sorted(lora_wrappers(model).items(), key=lambda kv: natural_key(kv[0])):
        params += [module.lora_A, module.lora_B]
    return params


def lora_train_mode(model: nn.Module) -> nn.Module:
    """``model.train()`` but with BatchNorm layers in eval mode, so their running statistics
    (part of the frozen base, and of its hash) do not change while adapters train. Returns model."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    return model


def lora_adapters_train_mode(model: nn.Module) -> nn.Module:
    """The base in eval mode (frozen: no dropout, fixed BatchNorm) and only the adapters in train
    mode (their dropout active). Returns ``model``."""
    model.eval()
    for m in model.modules():
        if isinstance(m, LinearWithLoRA):
            m.train()
    return model


def remove_lora(model: nn.Module) -> nn.Module:
    """Put every wrapped base Linear back in place (adapters discarded, nothing merged). Returns ``model``."""
    for name, wrapper in list(lora_wrappers(model).items()):
        _set_submodule(model, name, wrapper.linear)
    model.__dict__.pop(_SETTINGS, None)
    return model


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base Linear (``W += scaling * B @ A``) and remove the wrappers.

    The original Linear objects (and classes) are put back in place. ``requires_grad`` flags are
    left as they are. Returns ``model`` (modified in place).
    """
    for name, wrapper in list(lora_wrappers(model).items()):
        base = wrapper.linear
        base.weight.add_(wrapper.delta_weight().to(base.weight.dtype))
        _set_submodule(model, name, base)
    model.__dict__.pop(_SETTINGS, None)
    return model


def lora_summary(model: nn.Module) -> str:
    """The guide's comparison for ``model``: adapters, trainable parameters and % of the model.

    Percentages are relative to the base model's parameter count (adapters excluded).
    """
    wrappers = sorted(lora_wrappers(model).items(), key=lambda kv: natural_key(kv[0]))
    lora_ids = {id(p) for p in lora_parameters(model)}
    base_total = sum(p.numel() for p in model.parameters() if id(p) not in lora_ids)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lora_total = sum(p.numel() for p in model.parameters() if id(p) in lora_ids)
    settings = lora_settings(model)
    lines = []
    if settings is not None:
        lines.append(
            f"LoRA target_modules={list(settings.target_modules)!r} rank={settings.rank} "
            f"alpha={settings.alpha:g} scaling={settings.scaling:g} dropout={settings.dropout:g}"
        )
    lines.append(f"{'Module':<20} {'Layer':<16} {'A':>10} {'B':>10} {'Params':>8}")
    for name, w in wrappers:
        a, b = w.lora_A, w.lora_B
        n = a.numel() + b.numel()
        lines.append(
            f"{name:<20} {f'{w.in_features}->{w.out_features}':<16} "
            f"{'x'.join(map(str, a.shape)):>10} {'x'.join(map(str, b.shape)):>10} {n:>8,}"
        )
    pct = 100.0 * trainable / base_total if base_total else 0.0
    lines.append(f"LoRA adapters: {len(wrappers)}")
    lines.append(f"LoRA params: {lora_total:,}")
    lines.append(f"Trainable params: {trainable:,} ({pct:.2f}% of model)")
    lines.append(f"Base model params: {base_total:,} (full fine-tuning: 100%)")
    return "\n".join(lines)
