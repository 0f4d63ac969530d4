"""What the session collects while calibrating: every sample from the start (:class:`CalibrationTap`)
and the running calibration quality shown to the operator (:func:`calibration_quality`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bci_app.types import Marker, Recording

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import AppConfig
    from bci_app.signal.quality import CalibrationQuality


#: seconds of signal kept from before the calibration starts: the first trial's pre-cue baseline
#: (and the report's wavelet margin, up to 2 s before the cue) are then in the calibration data too
LEAD_S = 2.5


class CalibrationTap:
    """Collects every sample of a stream from ``lead_s`` seconds before it is created (as far as the
    stream's buffer holds them) on: the calibration data."""

    def __init__(self, stream: Stream, lead_s: float = LEAD_S) -> None:
        self.stream = stream
        buf = stream.buffer
        self.index = max(buf.n_written - int(round(lead_s * stream.info.sfreq)), buf.n_written - buf.n_available)
        self.chunks: list[np.ndarray] = []
        self.times: list[np.ndarray] = []
        self.lost = 0

    def poll(self) -> None:
        res = self.stream.read_since(self.index)
        self.lost += res.n_lost
        self.index = res.next_index
        if res.timestamps.size:
            self.chunks.append(res.data)
            self.times.append(res.timestamps)

    def recording(self, markers: list[Marker]) -> Recording:
        """The samples collected so far with ``markers``, as a :class:`Recording` (volts)."""
        info = self.stream.info
        data = np.concatenate(self.chunks, axis=1) if self.chunks else np.zeros((info.n_chans, 0))
        ts = np.concatenate(self.times) if self.times else np.zeros(0)
        return Recording(
            path=Path(f"<session:{info.name}>"), data=data, timestamps=ts, sfreq=info.sfreq,
            ch_names=info.ch_names, ch_types=info.ch_types, units=info.units, markers=tuple(markers),
        )


def calibration_quality(config: AppConfig, stream: Stream) -> CalibrationQuality:
    """The operator's running calibration check for ``config.paradigm`` on ``stream``: mu/beta ERD
    in the report's imagery window against its fixation baseline
    (:meth:`bci_app.report.erd.ErdWindows.for_paradigm`, computed by the same
    :func:`~bci_app.signal.quality.erd_percent`), and the artifact rejection training will apply
    on the base model's channels.
    Raises :class:`~bci_app.errors.CalibrationError` when the source cannot be checked."""
    from bci_app.models.pretrained import base_model_metadata
    from bci_app.report.erd import ErdWindows
    from bci_app.signal.quality import CalibrationQuality

    p = config.paradigm
    meta = base_model_metadata(config.model.base)
    windows = ErdWindows.for_paradigm(p)  # the report's windows (relative to the cue): the same ERD
    return CalibrationQuality(
        stream.info.ch_names, stream.info.sfreq, p.classes,
        imagery=(p.cue_at_s + windows.imagery[0], p.cue_at_s + windows.imagery[1]),
        baseline=(p.cue_at_s + windows.baseline[0], p.cue_at_s + windows.baseline[1]),
        min_trials_per_class=min(5, p.trials_per_class),
        artifacts=config.preprocessing,
        artifact_channels=tuple(meta["preprocessing"]["ch_names"]),
    )
