"""The training loop: LoRA (or, for comparison, full) fine-tuning of a base model on prepared trials.

Preparation (windows, repair, alignment) is :mod:`calibration.prepare`, adapter files are
:mod:`bci_app.models.adapters`, LoRA itself is :mod:`bci_app.models.lora`, and the one job around
them (prepare → fine-tune → gate → save) is :class:`calibration.job.CalibrationJob`.

:func:`finetune` is a generator: it yields a frozen :class:`Progress` per epoch, checks a cancel flag
between batches, and returns a :class:`FinetuneResult` (``StopIteration.value``; :func:`run_to_end`).

Speed: base weights are frozen and the base runs in eval mode (no dropout, BatchNorm statistics
fixed), so everything upstream of the first adapted module is a fixed function of the input and is
computed once per trial: ``['dense']`` targets cache ``window_features`` (only the heads run per
epoch), any ``msa`` target caches ``encode(x)`` (the conv block). Other targets run the full forward.
Only the adapter path's own dropout is active while training.

Guarantees: only LoRA parameters train; the base model hash is checked afterwards (bit-identical);
on cancel, on error, or when the generator is closed before it finishes, the adapters are removed
and the model is exactly the base again.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bci_app.config import FinetuneConfig, ResolvedLora
from bci_app.errors import CalibrationError, TrainingCancelled, TrainingError
from bci_app.models import count_parameters, model_hash
from bci_app.models.lora import LinearWithLoRA, apply_lora, lora_adapters_train_mode, lora_parameters, remove_lora

logger = logging.getLogger(__name__)

__all__ = ["Progress", "FinetuneResult", "finetune", "stratified_split", "predict_proba", "run_to_end", "FrozenFeatures",
           "FeatureAugmentation", "as_trial_windows", "prior_penalty", "predict_proba_cached"]


@dataclass(frozen=True)
class Progress:
    """One finished epoch. ``train_loss`` is the mean cross-entropy over the epoch's batches (adapter
    dropout active); ``val_loss`` (cross-entropy, eval mode) and ``val_accuracy`` are None without a
    validation split; ``best_epoch`` is the 1-based epoch whose weights are kept so far."""

    epoch: int
    n_epochs: int
    train_loss: float
    val_accuracy: float | None
    val_loss: float | None
    elapsed_s: float
    best_epoch: int


@dataclass(frozen=True)
class FinetuneResult:
    """What a finished job produced (the trained adapters stay in the model)."""

    mode: str  # "lora" or "full"
    target_modules: tuple[str, ...]
    wrapped_modules: tuple[str, ...]
    rank: int | None
    alpha: float | None
    dropout: float | None
    n_trials: int
    n_train: int
    n_val: int
    epochs_run: int
    best_epoch: int
    val_accuracy: float | None
    train_accuracy: float
    trainable_params: int
    total_params: int
    elapsed_s: float
    stopped_early: bool
    cache: str  # "window_features", "encode" or "none"
    base_model_hash: str
    history: tuple[Progress, ...] = field(default_factory=tuple)
    #: training windows per trial (the decoder's sliding windows over the imagery period)
    windows_per_trial: int = 1

    def metrics(self) -> dict[str, Any]:
        """JSON-serialisable summary (history as a list of dicts)."""
        d = asdict(self)
        d["target_modules"], d["wrapped_modules"] = list(self.target_modules), list(self.wrapped_modules)
        d["history"] = [asdict(p) for p in self.history]
        return d


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: about ``fraction`` of each class held out (at least one per class
    when ``fraction > 0`` and the class has >= 2 trials), shuffled with ``seed``."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(fraction * len(idx)))
        if fraction > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        val += list(idx[:k])
        train += list(idx[k:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


class _AdamW:
    """Plain AdamW over a parameter list (same update as ``torch.optim.AdamW``).

    Written out because constructing any ``torch.optim`` optimizer imports ``torch._dynamo`` the
    first time (about 5 s on our 2-core machines), which alone would exceed the calibration budget.
    """

    def __init__(self, params: list[Tensor], lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.wd, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad
            if self.wd:
                p.mul_(1 - self.lr * self.wd)
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)


class FrozenFeatures:
    """The frozen stages' outputs for every window of trials ``X`` (n, n_windows, n_chans, n_times),
    computed once: ``('window_features', feats)``, ``('encode', z)`` or ``('none', x)``, flattened
    trial-major (window ``j`` of trial ``i`` is row ``i * n_windows + j``). Valid while the base's
    weights stay frozen (LoRA training never changes them)."""

    def __init__(self, model: nn.Module, X: np.ndarray, kind: str, batch_size: int = 256) -> None:
        n, k = X.shape[:2]
        flat = torch.from_numpy(np.ascontiguousarray(X.reshape(n * k, *X.shape[2:]), dtype=np.float32))
        self.kind, self.n_trials, self.n_windows = kind, n, k
        if kind == "none":
            self.cache: Any = flat
            return
        parts = []
        with torch.no_grad():
            for start in range(0, len(flat), batch_size):
                z = model.encode(flat[start:start + batch_size])
                parts.append([model.window_features(z, i) for i in range(model.n_windows)] if kind == "window_features"
                             else z)
        if kind == "window_features":
            self.cache = [torch.cat([p[i] for p in parts]) for i in range(model.n_windows)]
        else:
            self.cache = torch.cat(parts)

    def rows(self, trials: np.ndarray) -> Tensor:
        """Row indices of every window of ``trials`` (m,) → (m * n_windows,), trial-major."""
        t = torch.as_tensor(np.asarray(trials, dtype=np.int64))
        return (t[:, None] * self.n_windows + torch.arange(self.n_windows)[None]).reshape(-1)

    def stages(self, rows: Tensor) -> list[Tensor]:
        """The cached outputs of those windows: one (len(rows), n_features) tensor per model window
        (``window_features``), else one tensor (``encode``: the conv block's output; ``none``: the input)."""
        if self.kind == "window_features":
            return [f[rows] for f in self.cache]
        return [self.cache[rows]]

    def logits_of(self, model: nn.Module, stages: list[Tensor]) -> Tensor:
        """The model's logits (m, n_outputs) from cached outputs as :meth:`stages` gives them."""
        m = model
        if self.kind == "window_features":
            return m.classify(stages)
        if self.kind == "encode":
            return m.classify([m.window_features(stages[0], i) for i in range(m.n_windows)])
        return m(stages[0])

    def logits(self, model: nn.Module, rows: Tensor) -> Tensor:
        """The model's logits (len(rows), n_outputs) for those windows, from the cached stages."""
        return self.logits_of(model, self.stages(rows))


class FeatureAugmentation:
    """Augmented cached outputs of the training windows (``finetune.feature_noise``, ``feature_mixup``):
    they change the frozen stages' outputs, never the input, so the cache stays valid and a step costs
    no forward pass of the frozen stages.

    ``train_rows`` (m,) are the training windows' rows of ``frozen``, ``y_train`` (m,) their labels.
    Noise: ``noise`` times each feature's standard deviation over the training windows, Gaussian.
    Mixup: each window mixed with a random training window of its class, weight ``lam`` ~
    Beta(``mixup``, ``mixup``) on the window itself; labels stay. Seeded: the same run, the same draws.
    """

    def __init__(self, frozen: FrozenFeatures, train_rows: Tensor, y_train: Tensor, *, noise: float, mixup: float,
                 seed: int) -> None:
        self.frozen, self.train_rows, self.noise, self.mixup = frozen, train_rows, float(noise), float(mixup)
        self.rng = np.random.default_rng(seed)
        self.noise_generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.std = [s.std(0, correction=0, keepdim=True) for s in frozen.stages(train_rows)] if noise > 0 else []
        labels = y_train.numpy()
        self.by_class = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}

    @property
    def active(self) -> bool:
        return self.noise > 0 or self.mixup > 0

    def stages(self, positions: Tensor, labels: Tensor) -> list[Tensor]:
        """Augmented cached outputs (as :meth:`FrozenFeatures.stages`) of the training windows at
        ``positions`` (indices into ``train_rows``) with labels ``labels`` (len(positions),)."""
        stages = self.frozen.stages(self.train_rows[positions])
        if self.mixup > 0:
            y = labels.numpy()
            partners = np.empty(len(y), dtype=np.int64)
            for c, members in self.by_class.items():
                mine = y == c
                partners[mine] = members[self.rng.integers(0, len(members), int(mine.sum()))]
            others = self.frozen.stages(self.train_rows[torch.from_numpy(partners)])
            lam = torch.from_numpy(self.rng.beta(self.mixup, self.mixup, len(y)).astype(np.float32))
            stages = [lam.view(-1, *[1] * (s.dim() - 1)) * s + (1 - lam.view(-1, *[1] * (s.dim() - 1))) * o
                      for s, o in zip(stages, others)]
        if self.noise > 0:
            stages = [s + self.noise * sd * torch.randn(s.shape, generator=self.noise_generator)
                      for s, sd in zip(stages, self.std)]
        return stages


def as_trial_windows(X: np.ndarray) -> np.ndarray:
    """Trials as (n, n_windows, n_chans, n_times) float32: one window per trial for a 3-D ``X``."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 3:
        return X[:, None]
    if X.ndim == 4:
        return X
    raise CalibrationError(f"expected trials (n, n_chans, n_times) or (n, n_windows, n_chans, n_times), got {X.shape}")


def prior_penalty(model: nn.Module, prior: str, weight: float, logits: Tensor | None = None,
                  base_logits: Tensor | None = None) -> Tensor | float:
    """The prior toward the base (``finetune.prior``): ``l2`` = weight * sum over adapted layers of
    ``||scaling * B @ A||_F^2``; ``kl`` = weight * mean KL(base || adapted) of the class probabilities
    of ``logits`` against ``base_logits`` (both (m, n_outputs)); 0 for ``none`` or weight 0."""
    if prior == "none" or weight <= 0:
        return 0.0
    if prior == "l2":
        return weight * sum(m.delta_weight().pow(2).sum() for m in model.modules() if isinstance(m, LinearWithLoRA))
    return weight * F.kl_div(F.log_softmax(logits, 1), F.log_softmax(base_logits, 1), log_target=True,
                             reduction="batchmean")


def _cache_kind(wrapped: Sequence[str], full: bool, use_cache: bool, model: nn.Module) -> str:
    if full or not use_cache or not all(hasattr(model, a) for a in ("encode", "window_features", "classify")):
        return "none"
    if wrapped and all(n.startswith("dense") for n in wrapped):
        return "window_features"
    if wrapped and all(n.startswith(("dense", "msa")) for n in wrapped):
        return "encode"
    return "none"


def finetune(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lora: ResolvedLora | None = None,
    config: FinetuneConfig | None = None,
    cancel: threading.Event | None = None,
    full: bool = False,
    use_cache: bool = True,
    classes: Sequence[str] | None = None,
    rejection_note: str | None = None,
    trials: np.ndarray | None = None,
    features: dict[str, FrozenFeatures] | None = None,
) -> Generator[Progress, None, FinetuneResult]:
    """Fine-tune ``model`` on preprocessed trials with integer labels ``y`` (n,) in the model's class order.

    ``X``: (n, n_chans, n_times) float32, one window per trial, or (n, n_windows, n_chans, n_times):
    the windows the online decoder decides on (``CalibrationData.decision_windows``). Every window is
    a training sample with its trial's label; a validation split (``finetune.validation_fraction``)
    holds out whole trials, scored on the mean probability over their windows.
    ``trials``: train only on these trial indices of ``X`` (the gate's folds); ``features``: a dict
    the frozen stages' outputs for all of ``X`` are kept in and reused from (one per cache kind), so
    the gate's folds compute them once.

    ``lora``: the settings resolved once for this calibration (:func:`bci_app.config.resolve_lora`);
    required unless ``full``. ``full=True`` trains every parameter instead (benchmark comparison; the model
    is changed in place, and restored on cancel). ``classes``: names of the label indices, used in
    error messages; ``rejection_note`` (:func:`rejection_advice`) is added to the too-few-trials
    error. ``config.prior`` / ``prior_weight`` pull the adapter toward the base
    (:func:`prior_penalty`; ``kl``: the base's probabilities on the windows as they are);
    ``config.label_smoothing`` smooths the loss's targets; ``config.feature_noise`` /
    ``feature_mixup`` augment the training windows' cached features (:class:`FeatureAugmentation`).
    Yields one :class:`Progress` per epoch; returns a :class:`FinetuneResult`. Raises
    :class:`TrainingCancelled` when ``cancel`` is set (checked between batches), leaving the model
    exactly as it was.
    """
    config = config or FinetuneConfig()
    X = as_trial_windows(X)
    y_all = np.asarray(y, dtype=np.int64)
    if y_all.shape != (X.shape[0],):
        raise CalibrationError(f"finetune expects one label per trial: X {X.shape}, y {y_all.shape}")
    subset = np.arange(len(y_all)) if trials is None else np.asarray(trials, dtype=np.int64)
    y = y_all[subset]
    n = len(y)
    counts = np.bincount(y, minlength=getattr(model, "n_outputs", int(y.max()) + 1 if n else 1))
    if n == 0 or counts.min() < config.min_trials_per_class:
        given = classes is not None and len(classes) == len(counts)
        names = list(classes) if given else [f"class {i}" for i in range(len(counts))]
        per_class = ", ".join(f"{name}: {int(c)}" for name, c in zip(names, counts))
        short = [name for name, c in zip(names, counts) if c < config.min_trials_per_class]
        raise CalibrationError(
            f"too few clean calibration trials per class ({per_class}; need at least "
            f"{config.min_trials_per_class} each, short: {', '.join(short)}); record more trials or lower "
            "finetune.min_trials_per_class." + (f" Artifacts: {rejection_note}." if rejection_note else "")
        )
    torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    base_hash = model_hash(model)
    original_state = None
    original_training = model.training
    if full:
        resolved = None
        original_state = copy.deepcopy(model.state_dict())
        for p in model.parameters():
            p.requires_grad_(True)
        params = list(model.parameters())
        wrapped: list[str] = []
    else:
        if any(isinstance(m, LinearWithLoRA) for m in model.modules()):
            raise TrainingError("the model already has LoRA adapters; start from a fresh base model (load_base_model)")
        if not isinstance(lora, ResolvedLora):
            raise TypeError(f"finetune needs the LoRA settings resolved once (bci_app.config.resolve_lora), got {lora!r}")
        resolved = lora
        wrapped = apply_lora(model, resolved)
        if not wrapped:
            raise TrainingError(
                f"LoRA target_modules={list(resolved.target_modules)} matched no Linear module of the base model; "
                "use ['dense'], ['msa'] or ['dense', 'msa'] (see the warning for the available names)."
            )
        params = lora_parameters(model)
    requires_grad = {id(p) for p in params}

    def _restore() -> None:
        if full:
            model.load_state_dict(original_state)
        else:
            remove_lora(model)
        model.train(original_training)

    try:
        train_pos, val_pos = stratified_split(y, config.validation_fraction, config.seed)
        train_idx, val_idx = subset[train_pos], subset[val_pos]
        kind = _cache_kind(wrapped, full, use_cache, model)
        if full:
            model.eval()
        else:
            lora_adapters_train_mode(model)
        if features is not None and kind != "none" and kind in features:
            frozen = features[kind]
        else:
            frozen = FrozenFeatures(model, X, kind)
            if features is not None and kind != "none":
                features[kind] = frozen
        train_rows = frozen.rows(train_idx)
        y_train = torch.from_numpy(np.repeat(y_all[train_idx], frozen.n_windows))
        y_val = y_all[val_idx]
        base_logits = None
        if config.prior == "kl" and config.prior_weight > 0:
            model.eval()
            with torch.no_grad():  # before training: the base's own outputs (B = 0 or the base weights)
                base_logits = frozen.logits(model, train_rows)
        augment = FeatureAugmentation(frozen, train_rows, y_train, noise=config.feature_noise,
                                      mixup=config.feature_mixup, seed=config.seed)
        opt = _AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
        gen = torch.Generator().manual_seed(config.seed)
        best = (-1.0, float("inf"))
        best_epoch, best_state = 0, None
        history: list[Progress] = []
        stale = 0
        stopped_early = False
        for epoch in range(1, config.max_epochs + 1):
            if full:
                model.train()
            else:
                lora_adapters_train_mode(model)
            order = torch.randperm(len(train_rows), generator=gen)
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                if cancel is not None and cancel.is_set():
                    raise TrainingCancelled("fine-tuning cancelled by the user; the base model is unchanged")
                idx = order[start:start + config.batch_size]
                logits = (frozen.logits_of(model, augment.stages(idx, y_train[idx])) if augment.active
                          else frozen.logits(model, train_rows[idx]))
                loss = F.cross_entropy(logits, y_train[idx], label_smoothing=config.label_smoothing)
                loss = loss + prior_penalty(model, config.prior, config.prior_weight, logits,
                                            base_logits[idx] if base_logits is not None else None)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            train_loss = total / len(order)
            val_acc = val_loss = None
            model.eval()
            if len(val_idx):
                with torch.no_grad():
                    proba = _trial_proba(frozen, model, val_idx)
                    val_loss = float(F.nll_loss(torch.log(proba.clamp_min(1e-12)), torch.from_numpy(y_val)))
                    val_acc = float((proba.argmax(1).numpy() == y_val).mean())
                score = (val_acc, val_loss)
                if getattr(config, "monitor", "val_loss") == "val_loss":
                    improved = best_epoch == 0 or val_loss < best[1]
                else:
                    improved = score[0] > best[0] or (score[0] == best[0] and score[1] < best[1])
            else:
                improved = True
            if improved:
                best = score if len(val_idx) else best
                best_epoch, stale = epoch, 0
                best_state = [p.detach().clone() for p in params]
            else:
                stale += 1
            progress = Progress(epoch=epoch, n_epochs=config.max_epochs, train_loss=float(train_loss),
                                val_accuracy=val_acc, val_loss=val_loss,
                                elapsed_s=time.perf_counter() - t0, best_epoch=best_epoch)
            history.append(progress)
            yield progress
            if len(val_idx) and stale >= config.patience:
                stopped_early = True
                break
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("fine-tuning cancelled by the user; the base model is unchanged")
        with torch.no_grad():
            for p, b in zip(params, best_state):
                p.copy_(b)
        model.eval()
        with torch.no_grad():
            train_acc = float((_trial_proba(frozen, model, train_idx).argmax(1).numpy() == y_all[train_idx]).mean())
        if not full:
            after = model_hash(model)
            if after != base_hash:
                raise TrainingError(f"base weights changed during LoRA training ({base_hash} -> {after}); this is a bug")
            if any(p.requires_grad and id(p) not in requires_grad for p in model.parameters()):
                raise TrainingError("a base parameter was trainable during LoRA training; this is a bug")
    except BaseException:
        _restore()
        raise
    return FinetuneResult(
        mode="full" if full else "lora",
        target_modules=tuple(resolved.target_modules) if resolved else (),
        wrapped_modules=tuple(wrapped),
        rank=resolved.rank if resolved else None,
        alpha=resolved.alpha if resolved else None,
        dropout=resolved.dropout if resolved else None,
        n_trials=n,
        n_train=len(train_idx),
        n_val=len(val_idx),
        epochs_run=len(history),
        best_epoch=best_epoch,
        val_accuracy=best[0] if len(val_idx) else None,
        train_accuracy=train_acc,
        trainable_params=sum(p.numel() for p in params),
        total_params=count_parameters(model),
        elapsed_s=time.perf_counter() - t0,
        stopped_early=stopped_early,
        cache=kind,
        base_model_hash=base_hash,
        history=tuple(history),
        windows_per_trial=frozen.n_windows,
    )


def _trial_proba(frozen: FrozenFeatures, model: nn.Module, trials: np.ndarray) -> Tensor:
    """Mean class probability over each trial's windows (len(trials), n_outputs), model as it is."""
    logits = frozen.logits(model, frozen.rows(trials))
    return torch.softmax(logits, 1).reshape(len(trials), frozen.n_windows, -1).mean(1)


def run_to_end(gen: Generator[Progress, None, FinetuneResult]) -> FinetuneResult:
    """Drive a :func:`finetune` generator to its result."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


@torch.no_grad()
def predict_proba_cached(model: nn.Module, features: dict[str, FrozenFeatures], trials: np.ndarray) -> np.ndarray | None:
    """:func:`predict_proba` of ``trials`` (indices into the trials the cache was built from) from the
    frozen stages' cached outputs (``features`` as :func:`finetune` fills it): only the stages after
    the cache run, so a held-out fold costs no forward pass of the conv block. None when nothing is
    cached (full fine-tuning, or targets that leave nothing frozen)."""
    if len(features) != 1:
        return None
    model.eval()
    return _trial_proba(next(iter(features.values())), model, np.asarray(trials, dtype=np.int64)).numpy()


@torch.no_grad()
def predict_proba(model: nn.Module, X: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class probabilities (n, n_outputs) of preprocessed trials: X (n, n_chans, n_times), or
    (n, n_windows, n_chans, n_times) where a trial's probability is the mean over its windows (the
    online scoring rule)."""
    model.eval()
    W = as_trial_windows(X)
    n, k = W.shape[:2]
    flat = W.reshape(n * k, *W.shape[2:])
    out = [torch.softmax(model(torch.from_numpy(np.ascontiguousarray(flat[i:i + batch_size]))), 1)
           for i in range(0, len(flat), batch_size)]
    if not out:
        return np.zeros((0, getattr(model, "n_outputs", 0)))
    return torch.cat(out).numpy().reshape(n, k, -1).mean(1)
