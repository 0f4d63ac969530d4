"""A participant's session folder: where a session's recordings, adapter and report go by themselves.

Layout under the configured ``recording.directory``::

    <participant>/<YYYY-MM-DD_HHMMSS>/calibration.xdf      (then calibration-2.xdf, online.xdf, ...)
                                      adapter.safetensors + adapter.json
                                      calibration_report.html
                                      paradigm.yaml    (the paradigm set-up of its calibration)

:func:`previous_adapters` lists a participant's earlier adapters, newest first, for "continue a
previous session".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from bci_app.config import folder_text_problem
from bci_app.errors import ConfigError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ADAPTER_STEM = "adapter"
REPORT_NAME = "calibration_report.html"


def check_participant_id(participant: str) -> str:
    """``participant`` stripped, or :class:`ConfigError` when it cannot name a folder safely (letters,
    digits, ``_ . -``; 1-64 characters; no leading dot or separator)."""
    pid = str(participant).strip()
    if not _ID.match(pid):
        raise ConfigError(f"participant ID {participant!r} cannot name a folder: use 1-64 letters, digits, '_', "
                          "'.' or '-', starting with a letter or digit (e.g. P007)")
    return pid


@dataclass(frozen=True)
class SessionFolder:
    """One session of one participant (the folder exists once :meth:`create` returned it)."""

    participant: str
    path: Path

    @classmethod
    def create(cls, root: str | Path, participant: str, *, when: float | None = None) -> SessionFolder:
        """A new folder ``root/participant/<local date_time>`` (a suffix when that second exists)."""
        pid = check_participant_id(participant)
        problem = folder_text_problem(str(root))
        if problem:
            raise ConfigError(f"the data folder {str(root)!r} {problem}")
        stamp = time.strftime("%Y-%m-%d_%H%M%S", time.localtime(time.time() if when is None else when))
        base = Path(root).expanduser() / pid
        path = base / stamp
        k = 2
        while path.exists():
            path, k = base / f"{stamp}-{k}", k + 1
        path.mkdir(parents=True)
        return cls(pid, path)

    def recording_path(self, kind: str = "calibration") -> Path:
        """``<kind>.xdf``, or ``<kind>-2.xdf``… when taken (a second calibration never overwrites the first)."""
        path, k = self.path / f"{kind}.xdf", 2
        while path.exists():
            path, k = self.path / f"{kind}-{k}.xdf", k + 1
        return path

    @property
    def adapter_path(self) -> Path:
        """Where the session's adapter goes (``.safetensors`` + ``.json`` beside it)."""
        return self.path / ADAPTER_STEM

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_NAME


def previous_adapters(root: str | Path, participant: str) -> list[Path]:
    """The participant's saved adapters (paths without suffix, as :func:`save_adapter` takes them),
    newest session first; empty when there are none."""
    base = Path(root).expanduser() / check_participant_id(participant)
    if not base.is_dir():
        return []
    found = [p.with_suffix("") for p in base.glob(f"*/{ADAPTER_STEM}.json")
             if p.with_suffix(".safetensors").is_file()]
    return sorted(found, key=lambda p: p.parent.name, reverse=True)


__all__ = ["SessionFolder", "check_participant_id", "previous_adapters", "ADAPTER_STEM", "REPORT_NAME"]
