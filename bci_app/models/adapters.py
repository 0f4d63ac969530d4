"""LoRA adapter files, next to the model files: ``<path>.safetensors`` (A and B only) and a
``<path>.json`` sidecar with the base-model hash, targets, rank, alpha, dropout, package version and
the caller's metadata. Nothing is unpickled. (The adapters themselves: :mod:`bci_app.models.lora`.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bci_app import __version__
from bci_app.config import ResolvedLora
from bci_app.errors import ModelError
from bci_app.models.files import WEIGHTS_HASH_KEY, load_tensors, require_file_pair, write_file_pair
from bci_app.models.io import model_hash, model_paths
from bci_app.models.lora import MAX_RANK, apply_lora, lora_settings, lora_wrappers, natural_key

__all__ = ["ADAPTER_FORMAT", "save_adapter", "read_adapter_metadata", "load_adapter", "adapter_paths"]

ADAPTER_FORMAT = "bci-app-lora-adapter"
#: 2: the sidecar carries the weights' sha256 and the weights' header a digest of the sidecar
ADAPTER_FORMAT_VERSION = 2
#: the most LoRA-wrapped modules an adapter may name (ATCNet has a few dozen Linear layers)
MAX_WRAPPED_MODULES = 1024
_RESERVED_KEYS = (
    "format",
    "format_version",
    "base_model_hash",
    "target_modules",
    "wrapped_modules",
    "rank",
    "alpha",
    "dropout",
    "package_version",
)


#: an adapter is a file pair like a model: same naming rule
adapter_paths = model_paths


def save_adapter(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write the adapters of ``model`` to ``<path>.safetensors`` plus the ``<path>.json`` sidecar.

    The JSON holds ``base_model_hash``, ``target_modules``, ``wrapped_modules``, ``rank``,
    ``alpha``, ``dropout``, ``package_version`` and every key of ``metadata`` (e.g. classes,
    ch_names, sfreq, window, preprocessing state as nested lists), which must be JSON-serialisable.
    Returns the ``.safetensors`` path.
    """
    wrappers = lora_wrappers(model)
    settings = lora_settings(model)
    if not wrappers or settings is None:
        raise ModelError("save_adapter: the model has no LoRA adapters; call add_lora(model, ...) first.")
    metadata = dict(metadata or {})
    info: dict[str, Any] = {
        "format": ADAPTER_FORMAT,
        "format_version": ADAPTER_FORMAT_VERSION,
        "base_model_hash": model_hash(model),
        "target_modules": list(settings.target_modules),
        "wrapped_modules": sorted(wrappers, key=natural_key),
        "rank": settings.rank,
        "alpha": settings.alpha,
        "dropout": settings.dropout,
        "package_version": __version__,
    }
    clashes = [k for k in _RESERVED_KEYS if k in metadata and metadata[k] != info[k]]
    if clashes:
        raise ModelError(
            f"save_adapter: metadata keys {clashes} are set from the model itself and differ from its "
            "values; leave them out of metadata."
        )
    info.update({k: v for k, v in metadata.items() if k not in info})
    tensors = {}
    for name, w in wrappers.items():
        tensors[f"{name}.lora_A"] = w.lora_A.detach().cpu().contiguous()
        tensors[f"{name}.lora_B"] = w.lora_B.detach().cpu().contiguous()
    st_path, json_path = model_paths(path)
    return write_file_pair(st_path, json_path, tensors, info,
                           {"format": ADAPTER_FORMAT, "base_model_hash": info["base_model_hash"]}, "Adapter")


def read_adapter_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON sidecar of an adapter, validated (raises ModelError naming the file)."""
    st_path, json_path = model_paths(path)
    require_file_pair(st_path, json_path, "Adapter", "save_adapter", "re-run calibration")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(
            f"Adapter metadata file {json_path} is unreadable or corrupt ({exc}); restore it or re-run calibration."
        ) from exc
    missing = [k for k in _RESERVED_KEYS if not isinstance(info, dict) or k not in info]
    if missing or info.get("format") != ADAPTER_FORMAT:
        raise ModelError(
            f"{json_path} is not a bci-app LoRA adapter sidecar (missing keys {missing}, "
            f"format={info.get('format') if isinstance(info, dict) else None!r}); "
            "use a file written by save_adapter."
        )
    _check_adapter_fields(info, json_path)
    return info


def _check_adapter_fields(info: dict[str, Any], json_path: Path) -> None:
    """Bounds and types of the sidecar's fields, before anything is built from them (ModelError
    naming the file, the key and the limit)."""

    def bad(key: str, expected: str) -> ModelError:
        return ModelError(f"{json_path}: {key} must be {expected}, got {info.get(key)!r}; "
                          "the adapter metadata is corrupt, restore it or re-run calibration.")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    version = info["format_version"]
    if not is_int(version) or not 1 <= version <= ADAPTER_FORMAT_VERSION:
        raise bad("format_version", f"an integer from 1 to {ADAPTER_FORMAT_VERSION}")
    if not is_int(info["rank"]) or not 1 <= info["rank"] <= MAX_RANK:
        raise bad("rank", f"an integer from 1 to {MAX_RANK} (and at most the adapted layer's width)")
    if not is_number(info["alpha"]) or not 0 < info["alpha"] <= 1e4:
        raise bad("alpha", "a finite number in (0, 10000]")
    if not is_number(info["dropout"]) or not 0 <= info["dropout"] < 1:
        raise bad("dropout", "a number in [0, 1)")
    for key in ("target_modules", "wrapped_modules"):
        value = info[key]
        if (not isinstance(value, list) or len(value) > MAX_WRAPPED_MODULES
                or not all(isinstance(v, str) for v in value)):
            raise bad(key, f"a list of at most {MAX_WRAPPED_MODULES} module names")
    if not isinstance(info["base_model_hash"], str):
        raise bad("base_model_hash", "a 'sha256:...' string")
    if version >= 2 and not isinstance(info.get(WEIGHTS_HASH_KEY), str):
        raise bad(WEIGHTS_HASH_KEY, "the 'sha256:...' of the weights file (written by save_adapter)")
    if "base_model" in info and (not isinstance(info["base_model"], str) or not 0 < len(info["base_model"]) <= 1024):
        raise bad("base_model", "the name or path of the base model (a string of at most 1024 characters)")
    if "preprocessing" in info and not isinstance(info["preprocessing"], dict):
        raise bad("preprocessing", "a mapping (the preprocessing spec)")
    classes = info.get("classes")
    if "classes" in info and (not isinstance(classes, list) or len(classes) < 2 or len(set(map(str, classes))) != len(classes)
                                or not all(isinstance(c, str) for c in classes)):
        raise bad("classes", "a list of at least two distinct class names")


def load_adapter(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load ``<path>.safetensors`` adapters into ``model`` and return the sidecar metadata.

    Creates the LoRA wrappers (same targets, rank, alpha, dropout) when ``model`` has none. Raises
    :class:`ModelError` when the adapter belongs to another base model (hash mismatch, both hashes
    named), when names or shapes do not fit, or when either file is missing, truncated or corrupt.
    """

    st_path, json_path = model_paths(path)
    info = read_adapter_metadata(path)
    n_outputs = getattr(model, "n_outputs", None)
    if isinstance(info.get("classes"), list) and n_outputs is not None and len(info["classes"]) != n_outputs:
        raise ModelError(f"{json_path}: classes {info['classes']} do not match the model's {n_outputs} outputs; "
                         "load the base restricted to those classes or re-run calibration.")
    base_hash = model_hash(model)
    if info["base_model_hash"] != base_hash:
        raise ModelError(
            f"Adapter {st_path} was trained for base model {info['base_model_hash']}, but this base model is "
            f"{base_hash}; load the base model it was calibrated on or re-run calibration."
        )
    tensors = load_tensors(st_path, "Adapter", "re-run calibration", info)

    wrappers = lora_wrappers(model)
    if not wrappers:
        apply_lora(model, ResolvedLora(tuple(info["target_modules"]), int(info["rank"]), float(info["alpha"]),
                                       float(info["dropout"]), f"adapter file {st_path.name}"))
        wrappers = lora_wrappers(model)
    else:
        have = lora_settings(model)
        if have is None or (have.rank, have.alpha) != (int(info["rank"]), float(info["alpha"])):
            raise ModelError(
                f"Adapter {st_path} has rank={info['rank']} alpha={info['alpha']}, but the model's adapters have "
                f"rank={have and have.rank} alpha={have and have.alpha}; merge_lora or use a fresh base model."
            )
    names = sorted(wrappers, key=natural_key)
    if names != list(info["wrapped_modules"]):
        raise ModelError(
            f"Adapter {st_path} wraps {info['wrapped_modules']}, but the model's adapters are {names}; "
            "use the base model and targets the adapter was trained with."
        )
    expected = {f"{n}.{p}": getattr(wrappers[n], p) for n in names for p in ("lora_A", "lora_B")}
    if set(tensors) != set(expected):
        raise ModelError(
            f"Adapter {st_path} holds tensors {sorted(tensors)}, expected {sorted(expected)}; "
            "the file does not match its metadata, re-run calibration."
        )
    for key, param in expected.items():
        if tuple(tensors[key].shape) != tuple(param.shape):
            raise ModelError(
                f"Adapter {st_path}: {key} has shape {tuple(tensors[key].shape)}, the model expects "
                f"{tuple(param.shape)}; the adapter does not fit this model (rank or layer sizes differ)."
            )
    with torch.no_grad():
        for key, param in expected.items():
            param.copy_(tensors[key].to(dtype=param.dtype, device=param.device))
    return info
