"""Sources from plain specs, and what LSL offers on this machine: the one Qt-free home the window,
the commands and scripts build their streams from.

A *source spec* is a plain dict: ``{"kind": "simulated" | "lsl" | "brainflow" | "file", ...,
"channel_map": {label: target}}`` (the keys of each kind: :func:`make_stream`). The window's source
panel only collects one and shows what :func:`discover_lsl` / :func:`discover_markers` found.
"""

from __future__ import annotations

import logging
from typing import Any

from bci_app.acquisition.base import Stream

log = logging.getLogger(__name__)

__all__ = ["SOURCE_KINDS", "discover_lsl", "discover_markers", "make_stream"]

#: the kinds of source a spec can name
SOURCE_KINDS = ("simulated", "lsl", "brainflow", "file")


def make_stream(spec: dict, *, lsl: Any = None, acquisition_delay: float = 0.02) -> Stream:
    """A core ``Stream`` (not yet connected) from a source spec, with its ``channel_map`` when given.

    - ``simulated``: optional ``ch_names``, ``sfreq`` (Hz), ``subject_seed``, ``session_seed``, ``snr``;
    - ``lsl``: ``name`` and optional ``type``, ``source_id``, ``markers`` (a Markers stream recorded
      with it; see :class:`~bci_app.acquisition.lsl.StreamLSL`), built from ``lsl`` (the config's
      :class:`~bci_app.config.LslConfig`: buffer, acquisition period, default unit, timeout);
    - ``brainflow``: ``board`` and optional ``params`` (connection parameters; empty ones dropped);
    - ``file``: ``path`` and optional ``speed``.

    Raises :class:`ValueError` naming an unknown kind; a bad ``channel_map`` raises
    :class:`~bci_app.errors.ConfigError`."""
    stream = _make_stream(spec, lsl, acquisition_delay)
    if spec.get("channel_map"):
        from bci_app.signal.channels import ChannelMap

        stream.channel_map = ChannelMap.from_mapping(spec["channel_map"])
    return stream


def _make_stream(spec: dict, lsl: Any, acquisition_delay: float) -> Stream:
    kind = spec.get("kind")
    if kind == "simulated":
        from bci_app.acquisition.simulated import StreamSimulated

        kw = {k: spec[k] for k in ("ch_names", "sfreq", "subject_seed", "session_seed", "snr") if k in spec}
        return StreamSimulated(acquisition_delay=acquisition_delay, **kw)
    if kind == "lsl":
        from bci_app.acquisition.lsl import StreamLSL
        from bci_app.config import LslConfig

        extra = {"marker_stream": spec["markers"]} if spec.get("markers") is not None else {}
        return StreamLSL.from_config(lsl or LslConfig(), name=spec.get("name"), stype=spec.get("type") or None,
                                     source_id=spec.get("source_id") or None, **extra)
    if kind == "brainflow":
        from bci_app.acquisition.brainflow import StreamBrainFlow

        params = {k: v for k, v in spec.get("params", {}).items() if v not in (None, "")}
        return StreamBrainFlow(spec["board"], acquisition_delay=acquisition_delay, **params)
    if kind == "file":
        from bci_app.acquisition.file import StreamFile

        return StreamFile(spec["path"], speed=spec.get("speed", 1.0), acquisition_delay=acquisition_delay)
    raise ValueError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")


def discover_lsl(timeout: float = 1.0) -> list[dict]:
    """Describe every LSL stream visible (name, type, n_chans, sfreq, host, source_id, and the
    channels' ``labels``/``types`` from its full description: ``ch1..chN`` where it has none, as
    :class:`~bci_app.acquisition.lsl.StreamLSL` names them). Blocks about ``timeout`` s per stream."""
    from bci_app.lsl_config import configure_lsl

    configure_lsl()
    import pylsl

    rows = []
    for i in pylsl.resolve_streams(wait_time=timeout):
        n = i.channel_count()
        labels: list[str] = []
        types: list[str] = []
        if i.type().lower() != "markers":  # a Markers stream has no channel description worth a round trip
            try:
                full = pylsl.StreamInlet(i).info(timeout=timeout)
                labels, types = full.get_channel_labels() or [], full.get_channel_types() or []
            except pylsl.util.TimeoutError:
                log.warning("LSL stream %r did not send its description within %g s", i.name(), timeout)
        labels = [(labels[k] if k < len(labels) and labels[k] else f"ch{k + 1}") for k in range(n)]
        types = [(types[k] if k < len(types) and types[k] else "eeg").lower() for k in range(n)]
        rows.append({"name": i.name(), "type": i.type(), "n_chans": n, "sfreq": i.nominal_srate(),
                     "host": i.hostname(), "source_id": i.source_id(), "labels": labels, "types": types})
    return rows


def discover_markers(rows: list[dict] | None = None, *, exclude: tuple[str, ...] = (), timeout: float = 1.0) -> list[dict]:
    """The LSL ``Markers`` streams among ``rows`` (default: :func:`discover_lsl` now), a stimulus
    program's cues (PsychoPy, Psychtoolbox, your own code), without those named in ``exclude`` (e.g.
    the app's own cue stream). Each row as :func:`discover_lsl` gives it."""
    rows = discover_lsl(timeout) if rows is None else rows
    return [r for r in rows if str(r.get("type", "")).lower() == "markers" and r.get("name") not in exclude]
