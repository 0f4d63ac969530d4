"""Score trials from the decoder's own outputs (used by ``demo`` and ``evaluate``).

Rule: a trial with cue at ``onset`` and imagery lasting until ``end`` is decided by the decoder's
**raw (unsmoothed) class probabilities averaged over every decision whose window lies entirely
inside the imagery period used for training**, i.e. whose window's last sample has a timestamp in
``[onset + tmin + window_s - 0.5/sfreq, end]`` (``tmin``: the model's window start after the cue,
``window_s``: its length). The label is the argmax of that mean. A trial with no such decision
(e.g. during a gap) is *undecided* and counts as wrong.

The classification metrics live here too, for online runs and calibration reports alike:
:func:`confusion_matrix` (with an *undecided* column), :func:`cohen_kappa`, :func:`wolpaw_itr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the metrics are read without torch (the report's renderer process)
    from bci_app.online.decoder import Prediction


@dataclass(frozen=True)
class Trial:
    onset: float
    end: float
    label: str


def score_trials(
    predictions: Sequence[Prediction], trials: Sequence[Trial], classes: Sequence[str], *, tmin: float,
    window_s: float, sfreq: float,
) -> dict:
    """Accuracy, Cohen's kappa, per-class recall and per-trial decisions (see module doc)."""
    classes = tuple(classes)
    means, counts = trial_probabilities(predictions, trials, len(classes), tmin=tmin, window_s=window_s, sfreq=sfreq)
    per_trial, y_true, y_pred = [], [], []
    for t, row, n_dec in zip(trials, means, counts):
        if n_dec:
            mean = row
            pred = classes[int(np.argmax(mean))]
        else:
            mean, pred = None, None
        per_trial.append({
            "onset": round(float(t.onset), 4), "true": t.label, "predicted": pred, "n_decisions": int(n_dec),
            "mean_probabilities": None if mean is None else [round(float(v), 4) for v in mean],
        })
        y_true.append(t.label)
        y_pred.append(pred)
    n = len(trials)
    correct = sum(a == b for a, b in zip(y_true, y_pred))
    acc = correct / n if n else None  # no trials: no accuracy (None, JSON null; never NaN)
    # Cohen's kappa over the decided labels (undecided trials count as a disagreement)
    kappa = cohen_kappa(confusion_matrix(y_true, y_pred, classes)) if n else None
    kappa = kappa if kappa is not None and np.isfinite(kappa) else None  # JSON null, never NaN
    recall = {}
    for c in classes:
        idx = [i for i, y in enumerate(y_true) if y == c]
        recall[c] = (sum(y_pred[i] == c for i in idx) / len(idx)) if idx else None
    return {
        "accuracy": acc,
        "kappa": kappa,
        "n_trials": n,
        "n_undecided": sum(p is None for p in y_pred),
        "per_class_recall": recall,
        "trials": per_trial,
        "rule": "argmax of the mean raw probability over decisions whose window lies inside [cue + tmin, end of imagery]",
    }


def trial_probabilities(
    predictions: Sequence[Prediction], trials: Sequence[Trial], n_classes: int, *, tmin: float, window_s: float,
    sfreq: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The rule (module doc) per trial: ``(mean raw probabilities (n_trials, n_classes), number of
    decisions (n_trials,))``; a trial without decisions has a row of NaN."""
    ts = np.array([p.timestamp for p in predictions])
    raw = np.array([p.raw_probabilities for p in predictions]) if predictions else np.zeros((0, n_classes))
    means = np.full((len(trials), n_classes), np.nan)
    counts = np.zeros(len(trials), dtype=np.int64)
    for i, t in enumerate(trials):
        sel = (ts >= t.onset + tmin + window_s - 0.5 / sfreq) & (ts <= t.end)
        counts[i] = int(sel.sum())
        if counts[i]:
            means[i] = raw[sel].mean(axis=0)
    return means, counts


def latency_summary(predictions: Sequence[Prediction]) -> dict:
    """p50/p95/p99/max latency in ms of predictions with a measured latency."""
    lat = np.array([p.latency_s for p in predictions], dtype=float) * 1e3
    lat = lat[np.isfinite(lat)]
    if not lat.size:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}
    return {
        "p50": round(float(np.percentile(lat, 50)), 3), "p95": round(float(np.percentile(lat, 95)), 3),
        "p99": round(float(np.percentile(lat, 99)), 3), "max": round(float(lat.max()), 3), "n": int(lat.size),
    }


def confusion_matrix(y_true: Sequence[str | int], y_pred: Sequence[str | int | None],
                     classes: Sequence[str]) -> np.ndarray:
    """Counts (n_classes, n_classes + 1): row = true class, column = decided class, the last column
    the undecided trials (``None``, or a negative index). Labels are class names or indices into
    ``classes``. Raises :class:`ValueError` naming a label that is not one of ``classes``."""
    classes = tuple(classes)
    k = len(classes)

    def index(label: str | int | None, *, decided: bool) -> int:
        if decided and (label is None or (isinstance(label, (int, np.integer)) and label < 0)):
            return k
        if isinstance(label, (int, np.integer)) and 0 <= label < k:
            return int(label)
        if label in classes:
            return classes.index(label)
        raise ValueError(f"label {label!r} is not one of the classes {list(classes)}")

    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} decisions")
    cm = np.zeros((k, k + 1), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        cm[index(t, decided=False), index(p, decided=True)] += 1
    return cm


def cohen_kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix (n_classes, n_classes) or with an undecided column
    (n_classes, n_classes + 1), undecided trials counting as disagreements: ``(po - pe) / (1 - pe)``
    with ``po`` the share on the diagonal and ``pe = sum_c rows_c * cols_c / n**2``. NaN without
    trials or when ``pe`` is 1."""
    cm = np.asarray(confusion, dtype=np.float64)
    k = cm.shape[0]
    n = cm.sum()
    if n == 0:
        return float("nan")
    po = np.trace(cm[:, :k]) / n
    pe = float((cm.sum(axis=1) * cm[:, :k].sum(axis=0)).sum()) / n**2
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def wolpaw_itr(accuracy: float, n_classes: int) -> float:
    """Wolpaw et al. (2000) information transfer rate in bits per trial:
    ``log2 N + P log2 P + (1 - P) log2((1 - P) / (N - 1))``; 0 at or below chance (P <= 1/N),
    ``log2 N`` at P = 1. Bits per minute: multiply by ``60 / trial length (s)``."""
    if n_classes < 2:
        raise ValueError(f"the information transfer rate needs at least 2 classes, got {n_classes}")
    p, n = float(accuracy), int(n_classes)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"accuracy must lie in [0, 1], got {p}")
    if p <= 1.0 / n:
        return 0.0
    bits = np.log2(n) + p * np.log2(p)
    if p < 1.0:
        bits += (1 - p) * np.log2((1 - p) / (n - 1))
    return float(bits)
