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
from pathlib import Path
from typing import Any

from torch import nn

from bci_app.errors import ModelError

PRETRAINED_DIR = Path(__file__).resolve().parent

__all__ = ["PRETRAINED_DIR", "list_base_models", "load_base_model", "base_model_path", "fold_base_for"]


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
    from bci_app.models.io import load_model

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
