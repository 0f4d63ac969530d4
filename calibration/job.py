"""The one calibration job: recordings -> prepare -> fine-tune -> gate -> decoder model -> save.

Used by the session (live calibration), the GUI, ``bci-app calibrate``, ``bci-app evaluate``, the
demo and the benchmarks, so all of them adapt a base the same way.

The **gate**: with 10-40 calibration trials an adapter can fit noise and decode worse than the
base it started from. The job therefore cross-validates on the calibration trials themselves
(``finetune.gate_repeats`` x stratified ``finetune.gate_folds``-fold, scikit-learn's
``RepeatedStratifiedKFold``): an adapter is trained on each training part with the same settings and
scored on the held-out part; the unadapted base (with the person's alignment and repair) is scored
on the same trials. The adapter trained on all trials is installed only when its cross-validated
accuracy is strictly higher; otherwise the base is. ``lora.enabled: false`` skips fine-tuning and the
gate: the base with the person's alignment, as is.

Either way the decoder model carries LoRA wrappers (zero ``B`` when the base was chosen, so it
computes exactly the base), and the saved adapter has one format.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bci_app.config import FinetuneConfig, ResolvedLora, resolve_lora
from bci_app.errors import TrainingCancelled
from bci_app.models.lora import LinearWithLoRA, apply_lora, lora_settings, remove_lora
from bci_app.signal.channels import ChannelMap
from bci_app.vocabulary import NON_EEG_TYPES, is_model_input
from calibration.finetune import (
    FinetuneResult,
    FrozenFeatures,
    Progress,
    as_trial_windows,
    finetune,
    predict_proba,
    predict_proba_cached,
    run_to_end,
)
from calibration.prepare import CalibrationData, cued_classes, prepare_calibration

logger = logging.getLogger(__name__)

__all__ = ["GateReport", "CalibrationOutcome", "CalibrationJob", "cross_validate_adapter", "average_adapters"]


@dataclass(frozen=True)
class GateReport:
    """Cross-validated accuracy of adapter and base on the calibration trials, and the choice."""

    chosen: str  # "adapted" or "base"
    cv_accuracy_adapted: float | None
    cv_accuracy_base: float | None
    folds: int
    repeats: int
    seconds: float
    reason: str
    #: the trials' labels (n,) as scored (the job's ``labels`` when it replaced them)
    labels: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the unadapted base's decision per trial (n,); it never trained on them
    predicted_base: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the adapter's cross-validated decision per repeat and trial (repeats, n): each trial decided
    #: by the adapter trained on the folds without it
    predicted_adapted: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the base's probabilities (n, n_classes) and the adapter's cross-validated ones (repeats, n, n_classes)
    proba_base: np.ndarray | None = field(default=None, repr=False, compare=False)
    proba_adapted: np.ndarray | None = field(default=None, repr=False, compare=False)

    def log_loss(self) -> tuple[float, float] | None:
        """Cross-validated log-loss (nats per trial) of ``(adapter, base)``, or None without folds."""
        if self.proba_adapted is None or self.proba_base is None or self.labels is None:
            return None
        from sklearn.metrics import log_loss

        labels = range(self.proba_base.shape[1])
        def loss(p: np.ndarray) -> float:  # float32 means of softmax: renormalised in float64
            p = np.asarray(p, dtype=np.float64)
            return float(log_loss(self.labels, p / p.sum(axis=1, keepdims=True), labels=labels))

        return float(np.mean([loss(p) for p in self.proba_adapted])), loss(self.proba_base)

    def as_dict(self) -> dict[str, Any]:
        losses = self.log_loss()
        return {"chosen": self.chosen, "cv_accuracy_adapted": self.cv_accuracy_adapted,
                "cv_accuracy_base": self.cv_accuracy_base,
                "cv_log_loss_adapted": None if losses is None else round(losses[0], 4),
                "cv_log_loss_base": None if losses is None else round(losses[1], 4),
                "folds": self.folds, "repeats": self.repeats, "seconds": round(self.seconds, 3), "reason": self.reason}


def cross_validate_adapter(model: nn.Module, X: np.ndarray, y: np.ndarray, *, lora: ResolvedLora,
                           config: FinetuneConfig, cancel: threading.Event | None = None,
                           full: bool = False, fold_adapters: list[dict[str, torch.Tensor]] | None = None,
                           features: dict[str, FrozenFeatures] | None = None) -> GateReport:
    """The gate (module doc) on prepared trials ``X`` (n, n_chans, n_times) or their decision windows
    (n, n_windows, n_chans, n_times), labels ``y`` (n,). Folds split trials, never windows; a held-out
    trial is decided by the mean probability over its windows, as online.

    ``model`` is a base without adapters; it is left exactly as it came. ``fold_adapters``: when
    given, each fold's trained LoRA tensors are appended to it (:func:`average_adapters`). Returns
    the report with ``chosen`` = ``adapted`` only when the adapter's cross-validated accuracy beats
    the base's by more than ``config.gate_margin``. ``features``: the frozen stages' outputs for
    ``X``, shared with the job's own fine-tune (filled here when empty): the folds train and decide
    from it, and the base is decided from it, so the conv block runs once per window in all.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    t0 = time.perf_counter()
    X = as_trial_windows(X)
    counts = np.bincount(y)
    folds = int(min(config.gate_folds, counts[counts > 0].min()))
    features = {} if features is None or full else features
    if folds < 2 or np.count_nonzero(counts) < 2:
        base_proba = predict_proba(model, X)
        return GateReport("base", None, None, folds, 0, time.perf_counter() - t0,
                          "too few trials per class to cross-validate; the unadapted base is safer",
                          labels=np.array(y), predicted_base=base_proba.argmax(1), proba_base=base_proba)
    adapted_proba = np.full((config.gate_repeats, len(y), model.n_outputs), np.nan)
    inner = config.model_copy(update={"min_trials_per_class": 1})
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=config.gate_repeats, random_state=config.seed)
    correct = total = 0
    tested: list[np.ndarray] = []
    state = {k: v.clone() for k, v in model.state_dict().items()} if full else None
    for split, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("calibration cancelled by the user; the previous model stays active")
        try:
            run_to_end(finetune(model, X, y, trials=train, lora=lora, config=inner, cancel=cancel, full=full,
                                features=None if full else features))
            proba = predict_proba_cached(model, features, test)
            proba = predict_proba(model, X[test]) if proba is None else proba
            adapted_proba[split // folds, test] = proba
            decided = proba.argmax(1)
            correct += int((decided == y[test]).sum())
            if fold_adapters is not None and not full:
                fold_adapters.append(_trained_state(model, False))
        finally:
            if full:
                model.load_state_dict(state)
            else:
                remove_lora(model)
        tested.append(test)
        total += len(test)
    base_proba = predict_proba_cached(model, features, np.arange(len(y)))  # the model is the base again
    base_proba = predict_proba(model, X) if base_proba is None else base_proba
    base_pred = base_proba.argmax(1)
    base_hits = sum(int((base_pred[test] == y[test]).sum()) for test in tested)
    adapted, base = correct / total, base_hits / total
    chosen = "adapted" if adapted - base > config.gate_margin else "base"
    margin = f" (margin {config.gate_margin:+.0%})" if config.gate_margin else ""
    reason = (f"adapter {adapted:.0%} vs base {base:.0%} in {config.gate_repeats}x{folds}-fold cross-validation "
              f"on the calibration trials{margin}: {'adapter' if chosen == 'adapted' else 'unadapted base'} installed")
    return GateReport(chosen, adapted, base, folds, config.gate_repeats, time.perf_counter() - t0, reason,
                      labels=np.array(y), predicted_base=base_pred, predicted_adapted=np.where(
                          np.isnan(adapted_proba).any(2), -1, np.nan_to_num(adapted_proba).argmax(2)),
                      proba_base=base_proba, proba_adapted=adapted_proba)


def average_adapters(model: nn.Module, states: Sequence[dict[str, torch.Tensor]]) -> None:
    """Set the model's LoRA adapters to the mean low-rank update of ``states`` (each ``{name.lora_A,
    name.lora_B}``, :func:`_trained_state`): per adapted layer the mean of ``scaling * B @ A``, refactored
    to the layer's rank by SVD (exact when the mean's rank is at most the layer's; else its best
    approximation of that rank), so one adapter file of the usual format holds it."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if not isinstance(m, LinearWithLoRA):
                continue
            delta = torch.stack([s[f"{name}.lora_B"].double() @ s[f"{name}.lora_A"].double() for s in states]).mean(0)
            U, S, Vh = torch.linalg.svd(delta, full_matrices=False)
            r = min(m.rank, S.numel())
            root = S[:r].sqrt()
            B = torch.zeros_like(m.lora_B, dtype=torch.float64)
            A = torch.zeros_like(m.lora_A, dtype=torch.float64)
            B[:, :r] = U[:, :r] * root
            A[:r] = root[:, None] * Vh[:r]
            m.lora_B.copy_(B.to(m.lora_B.dtype))
            m.lora_A.copy_(A.to(m.lora_A.dtype))


@dataclass
class CalibrationOutcome:
    """What a finished :class:`CalibrationJob` produced.

    ``decoder_model`` is ready for the online decoder; ``model`` is its module (LoRA wrappers with
    the chosen weights), ``metadata`` everything saved beside the adapter. ``recordings`` (as
    calibrated on, after ``channels``) and ``preset`` (the cues' meaning, None: per file) let a
    report re-cut the trials with a pre-cue baseline (:mod:`bci_app.report`).
    """

    decoder_model: Any
    model: nn.Module
    chosen: str  # "adapted", "base" (gate) or "base (lora disabled)"
    finetune: FinetuneResult | None
    gate: GateReport | None
    data: CalibrationData
    seconds: dict[str, float]
    metadata: dict[str, Any] = field(default_factory=dict)
    recordings: list[Any] = field(default_factory=list, repr=False)
    preset: Any = None

    def summary(self) -> str:
        """One paragraph for the operator: trials, repairs, what was installed and why."""
        rep = self.data.report()
        parts = [str(self.metadata.get("base_choice", "")),
                 f"{rep['n_trials']} calibration trials ({', '.join(f'{c}: {n}' for c, n in rep['n_trials_per_class'].items())})"]
        if rep["missing_channels"]:
            parts.append(f"interpolated channels the headset lacks: {', '.join(rep['missing_channels'])}")
        if rep["repaired_channels"]:
            parts.append(f"repaired channels: {', '.join(rep['repaired_channels'])}")
        if rep["readmitted_trials"]:
            parts.append(f"{rep['readmitted_trials']} trial(s) with artifacts kept so every class has enough")
        lora = lora_settings(self.model)
        if lora is not None and self.finetune is not None:
            parts.append(f"LoRA {', '.join(lora.target_modules)}, rank {lora.rank}, alpha {lora.alpha:g} ({lora.reason})")
        if self.gate is not None:
            parts.append(self.gate.reason)
        elif self.chosen.startswith("base"):
            parts.append("LoRA disabled: the base with this person's alignment")
        return "; ".join(p for p in parts if p)

    def headline(self) -> str:
        """Which model is installed and why, in one line (the gate's figures when it ran)."""
        gate = self.gate
        if self.chosen.startswith("base") and gate is None:
            return "Base model installed (LoRA disabled): the base with this person's alignment"
        if gate is None or gate.cv_accuracy_adapted is None or gate.cv_accuracy_base is None:
            reason = f" ({gate.reason})" if gate is not None and gate.reason else " (no gate: finetune.gate is off)"
            which = "Adapted model" if self.chosen == "adapted" else "Unadapted base"
            return f"{which} installed{reason}"
        figures = (f"adapter {gate.cv_accuracy_adapted:.0%} vs base {gate.cv_accuracy_base:.0%} in "
                   f"{gate.repeats}x{gate.folds}-fold cross-validation")
        if self.chosen == "adapted":
            return f"Adapted model installed: it decodes better than the base ({figures})"
        if gate.cv_accuracy_adapted > gate.cv_accuracy_base:
            return f"Unadapted base installed: the adapter was not better by more than the gate's margin ({figures})"
        return f"Unadapted base installed: the adapter did not decode better ({figures})"

    def save(self, path: str | Path) -> Path:
        """Write the adapter (``.safetensors`` + ``.json`` with the full metadata)."""
        from bci_app.models.adapters import save_adapter

        return save_adapter(self.model, path, self.metadata)


class CalibrationJob:
    """Recordings -> adapted decoder (module doc).

    ``sources``: file paths or in-memory recordings (the session's). The base is ``model``/``meta``
    (a fresh base: adapters are added to it) or loaded from ``base`` (default ``config.model.base``).
    ``labels`` (tests and controls: e.g. permuted labels) replaces the labels of the prepared trials;
    ``full`` trains every weight instead of LoRA (benchmark comparison). ``classes`` (a paradigm's,
    e.g. ``config.paradigm.classes``): the base is chosen to decode them (``base_for_classes``: a
    4-class base when ``feet`` is cued) and restricted to them; without them, the classes the
    recordings cue do. ``imagery_s``: seconds from the cue to the end of imagery when known (the
    session's paradigm), so the training windows stay inside it. ``run()`` yields
    :class:`~calibration.finetune.Progress` per epoch and returns a :class:`CalibrationOutcome`;
    ``cancel`` stops it between batches. Preparation runs inside ``run()``, so a caller can start the
    job on a worker thread without blocking.
    """

    def __init__(self, sources: Sequence[Any], config: Any, *, base: str | Path | None = None,
                 model: nn.Module | None = None, meta: dict[str, Any] | None = None, preset: str | None = None,
                 name: str | None = None, labels: Callable[[np.ndarray], np.ndarray] | None = None,
                 full: bool = False, classes: Sequence[str] | None = None,
                 channels: ChannelMap | Sequence[str] | None = None,
                 source_channel_map: dict[str, str] | None = None, imagery_s: float | None = None) -> None:
        self.sources, self.config, self.preset = list(sources), config, preset
        #: seconds from the cue to the end of imagery (a live paradigm's): training windows stay inside
        self.imagery_s = imagery_s
        #: without an explicit base the job picks one for the headset's channels (``base_for_channels``)
        self.pinned = base is not None or model is not None
        if channels is not None and not isinstance(channels, ChannelMap):
            channels = ChannelMap(tuple((str(c), str(c)) for c in channels), only_listed=True) if channels else None
        #: applied to every recording read (``--channels``): positions, non-EEG types, only the listed ones
        self.channels: ChannelMap | None = channels
        #: ``{source label: position or type}`` of a live source (saved with the adapter)
        self.source_channel_map = dict(source_channel_map) if source_channel_map else None
        self.base = str(base if base is not None else config.model.base)
        self.model, self.meta = model, meta
        self.name = name or f"{Path(self.base).name}+lora"
        self.labels, self.full = labels, full
        self.classes = list(classes) if classes is not None else None
        self.base_choice = f"base {self.base}"
        self.cancel = threading.Event()
        self.outcome: CalibrationOutcome | None = None

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise TrainingCancelled("calibration cancelled by the user; the previous model stays active")

    def run(self) -> Generator[Progress, None, CalibrationOutcome]:
        from bci_app.online.decoder import DecoderModel

        cfg = self.config
        t0 = time.perf_counter()
        recordings = self._recordings()
        first = recordings[0]
        self._classes_from_cues(recordings)
        model, meta = self._load_base([c for c, t in zip(first.ch_names, first.ch_types) if is_model_input(t)])
        data = prepare_calibration(recordings, cfg, self.base, model=model, meta=meta, preset=self.preset,
                                   imagery_s=self.imagery_s)
        model = data.model
        y = data.y if self.labels is None else np.asarray(self.labels(data.y), dtype=np.int64)
        t_prep = time.perf_counter()
        self._check_cancel()
        resolved = resolve_lora(cfg.lora, len(y))
        result: FinetuneResult | None = None
        gate: GateReport | None = None
        t_ft = t_gate = t_prep
        if cfg.lora.enabled:
            base_state = _trained_state(model, True) if self.full else None
            windows = data.decision_windows
            features: dict[str, FrozenFeatures] = {}  # the frozen stages' outputs, shared with the gate
            gen = finetune(model, windows, y, lora=resolved, config=cfg.finetune, cancel=self.cancel,
                           classes=data.classes, rejection_note=data.rejection_note(cfg), full=self.full,
                           features=None if self.full else features)
            result = yield from gen
            t_ft = time.perf_counter()
            if cfg.finetune.gate:
                trained = _trained_state(model, self.full)
                folds: list[dict[str, torch.Tensor]] | None = (
                    [trained] if cfg.finetune.average_folds and not self.full else None)
                _to_base(model, base_state)
                try:
                    gate = cross_validate_adapter(model, windows, y, lora=resolved, config=cfg.finetune,
                                                  cancel=self.cancel, full=self.full, fold_adapters=folds,
                                                  features=features)
                finally:
                    _restore_trained(model, self.full, resolved, trained)
                if folds is not None and len(folds) > 1:
                    average_adapters(model, folds)
                if gate.chosen == "base":
                    _choose_base(model, base_state)
            t_gate = time.perf_counter()
            chosen = gate.chosen if gate is not None else "adapted"
        else:
            chosen = "base (lora disabled)"
        if not self.full and not any(isinstance(m, LinearWithLoRA) for m in model.modules()):
            apply_lora(model, resolved)
        model.eval()
        seconds = {"prepare": t_prep - t0, "finetune": t_ft - t_prep, "gate": t_gate - t_ft,
                   "total": time.perf_counter() - t0}
        metadata = self._metadata(data, y, resolved, result, gate, chosen, seconds)
        name = self.name if chosen == "adapted" else f"{Path(self.base).name}+alignment"
        decoder_model = DecoderModel(model, data.spec, tuple(data.classes), name=name, metadata=metadata)
        self.outcome = CalibrationOutcome(decoder_model, model, chosen, result, gate, data, seconds, metadata,
                                          recordings=recordings, preset=self.preset)
        logger.info("calibration: %s", self.outcome.summary())
        return self.outcome

    def _recordings(self) -> list[Any]:
        """The sources read (paths), with the ``channels`` map applied (as if the headset had only those)."""
        from bci_app.io.recording import map_channels, read_recording
        from bci_app.types import Recording

        recs = [s if isinstance(s, Recording) else read_recording(s) for s in self.sources]
        return [map_channels(r, self.channels) for r in recs] if self.channels else recs

    def _classes_from_cues(self, recordings: Sequence[Any]) -> None:
        """Without a paradigm's ``classes``, the classes the recordings cue decide the base (e.g. the
        4-class base for EEGMMIDB runs 4 + 6, which cue both hands and feet besides left and right);
        cues of classes the chosen (pinned) base cannot decode are left out with a warning naming them."""
        from bci_app.models.pretrained import base_model_metadata

        if self.classes is not None or (self.model is not None and self.meta is not None):
            return
        cued = cued_classes(recordings, self.preset)
        if not cued:
            return
        if self.pinned:
            decodes = list(base_model_metadata(self.base)["classes"])
            dropped = {c: n for c, n in cued.items() if c not in decodes}
            if dropped:
                logger.warning("base %s does not decode %s: %s cue(s) left out of the calibration; choose a base "
                               "that decodes them (e.g. the 4-class base) to use them",
                               Path(self.base).name, ", ".join(dropped), ", ".join(f"{c}: {n}" for c, n in dropped.items()))
            kept = [c for c in decodes if c in cued]
            self.classes = kept if len(kept) >= 2 and kept != decodes else None
        else:
            self.classes = list(cued)

    def _load_base(self, ch_names: Sequence[str]) -> tuple[nn.Module, dict[str, Any]]:
        """The base: given, or loaded; chosen for ``classes`` and, unless pinned, for the headset's
        channels ``ch_names``; restricted to ``classes``."""
        from bci_app.models.pretrained import base_for_channels, base_for_classes, load_base_model, restrict_classes

        if self.model is not None and self.meta is not None:
            model, meta = self.model, self.meta
        else:
            reasons = []
            if self.classes:
                self.base, reason = base_for_classes(self.base, self.classes)
                reasons.append(reason)
            if not self.pinned:
                self.base, reason = base_for_channels(self.base, ch_names, self.classes)
                reasons.append(reason)
            self.base_choice = "; ".join(reasons) or self.base_choice
            model, meta = load_base_model(self.base)
        if self.classes:
            model, meta = restrict_classes(model, meta, self.classes)
        return model, meta

    def run_to_end(self, on_progress: Callable[[Progress], None] | None = None) -> CalibrationOutcome:
        """Run the job on this thread; ``on_progress`` gets every :class:`Progress`."""
        gen = self.run()
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_progress is not None:
                on_progress(p)

    def _metadata(self, data: CalibrationData, y: np.ndarray, resolved: ResolvedLora, result: FinetuneResult | None,
                  gate: GateReport | None, chosen: str, seconds: dict[str, float]) -> dict[str, Any]:
        from bci_app.types import Recording

        files = [Path(s.path).name if isinstance(s, Recording) and s.path else
                 ("session" if isinstance(s, Recording) else Path(s).name) for s in self.sources]
        return {
            "classes": list(data.classes),
            "ch_names": list(data.spec.ch_names),
            "sfreq": data.spec.sfreq,
            "n_times": int(data.model.n_times),
            "window": dict(data.meta.get("window", {})),
            "preprocessing": data.spec.to_dict(),
            "base_model": self.base,
            "base_choice": self.base_choice,
            "calibration_files": files,
            "headset_channels": ([t for t in self.channels.as_dict().values() if t not in NON_EEG_TYPES]
                                 if self.channels else None),
            "channel_map": (self.channels.as_dict() if self.channels else self.source_channel_map),
            **data.report(),
            "n_trials": int(len(y)),
            "n_trials_per_class": {c: int((y == i).sum()) for i, c in enumerate(data.classes)},
            "lora_enabled": bool(self.config.lora.enabled),
            "lora_reason": resolved.reason,
            "chosen": chosen,
            "gate": gate.as_dict() if gate is not None else None,
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "metrics": result.metrics() if result is not None else None,
        }


# ------------------------------------------------------------- keeping the trained adapter aside


def _trained_state(model: nn.Module, full: bool) -> dict[str, torch.Tensor]:
    """Copy of what training changes: every weight (full) or the LoRA A/B tensors."""
    if full:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {f"{n}.{p}": getattr(m, p).detach().clone() for n, m in model.named_modules()
            if isinstance(m, LinearWithLoRA) for p in ("lora_A", "lora_B")}


def _to_base(model: nn.Module, base_state: dict[str, torch.Tensor] | None) -> None:
    """The unadapted base again: the saved base weights (full) or no LoRA wrappers."""
    if base_state is not None:
        model.load_state_dict(base_state)
    else:
        remove_lora(model)


def _restore_trained(model: nn.Module, full: bool, resolved: ResolvedLora, state: dict[str, torch.Tensor]) -> None:
    """Put the model trained on all trials back after the gate."""
    if full:
        model.load_state_dict(state)
        return
    apply_lora(model, resolved)
    with torch.no_grad():
        for n, m in model.named_modules():
            if isinstance(m, LinearWithLoRA):
                m.lora_A.copy_(state[f"{n}.lora_A"])
                m.lora_B.copy_(state[f"{n}.lora_B"])


def _choose_base(model: nn.Module, base_state: dict[str, torch.Tensor] | None) -> None:
    """The gate chose the base: base weights (full), or LoRA ``B`` = 0, which computes exactly the base."""
    if base_state is not None:
        model.load_state_dict(base_state)
        return
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LinearWithLoRA):
                m.lora_B.zero_()
