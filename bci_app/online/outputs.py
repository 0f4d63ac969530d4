"""Where predictions go: LSL streams other programs can read, and the session's XDF recording.

LSL (:class:`PredictionOutlet`):

- ``<name>`` — type ``Probabilities``, float32, one channel per class (``desc/channels/channel``:
  ``label`` = class name, ``type`` = ``probability``, ``unit`` = ``""``), nominal rate
  ``1 / step_s``; ``desc/classes/class`` lists the classes and ``desc/model`` names the model.
  Each sample is stamped with the timestamp of the window's last EEG sample.
- ``<name>-markers`` — type ``Markers``, one string channel: the new label (``"pred:<class>"``)
  each time the decided label changes (and at the first decision).

Recording (:class:`RecorderSink`): the same two streams written into an
:class:`~bci_app.io.xdf.XdfRecorder` as ``bci-app-predictions`` (type ``Predictions``, channels =
classes, plus ``sample_index`` of the window's last sample; ``desc/decoder_start_index``: the
source sample index the decoder started filtering at, so a replay can start at the same sample) and
``bci-app-predictions-markers``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bci_app.errors import StreamError
from bci_app.lsl_config import configure_lsl
from bci_app.online.decoder import Prediction

PREDICTION_MARKER_PREFIX = "pred:"
RECORDED_STREAM = "bci-app-predictions"


class PredictionOutlet:
    """LSL outlets for probabilities and label changes (see module doc). Call it with a Prediction."""

    def __init__(
        self, classes: Sequence[str], *, name: str = "bci-app-predictions", step_s: float = 0.0625,
        model: str = "", source_id: str | None = None,
    ) -> None:
        configure_lsl()
        import pylsl

        self.classes = tuple(classes)
        self.name = name
        sid = source_id or f"bci-app-{name}"
        info = pylsl.StreamInfo(name, "Probabilities", len(self.classes), 1.0 / step_s, "float32", sid)
        info.set_channel_labels(list(self.classes))
        info.set_channel_types(["probability"] * len(self.classes))
        info.set_channel_units([""] * len(self.classes))
        desc = info.desc()
        cls_el = desc.append_child("classes")
        for c in self.classes:
            cls_el.append_child_value("class", c)
        desc.append_child_value("model", model)
        desc.append_child_value("manufacturer", "bci-app")
        m_info = pylsl.StreamInfo(f"{name}-markers", "Markers", 1, pylsl.IRREGULAR_RATE, "string", f"{sid}-markers")
        m_info.desc().append_child_value("description", "decided label changes, 'pred:<class>'")
        try:
            self.outlet = pylsl.StreamOutlet(info)
            self.marker_outlet = pylsl.StreamOutlet(m_info)
        except (RuntimeError, OSError) as exc:
            raise StreamError(f"cannot create LSL prediction outlets {name!r}: {exc}") from exc
        self._buf = np.zeros(len(self.classes), dtype=np.float32)
        self._last_label: str | None = None
        self.n_pushed = 0

    def __call__(self, pred: Prediction) -> None:
        if self.outlet is None:
            return
        if pred.classes != self.classes:
            raise StreamError(
                f"prediction classes {pred.classes} differ from the outlet's {self.classes}; "
                "create a new PredictionOutlet for a model with other classes"
            )
        self._buf[:] = pred.probabilities
        self.outlet.push_sample(self._buf, pred.timestamp)
        self.n_pushed += 1
        if pred.label != self._last_label:
            self._last_label = pred.label
            self.marker_outlet.push_sample([PREDICTION_MARKER_PREFIX + pred.label], pred.timestamp)

    def close(self) -> None:
        self.outlet = None
        self.marker_outlet = None


class RecorderSink:
    """Write predictions into an :class:`~bci_app.io.xdf.XdfRecorder` (see module doc)."""

    def __init__(
        self, recorder, classes: Sequence[str], *, step_s: float = 0.0625, model: str = "", start_index: int = 0,
        first_index: int = 0,
    ) -> None:
        """``start_index`` and each decision's ``sample_index`` are the source's absolute indices;
        ``first_index`` is the absolute index of the recording's first sample, so the file holds
        them counted from its own first sample (what a replay of the file counts)."""
        self.recorder = recorder
        self.first_index = int(first_index)
        self.classes = tuple(classes)
        self.handle = recorder.add_stream(
            RECORDED_STREAM, "Predictions", [*self.classes, "sample_index"],
            ch_types=["probability"] * len(self.classes) + ["index"], units=[""] * (len(self.classes) + 1),
            sfreq=1.0 / step_s, channel_format="double64", source_id=RECORDED_STREAM,
            desc={"model": model, "classes": {"class": list(self.classes)},
                  "decoder_start_index": int(start_index) - self.first_index},
        )
        self.markers = recorder.add_stream(
            f"{RECORDED_STREAM}-markers", "Markers", ["label"], ch_types=["Marker"], units=[""], sfreq=0.0,
            channel_format="string", source_id=f"{RECORDED_STREAM}-markers",
        )
        self._last_label: str | None = None
        self._col = np.zeros((len(self.classes) + 1, 1))

    def __call__(self, pred: Prediction) -> None:
        if pred.classes != self.classes:
            return  # a model with other classes: the session opens a new sink
        self._col[:-1, 0] = pred.probabilities
        self._col[-1, 0] = pred.sample_index - self.first_index
        self.recorder.push(self.handle, self._col, [pred.timestamp])
        if pred.label != self._last_label:
            self._last_label = pred.label
            self.recorder.push(self.markers, [PREDICTION_MARKER_PREFIX + pred.label], [pred.timestamp])
