"""GDF event codes (BCI Competition / OpenViBE) and the cue-relative window start, defined once.

The paradigm writes these codes, the session and the GUI read them, and the dataset preset
``configs/datasets/gdf.yaml`` maps them to classes (a test checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TRIAL_START = 768  #: fixation cross (optional beep)
CUE_CODES: dict[str, int] = {"left_hand": 769, "right_hand": 770, "feet": 771, "tongue": 772}
"""Cue code of each motor-imagery class."""
FEEDBACK_ONSET = 781  #: end of the cue display: onset of the cue-free imagery period
END_OF_TRIAL = 800  #: imagery end
REJECTED = 1023  #: a trial marked rejected (stamped with its trial start)

WINDOW_TMIN_S = 0.5
"""Seconds from the cue to the start of the model's window, when a model's metadata does not say."""


def is_cue(value: int | str | None) -> bool:
    """Whether a marker value (``"769"`` or ``769``) is a GDF cue code."""
    return value is not None and str(value) in {str(c) for c in CUE_CODES.values()}


def count_cues(values: Iterable[int | str]) -> int:
    """Number of cue codes among marker values (e.g. ``m.value for m in recording.markers``)."""
    return sum(is_cue(v) for v in values)


def window_tmin(meta: Mapping[str, Any]) -> float:
    """Seconds from the cue to the start of the model's window: ``meta["window"]["tmin_s"]`` of a
    base model's or adapter's metadata, else :data:`WINDOW_TMIN_S`."""
    return float(meta.get("window", {}).get("tmin_s", WINDOW_TMIN_S))


def window_span(meta: Mapping[str, Any]) -> tuple[float, float]:
    """``(tmin_s, length_s)`` of the model's window after the cue, from a base model's or adapter's
    metadata: ``window.length_s``, else ``n_times / sfreq``."""
    length = meta.get("window", {}).get("length_s")
    if length is None and meta.get("n_times") and meta.get("sfreq"):
        length = float(meta["n_times"]) / float(meta["sfreq"])
    if length is None:
        raise KeyError("the model's metadata gives neither window.length_s nor n_times and sfreq")
    return window_tmin(meta), float(length)
