"""Every file bci-app writes goes through here (a bottom room: models, io and commands use it): output
paths checked against the inputs, then
written atomically.

- :func:`check_outputs` resolves each output path and refuses one that is the same file as an
  input (or an input's sidecar: an adapter or model is a ``.safetensors`` + ``.json`` pair, a
  recording has its ``.lock``), a folder, or an existing file unless ``--overwrite``.
- :func:`atomic_write` / :func:`atomic_write_text` / :func:`atomic_write_json` write to a temporary
  name in the same folder, ``fsync``, then rename over the target: a reader sees the old file or the
  new one, never half of one; a failure removes the temporary file and leaves the old file.
- :func:`commit_pair` commits two prepared files (weights, then metadata) so that a failure leaves
  the previous pair or neither file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bci_app.errors import OutputError

#: the command-line flag that allows replacing an existing output (named in every refusal)
OVERWRITE_FLAG = "--overwrite"
#: environment variable naming the folder of ``bci-app.log`` (the CLI's and the desktop app's)
LOG_DIR_ENV = "BCI_APP_LOG_DIR"


def default_log_dir() -> Path:
    """Folder of ``bci-app.log``: ``$BCI_APP_LOG_DIR``, else ``~/.bci-app/logs`` (per user)."""
    return Path(os.environ.get(LOG_DIR_ENV) or Path.home() / ".bci-app" / "logs").expanduser()


def sidecars(path: str | Path) -> list[Path]:
    """``path`` and the files that belong with it: both halves of a ``.safetensors``/``.json`` pair
    (given either half or the stem) and a recording's ``.lock``."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    out = [p, Path(f"{stem}.safetensors"), Path(f"{stem}.json")]  # the pair rule of models.io.model_paths
    if p.suffix.lower() == ".xdf":
        out.append(Path(f"{p}.lock"))
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(outputs: Mapping[str, Iterable[str | Path]], inputs: Iterable[str | Path | None],
                  *, overwrite: bool = False) -> None:
    """Refuse unusable outputs before anything is computed or written.

    ``outputs`` maps the option that names them (e.g. ``"--json"``) to the files it will write;
    ``inputs`` are every file the command reads (None entries are skipped; each brings its sidecars).
    Raises :class:`OutputError` naming the option and the file.
    """
    guarded = [s for i in inputs if i is not None for s in sidecars(i) if s == Path(i) or s.exists()]
    seen: dict[Path, str] = {}
    for option, paths in outputs.items():
        for raw in paths:
            path = Path(raw).expanduser()
            for inp in guarded:
                if _same_file(path, inp):
                    raise OutputError(f"{option} {path} is the same file as the input {inp}; "
                                      "an output never replaces an input: choose another name")
            key = path.resolve()
            if key in seen and seen[key] != option:
                raise OutputError(f"{option} {path} is also the output of {seen[key]}; choose distinct names")
            seen[key] = option
            if path.is_dir():
                raise OutputError(f"{option} {path} is a folder, expected a file name")
            if path.exists() and not overwrite:
                raise OutputError(f"{option} {path} already exists; choose another name or pass "
                                  f"{OVERWRITE_FLAG} to replace it")
            parent = path.parent if str(path.parent) else Path(".")
            if parent.exists() and not parent.is_dir():
                raise OutputError(f"{option} {path}: {parent} is a file, not a folder")


def _temp_path(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` and ``fsync`` it; returns its path (the
    caller renames it with :func:`commit` or removes it). Creates missing parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def commit(tmp: Path, path: str | Path) -> Path:
    """Rename the temporary file ``tmp`` over ``path`` (atomic on one file system) and sync the folder."""
    path = Path(path)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (temporary file in the same folder, fsync, rename);
    an OS error (no permission, a folder of that name, disk full) is an :class:`OutputError` naming
    the file, and leaves any previous file as it was."""
    try:
        return commit(write_temp(path, data), path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}; nothing was changed") from exc


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±Inf) replaced by None, so the JSON is valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def json_text(obj: Any) -> str:
    """Strict JSON (no bare NaN/Infinity: they become null) with a trailing newline."""
    return json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n"


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (see :func:`json_text`) atomically."""
    return atomic_write_text(path, json_text(obj))


def commit_pair(first: tuple[Path, Path], last: tuple[Path, Path]) -> None:
    """Commit two prepared temporary files, ``first = (tmp, target)`` then ``last = (tmp, target)``.

    Should renaming ``last`` fail, ``first``'s target is put back as it was (or removed when it did
    not exist), so the pair on disk is the previous one or absent, never a mix. (A power cut between
    the two renames can still leave a mix; readers detect it by the hash ``last`` carries.)
    """
    (tmp_a, a), (tmp_b, b) = first, last
    backup = None
    try:
        if a.exists():
            backup = _temp_path(a)
            os.replace(a, backup)
        os.replace(tmp_a, a)
    except BaseException:
        tmp_a.unlink(missing_ok=True)
        tmp_b.unlink(missing_ok=True)
        if backup is not None and not a.exists():
            os.replace(backup, a)
        raise
    try:
        os.replace(tmp_b, b)
    except BaseException:
        tmp_b.unlink(missing_ok=True)
        if backup is not None:
            os.replace(backup, a)
        else:
            a.unlink(missing_ok=True)
        raise
    if backup is not None:
        backup.unlink(missing_ok=True)
    _fsync_dir(a.parent)
