"""Weights files come in pairs: ``NAME.safetensors`` and its ``NAME.json`` sidecar.

The pair is written by :func:`write_file_pair`: weights first, metadata last, the metadata carrying
the weights' ``sha256``, both through :mod:`bci_app.outputs` (temporary file, fsync, rename), so a
failure leaves the previous pair or nothing; :func:`load_tensors` checks that hash, so a mixed pair
(new weights beside old metadata) is refused, naming the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from bci_app.errors import ModelError
from bci_app.outputs import commit_pair, write_temp

#: sidecar key holding ``sha256:<hex>`` of the ``.safetensors`` file's bytes
WEIGHTS_HASH_KEY = "weights_sha256"
#: ``.safetensors`` header key holding the digest of the sidecar's other keys (see :func:`metadata_digest`)
METADATA_HASH_KEY = "metadata_sha256"


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


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def metadata_digest(info: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the sidecar's keys other than the weights hash, canonical JSON: stored in
    the weights' header, so an edited sidecar (e.g. swapped classes) no longer matches its weights."""
    body = {k: v for k, v in info.items() if k != WEIGHTS_HASH_KEY}
    return _sha256(json.dumps(body, sort_keys=True).encode("utf-8"))


def _header_metadata(data: bytes) -> dict[str, Any]:
    """The ``__metadata__`` of a safetensors byte string (empty when absent or unreadable)."""
    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    if not 0 < n <= len(data) - 8:
        return {}
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, ValueError):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def write_file_pair(st_path: Path, json_path: Path, tensors: dict[str, torch.Tensor], info: dict[str, Any],
                    st_metadata: dict[str, str], what: str) -> Path:
    """Write ``tensors`` to ``st_path`` and ``info`` (plus the weights' hash) to ``json_path`` as one
    commit (module doc). ``info`` must be JSON-serialisable without NaN/Inf; every tensor finite."""
    from safetensors.torch import save


    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ModelError(f"{what} {st_path}: tensors {sorted(bad)[:5]} hold NaN or Inf; nothing was written "
                         "(lower finetune.learning_rate or check the calibration data).")
    try:
        plain = json.loads(json.dumps(info, allow_nan=False))  # tuples -> lists, as a reader sees them
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{what} metadata is not JSON-serialisable ({exc}); convert arrays with .tolist() "
            "and use plain str/int/float/list/dict values."
        ) from exc
    data = save(tensors, metadata={**st_metadata, METADATA_HASH_KEY: metadata_digest(plain)})
    text = json.dumps({**plain, WEIGHTS_HASH_KEY: _sha256(data)}, indent=2, allow_nan=False) + "\n"
    try:
        tmp_st = write_temp(st_path, data)
        try:
            tmp_json = write_temp(json_path, text.encode("utf-8"))
        except BaseException:
            tmp_st.unlink(missing_ok=True)
            raise
        commit_pair((tmp_st, st_path), (tmp_json, json_path))
    except OSError as exc:
        raise ModelError(f"cannot write {what.lower()} files {st_path} + {json_path.name}: "
                         f"{exc.strerror or exc}; nothing was changed.") from exc
    return st_path


def load_tensors(st_path: Path, what: str, remedy: str, info: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file (never a pickle). A truncated or corrupt file, one whose bytes do
    not hash to the sidecar ``info``'s ``weights_sha256`` or whose header's metadata digest does not
    match ``info`` (when they carry them), or one holding NaN/Inf is a :class:`ModelError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        data = st_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{what} weights file {st_path} cannot be read ({exc.strerror or exc}); {remedy}.") from exc
    try:
        tensors = load(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{what} weights file {st_path} is truncated or corrupt ({exc}); restore it or {remedy}.") from exc
    expected_hash = None if info is None else info.get(WEIGHTS_HASH_KEY)
    sidecar = st_path.with_suffix(".json").name
    if expected_hash is not None and _sha256(data) != expected_hash:
        raise ModelError(
            f"{what} weights file {st_path} does not match its metadata {sidecar} "
            f"(sha256 {_sha256(data)[7:19]}..., the metadata records {str(expected_hash)[7:19]}...): the file was "
            f"modified or the pair is mixed; restore both files together or {remedy}."
        )
    recorded = _header_metadata(data).get(METADATA_HASH_KEY)
    if info is not None and recorded is not None and recorded != metadata_digest(info):
        raise ModelError(
            f"{what} metadata file {st_path.parent / sidecar} was edited after {st_path.name} was written (its "
            f"digest differs from the one in the weights); restore both files together or {remedy}."
        )
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ModelError(f"{what} weights file {st_path}: tensors {sorted(bad)[:5]} hold NaN or Inf; {remedy}.")
    return tensors
