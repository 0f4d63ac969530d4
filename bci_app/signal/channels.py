"""Channels by name: finding the model's channels in a source (:func:`match_channels`) and the
channel map of a headset (:class:`ChannelMap`). Names, types, montages and positions are the
vocabulary's (:mod:`bci_app.vocabulary`); names match after
:func:`~bci_app.vocabulary.normalize_ch_name`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bci_app.errors import CalibrationError, ConfigError
from bci_app.vocabulary import (
    channel_target_type,
    check_channel_map,
    is_model_input,
    normalize_ch_name,
    position_name,
)


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
        try:
            check_channel_map(self.entries)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    @staticmethod
    def target_type(target: str) -> str:
        """``"eeg"`` for a 10-05 position, the type for one of :data:`NON_EEG_TYPES`; else ConfigError."""
        try:
            return channel_target_type(target)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

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


__all__ = ["ChannelMap", "match_channels"]
