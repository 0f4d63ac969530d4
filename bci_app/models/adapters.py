"""LoRA adapter files, next to the model files: ``<path>.safetensors`` (A and B only) and a
``<path>.json`` sidecar with the base-model hash, targets, rank, alpha, dropout, package version and
the caller's metadata. Nothing is unpickled. (The adapters themselves: :mod:`bci_app.models.lora`.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bci_app.errors import ModelError
from bci_app.models.files import load_tensors, require_file_pair
from bci_app.models.io import model_hash, model_paths
from bci_app.models.lora import add_lora, lora_wrappers, natural_key

__all__ = ["ADAPTER_FORMAT", "save_adapter", "read_adapter_metadata", "load_adapter", "adapter_paths"]

ADAPTER_FORMAT = "bci-app-lora-adapter"
ADAPTER_FORMAT_VERSION = 1
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
    from safetensors.torch import save_file

    from bci_app import __version__

    wrappers = lora_wrappers(model)
    config = getattr(model, "_lora_config", None)
    if not wrappers or config is None:
        raise ModelError("save_adapter: the model has no LoRA adapters; call add_lora(model, ...) first.")
    metadata = dict(metadata or {})
    info: dict[str, Any] = {
        "format": ADAPTER_FORMAT,
        "format_version": ADAPTER_FORMAT_VERSION,
        "base_model_hash": model_hash(model),
        "target_modules": list(config["target_modules"]),
        "wrapped_modules": sorted(wrappers, key=natural_key),
        "rank": config["rank"],
        "alpha": config["alpha"],
        "dropout": config["dropout"],
        "package_version": __version__,
    }
    clashes = [k for k in _RESERVED_KEYS if k in metadata and metadata[k] != info[k]]
    if clashes:
        raise ModelError(
            f"save_adapter: metadata keys {clashes} are set from the model itself and differ from its "
            "values; leave them out of metadata."
        )
    info.update({k: v for k, v in metadata.items() if k not in info})
    try:
        text = json.dumps(info, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"save_adapter: metadata is not JSON-serialisable ({exc}); convert arrays with .tolist() "
            "and use plain str/int/float/list/dict values."
        ) from exc
    tensors = {}
    for name, w in wrappers.items():
        tensors[f"{name}.lora_A"] = w.lora_A.detach().cpu().contiguous()
        tensors[f"{name}.lora_B"] = w.lora_B.detach().cpu().contiguous()
    st_path, json_path = model_paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(st_path), metadata={"format": ADAPTER_FORMAT, "base_model_hash": info["base_model_hash"]})
    json_path.write_text(text + "\n", encoding="utf-8")
    return st_path


def read_adapter_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON sidecar of an adapter, validated (raises ModelError naming the file)."""
    st_path, json_path = model_paths(path)
    require_file_pair(st_path, json_path, "Adapter", "save_adapter", "re-run calibration")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    return info


def load_adapter(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load ``<path>.safetensors`` adapters into ``model`` and return the sidecar metadata.

    Creates the LoRA wrappers (same targets, rank, alpha, dropout) when ``model`` has none. Raises
    :class:`ModelError` when the adapter belongs to another base model (hash mismatch, both hashes
    named), when names or shapes do not fit, or when either file is missing, truncated or corrupt.
    """

    st_path, json_path = model_paths(path)
    info = read_adapter_metadata(path)
    base_hash = model_hash(model)
    if info["base_model_hash"] != base_hash:
        raise ModelError(
            f"Adapter {st_path} was trained for base model {info['base_model_hash']}, but this base model is "
            f"{base_hash}; load the base model it was calibrated on or re-run calibration."
        )
    tensors = load_tensors(st_path, "Adapter", "re-run calibration")

    wrappers = lora_wrappers(model)
    if not wrappers:
        add_lora(model, info["target_modules"], int(info["rank"]), float(info["alpha"]), float(info["dropout"]))
        wrappers = lora_wrappers(model)
    else:
        config = getattr(model, "_lora_config", {})
        if (config.get("rank"), config.get("alpha")) != (int(info["rank"]), float(info["alpha"])):
            raise ModelError(
                f"Adapter {st_path} has rank={info['rank']} alpha={info['alpha']}, but the model's adapters have "
                f"rank={config.get('rank')} alpha={config.get('alpha')}; merge_lora or use a fresh base model."
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
