"""One vocabulary for the whole app, defined once at the bottom of the house: class names, GDF
marker and cue codes, the cue-relative window start, EEGMMIDB's run table, the montages the models
use, channel names and types, and 10-05 electrode positions.

The paradigm writes the GDF codes, the session and the GUI read them, and the dataset preset
``configs/datasets/gdf.yaml`` (read by :mod:`bci_app.io.dataset_presets`) maps them to classes (a
test checks that the two agree). Channel names are compared after :func:`normalize_ch_name` (lower
case, dots and whitespace removed), so the EEGMMIDB label ``"Fc5."`` matches ``"FC5"``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

# -- classes and GDF codes (GDF / BCI Competition / OpenViBE) -------------------------------------
ClassName = Literal["left_hand", "right_hand", "both_hands", "feet", "tongue"]
#: every motor-imagery class the app knows, in the order of the GDF cue codes
CLASSES: tuple[str, ...] = ("left_hand", "right_hand", "feet", "tongue", "both_hands")

TRIAL_START = 768  #: fixation cross (optional beep)
CUE_CODES: dict[str, int] = {"left_hand": 769, "right_hand": 770, "feet": 771, "tongue": 772, "both_hands": 773}
"""Cue code of each class: GDF's class-cue block 0x0301-0x030C; left hand, right hand, foot and tongue
are classes 1-4 (769-772), both hands (EEGMMIDB's "both fists") takes class 5 (0x0305 = 773)."""
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


# -- datasets --------------------------------------------------------------------------------------


#: PhysioNet EEGMMIDB's imagery runs: left/right hand (4, 8, 12) and both hands/feet (6, 10, 14); which
#: marker means which class is the ``eegmmidb`` dataset preset's (a test checks the two agree)
EEGMMIDB_LR_RUNS: tuple[int, ...] = (4, 8, 12)
EEGMMIDB_IMAGERY_RUNS: tuple[int, ...] = (4, 6, 8, 10, 12, 14)
#: EEGMMIDB's four classes in the order of the pretrained heads (the shipped 2-class bases keep the first two)
EEGMMIDB_CLASSES: tuple[str, ...] = ("left_hand", "right_hand", "both_hands", "feet")

# -- montages --------------------------------------------------------------------------------------
#: The 64 EEGMMIDB channels in file order, spelled as standard 10-10 names.
EEGMMIDB_64: tuple[str, ...] = (
    "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6",
    "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6",
    "Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz", "AF4", "AF8",
    "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8",
    "FT7", "FT8", "T7", "T8", "T9", "T10", "TP7", "TP8",
    "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8",
    "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2", "Iz",
)
#: 16 sensorimotor channels around C3/Cz/C4 (all present in EEGMMIDB).
SENSORIMOTOR_16: tuple[str, ...] = (
    "FC3", "FCz", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP3", "CP1", "CPz", "CP2", "CP4", "Pz",
)
#: 8 sensorimotor channels (consumer headsets): C3, Cz, C4 and close neighbours.
SENSORIMOTOR_8: tuple[str, ...] = ("FC3", "FC4", "C3", "C1", "Cz", "C2", "C4", "CPz")
#: the g.tec Unicorn's 8 electrodes (a common consumer cap), all present in EEGMMIDB.
UNICORN_8: tuple[str, ...] = ("Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8")
#: the minimal motor-imagery montage: C3, Cz, C4.
MOTOR_3: tuple[str, ...] = ("C3", "Cz", "C4")
#: The montages by their one key, the one ``bci-app pretrain --montage`` takes, the simulated headset
#: offers and the shipped bases are named by (``sensorimotor16.safetensors`` is pretrained on
#: ``MONTAGES["sensorimotor16"]``; the 64-channel base is ``default``).
MONTAGES: dict[str, tuple[str, ...]] = {
    "eegmmidb64": EEGMMIDB_64,
    "sensorimotor16": SENSORIMOTOR_16,
    "sensorimotor8": SENSORIMOTOR_8,
    "unicorn8": UNICORN_8,
    "motor3": MOTOR_3,
}

# -- channel names and types -----------------------------------------------------------------------


def normalize_ch_name(name: str) -> str:
    """``"C3.."`` → ``"c3"``, ``" Fc 5 "`` → ``"fc5"``: lower case, dots and whitespace removed."""
    return "".join(ch for ch in str(name) if ch != "." and not ch.isspace()).lower()


#: Channel types that never feed the model (a channel map can give a source channel one of these).
NON_EEG_TYPES: tuple[str, ...] = ("eog", "emg", "ecg", "aux", "accel", "misc")
#: Types that keep a channel out of the model input (the above, plus what files and LSL streams use).
EXCLUDED_TYPES: frozenset[str] = frozenset(
    (*NON_EEG_TYPES, "stim", "resp", "bio", "gsr", "eda", "ppg", "gyro", "marker", "trigger", "temperature")
)


def is_model_input(ch_type: str | None) -> bool:
    """Whether a channel of type ``ch_type`` may feed the model (anything but :data:`EXCLUDED_TYPES`)."""
    return str(ch_type or "eeg").strip().lower() not in EXCLUDED_TYPES


# -- electrode positions ---------------------------------------------------------------------------
#: MNE's 10-05 positions on the colin27 head (formerly ``standard_1005``): the one table of positions
POSITIONS_MONTAGE = "colin27_1005"


@functools.cache
def electrode_positions() -> dict[str, tuple[str, np.ndarray]]:
    """``{normalised name: (standard spelling, position (3,) in metres)}`` of every 10-05 position."""
    import mne
    import numpy as np

    ch_pos = mne.channels.make_standard_montage(POSITIONS_MONTAGE).get_positions()["ch_pos"]
    return {normalize_ch_name(n): (n, np.asarray(p, dtype=float)) for n, p in ch_pos.items()}


def position_name(name: str) -> str | None:
    """The standard spelling of the 10-05 position ``name`` (``"fcz"`` -> ``"FCz"``), or None."""
    found = electrode_positions().get(normalize_ch_name(name))
    return found[0] if found is not None else None


def channel_target_type(target: str) -> str:
    """What a channel map may assign: ``"eeg"`` for a 10-05 position, the type for one of
    :data:`NON_EEG_TYPES`; else ``ValueError`` saying what is allowed."""
    t = str(target).strip()
    if t.lower() in NON_EEG_TYPES:
        return t.lower()
    if position_name(t) is None:
        raise ValueError(
            f"{t!r} is neither a 10-05 electrode position (e.g. C3, FCz, CP4) nor one of "
            f"{', '.join(NON_EEG_TYPES)} (which keep a channel out of the model input)")
    return "eeg"


def check_channel_map(entries: Iterable[tuple[str, str]]) -> None:
    """``(source label, target)`` pairs of a channel map: every label non-empty and given once, every
    target a position or a non-EEG type, and no position held twice; else ``ValueError`` naming it."""
    seen: set[str] = set()
    held: dict[str, str] = {}
    for label, target in entries:
        key = normalize_ch_name(label)
        if not key:
            raise ValueError("a channel map entry has an empty source label")
        if key in seen:
            raise ValueError(f"channel map lists the source channel {label!r} twice")
        seen.add(key)
        if channel_target_type(target) == "eeg":
            pos = normalize_ch_name(target)
            if pos in held:
                raise ValueError(f"channel map puts both {held[pos]!r} and {label!r} at {position_name(target)}; "
                                 "each position can hold one channel")
            held[pos] = label


__all__ = [
    "CLASSES", "CUE_CODES", "ClassName", "EEGMMIDB_64", "EEGMMIDB_CLASSES",
    "EEGMMIDB_IMAGERY_RUNS", "EEGMMIDB_LR_RUNS", "END_OF_TRIAL", "EXCLUDED_TYPES",
    "FEEDBACK_ONSET", "MONTAGES", "MOTOR_3", "UNICORN_8", "NON_EEG_TYPES", "POSITIONS_MONTAGE", "REJECTED", "SENSORIMOTOR_16",
    "SENSORIMOTOR_8", "TRIAL_START", "WINDOW_TMIN_S", "channel_target_type", "check_channel_map",
    "count_cues", "electrode_positions", "is_cue", "is_model_input", "normalize_ch_name", "position_name",
    "window_span", "window_tmin",
]
