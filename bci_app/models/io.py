"""Base-model files: ``<path>.safetensors`` (weights) + ``<path>.json`` (architecture, metadata).

No pickle anywhere: weights go through ``safetensors``; the sidecar JSON holds the ATCNet
``hparams`` (to rebuild the architecture), the model hash, the package version and free-form
caller metadata (channels, sfreq, window, classes, preprocessing, ...).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bci_app import __version__
from bci_app.errors import ModelError
from bci_app.models.atcnet import ATCNet
from bci_app.models.files import load_tensors, require_file_pair, write_file_pair
from bci_app.models.lora import LinearWithLoRA

__all__ = ["model_hash", "base_state_dict", "save_model", "load_model", "model_paths"]

MODEL_FORMAT = "bci-app-model"
MODEL_FORMAT_VERSION = 1
_ARCHITECTURES: dict[str, type[nn.Module]] = {"ATCNet": ATCNet}


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """``(<path>.safetensors, <path>.json)``; a given ``.safetensors``/``.json`` suffix is dropped."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return Path(f"{p}.safetensors"), Path(f"{p}.json")


def base_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The base model's tensors (parameters and buffers) under their un-wrapped names.

    LoRA ``lora_A`` / ``lora_B`` are left out and ``<name>.linear.weight`` of a wrapper is reported
    as ``<name>.weight``, so the same base with or without adapters gives the same dict.
    """
    prefixes = [n for n, m in model.named_modules() if isinstance(m, LinearWithLoRA)]
    out: dict[str, torch.Tensor] = {}
    for key, tensor in model.state_dict().items():
        for prefix in prefixes:
            if key.startswith(prefix + "."):
                rest = key[len(prefix) + 1 :]
                if rest in ("lora_A", "lora_B"):
                    key = ""
                elif rest.startswith("linear."):
                    key = f"{prefix}.{rest[len('linear.'):]}"
                break
        if key:
            out[key] = tensor
    return out


def model_hash(model: nn.Module) -> str:
    """``sha256:<hex>`` over the sorted base tensor names, shapes, dtypes and bytes (LoRA ignored)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(base_state_dict(model).items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(t.shape)}|{t.dtype}\n".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


def save_model(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Save a base model as ``<path>.safetensors`` + ``<path>.json``; returns the weights path.

    ``model`` must have ``hparams`` (as :class:`ATCNet` does) and no LoRA adapters (merge them with
    ``merge_lora`` or save them apart with ``save_adapter``). ``metadata`` must be JSON-serialisable.
    """
    arch = type(model).__name__
    if arch not in _ARCHITECTURES or not isinstance(getattr(model, "hparams", None), dict):
        raise ModelError(f"save_model supports {sorted(_ARCHITECTURES)} with .hparams, got {arch}.")
    if any(isinstance(m, LinearWithLoRA) for m in model.modules()):
        raise ModelError(
            "save_model: the model has LoRA adapters; merge them first (merge_lora) or save them apart "
            "with save_adapter."
        )
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    info = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "architecture": arch,
        "hparams": model.hparams,
        "model_hash": model_hash(model),
        "package_version": __version__,
        "metadata": dict(metadata or {}),
    }
    st_path, json_path = model_paths(path)
    return write_file_pair(st_path, json_path, tensors, info, {"format": MODEL_FORMAT, "model_hash": info["model_hash"]},
                           "Model")



def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild and load a model saved by :func:`save_model`; returns ``(model in eval mode, metadata)``.

    Raises :class:`ModelError` naming the file when either file is missing, truncated or corrupt,
    or when the weights do not fit the architecture in the JSON.
    """
    st_path, json_path = model_paths(path)
    require_file_pair(st_path, json_path, "Model", "save_model", "re-run pretraining")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("format") != MODEL_FORMAT:
            raise ModelError(f"Model metadata file {json_path} is not a bci-app model sidecar (format is not "
                             f"{MODEL_FORMAT!r}); use files written by save_model or re-run pretraining.")
        cls = _ARCHITECTURES[info["architecture"]]
        hparams = dict(info["hparams"])
        expected_hash = info["model_hash"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ModelError(
            f"Model metadata file {json_path} is unreadable or not a bci-app model sidecar ({exc!r}); "
            "use files written by save_model or re-run pretraining."
        ) from exc
    try:
        model = cls(**hparams)
    except (TypeError, ValueError, OverflowError, RuntimeError, ModelError) as exc:
        raise ModelError(f"{json_path}: hparams do not fit {info['architecture']} ({exc}).") from exc
    tensors = load_tensors(st_path, "Model", "re-run pretraining", info)
    state = model.state_dict()
    if set(tensors) != set(state):
        missing, extra = sorted(set(state) - set(tensors)), sorted(set(tensors) - set(state))
        raise ModelError(f"{st_path} does not fit the architecture in {json_path}: missing {missing}, unexpected {extra}.")
    for key, tensor in sorted(tensors.items()):
        if tensor.shape != state[key].shape:
            raise ModelError(
                f"{st_path}: {key} has shape {tuple(tensor.shape)}, the architecture in {json_path} expects "
                f"{tuple(state[key].shape)}."
            )
    model.load_state_dict(tensors, strict=True)
    model.eval()
    actual = model_hash(model)
    if actual != expected_hash:
        raise ModelError(
            f"{st_path} hashes to {actual} but {json_path} records {expected_hash}; the files do not belong "
            "together or were modified. Restore them or re-run pretraining."
        )
    return model, dict(info.get("metadata", {}))
