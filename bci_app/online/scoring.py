"""Score trials from the decoder's own outputs (used by ``demo`` and ``evaluate``).

Rule: a trial with cue at ``onset`` and imagery lasting until ``end`` is decided by the decoder's
**raw (unsmoothed) class probabilities averaged over every decision whose window lies entirely
inside the imagery period used for training**, i.e. whose window's last sample has a timestamp in
``[onset + tmin + window_s - 0.5/sfreq, end]`` (``tmin``: the model's window start after the cue,
``window_s``: its length). The label is the argmax of that mean. A trial with no such decision
(e.g. during a gap) is *undecided* and counts as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
    ts = np.array([p.timestamp for p in predictions])
    raw = np.array([p.raw_probabilities for p in predictions]) if predictions else np.zeros((0, len(classes)))
    per_trial, y_true, y_pred = [], [], []
    for t in trials:
        lo = t.onset + tmin + window_s - 0.5 / sfreq
        sel = (ts >= lo) & (ts <= t.end)
        if sel.any():
            mean = raw[sel].mean(axis=0)
            pred = classes[int(np.argmax(mean))]
        else:
            mean, pred = None, None
        per_trial.append({
            "onset": round(float(t.onset), 4), "true": t.label, "predicted": pred, "n_decisions": int(sel.sum()),
            "mean_probabilities": None if mean is None else [round(float(v), 4) for v in mean],
        })
        y_true.append(t.label)
        y_pred.append(pred)
    n = len(trials)
    correct = sum(a == b for a, b in zip(y_true, y_pred))
    acc = correct / n if n else None  # no trials: no accuracy (None, JSON null; never NaN)
    # Cohen's kappa over the decided labels (undecided trials count as a disagreement)
    po = acc or 0.0
    pe = 0.0
    for c in classes:
        pe += (sum(y == c for y in y_true) / n) * (sum(y == c for y in y_pred) / n) if n else 0.0
    kappa = (po - pe) / (1 - pe) if n and pe < 1 else None
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
