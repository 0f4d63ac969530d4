"""BrainFlow boards behind the ``Stream`` contract: :class:`StreamBrainFlow`.

EEG rows come out in volts (BrainFlow gives µV); BrainFlow's Unix timestamps are mapped onto the
LSL clock with an offset ``pylsl.local_clock() - time.time()`` measured at connection; non-zero
values of the board's marker row become markers (``"3"`` for 3.0, ``"3.5"`` otherwise).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import numpy as np

from bci_app.acquisition.base import Stream, StreamInfo
from bci_app.errors import StreamError
from bci_app.lsl_config import configure_lsl
from bci_app.types import Marker
from bci_app.units import VOLTS_PER_MICROVOLT

log = logging.getLogger(__name__)


def _board_shim():
    """Import brainflow without its ``pkg_resources is deprecated`` warning (setuptools < 81 needed)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pkg_resources")
        from brainflow import board_shim

    return board_shim


def resolve_board_id(board: str | int) -> int:
    """A ``BoardIds`` id from a name (case-insensitive, ``_BOARD`` optional) or an id.

    ``"synthetic"``, ``"SYNTHETIC_BOARD"`` and ``-1`` all give -1.
    """
    BoardIds = _board_shim().BoardIds
    if isinstance(board, (int, np.integer)) or (isinstance(board, str) and board.strip().lstrip("-").isdigit()):
        value = int(board)
        try:
            return int(BoardIds(value))
        except ValueError as exc:
            raise StreamError(f"unknown BrainFlow board id {value}; known ids run from "
                              f"{min(b.value for b in BoardIds)} to {max(b.value for b in BoardIds)}") from exc
    key = str(board).strip().upper().replace("-", "_").replace(" ", "_")
    for candidate in (key, f"{key}_BOARD"):
        if candidate in BoardIds.__members__:
            return int(BoardIds[candidate])
    names = sorted(n.lower().removesuffix("_board") for n in BoardIds.__members__)
    raise StreamError(f"unknown BrainFlow board {board!r}; use a BoardIds name or id, e.g. {', '.join(names[:12])}, ...")


#: descriptor rows delivered beside the EEG: (descriptor key, name prefix, channel type, unit)
_AUXILIARY_ROWS = (("accel_channels", "accel", "accel", "g"), ("analog_channels", "analog", "aux", ""))
_AXES = "xyz"


def board_channels(board: str | int, channels: str = "eeg", *, auxiliary: bool = True) -> dict:
    """What a board delivers, from its BrainFlow descriptor (no connection needed).

    Returns ``{"rows", "names", "types", "units", "scale", "named", "sfreq", "timestamp_row",
    "marker_row"}``: descriptor rows, channel labels (the descriptor's ``eeg_names`` or ``ch<row>``),
    types (``eeg``; ``accel``/``aux`` for the auxiliary rows), units after ``scale`` (EEG µV -> V),
    whether the descriptor names the EEG channels, the rate in Hz and the timestamp/marker rows.
    ``channels="exg"`` gives all ExG rows and no auxiliary ones.
    """
    bs = _board_shim()
    descr = bs.BoardShim.get_board_descr(resolve_board_id(board))
    if "sampling_rate" not in descr:
        raise StreamError(f"BrainFlow board {board!r} has no channels of its own (a playback or streaming board): "
                          "its master board says what it delivers")
    rows = list(descr.get("eeg_channels" if channels == "eeg" else "exg_channels") or descr.get("eeg_channels", []))
    names = [n for n in str(descr.get("eeg_names", "")).split(",") if n] if channels == "eeg" else []
    named = len(names) == len(rows) and bool(rows)
    if not named:
        names = [f"ch{row}" for row in rows]
    types, units, scale = ["eeg"] * len(rows), ["V"] * len(rows), [VOLTS_PER_MICROVOLT] * len(rows)
    if channels == "eeg" and auxiliary:
        for key, prefix, ctype, unit in _AUXILIARY_ROWS:
            extra = [r for r in descr.get(key, []) if r not in rows]
            for k, row in enumerate(extra):
                rows.append(row)
                names.append(f"{prefix}_{_AXES[k]}" if prefix == "accel" and len(extra) == 3 else f"{prefix}{k + 1}")
                types.append(ctype)
                units.append(unit)
                scale.append(1.0)
    return {"rows": rows, "names": names, "types": types, "units": units, "scale": scale, "named": named,
            "sfreq": float(descr["sampling_rate"]), "timestamp_row": int(descr["timestamp_channel"]),
            "marker_row": descr.get("marker_channel")}


def brainflow_channel_preset(board: str | int) -> dict[str, str]:
    """``{label: target}`` for a board's channels, from its descriptor: each named EEG channel at
    its own position, accelerometer rows ``accel`` and analog rows ``aux`` (out of the model input);
    unnamed EEG channels (e.g. Ganglion's ``ch1..ch4``) are left for the operator to place."""
    chans = board_channels(board)
    return {name: (name if ctype == "eeg" else ctype) for name, ctype in zip(chans["names"], chans["types"])
            if ctype != "eeg" or chans["named"]}


class StreamBrainFlow(Stream):
    """A BrainFlow board.

    Parameters
    ----------
    board : str | int
        ``BoardIds`` name (case-insensitive, e.g. ``"synthetic"``, ``"cyton_daisy"``,
        ``"PLAYBACK_FILE_BOARD"``) or id (e.g. -1).
    serial_port, ip_address, ip_port, ip_protocol, mac_address, serial_number, other_info, timeout
        ``BrainFlowInputParams`` fields, passed when given.
    file : str | Path | None
        Data file (playback/streaming boards); ``master_board`` the board that recorded it.
    channels : "eeg" | "exg"
        Which rows to deliver (EEG rows with the board's EEG names, or all ExG rows).
    auxiliary : bool
        With ``channels="eeg"``: also deliver the board's accelerometer (type ``accel``, unit g) and
        analog (type ``aux``) rows; they are recorded and never feed the model.
    bufsize, acquisition_delay : see :class:`~bci_app.acquisition.base.Stream`.
    loopback : bool
        Playback board only: replay the file in a loop.

    Errors from the board (wrong port, device off, session lost) raise :class:`StreamError` with
    BrainFlow's message and put the stream in ``FAILED``; ``connect()`` again retries.
    """

    def __init__(
        self,
        board: str | int,
        *,
        serial_port: str | None = None,
        ip_address: str | None = None,
        ip_port: int | None = None,
        ip_protocol: int | None = None,
        mac_address: str | None = None,
        serial_number: str | None = None,
        other_info: str | None = None,
        timeout: int | None = None,
        file: str | Path | None = None,
        master_board: str | int | None = None,
        channels: str = "eeg",
        auxiliary: bool = True,
        loopback: bool = False,
        bufsize: float = 30.0,
        acquisition_delay: float | None = None,
    ) -> None:
        super().__init__(bufsize=bufsize, acquisition_delay=acquisition_delay)
        self.board_id = resolve_board_id(board)
        self.master_board_id = None if master_board is None else resolve_board_id(master_board)
        if channels not in ("eeg", "exg"):
            raise StreamError(f"channels must be 'eeg' or 'exg', got {channels!r}")
        self.channels = channels
        self.auxiliary = bool(auxiliary)
        self.loopback = loopback
        self._params = {
            "serial_port": serial_port, "ip_address": ip_address, "ip_port": ip_port, "ip_protocol": ip_protocol,
            "mac_address": mac_address, "serial_number": serial_number, "other_info": other_info,
            "timeout": timeout, "file": None if file is None else str(file),
        }
        self._board = None  # BoardShim, created at the first connect() and kept
        self._open = False
        self._rows: np.ndarray | None = None
        self._scale: np.ndarray | None = None
        self._ts_row = 0
        self._marker_row: int | None = None
        self._offset = 0.0

    def now(self) -> float:
        import pylsl

        return pylsl.local_clock()

    def _descr_board_id(self) -> int:
        return self.master_board_id if self.master_board_id is not None else self.board_id

    def _connect(self) -> StreamInfo:
        configure_lsl()
        import pylsl

        bs = _board_shim()
        params = bs.BrainFlowInputParams()
        for key, value in self._params.items():
            if value is not None:
                setattr(params, key, value)
        if self.master_board_id is not None:
            params.master_board = self.master_board_id
        bs.BoardShim.disable_board_logger()
        # One BoardShim per stream for its whole life: BrainFlow keys sessions by (board id, params),
        # and a discarded BoardShim's __del__ would release a newer session with the same key.
        if self._board is None:
            self._board = bs.BoardShim(self.board_id, params)
        board = self._board
        descr_id = self._descr_board_id()
        board_name = bs.BoardIds(self.board_id).name
        try:
            board.prepare_session()
            if self.loopback:
                board.config_board("loopback_true")
            board.start_stream(max(1024, int(self.bufsize * bs.BoardShim.get_sampling_rate(descr_id)) * 2))
        except bs.BrainFlowError as exc:
            try:
                if board.is_prepared():
                    board.release_session()
            except bs.BrainFlowError:
                log.debug("releasing a failed BrainFlow session failed", exc_info=True)
            given = ", ".join(f"{k}={v!r}" for k, v in self._params.items() if v is not None) or "no parameters"
            raise StreamError(
                f"BrainFlow board {board_name} ({self.board_id}) could not start: {exc}. Given {given}. "
                f"Check that the device is on and paired, the port/address is right and no other program "
                f"holds it, then connect again."
            ) from exc
        self._open = True
        self._offset = pylsl.local_clock() - time.time()
        chans = board_channels(descr_id, self.channels, auxiliary=self.auxiliary)
        if not chans["rows"]:
            self._disconnect()
            raise StreamError(f"BrainFlow board {board_name} has no {self.channels.upper()} channels")
        names = chans["names"]
        self._rows = np.asarray(chans["rows"])
        self._scale = np.asarray(chans["scale"])[:, None]
        self._ts_row = chans["timestamp_row"]
        self._marker_row = chans["marker_row"]
        sfreq = chans["sfreq"]
        source = self._params["serial_port"] or self._params["ip_address"] or self._params["serial_number"] \
            or self._params["mac_address"] or (Path(self._params["file"]).name if self._params["file"] else "")
        return StreamInfo(
            name=f"BrainFlow-{board_name.lower()}",
            sfreq=sfreq,
            ch_names=tuple(names),
            ch_types=tuple(chans["types"]),
            units=tuple(chans["units"]),
            source_id=f"brainflow:{self.board_id}:{source}",
        )

    def _disconnect(self) -> None:
        board, self._open = self._board, False
        if board is None:
            return
        bs = _board_shim()
        try:
            if board.is_prepared():
                try:
                    board.stop_stream()
                except bs.BrainFlowError:
                    log.debug("stop_stream failed (stream not started?)", exc_info=True)
                board.release_session()
        except bs.BrainFlowError:
            log.warning("releasing the BrainFlow session failed", exc_info=True)

    def _pull(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        bs = _board_shim()
        if self._board is None or not self._open:
            raise StreamError("BrainFlow board is not open; connect() again")
        try:
            raw = self._board.get_board_data()
        except bs.BrainFlowError as exc:
            raise StreamError(
                f"BrainFlow board stopped delivering data: {exc}. Check the device and its connection, "
                f"then disconnect() and connect() again."
            ) from exc
        assert self._rows is not None
        if raw.shape[1] == 0:
            return np.empty((len(self._rows), 0)), np.empty(0), []
        data = raw[self._rows] * self._scale  # EEG µV -> V; accelerometer g and analog as given
        timestamps = raw[self._ts_row] + self._offset
        markers: list[Marker] = []
        if self._marker_row is not None:
            row = raw[self._marker_row]
            for k in np.flatnonzero(row):
                value = float(row[k])
                markers.append(Marker(float(timestamps[k]), str(int(value)) if value.is_integer() else repr(value)))
        return data, timestamps, markers

    def insert_marker(self, value: float) -> None:
        """Put a numeric marker into the board's marker row (arrives with the next samples)."""
        if self._board is None or not self._open:
            raise StreamError("BrainFlow board is not connected; call connect() first")
        self._board.insert_marker(float(value))
