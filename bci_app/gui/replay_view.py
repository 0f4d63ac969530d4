"""Replay panel: open a recording, pick a speed, play it through the online pipeline and compare the
predictions with those logged live (when the recording holds them)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from bci_app.gui.online_view import prediction_fields


class ReplayPanel(QtWidgets.QWidget):
    """Controls plus a plot: replayed vs live probability of the first class over time."""

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
        self.plot = pg.PlotWidget(title="Probability of the first class")
        self.plot.setMenuEnabled(False)
        self.plot.setYRange(0, 1)
        self.plot.setLabel("bottom", "time in recording", units="s")
        self.plot.addLegend(offset=(-10, 10))
        self._replayed = self.plot.plot(pen=pg.mkPen("#1565c0", width=2), name="replayed")
        self._live = self.plot.plot(pen=pg.mkPen("#ef6c00", width=2, style=pg.QtCore.Qt.PenStyle.DashLine), name="logged live")
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
        self._replayed.setData([], [])
        self._live.setData([], [])
        self.agreement_label.setText("")

    def render(self, replayed, live=(), t0: float | None = None) -> None:
        """Draw replayed predictions and those logged live (sequences of prediction records)."""
        key = (len(replayed), len(live))
        if key == self._n_shown:
            return
        self._n_shown = key
        self.n_predictions = len(replayed)
        series = []
        for preds in (replayed, live):
            if not preds:
                series.append((np.zeros(0), np.zeros(0), []))
                continue
            t = np.array([float(p.timestamp) for p in preds])
            fields = [prediction_fields(p) for p in preds]
            y = np.array([f[1][0] if f[1].size else np.nan for f in fields])
            series.append((t, y, [f[2] for f in fields]))
        start = t0 if t0 is not None else min((s[0][0] for s in series if s[0].size), default=0.0)
        self._replayed.setData(series[0][0] - start, series[0][1], connect="finite")
        self._live.setData(series[1][0] - start, series[1][1], connect="finite")
        if series[0][0].size and series[1][0].size:
            idx = np.clip(np.searchsorted(series[0][0], series[1][0]), 0, series[0][0].size - 1)
            same = np.mean([series[0][2][i] == lab for i, lab in zip(idx, series[1][2])])
            self.agreement_label.setText(f"Replayed decisions agree with the live ones {same:.0%} of the time")
