"""How well a decoder separated the classes: confusion matrix, accuracy per class, Cohen's kappa and
the Wolpaw information transfer rate, for the calibration's cross-validation and for online runs.
The formulas live in :mod:`bci_app.online.scoring`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bci_app.online.scoring import cohen_kappa, confusion_matrix, wolpaw_itr

__all__ = ["Classification", "classify"]


@dataclass(frozen=True)
class Classification:
    """``confusion`` (n_classes, n_classes + 1) counts, rows = true class, last column undecided;
    ``trial_seconds``: length of one trial of the paradigm (s), for bits per minute."""

    classes: tuple[str, ...]
    confusion: np.ndarray
    trial_seconds: float | None
    #: decisions per trial: a cross-validation repeated ``repeats`` times decides each trial that often
    repeats: int = 1

    @property
    def n_decisions(self) -> int:
        """Decisions counted in :attr:`confusion` (``repeats`` per trial)."""
        return int(self.confusion.sum())

    @property
    def n_trials(self) -> int:
        """Trials decided (each counted once, however many repeats decided it)."""
        return self.n_decisions // max(1, int(self.repeats))

    @property
    def accuracy(self) -> float:
        n = self.n_decisions
        return float(np.trace(self.confusion[:, : len(self.classes)]) / n) if n else float("nan")

    @property
    def kappa(self) -> float:
        return cohen_kappa(self.confusion)

    @property
    def per_class_accuracy(self) -> dict[str, float | None]:
        """Share of each class's trials decided as that class (recall); None without trials."""
        rows = self.confusion.sum(axis=1)
        return {c: (float(self.confusion[i, i] / rows[i]) if rows[i] else None) for i, c in enumerate(self.classes)}

    @property
    def itr_bits_per_trial(self) -> float:
        return wolpaw_itr(self.accuracy, len(self.classes)) if self.n_decisions else float("nan")

    @property
    def itr_bits_per_min(self) -> float | None:
        if not self.trial_seconds:
            return None
        return self.itr_bits_per_trial * 60.0 / self.trial_seconds

    def as_dict(self) -> dict:
        return {"classes": list(self.classes), "confusion": self.confusion.tolist(), "n_trials": self.n_trials,
                "repeats": self.repeats, "n_decisions": self.n_decisions,
                "accuracy": self.accuracy, "kappa": self.kappa, "per_class_accuracy": self.per_class_accuracy,
                "itr_bits_per_trial": self.itr_bits_per_trial, "itr_bits_per_min": self.itr_bits_per_min,
                "trial_seconds": self.trial_seconds}


def classify(y_true: Sequence[str | int], y_pred: Sequence[str | int | None], classes: Sequence[str],
             trial_seconds: float | None = None, *, repeats: int = 1) -> Classification:
    """:class:`Classification` of decisions ``y_pred`` (class names or indices; None or -1: undecided)
    against ``y_true``; ``repeats``: how many of the decisions each trial has (a repeated cross-validation)."""
    return Classification(tuple(classes), confusion_matrix(list(y_true), list(y_pred), classes), trial_seconds,
                          int(repeats))
