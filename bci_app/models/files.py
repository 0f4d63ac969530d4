"""Weights files come in pairs: ``NAME.safetensors`` and its ``NAME.json`` sidecar."""

from __future__ import annotations

from pathlib import Path

import torch

from bci_app.errors import ModelError


def require_file_pair(st_path: Path, json_path: Path, what: str, writer: str, remedy: str) -> None:
    """Raise :class:`ModelError` unless both the ``.safetensors`` file and its JSON sidecar exist.

    ``what`` names the kind ("Model", "Adapter"), ``writer`` the function that writes both files and
    ``remedy`` what the user should do (e.g. "re-run calibration").
    """
    if not st_path.is_file():
        raise ModelError(f"{what} weights file {st_path} not found; check the path or {remedy}.")
    if not json_path.is_file():
        raise ModelError(
            f"{what} metadata file {json_path} is missing next to {st_path}; {writer} writes both files, "
            f"copy them together or {remedy}."
        )


def load_tensors(st_path: Path, what: str, remedy: str) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file (never a pickle); a truncated or corrupt file is a :class:`ModelError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(st_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{what} weights file {st_path} is truncated or corrupt ({exc}); restore it or {remedy}.") from exc
