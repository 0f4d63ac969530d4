"""Replay panel: open a recording, pick a speed, play it through the online pipeline and compare the
predictions with those logged live (when the recording holds them).

Replayed and live decisions are matched by the source **sample index** they were made at (decisions
are tied to sample indices, see :mod:`bci_app.online.decoder`), so the agreement figure compares the
same windows (:func:`bci_app.online.replay.compare_predictions`, the same as ``bci-app replay --compare``).
While a replay runs the panel adds only the new decisions each frame (their points and their match,
:class:`~bci_app.online.replay.PredictionComparison`): redrawing and comparing them all took the
frame 2-4 ms more with each hundred decisions.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from bci_app.gui.online_view import prediction_probabilities
from bci_app.online.replay import PredictionComparison


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
        self.comparison: dict | None = None
        self.reset()

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
        self._drawn: tuple[object, float] | None = None  # the live decisions and rate the points are for
        self._x: list[float] = []  # the replayed decisions' points so far (s, first class's probability)
        self._y: list[float] = []
        self._match: PredictionComparison | None = None

    @staticmethod
    def _points(preds, sfreq: float) -> tuple[list[float], list[float]]:
        """(s, first class's probability) of each decision: a 10-minute recording's 9600 live decisions
        took the first frame of its replay 190 ms when each record's label was worked out too."""
        x = [float(p.sample_index) / sfreq for p in preds]
        y = [float(pr[0]) if len(pr) else np.nan for pr in (prediction_probabilities(p)[1] for p in preds)]
        return x, y

    def render(self, replayed, live=(), sfreq: float | None = None) -> None:
        """Draw replayed predictions and those logged live (prediction records with
        ``sample_index``, ``probabilities``/``label``); x is ``sample_index / sfreq`` (s). ``replayed``
        grows between calls (only its new decisions are drawn and compared)."""
        key = (len(replayed), len(live))
        if key == self._n_shown:
            return
        rate = sfreq or 1.0
        if self._drawn is None or self._drawn[0] is not live or self._drawn[1] != rate or len(replayed) < len(self._x):
            self._drawn, self._x, self._y = (live, rate), [], []  # another replay, file or rate: from the start
            self._match = PredictionComparison(live)
            self._live.setData(*self._points(live, rate), connect="finite")
        new = replayed[len(self._x):]
        x, y = self._points(new, rate)
        self._x += x
        self._y += y
        self._match.add(new)
        self._n_shown = key
        self.n_predictions = len(replayed)
        self._replayed.setData(np.array(self._x), np.array(self._y), connect="finite")
        if live:
            self.comparison = cmp = self._match.result()
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
