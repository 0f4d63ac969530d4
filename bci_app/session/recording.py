"""The session's XDF file: the source's EEG and markers, the paradigm's GDF codes (stream
``bci-app-paradigm``) and the decoder's predictions (``bci-app-predictions``), plus the whole
configuration in the file header."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import AppConfig
    from bci_app.io.xdf import XdfRecorder
    from bci_app.online.decoder import Decoder
    from bci_app.online.outputs import RecorderSink

PARADIGM_STREAM = "bci-app-paradigm"


def open_recorder(path: str | Path, stream: Stream, config: AppConfig, clock: Callable[[], float], *,
                  overwrite: bool, on_error: Callable[[BaseException], None]) -> tuple[XdfRecorder, Any]:
    """Start recording ``stream`` to ``path``; returns the recorder and the handle of its paradigm
    marker stream. Raises :class:`~bci_app.errors.RecordingError` when the file cannot be written."""
    import yaml

    from bci_app.io.xdf import XdfRecorder

    rec = XdfRecorder(
        path, file_desc={"config": yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)},
        flush_interval=config.recording.flush_interval_s, clock=clock, overwrite=overwrite, on_error=on_error,
    )
    rec.record_stream(stream)
    paradigm = rec.add_stream(PARADIGM_STREAM, "Markers", ["code"], ch_types=["Marker"], units=[""], sfreq=0.0,
                              channel_format="string", source_id=PARADIGM_STREAM)
    return rec, paradigm


def record_predictions(recorder: XdfRecorder, decoder: Decoder, step_s: float) -> RecorderSink:
    """Write every decision of ``decoder`` (with its start index, for replays) into ``recorder``."""
    from bci_app.online.outputs import RecorderSink

    sink = RecorderSink(recorder, decoder.classes, step_s=step_s, model=decoder.model.name,
                        start_index=decoder.start_index, first_index=recorder.first_index(decoder.stream))
    decoder.add_output(sink)
    return sink
