"""Shipped ATCNet base models (safetensors + JSON, trained on PhysioNet EEGMMIDB, ODC-By).

- ``default``: 64-channel EEGMMIDB montage (10-10 names), left/right hand, 160 Hz, 3 s from cue + 0.5 s.
- ``sensorimotor16`` / ``sensorimotor8``: the same recipe on 16 / 8 sensorimotor channels
  (C3, Cz, C4 and neighbours) for consumer headsets.
- ``<name>.fold{i}``: evaluation bases that never saw the subjects of leave-subjects-out fold ``i``
  (their JSON names them); benchmarks and tests use them for honest per-subject figures.

Each JSON records the exact command, seed, data file hashes and held-out accuracy per subject.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from bci_app.errors import ModelError
from bci_app.models.atcnet import select_outputs
from bci_app.models.io import MODEL_FORMAT, load_model
from bci_app.vocabulary import normalize_ch_name

PRETRAINED_DIR = Path(__file__).resolve().parent
#: fewest channels of a base a headset must have for the others to be interpolated from them
MIN_PRESENT_CHANNELS = 3

__all__ = ["PRETRAINED_DIR", "list_base_models", "load_base_model", "base_model_path", "fold_base_for",
           "base_for_classes", "base_for_channels", "restrict_classes"]


def list_base_models(include_folds: bool = False) -> list[str]:
    """Names of the shipped base models (fold bases only with ``include_folds``)."""
    names = sorted(p.stem for p in PRETRAINED_DIR.glob("*.safetensors") if p.with_suffix(".json").is_file())
    return [n for n in names if include_folds or ".fold" not in n]


def base_model_path(name_or_path: str | Path = "default") -> Path:
    """Path stem of a shipped model name, or the given path (with or without ``.safetensors``)."""
    name = str(name_or_path)
    if (PRETRAINED_DIR / f"{name}.safetensors").is_file():
        return PRETRAINED_DIR / name
    path = Path(name)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    if Path(f"{path}.safetensors").is_file():
        return path
    raise ModelError(
        f"base model {name!r} is neither a shipped model ({', '.join(list_base_models()) or 'none shipped'}) "
        "nor an existing MODEL.safetensors path; check model.base in the config or --base."
    )


def load_base_model(name_or_path: str | Path = "default") -> tuple[nn.Module, dict[str, Any]]:
    """Load a shipped base model by name, or one saved with ``save_model`` by path.

    Returns ``(model in eval mode, metadata)``; metadata holds ``classes``, ``ch_names``, ``sfreq``,
    ``n_times``, ``window``, ``preprocessing`` (a PreprocessingSpec dict) and provenance.
    """
    return load_model(base_model_path(name_or_path))


def fold_base_for(subject: str, name: str = "default") -> str:
    """Name of the shipped fold base of ``name`` that did not see ``subject`` (e.g. ``S001``)."""
    for fold in list_base_models(include_folds=True):
        if not fold.startswith(f"{name}.fold"):
            continue
        meta = json.loads((PRETRAINED_DIR / f"{fold}.json").read_text(encoding="utf-8"))["metadata"]
        if subject.upper() in meta.get("excluded_subjects", []):
            return fold
    raise ModelError(f"no shipped fold base of {name!r} excludes subject {subject}; use the full base or pretrain folds.")


def base_model_metadata(name_or_path: str | Path) -> dict[str, Any]:
    """The metadata of a base model (classes, preprocessing, window) without loading its weights."""
    path = Path(f"{base_model_path(name_or_path)}.json")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("format") != MODEL_FORMAT:
            raise ModelError(f"Model metadata file {path} is not a bci-app model sidecar (format is not "
                             f"{MODEL_FORMAT!r}); give a base model written by bci-app pretrain, not an adapter.")
        return info["metadata"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"base model metadata {path} is unreadable ({exc}); restore the file") from exc


def base_for_classes(name: str | Path, classes: Sequence[str]) -> tuple[str, str]:
    """The base that decodes ``classes``: ``name`` when its classes cover them, else the shipped base
    on the same channels with the fewest classes that covers them (e.g. ``sensorimotor16_4class``
    for a paradigm that cues ``feet``). Returns ``(base, reason)``; raises :class:`ModelError` when
    no shipped base decodes those classes on those channels."""
    meta = base_model_metadata(name)
    wanted = [str(c) for c in classes]
    if set(wanted) <= set(meta["classes"]):
        return str(name), f"base {name} decodes {', '.join(meta['classes'])}"
    candidates = []
    for other in list_base_models():
        m = base_model_metadata(other)
        if m["ch_names"] == meta["ch_names"] and set(wanted) <= set(m["classes"]):
            candidates.append((len(m["classes"]), other))
    if not candidates:
        raise ModelError(
            f"base {name} decodes {meta['classes']} and no shipped base on its channels decodes {wanted}; "
            "change paradigm.classes or pretrain a base with those classes."
        )
    chosen = sorted(candidates)[0][1]
    return chosen, (f"the paradigm cues {', '.join(wanted)}, which base {name} does not decode "
                    f"({', '.join(meta['classes'])}); using {chosen} on the same channels")


def restrict_classes(model: nn.Module, meta: dict[str, Any], classes: Sequence[str]) -> tuple[nn.Module, dict[str, Any]]:
    """``(model, meta)`` decoding only ``classes`` (heads keep those rows, in that order); unchanged
    when the classes are already the base's."""
    wanted = [str(c) for c in classes]
    if wanted == list(meta["classes"]):
        return model, meta
    missing = [c for c in wanted if c not in meta["classes"]]
    if missing:
        raise ModelError(f"the base decodes {meta['classes']}, not {missing}")
    rows = [list(meta["classes"]).index(c) for c in wanted]
    return select_outputs(model, rows), {**meta, "classes": wanted, "base_classes": list(meta["classes"])}


def base_for_channels(name: str | Path, ch_names: Sequence[str], classes: Sequence[str] | None = None) -> tuple[str, str]:
    """The base for a headset with channels ``ch_names``: ``name`` when the headset has at least 3 of
    its channels (the others are interpolated), else the shipped base (decoding ``classes``, default
    ``name``'s) with the most of its channels present, ties to the one with fewer to interpolate.
    Returns ``(base, reason)``.

    A shipped base pretrained on exactly channels the headset has (e.g. ``unicorn8`` for a Unicorn,
    ``motor3`` for C3/Cz/C4) comes before ``name`` interpolating the rest, when it has at least as
    many channels as the headset has of ``name``'s: the most channels first.

    Chosen on the development group (``bench/layouts.py``): with a Unicorn's or the synthetic board's
    channels, ``sensorimotor16`` with 12 of 16 interpolated decodes better than the 64-channel base
    with 56 or 48 interpolated; with 32 channels both are level."""
    have = {normalize_ch_name(c) for c in ch_names}
    meta = base_model_metadata(name)
    wanted = list(classes) if classes is not None else list(meta["classes"])

    def present(m: dict[str, Any]) -> int:
        return sum(normalize_ch_name(c) in have for c in m["ch_names"])

    if present(meta) == len(meta["ch_names"]):
        return str(name), f"the headset has all {len(meta['ch_names'])} channels of base {name}"
    complete = sorted((-len(m["ch_names"]), other) for other in list_base_models()
                      for m in [base_model_metadata(other)]
                      if set(wanted) <= set(m["classes"]) and present(m) == len(m["ch_names"])
                      and len(m["ch_names"]) >= max(MIN_PRESENT_CHANNELS, present(meta)))
    if complete:
        chosen, n = complete[0][1], -complete[0][0]
        return chosen, (f"the headset has {present(meta)} of the {len(meta['ch_names'])} channels of base {name}; "
                        f"using {chosen}, pretrained on exactly {n} of the headset's channels (none interpolated)")
    if present(meta) >= MIN_PRESENT_CHANNELS and set(wanted) <= set(meta["classes"]):
        n = len(meta["ch_names"])
        return str(name), (f"the headset has {present(meta)} of the {n} channels of base {name}; "
                           f"the other {n - present(meta)} are interpolated from them")
    scored = []
    for other in list_base_models():
        m = base_model_metadata(other)
        if set(wanted) <= set(m["classes"]):
            scored.append((-present(m), len(m["ch_names"]) - present(m), other, len(m["ch_names"])))
    if not scored or -min(scored)[0] < MIN_PRESENT_CHANNELS:
        raise ModelError(f"no shipped base decoding {wanted} shares 3 or more channels with the headset "
                         f"({', '.join(ch_names)}); map the channels to 10-10 names")
    neg, n_missing, chosen, n = min(scored)
    return chosen, (f"the headset has {present(meta)} of the {len(meta['ch_names'])} channels of base {name}; "
                    f"using {chosen}, which has {-neg} of its {n} channels on the headset"
                    + (f" ({n_missing} interpolated from them)" if n_missing else ""))
