"""Source panel: LSL streams on the network, a BrainFlow board, a recording, or the simulated headset.

The panel only collects what the user picked and emits ``connect_requested(spec)`` with a plain
dict (a source spec: ``{"kind": "simulated" | "lsl" | "brainflow" | "file", ..., "channel_map": {label:
target}}``); :func:`bci_app.acquisition.sources.make_stream` turns it into a core ``Stream``. LSL
discovery (:func:`~bci_app.acquisition.sources.discover_lsl`) runs on a worker thread and reports
back once. The channel table says which electrode each channel of an LSL stream or BrainFlow board
is (filled from the stream's labels or the board's descriptor, then the config's ``channels.map``;
editable): a 10-05 position, or eog/emg/ecg/aux/accel/misc to keep it out of the model input.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from bci_app.acquisition.sources import discover_lsl, discover_markers
from bci_app.gui.cue_source_view import CueSourceBox
from bci_app.gui.layout import ScrollTabs
from bci_app.session.cues import CUE_STREAM

log = logging.getLogger(__name__)

KIND_TABS = {"simulated": 0, "lsl": 1, "brainflow": 2, "file": 3}  # source kind -> tab index
KIND_LABELS = {"simulated": "simulated", "lsl": "LSL", "brainflow": "BrainFlow", "file": "recording"}
BRAINFLOW_BOARDS = ("synthetic", "cyton", "cyton_daisy", "ganglion", "muse_2", "muse_s", "unicorn", "enophone", "playback_file")


def _brainflow_form(panel: SourcePanel, bf_cfg) -> QtWidgets.QWidget:
    """The BrainFlow tab: a field per connection parameter of ``bf_cfg`` (a
    :class:`~bci_app.config.BrainFlowConfig`), kept on ``panel`` as ``bf_*``."""
    bf = QtWidgets.QWidget()
    bf_form = QtWidgets.QFormLayout(bf)
    panel.bf_board = QtWidgets.QComboBox()
    panel.bf_board.setEditable(True)
    panel.bf_board.addItems(BRAINFLOW_BOARDS)
    panel.bf_board.setCurrentText(bf_cfg.board)
    panel.bf_serial = QtWidgets.QLineEdit(bf_cfg.serial_port)
    panel.bf_serial.setPlaceholderText("e.g. /dev/ttyUSB0 or COM3")
    panel.bf_mac = QtWidgets.QLineEdit(bf_cfg.mac_address)
    panel.bf_ip = QtWidgets.QLineEdit(bf_cfg.ip_address)
    panel.bf_ip_port = QtWidgets.QSpinBox()
    panel.bf_ip_port.setRange(0, 65535)
    panel.bf_ip_port.setSpecialValueText("not given")
    panel.bf_ip_port.setValue(bf_cfg.ip_port)
    panel.bf_ip_protocol = QtWidgets.QComboBox()
    panel.bf_ip_protocol.addItems(["none", "UDP", "TCP"])  # BrainFlow's IpProtocolTypes 0, 1, 2
    panel.bf_ip_protocol.setCurrentIndex(bf_cfg.ip_protocol)
    panel.bf_serial_number = QtWidgets.QLineEdit(bf_cfg.serial_number)
    panel.bf_other = QtWidgets.QLineEdit(bf_cfg.other_info)
    panel.bf_file = QtWidgets.QLineEdit(bf_cfg.file)
    panel.bf_timeout = QtWidgets.QSpinBox()
    panel.bf_timeout.setRange(0, 600)
    panel.bf_timeout.setSuffix(" s")
    panel.bf_timeout.setSpecialValueText("default")
    panel.bf_timeout.setValue(bf_cfg.timeout)
    panel.bf_master = QtWidgets.QComboBox()
    panel.bf_master.setEditable(True)
    panel.bf_master.addItems(["", *BRAINFLOW_BOARDS])
    panel.bf_master.setCurrentText(bf_cfg.master_board)
    bf_form.addRow("Board", panel.bf_board)
    bf_form.addRow("Serial port", panel.bf_serial)
    bf_form.addRow("MAC address", panel.bf_mac)
    bf_form.addRow("IP address", panel.bf_ip)
    bf_form.addRow("IP port", panel.bf_ip_port)
    bf_form.addRow("IP protocol", panel.bf_ip_protocol)
    bf_form.addRow("Serial number", panel.bf_serial_number)
    bf_form.addRow("Other info", panel.bf_other)
    bf_form.addRow("File (playback)", panel.bf_file)
    bf_form.addRow("Timeout", panel.bf_timeout)
    bf_form.addRow("Master board (playback)", panel.bf_master)
    return bf


def _simulated_form(panel: SourcePanel) -> QtWidgets.QWidget:
    """The simulated headset's form: its channels (a shipped montage) and which simulated person."""
    sim = QtWidgets.QWidget()
    form = QtWidgets.QFormLayout(sim)
    panel.sim_channels = QtWidgets.QComboBox()
    panel.sim_channels.addItems(["sensorimotor16", "sensorimotor8", "eegmmidb64"])
    panel.sim_subject = QtWidgets.QSpinBox()
    panel.sim_subject.setRange(0, 10_000)
    form.addRow("Channels", panel.sim_channels)
    form.addRow("Simulated subject", panel.sim_subject)
    return sim


def _file_form(panel: SourcePanel) -> QtWidgets.QWidget:
    """A recording played as a source: its path and the playback speed."""
    fw = QtWidgets.QWidget()
    form = QtWidgets.QFormLayout(fw)
    panel.file_path = QtWidgets.QLineEdit()
    panel.file_browse = QtWidgets.QPushButton("Open…")
    panel.file_speed = QtWidgets.QDoubleSpinBox()
    panel.file_speed.setRange(0.1, 100.0)
    panel.file_speed.setValue(1.0)
    row = QtWidgets.QHBoxLayout()
    row.addWidget(panel.file_path, 1)
    row.addWidget(panel.file_browse)
    form.addRow("Recording", row)
    form.addRow("Speed ×", panel.file_speed)
    return fw


class SourcePanel(QtWidgets.QWidget):
    """Pick a source and connect/disconnect. Emits ``connect_requested(dict)`` / ``disconnect_requested()``."""

    connect_requested = QtCore.Signal(dict)
    disconnect_requested = QtCore.Signal()
    _discovered = QtCore.Signal(list, str)

    def __init__(self, parent: QtWidgets.QWidget | None = None, brainflow=None, channels=None) -> None:
        """``brainflow``: a :class:`~bci_app.config.BrainFlowConfig` filling the BrainFlow form;
        ``channels``: a :class:`~bci_app.config.ChannelsConfig` whose map fills the channel table."""
        from bci_app.config import BrainFlowConfig, ChannelsConfig

        super().__init__(parent)
        bf_cfg = brainflow or BrainFlowConfig()
        self._config_map = dict((channels or ChannelsConfig()).map)
        self.tabs = ScrollTabs()  # the BrainFlow form scrolls on a short screen
        self.tabs.add_panel(_simulated_form(self), "Simulated")
        # LSL
        lsl = QtWidgets.QWidget()
        lsl_layout = QtWidgets.QVBoxLayout(lsl)
        self.lsl_table = QtWidgets.QTableWidget(0, 5)
        self.lsl_table.setHorizontalHeaderLabels(["name", "type", "channels", "rate", "host"])
        self.lsl_table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.lsl_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lsl_refresh = QtWidgets.QPushButton("Refresh")
        self.lsl_status = QtWidgets.QLabel("")
        lsl_layout.addWidget(self.lsl_table)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.lsl_refresh)
        row.addWidget(self.lsl_status, 1)
        lsl_layout.addLayout(row)
        self.tabs.add_panel(lsl, "LSL")
        self.tabs.add_panel(_brainflow_form(self, bf_cfg), "BrainFlow")
        self.tabs.add_panel(_file_form(self), "Recording")

        # channel map (LSL and BrainFlow)
        self.channel_table = QtWidgets.QTableWidget(0, 2)
        self.channel_table.setHorizontalHeaderLabels(["source channel", "position or type"])
        self.channel_table.horizontalHeader().setStretchLastSection(True)
        self.channel_table.setToolTip("Which electrode each channel is: a 10-05 position (C3, FCz, CP4), or "
                                      "eog/emg/ecg/aux/accel/misc to keep it out of the model input. Empty: "
                                      "the channel keeps its own label.")
        self.channel_note = QtWidgets.QLabel("")
        self.channel_note.setWordWrap(True)
        channel_box = QtWidgets.QGroupBox("Channels")
        channel_layout = QtWidgets.QVBoxLayout(channel_box)
        channel_layout.addWidget(self.channel_note)
        channel_layout.addWidget(self.channel_table)

        self.connect_button = QtWidgets.QPushButton("Connect")
        self.disconnect_button = QtWidgets.QPushButton("Disconnect")
        self.disconnect_button.setEnabled(False)
        self.status_label = QtWidgets.QLabel("Not connected")
        self.status_label.setWordWrap(True)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(channel_box)
        self.cue_box = CueSourceBox()  # the app's own cues or a stimulus program's Markers stream
        layout.addWidget(self.cue_box)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)

        self._lsl_rows: list[dict] = []
        self._discovery: threading.Thread | None = None
        self.connect_button.clicked.connect(self._on_connect)
        self.disconnect_button.clicked.connect(self.disconnect_requested)
        self.lsl_refresh.clicked.connect(self.refresh_lsl)
        self.cue_box.refresh_button.clicked.connect(self.refresh_lsl)
        self.file_browse.clicked.connect(self._browse)
        self._discovered.connect(self._show_discovered)
        self.tabs.currentChanged.connect(lambda _: self._fill_channels())
        self.bf_board.currentTextChanged.connect(lambda _: self._fill_channels())
        self.bf_master.currentTextChanged.connect(lambda _: self._fill_channels())
        self.lsl_table.itemSelectionChanged.connect(self._fill_channels)
        self._fill_channels()

    # -- LSL discovery (off the UI thread) -------------------------------------------------------
    def refresh_lsl(self) -> None:
        if self._discovery is not None and self._discovery.is_alive():
            return
        self.lsl_status.setText("Looking for LSL streams…")
        self.lsl_refresh.setEnabled(False)
        self.cue_box.refresh_button.setEnabled(False)

        def work() -> None:
            try:
                rows, err = discover_lsl(1.0), ""
            except Exception as exc:  # noqa: BLE001 - reported in the panel, details in the log
                log.exception("LSL discovery failed")
                rows, err = [], f"LSL discovery failed: {exc}"
            self._discovered.emit(rows, err)

        self._discovery = threading.Thread(target=work, name="lsl-discovery", daemon=True)
        self._discovery.start()

    def _show_discovered(self, rows: list, err: str) -> None:
        self._lsl_rows = rows
        self.lsl_table.setRowCount(len(rows))
        for r, s in enumerate(rows):
            for c, v in enumerate((s["name"], s["type"], s["n_chans"], f"{s['sfreq']:g} Hz", s["host"])):
                self.lsl_table.setItem(r, c, QtWidgets.QTableWidgetItem(str(v)))
        self.cue_box.set_streams(discover_markers(rows, exclude=(CUE_STREAM,)))
        self.lsl_status.setText(err or f"{len(rows)} stream(s) found")
        self.lsl_refresh.setEnabled(True)
        self.cue_box.refresh_button.setEnabled(True)

    # -- channel map -----------------------------------------------------------------------------
    def _default_channels(self) -> tuple[list[tuple[str, str]], str]:
        """``([(label, target)], note)`` for the current source: the LSL stream's labels (non-EEG types
        as their type) or the BrainFlow board's descriptor preset; the config's map overrides."""
        tab = self.tabs.currentIndex()
        if tab == KIND_TABS["lsl"]:
            rows = self.lsl_table.selectionModel().selectedRows()
            if not rows:
                return [], "Select an LSL stream to see its channels."
            s = self._lsl_rows[rows[0].row()]
            from bci_app.vocabulary import NON_EEG_TYPES, is_model_input, position_name

            pairs = []
            for label, ctype in zip(s.get("labels", []), s.get("types", [])):
                target = (position_name(label) or "") if is_model_input(ctype) else \
                    (ctype if ctype in NON_EEG_TYPES else "misc")
                pairs.append((label, target))
            unplaced = sum(1 for _, t in pairs if not t)
            note = (f"{unplaced} channel(s) have no 10-05 name: give each its position, or a type to leave it out."
                    if unplaced else "Positions from the stream's labels; edit where electrodes sit elsewhere.")
            return pairs, note
        if tab == KIND_TABS["brainflow"]:
            from bci_app.acquisition.brainflow import board_channels, brainflow_channel_preset
            from bci_app.errors import StreamError

            board = self.bf_master.currentText().strip() or self.bf_board.currentText()  # playback: the master's
            try:
                chans, preset = board_channels(board), brainflow_channel_preset(board)
            except StreamError as exc:
                return [], str(exc)
            pairs = [(label, preset.get(label, "")) for label in chans["names"]]
            note = ("Positions from the board's descriptor; edit where your electrodes sit." if chans["named"] else
                    "This board does not name its electrodes: give each channel its 10-05 position.")
            return pairs, note
        return [], "The simulated headset and recordings use their own channel names."

    def _fill_channels(self) -> None:
        pairs, note = self._default_channels()
        self.channel_table.setRowCount(len(pairs))
        for r, (label, target) in enumerate(pairs):
            source = QtWidgets.QTableWidgetItem(label)
            source.setFlags(source.flags() & ~QtCore.Qt.ItemFlag.ItemIsEditable)
            self.channel_table.setItem(r, 0, source)
            self.channel_table.setItem(r, 1, QtWidgets.QTableWidgetItem(self._config_map.get(label, target)))
        self.channel_note.setText(note)
        self.channel_table.setEnabled(bool(pairs))

    def set_channel_target(self, label: str, target: str) -> None:
        """Put ``label`` at ``target`` (a 10-05 position or a type), as the operator would in the table."""
        for r in range(self.channel_table.rowCount()):
            if self.channel_table.item(r, 0).text() == label:
                self.channel_table.item(r, 1).setText(target)
                return
        raise KeyError(f"no channel {label!r} in the table")

    def channel_map(self) -> dict[str, str]:
        """``{label: target}`` for each row whose target is given and differs from the label; raises
        :class:`~bci_app.errors.ConfigError` naming a target that is neither a position nor a type."""
        from bci_app.signal.channels import ChannelMap
        from bci_app.vocabulary import normalize_ch_name

        out = {}
        for r in range(self.channel_table.rowCount()):
            label, target = self.channel_table.item(r, 0).text(), self.channel_table.item(r, 1).text().strip()
            if target and normalize_ch_name(target) != normalize_ch_name(label):
                out[label] = target
        ChannelMap.from_mapping(out)
        return out

    def wait_discovery(self, timeout: float = 5.0) -> None:
        if self._discovery is not None:
            self._discovery.join(timeout)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recording", "", "Recordings (*.xdf *.edf *.bdf *.gdf *.fif)"
        )
        if path:
            self.file_path.setText(path)

    # -- spec ------------------------------------------------------------------------------------
    def current_spec(self) -> dict:
        tab = self.tabs.currentIndex()
        if tab == 0:
            from bci_app.vocabulary import MONTAGES

            return {"kind": "simulated", "ch_names": MONTAGES[self.sim_channels.currentText()],
                    "subject_seed": self.sim_subject.value()}
        if tab == 1:
            rows = self.lsl_table.selectionModel().selectedRows()
            if not rows:
                raise ValueError("Select an LSL stream in the list first (press Refresh to look for streams).")
            s = self._lsl_rows[rows[0].row()]
            return {"kind": "lsl", "name": s["name"], "type": s["type"], "source_id": s["source_id"]}
        if tab == 2:
            return {"kind": "brainflow", "board": self.bf_board.currentText(),
                    "params": {"serial_port": self.bf_serial.text().strip(), "mac_address": self.bf_mac.text().strip(),
                               "ip_address": self.bf_ip.text().strip(), "ip_port": self.bf_ip_port.value() or None,
                               "ip_protocol": self.bf_ip_protocol.currentIndex() or None,
                               "serial_number": self.bf_serial_number.text().strip(),
                               "other_info": self.bf_other.text().strip(), "file": self.bf_file.text().strip(),
                               "timeout": self.bf_timeout.value() or None,
                               "master_board": self.bf_master.currentText().strip()}}
        path = self.file_path.text().strip()
        if not path:
            raise ValueError("Choose a recording file first (Open…).")
        return {"kind": "file", "path": str(Path(path)), "speed": self.file_speed.value()}

    def _on_connect(self) -> None:
        from bci_app.errors import ConfigError

        try:
            spec = self.current_spec()
            if spec["kind"] in ("lsl", "brainflow"):
                spec["channel_map"] = self.channel_map()
        except (ValueError, ConfigError) as exc:
            self.status_label.setText(str(exc))
            return
        self.connect_requested.emit(spec)

    def show_connected(self, spec: dict, info) -> None:
        """Show what is actually connected, also when the connection was made by code (the demo):
        select the tab of ``spec["kind"]``, fill it with the source (for LSL: the stream's row,
        selected) and say ``Connected: <name> (<kind>), <n> channels at <rate> Hz``. ``info`` is the
        connected stream's ``StreamInfo``."""
        kind = spec.get("kind", "")
        if kind in KIND_TABS:
            self.tabs.setCurrentIndex(KIND_TABS[kind])
        if kind == "lsl":
            self._select_lsl_row({"name": info.name, "type": info.stype, "n_chans": info.n_chans,
                                  "sfreq": info.sfreq, "host": "", "source_id": info.source_id})
        elif kind == "simulated":
            from bci_app.vocabulary import MONTAGES

            names = [k for k, chans in MONTAGES.items() if tuple(chans) == tuple(info.ch_names)]
            if names and self.sim_channels.findText(names[0]) >= 0:
                self.sim_channels.setCurrentText(names[0])
            self.sim_subject.setValue(int(spec.get("subject_seed", self.sim_subject.value())))
        elif kind == "brainflow":
            self.bf_board.setCurrentText(str(spec.get("board", "")))
        elif kind == "file":
            self.file_path.setText(str(spec.get("path", "")))
        if kind in ("lsl", "brainflow"):
            mapping = info.channel_map()
            self.channel_table.setRowCount(len(mapping))
            for r, (label, target) in enumerate(mapping.items()):
                self.channel_table.setItem(r, 0, QtWidgets.QTableWidgetItem(label))
                self.channel_table.setItem(r, 1, QtWidgets.QTableWidgetItem(target))
            self.channel_note.setText("The connected source's channels (disconnect to change them).")
        label = KIND_LABELS.get(kind, kind)
        self.set_status(f"Connected: {info.name} ({label}), {info.n_chans} channels at {info.sfreq:g} Hz", True)

    def _select_lsl_row(self, stream: dict) -> None:
        """Select the row of ``stream`` in the LSL table, adding it when discovery has not listed it."""
        match = [i for i, r in enumerate(self._lsl_rows)
                 if r["name"] == stream["name"] and r.get("source_id") == stream["source_id"]]
        if match:
            row = match[0]
        else:
            self._lsl_rows.append(stream)
            row = len(self._lsl_rows) - 1
            self.lsl_table.setRowCount(len(self._lsl_rows))
            for c, v in enumerate((stream["name"], stream["type"], stream["n_chans"], f"{stream['sfreq']:g} Hz",
                                   stream["host"])):
                self.lsl_table.setItem(row, c, QtWidgets.QTableWidgetItem(str(v)))
        self.lsl_table.selectRow(row)

    def set_status(self, text: str, connected: bool) -> None:
        self.status_label.setText(text)
        self.connect_button.setEnabled(not connected)
        self.disconnect_button.setEnabled(connected)
        self.tabs.setEnabled(not connected)
