"""Find recordings a crash left unfinished, and name the file that continues them.

:class:`~bci_app.io.xdf.XdfRecorder` writes a StreamFooter for every stream only at
:meth:`~bci_app.io.xdf.XdfRecorder.close`; a file whose streams lack footers was cut short (app
killed, power lost). Such a file stays readable with ``pyxdf`` (it lacks at most the last second);
on restart the app offers to continue the session in a new file next to it (not while another
running instance still writes it: its lock file is live),
``<name>-part2.xdf``, ``-part3`` ... (:func:`continuation_path`), and never appends to the
damaged one.

Only chunk headers are read (length, tag, stream id, the small StreamHeader XML): scanning a
large recording is fast and nothing in it is executed or used as a path.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from bci_app.errors import RecordingError
from bci_app.io.lock import live_lock
from bci_app.io.xdf import MAGIC

__all__ = ["XdfScan", "scan_xdf", "find_incomplete_recordings", "continuation_path"]

_TAG_STREAM_HEADER, _TAG_STREAM_FOOTER = 2, 6
_STREAM_TAGS = {2, 3, 4, 6}
_PART = re.compile(r"^(?P<stem>.*)-part(?P<n>\d+)$")


@dataclass(frozen=True)
class XdfScan:
    """What the chunk headers of an XDF file say.

    ``streams``: stream id → name (from each StreamHeader); ``with_footer``: ids that got a
    StreamFooter; ``size``: bytes; ``complete_bytes``: bytes up to the last whole chunk (the rest
    is a chunk cut by the crash, which readers skip).
    """

    path: Path
    streams: dict[int, str]
    with_footer: frozenset[int]
    size: int
    complete_bytes: int

    @property
    def complete(self) -> bool:
        """True when every stream got its footer (the recorder was closed properly)."""
        return bool(self.streams) and set(self.streams) <= self.with_footer and self.complete_bytes == self.size

    @property
    def unfinished_streams(self) -> list[str]:
        return [name for sid, name in sorted(self.streams.items()) if sid not in self.with_footer]


def _stream_name(xml: bytes) -> str:
    try:
        el = ET.fromstring(xml).find("name")
    except ET.ParseError:
        return "?"
    return (el.text or "") if el is not None else "?"


def scan_xdf(path: str | Path) -> XdfScan:
    """Walk the chunks of ``path``, seeking from chunk header to chunk header (sample data are never
    read, so large recordings scan fast); raises :class:`RecordingError` when it is not an XDF file."""
    path = Path(path)
    streams: dict[int, str] = {}
    footers: set[int] = set()
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            if f.read(4) != MAGIC:
                raise RecordingError(f"{path} is not an XDF file (it does not start with 'XDF:')")
            pos = good = 4
            while pos < size:
                f.seek(pos)
                head = f.read(1)
                width = head[0] if head else 0
                if width not in (1, 4, 8) or pos + 1 + width > size:
                    break
                length = int.from_bytes(f.read(width), "little")
                start = pos + 1 + width
                end = start + length
                if length < 2 or end > size:
                    break  # a chunk cut short by the crash
                (tag,) = struct.unpack("<H", f.read(2))
                if tag in _STREAM_TAGS:
                    if length < 6:
                        break
                    (sid,) = struct.unpack("<I", f.read(4))
                    if tag == _TAG_STREAM_HEADER:
                        streams[sid] = _stream_name(f.read(length - 6))
                    elif tag == _TAG_STREAM_FOOTER:
                        footers.add(sid)
                pos = good = end
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return XdfScan(path, streams, frozenset(footers), size, good)


def find_incomplete_recordings(directory: str | Path, *, recursive: bool = True) -> list[XdfScan]:
    """Every ``.xdf`` under ``directory`` that a crash left without stream footers, oldest first:
    the sessions to offer for continuation at start-up.

    Files already continued (their ``-partN+1`` exists), files a running process is still writing
    (a live ``.lock``, :mod:`bci_app.io.lock`), symbolic links and files that are not XDF at all are
    skipped."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        return []
    files = directory.rglob("*.xdf") if recursive else directory.glob("*.xdf")
    found = []
    for path in files:
        if not path.is_file() or path.is_symlink():
            continue
        try:
            scan = scan_xdf(path)
        except RecordingError:
            continue
        if not scan.complete and not _continued(path) and live_lock(path) is None:
            found.append(scan)
    return sorted(found, key=lambda s: (s.path.stat().st_mtime, str(s.path)))


def _continued(path: Path) -> bool:
    """True when the next part of ``path`` exists (the session was already continued)."""
    m = _PART.match(path.stem)
    base, n = (m.group("stem"), int(m.group("n"))) if m else (path.stem, 1)
    return path.with_name(f"{base}-part{n + 1}.xdf").exists()


def continuation_path(path: str | Path) -> Path:
    """The file that continues ``path`` after a crash: ``<stem>-partN.xdf`` in the same folder,
    with N one above the highest existing part (``rec.xdf`` → ``rec-part2.xdf``;
    ``rec-part2.xdf`` → ``rec-part3.xdf``). Never an existing file."""
    path = Path(path)
    stem = path.stem
    m = _PART.match(stem)
    base, n = (m.group("stem"), int(m.group("n"))) if m else (stem, 1)
    for other in path.parent.glob(f"{_glob_escape(base)}-part*.xdf"):
        mo = _PART.match(other.stem)
        if mo and mo.group("stem") == base:
            n = max(n, int(mo.group("n")))
    candidate = path.with_name(f"{base}-part{n + 1}.xdf")
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{base}-part{n + 1}.xdf")
    return candidate


def _glob_escape(text: str) -> str:
    """``text`` with glob metacharacters bracketed so ``Path.glob`` matches it literally."""
    return re.sub(r"([*?\[])", r"[\1]", text)
