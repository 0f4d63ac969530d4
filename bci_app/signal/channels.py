"""Channel names: normalisation, matching by name, and the montages the models use.

Names are compared after :func:`normalize_ch_name` (lower case, dots and whitespace removed), so the
EEGMMIDB label ``"Fc5."`` matches ``"FC5"`` and ``"C3.."`` matches ``"c3"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from bci_app.errors import CalibrationError

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

MONTAGES: dict[str, tuple[str, ...]] = {
    "eegmmidb_64": EEGMMIDB_64,
    "sensorimotor_16": SENSORIMOTOR_16,
    "sensorimotor_8": SENSORIMOTOR_8,
}


def normalize_ch_name(name: str) -> str:
    """``"C3.."`` → ``"c3"``, ``" Fc 5 "`` → ``"fc5"``: lower case, dots and whitespace removed."""
    return "".join(ch for ch in str(name) if ch != "." and not ch.isspace()).lower()


def match_channels(
    available: Sequence[str],
    wanted: Sequence[str],
    *,
    error: type[Exception] = CalibrationError,
    source: str = "the data",
) -> list[int]:
    """Indices into ``available`` of each name in ``wanted`` (in ``wanted``'s order).

    Raises ``error`` (default :class:`CalibrationError`; pass :class:`StreamError` for live
    sources) naming every missing channel, or when ``available`` holds a wanted name twice.
    """
    index: dict[str, int] = {}
    duplicates: set[str] = set()
    for i, name in enumerate(available):
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


__all__ = [
    "EEGMMIDB_64",
    "SENSORIMOTOR_16",
    "SENSORIMOTOR_8",
    "MONTAGES",
    "normalize_ch_name",
    "match_channels",
]
