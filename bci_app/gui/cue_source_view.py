"""The cue source of the source panel: the app's own cues (its Graz paradigm), or another program's
(PsychoPy, Psychtoolbox, your own code) over an LSL ``Markers`` stream with the marker -> class
mapping in the ``--events`` syntax. The box only shows the choice; the Qt-free
:class:`~bci_app.paradigm.external_cues.ExternalCueSource` checks it and opens the cues."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6 import QtWidgets

from bci_app.errors import ConfigError
from bci_app.paradigm.external_cues import ExternalCueSource

#: the first entry of the stream list: the app cues by itself
OWN_CUES = "The app's own cues"


class CueSourceBox(QtWidgets.QGroupBox):
    """``choice()`` -> :class:`ExternalCueSource` or ``None`` (the app's own cues);
    ``set_streams(rows)`` lists the Markers streams discovery found; ``choose(stream, events)``
    selects one by code (``bci-app gui --cue-stream``)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Cues", parent)
        self.stream_choice = QtWidgets.QComboBox()
        self.stream_choice.addItem(OWN_CUES, None)
        # long stream names must not widen the narrow source panel
        self.stream_choice.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.stream_choice.setMinimumContentsLength(14)
        self.stream_choice.setToolTip("Where the calibration and cued online trials take their cues from: the app's "
                                      "own paradigm, or a stimulus program's LSL Markers stream (press Refresh on "
                                      "Refresh to look for streams).")
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for LSL Markers streams on this machine and the network")
        self.events_edit = QtWidgets.QLineEdit()
        self.events_edit.setPlaceholderText("T1=left_hand,T2=right_hand")
        self.events_edit.setToolTip("Which marker of the stream means which class (MARKER=CLASS pairs, as --events)")
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.stream_choice, 1)
        row.addWidget(self.refresh_button)
        form.addRow("Cue source", row)
        form.addRow("Markers", self.events_edit)
        form.addRow(self.note)
        self.stream_choice.currentIndexChanged.connect(lambda _: self._show())
        self.events_edit.textChanged.connect(lambda _: self._show())
        self._show()

    def set_streams(self, rows: list[dict]) -> None:
        """List the Markers streams ``rows`` (as :func:`~bci_app.acquisition.sources.discover_markers`
        gives them), keeping the current choice (listed even when it is not seen now)."""
        current = self.stream_choice.currentData()
        names = list(dict.fromkeys(r["name"] for r in rows))
        if current is not None and current not in names:
            names.append(current)
        self.stream_choice.blockSignals(True)
        self.stream_choice.clear()
        self.stream_choice.addItem(OWN_CUES, None)
        for name in names:
            host = next((r.get("host", "") for r in rows if r["name"] == name), "")
            self.stream_choice.addItem(f"{name} (Markers{', ' + host if host else ''})", name)
        self.stream_choice.setCurrentIndex(max(self.stream_choice.findData(current), 0))
        self.stream_choice.blockSignals(False)
        self._show()

    def choose(self, stream: str | None, events: str = "") -> None:
        """Select ``stream`` (``None``: the app's own cues) with the mapping ``events``."""
        if stream is not None and self.stream_choice.findData(stream) < 0:
            self.stream_choice.addItem(f"{stream} (Markers)", stream)
        self.events_edit.setText(events)
        self.stream_choice.setCurrentIndex(max(self.stream_choice.findData(stream), 0) if stream else 0)
        self._show()

    def choice(self) -> ExternalCueSource | None:
        """The chosen cues; raises :class:`ConfigError` saying what is wrong with the mapping."""
        stream = self.stream_choice.currentData()
        if stream is None:
            return None
        if not self.events_edit.text().strip():
            raise ConfigError(f"say which marker of {stream!r} means which class, e.g. T1=left_hand,T2=right_hand")
        return ExternalCueSource(stream, self.events_edit.text().strip())

    def _show(self) -> None:
        own = self.stream_choice.currentData() is None
        self.events_edit.setEnabled(not own)
        if own:
            self.note.setText("The app shows the cues and publishes them as LSL markers (bci-app-markers).")
            self.note.setStyleSheet("")
            return
        try:
            choice = self.choice()
        except ConfigError as exc:
            self.note.setText(str(exc))
            self.note.setStyleSheet("color:#b71c1c")
            return
        self.note.setText(f"Calibration and cued online trials follow {choice.describe()}; the window mirrors them "
                          "and publishes no cues of its own.")
        self.note.setStyleSheet("color:#2e7d32")


class CueOpener:
    """Opens a stimulus program's cues off the UI thread (finding an LSL stream blocks up to
    ``timeout`` s); the frame timer collects each outcome with :meth:`poll`. Every opened
    :class:`~bci_app.paradigm.external_cues.ExternalCues` is closed by :meth:`close`."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._thread: threading.Thread | None = None
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._opened: list[Any] = []

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def open(self, purpose: str, choice: ExternalCueSource, config: Any, clock: Callable[[], float], *,
             record: Callable[[str, float], None] | None, trials_per_class: int | None) -> bool:
        """Start opening ``choice`` for ``purpose`` (e.g. ``"calibration"``); False while one is opening."""
        if self.busy:
            return False

        def work() -> None:
            try:
                cues = choice.open(config, clock, record=record, trials_per_class=trials_per_class,
                                   timeout=self.timeout)
            except Exception as exc:  # noqa: BLE001 - handed to the UI thread, shown there
                self._done.put((purpose, None, exc))
            else:
                self._opened.append(cues)
                self._done.put((purpose, cues, None))

        self._thread = threading.Thread(target=work, name="open-cue-stream", daemon=True)
        self._thread.start()
        return True

    def poll(self) -> list[tuple[str, Any, BaseException | None]]:
        """``(purpose, cues or None, exception or None)`` of each open finished since the last call."""
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Wait for an open in progress, then close every cue stream opened."""
        if self._thread is not None:
            self._thread.join(self.timeout + 5.0)
            self._thread = None
        opened, self._opened = self._opened, []
        for cues in opened:
            cues.close()
