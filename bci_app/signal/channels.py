"""Channel names: normalisation, matching by name, and the montages the models use.

Names are compared after :func:`normalize_ch_name` (lower case, dots and whitespace removed), so the
EEGMMIDB label ``"Fc5."`` matches ``"FC5"`` and ``"C3.."`` matches ``"c3"``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bci_app.errors import CalibrationError, ConfigError

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

MONTAGES: dict[str, tuple[str, ...]] = {
    "eegmmidb_64": EEGMMIDB_64,
    "sensorimotor_16": SENSORIMOTOR_16,
    "sensorimotor_8": SENSORIMOTOR_8,
    "unicorn_8": UNICORN_8,
    "motor_3": MOTOR_3,
}


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


def match_channels(
    available: Sequence[str],
    wanted: Sequence[str],
    *,
    error: type[Exception] = CalibrationError,
    source: str = "the data",
    types: Sequence[str] | None = None,
) -> list[int]:
    """Indices into ``available`` of each name in ``wanted`` (in ``wanted``'s order).

    ``types`` (one per available channel): only channels that may feed the model
    (:func:`is_model_input`) are candidates, so an EOG channel labelled ``Fp1`` never stands in for
    the EEG position Fp1. Raises ``error`` (default :class:`CalibrationError`; pass
    :class:`StreamError` for live sources) naming every missing channel, or when ``available`` holds
    a wanted name twice.
    """
    index: dict[str, int] = {}
    duplicates: set[str] = set()
    for i, name in enumerate(available):
        if types is not None and not is_model_input(types[i]):
            continue
        key = normalize_ch_name(name)
        if key in index:
            duplicates.add(key)
        else:
            index[key] = i
    missing = [w for w in wanted if normalize_ch_name(w) not in index]
    if missing:
        raise error(
            f"{source} lacks {len(missing)} channel(s) the model needs: {', '.join(missing)}. "
            f"Available: {', '.join(available) or 'none'}. Use a montage that includes them, "
            "or a model trained on the channels you have."
        )
    ambiguous = [w for w in wanted if normalize_ch_name(w) in duplicates]
    if ambiguous:
        raise error(
            f"{source} has several channels named {', '.join(ambiguous)} (after ignoring case, dots "
            "and spaces); rename them so each model channel matches exactly one."
        )
    return [index[normalize_ch_name(w)] for w in wanted]


@functools.cache
def _positions() -> dict[str, str]:
    """Normalised name -> spelling of every 10-05 position MNE knows (colin27 head)."""
    import mne

    montage = mne.channels.make_standard_montage("colin27_1005")
    return {normalize_ch_name(n): n for n in montage.ch_names}


def position_name(name: str) -> str | None:
    """The standard spelling of the 10-05 position ``name`` (``"fcz"`` -> ``"FCz"``), or None."""
    return _positions().get(normalize_ch_name(name))


@dataclass(frozen=True)
class ChannelMap:
    """Which electrode each source channel is: a 10-05 position, or a non-EEG type kept out of the model.

    ``entries`` are ``(source label, target)`` pairs; a target is a position (``"C3"``) or one of
    :data:`NON_EEG_TYPES`. With ``only_listed`` the channels not listed are left out of the model input
    (as if the headset had only the listed ones): live sources keep recording them as ``misc``;
    recordings read for calibration drop them. Labels match after :func:`normalize_ch_name`.
    """

    entries: tuple[tuple[str, str], ...]
    only_listed: bool = False

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        targets: dict[str, str] = {}
        for label, target in self.entries:
            key = normalize_ch_name(label)
            if not key:
                raise ConfigError("a channel map entry has an empty source label")
            if key in seen:
                raise ConfigError(f"channel map lists the source channel {label!r} twice")
            seen[key] = label
            kind = self.target_type(target)
            if kind == "eeg":
                pos = normalize_ch_name(target)
                if pos in targets:
                    raise ConfigError(
                        f"channel map puts both {targets[pos]!r} and {label!r} at {position_name(target)}; "
                        "each position can hold one channel")
                targets[pos] = label

    @staticmethod
    def target_type(target: str) -> str:
        """``"eeg"`` for a 10-05 position, the type for one of :data:`NON_EEG_TYPES`; else ConfigError."""
        t = str(target).strip()
        if t.lower() in NON_EEG_TYPES:
            return t.lower()
        if position_name(t) is None:
            raise ConfigError(
                f"{t!r} is neither a 10-05 electrode position (e.g. C3, FCz, CP4) nor one of "
                f"{', '.join(NON_EEG_TYPES)} (which keep a channel out of the model input)")
        return "eeg"

    @classmethod
    def parse(cls, text: str) -> ChannelMap:
        """The ``--channels`` argument: ``"C3,Cz,C4"`` (use only these channels) or
        ``"Ch1=C3,Ch2=Cz,Ch3=eog"`` (source label = position or type); entries may mix both forms.
        Only the listed channels feed the model."""
        entries = []
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            label, sep, target = part.partition("=")
            label, target = label.strip(), (target.strip() if sep else label.strip())
            if not label or not target:
                raise ConfigError(f"--channels entry {part!r}: expected NAME or LABEL=POSITION (e.g. Ch1=C3)")
            entries.append((label, target))
        if not entries:
            raise ConfigError("--channels names no channel; give comma-separated 10-10 names, e.g. C3,Cz,C4, "
                              "or LABEL=POSITION pairs, e.g. Ch1=C3,Ch2=C4")
        return cls(tuple(entries), only_listed=True)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str], *, only_listed: bool = False) -> ChannelMap:
        """From ``{source label: target}`` (the config's ``channels.map``, an adapter's metadata)."""
        return cls(tuple((str(k), str(v)) for k, v in mapping.items()), only_listed=only_listed)

    def as_dict(self) -> dict[str, str]:
        """``{source label: target}`` (targets in their standard spelling), for saving."""
        out = {}
        for label, target in self.entries:
            out[label] = position_name(target) if self.target_type(target) == "eeg" else target.lower()
        return out

    def apply(self, ch_names: Sequence[str], ch_types: Sequence[str], *, source: str = "the source",
              error: type[Exception] = ConfigError) -> tuple[tuple[str, ...], tuple[str, ...], list[int]]:
        """``(names, types, listed)`` after the map: mapped channels take their position's name (type
        ``eeg``) or their type; unlisted ones keep their name and type, or become ``misc`` with
        ``only_listed``. ``listed`` are the indices of the listed channels in the map's order. Raises
        ``error`` naming labels the source lacks (with the labels it has) or a position held twice."""
        index = {normalize_ch_name(n): i for i, n in enumerate(ch_names)}
        absent = [label for label, _ in self.entries if normalize_ch_name(label) not in index]
        if absent:
            raise error(f"{source} has no channel {', '.join(map(repr, absent))} named in the channel map; "
                        f"its channels are: {', '.join(ch_names)}")
        names, types = list(ch_names), [str(t).lower() for t in ch_types]
        if self.only_listed:
            types = ["misc"] * len(types)
        listed = []
        for label, target in self.entries:
            i = index[normalize_ch_name(label)]
            listed.append(i)
            kind = self.target_type(target)
            names[i], types[i] = (position_name(target), "eeg") if kind == "eeg" else (ch_names[i], kind)
        eeg = [normalize_ch_name(n) for n, t in zip(names, types) if is_model_input(t)]
        twice = sorted({n for n in eeg if eeg.count(n) > 1})
        if twice:
            raise error(f"after the channel map, {source} has several EEG channels at {', '.join(twice)}; "
                        "map the others to another position or to misc")
        return tuple(names), tuple(types), listed


__all__ = [
    "ChannelMap",
    "NON_EEG_TYPES",
    "EXCLUDED_TYPES",
    "is_model_input",
    "position_name",
    "EEGMMIDB_64",
    "SENSORIMOTOR_16",
    "SENSORIMOTOR_8",
    "MONTAGES",
    "normalize_ch_name",
    "match_channels",
]
