"""Training panel: progress bar, train/validation loss and validation-accuracy curves, LoRA summary, cancel.

It renders a list of frozen progress records from the core's fine-tune generator (fields read by
name: ``epoch``, ``n_epochs``/``max_epochs``, ``train_loss``, ``val_loss``, ``val_accuracy``,
``elapsed_s``/``elapsed``); curves are created once and updated with ``setData``. ``val_loss`` and
``val_accuracy`` are None when the job has no validation split: those curves then stay empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets


def _field(record, *names, default=None):
    for name in names:
        value = getattr(record, name, None)
        if value is not None:
            return value
    return default


class TrainingPanel(QtWidgets.QWidget):
    """Shows a fine-tuning job; the Cancel button is wired by the main window."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_label = QtWidgets.QLabel("No training yet")
        self.status_label.setStyleSheet("font-size:15px;font-weight:bold")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setFormat("epoch %v of %m")
        self.cancel_button = QtWidgets.QPushButton("Cancel training")
        self.cancel_button.setEnabled(False)
        self.retrain_button = QtWidgets.QPushButton("Retrain")
        self.retrain_button.setToolTip("train again on the last calibration (in the background; the gate keeps "
                                       "the new adapter only when it decodes better)")
        self.retrain_button.setEnabled(False)
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setMenuEnabled(False)
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setLabel("bottom", "epoch")
        self.train_loss_curve = self.loss_plot.plot(pen=pg.mkPen("#1565c0", width=2), name="train", symbol="o", symbolSize=5)
        self.val_loss_curve = self.loss_plot.plot(pen=pg.mkPen("#ef6c00", width=2), name="validation", symbol="o", symbolSize=5)
        self.acc_plot = pg.PlotWidget(title="Validation accuracy")
        self.acc_plot.setMenuEnabled(False)
        self.acc_plot.setLabel("bottom", "epoch")
        self.acc_plot.setYRange(0, 1)
        self.val_acc_curve = self.acc_plot.plot(pen=pg.mkPen("#2e7d32", width=2), symbol="o", symbolSize=5)
        self.summary = QtWidgets.QPlainTextEdit()
        self.summary.setReadOnly(True)
        font = self.summary.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.summary.setFont(font)
        self.summary.setPlaceholderText("LoRA targets and trainable parameters appear when training starts.")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel_button)
        top.addWidget(self.retrain_button)
        plots = QtWidgets.QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addLayout(top)
        layout.addLayout(plots, 2)
        layout.addWidget(QtWidgets.QLabel("Adapted modules (LoRA summary)"))
        layout.addWidget(self.summary, 1)
        self._n_shown = -1

    def reset(self, max_epochs: int | None = None, summary: str | None = None) -> None:
        self._n_shown = -1
        self.progress.setFormat("epoch %v of %m")
        self.progress.setMaximum(max_epochs or 1)
        self.progress.setValue(0)
        for curve in (self.train_loss_curve, self.val_loss_curve, self.val_acc_curve):
            curve.setData([], [])
        if summary is not None:
            self.summary.setPlainText(summary)

    def set_summary(self, text: str) -> None:
        if text != self.summary.toPlainText():
            self.summary.setPlainText(text)

    def render_history(self, history, max_epochs: int | None = None) -> None:
        """Redraw from the list of progress records (cheap when nothing changed)."""
        if len(history) == self._n_shown:
            return
        self._n_shown = len(history)
        if not history:
            return
        last = history[-1]
        epochs = np.array([float(_field(r, "epoch", default=i + 1)) for i, r in enumerate(history)])
        train = np.array([float(_field(r, "train_loss", "loss", default=np.nan)) for r in history])
        val = np.array([float(_field(r, "val_loss", default=np.nan)) for r in history])
        acc = np.array([float(_field(r, "val_accuracy", "val_acc", default=np.nan)) for r in history])
        self.train_loss_curve.setData(epochs, train, connect="finite")
        if np.isfinite(val).any():
            self.val_loss_curve.setData(epochs, val, connect="finite")
        if np.isfinite(acc).any():
            self.val_acc_curve.setData(epochs, acc, connect="finite")
        total = max_epochs or _field(last, "n_epochs", "max_epochs", default=None)
        if total:
            self.progress.setMaximum(int(total))
        self.progress.setValue(int(epochs[-1]))
        elapsed = _field(last, "elapsed_s", "elapsed", default=None)
        parts = [f"Training: epoch {int(epochs[-1])}" + (f" of {int(total)}" if total else "")]
        if np.isfinite(train[-1]):
            parts.append(f"loss {train[-1]:.3f}")
        if np.isfinite(val[-1]):
            parts.append(f"validation loss {val[-1]:.3f}")
        if np.isfinite(acc[-1]):
            parts.append(f"validation accuracy {acc[-1]:.0%}")
        if elapsed is not None:
            parts.append(f"{float(elapsed):.1f} s")
        self.status_label.setText(" · ".join(parts))

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def render_outcome(self, model, outcome) -> None:
        """A new active ``model``; ``outcome``: the calibration job's result (summary, fine-tuning
        figures), a custom training factory's fine-tuning result (its figures only) or ``None`` (a
        model loaded without training)."""
        result = getattr(outcome, "finetune", None) if hasattr(outcome, "summary") else outcome
        if outcome is not None:
            text = self.summary.toPlainText()
            if hasattr(outcome, "summary"):
                text += f"\n\n{outcome.summary()}"
            if result is not None:
                text += (f"\nadapted modules: {', '.join(result.wrapped_modules) or '–'}\n"
                         f"trainable parameters: {result.trainable_params:,} of {result.total_params:,} "
                         f"({100 * result.trainable_params / max(result.total_params, 1):.1f} %)\n"
                         f"epochs run: {result.epochs_run} (best {result.best_epoch}); feature cache: {result.cache}; "
                         f"{result.elapsed_s:.1f} s")
            self.set_summary(text)
        headline = outcome.headline() if outcome is not None and hasattr(outcome, "headline") else \
            f"Model installed: {model.name}"
        self.status_label.setWordWrap(True)
        self.set_status(f"{headline} — start online feedback")

    def show_loading(self, path) -> None:
        """An earlier adapter is being loaded (no training: no epochs, no curves)."""
        self._n_shown = -1
        self.progress.setMaximum(0)  # busy, without epochs
        for curve in (self.train_loss_curve, self.val_loss_curve, self.val_acc_curve):
            curve.setData([], [])
        self.set_summary(f"Loading the adapter {path} (checked against its base and this headset's channels)…")
        self.set_status("Loading the earlier adapter…")

    def render_loaded(self, model, path, metadata: dict) -> None:
        """``model`` decodes with the earlier adapter at ``path`` (``metadata``: its JSON): which, from
        when, what its calibration's gate said; no training ran in this session."""
        gate = metadata.get("gate") or {}
        lines = [f"adapter: {path}", f"model: {model.name}"]
        if metadata.get("base_choice"):
            lines.append(f"base: {metadata['base_choice']}")
        if metadata.get("n_trials") is not None:
            lines.append(f"calibration trials of that session: {metadata['n_trials']}")
        if gate.get("reason"):
            lines.append(f"that session's gate: {gate['reason']}")
        self.set_summary("\n".join(lines))
        self.progress.setMaximum(1)
        self.progress.setValue(1)
        self.progress.setFormat("loaded (no training in this session)")
        self.status_label.setWordWrap(True)
        self.set_status(f"Decoding with the earlier adapter of {Path(path).parent.name} "
                        "(continued session, no new calibration) — start online feedback")
