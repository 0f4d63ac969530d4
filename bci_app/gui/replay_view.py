"""Replay panel: open a recording, pick a speed, play it through the online pipeline and compare the
predictions with those logged live (when the recording holds them).

Replayed and live decisions are matched by the source **sample index** they were made at (decisions
are tied to sample indices, see :mod:`bci_app.online.decoder`), so the agreement figure compares the
same windows. The helpers :func:`live_predictions` and :func:`compare_predictions` are Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from bci_app.gui.online_view import prediction_fields

LIVE_STREAM = "bci-app-predictions"


@dataclass(frozen=True)
class LoggedPrediction:
    """One decision read back from a recording: ``probabilities`` (smoothed, as published live) in
    ``classes`` order, the source ``sample_index`` it was made at, and its LSL ``timestamp`` (s)."""

    timestamp: float
    sample_index: int
    probabilities: tuple[float, ...]
    classes: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probabilities))]


def live_predictions(recording) -> list[LoggedPrediction]:
    """The predictions logged live in ``recording`` (a :class:`~bci_app.io.recording.Recording`; the
    stream ``bci-app-predictions`` written by the session); empty when it holds none."""
    live = recording.extra_streams.get(LIVE_STREAM)
    if live is None:
        return []
    series = np.asarray(live["time_series"], dtype=np.float64)
    if series.ndim != 2 or series.shape[0] == 0:
        return []
    ts = np.asarray(live["time_stamps"], dtype=np.float64)
    try:
        classes = tuple(str(c) for c in live["info"]["desc"][0]["classes"][0]["class"])
    except (KeyError, IndexError, TypeError):
        classes = tuple(f"class {i}" for i in range(series.shape[1] - 1))
    return [LoggedPrediction(float(t), int(row[-1]), tuple(float(v) for v in row[:-1]), classes)
            for t, row in zip(ts, series)]


def compare_predictions(replayed, live) -> dict:
    """Match decisions by sample index: ``n_live``, ``n_replayed``, ``n_matched``, ``agreement``
    (fraction of matched decisions with the same label; ``None`` without matches) and
    ``max_probability_difference``."""
    mine = {int(p.sample_index): p for p in replayed}
    same, diff, n = 0, 0.0, 0
    for q in live:
        p = mine.get(int(q.sample_index))
        if p is None:
            continue
        n += 1
        same += p.label == q.label
        if len(p.probabilities) == len(q.probabilities):
            diff = max(diff, float(np.max(np.abs(np.subtract(p.probabilities, q.probabilities)))))
    return {"n_live": len(live), "n_replayed": len(replayed), "n_matched": n,
            "agreement": same / n if n else None, "max_probability_difference": diff}


class ReplayPanel(QtWidgets.QWidget):
    """Controls plus a plot: replayed vs live probability of the first class over the recording."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.path_edit = QtWidgets.QLineEdit()
        self.path_edit.setPlaceholderText("recording (.xdf, .edf, .gdf, .fif)")
        self.browse_button = QtWidgets.QPushButton("Open…")
        self.speed = QtWidgets.QDoubleSpinBox()
        self.speed.setRange(0.25, 100.0)
        self.speed.setValue(1.0)
        self.speed.setSuffix(" ×")
        self.play_button = QtWidgets.QPushButton("Play")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.status_label = QtWidgets.QLabel("No recording loaded")
        self.agreement_label = QtWidgets.QLabel("")
        self.agreement_label.setStyleSheet("font-size:15px;font-weight:bold")
        self.agreement_label.setWordWrap(True)
        self.plot = pg.PlotWidget(title="Probability of the first class")
        self.plot.setMenuEnabled(False)
        self.plot.setYRange(0, 1)
        self.plot.setLabel("bottom", "time in recording", units="s")
        self.plot.addLegend(offset=(-10, 10))
        self._live = self.plot.plot(pen=pg.mkPen("#ef6c00", width=4), name="logged live")
        self._replayed = self.plot.plot(pen=pg.mkPen("#1565c0", width=2), name="replayed")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        row.addWidget(QtWidgets.QLabel("Speed"))
        row.addWidget(self.speed)
        row.addWidget(self.play_button)
        row.addWidget(self.stop_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.agreement_label)
        layout.addWidget(self.plot, 1)
        self.browse_button.clicked.connect(self._browse)
        self._n_shown = (-1, -1)
        self.n_predictions = 0
        self.comparison: dict | None = None

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recording", "", "Recordings (*.xdf *.edf *.bdf *.gdf *.fif)"
        )
        if path:
            self.path_edit.setText(path)

    def set_running(self, running: bool) -> None:
        self.play_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def reset(self) -> None:
        self._n_shown = (-1, -1)
        self.n_predictions = 0
        self.comparison = None
        self._replayed.setData([], [])
        self._live.setData([], [])
        self.agreement_label.setText("")

    def render(self, replayed, live=(), sfreq: float | None = None) -> None:
        """Draw replayed predictions and those logged live (prediction records with
        ``sample_index``, ``probabilities``/``label``); x is ``sample_index / sfreq`` (s)."""
        key = (len(replayed), len(live))
        if key == self._n_shown:
            return
        self._n_shown = key
        self.n_predictions = len(replayed)
        for curve, preds in ((self._replayed, replayed), (self._live, live)):
            if not preds:
                curve.setData([], [])
                continue
            x = np.array([float(p.sample_index) for p in preds]) / (sfreq or 1.0)
            y = np.array([(lambda pr: pr[0] if pr.size else np.nan)(prediction_fields(p)[1]) for p in preds])
            curve.setData(x, y, connect="finite")
        if live:
            self.comparison = cmp = compare_predictions(replayed, live)
            if cmp["agreement"] is None:
                self.agreement_label.setText(f"{cmp['n_live']} live decisions logged; none replayed yet")
            else:
                self.agreement_label.setText(
                    f"Replayed decisions agree with the live ones: {cmp['agreement']:.1%} "
                    f"({cmp['n_matched']} of {cmp['n_live']} live decisions matched by sample; "
                    f"largest probability difference {cmp['max_probability_difference']:.1e})"
                )
        elif replayed:
            self.agreement_label.setText("This recording holds no live predictions to compare with.")
