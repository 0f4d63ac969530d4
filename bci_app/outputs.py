"""Every file bci-app writes goes through here (a bottom room: models, io and commands use it): output
paths checked against the inputs, then
written atomically.

- :func:`check_outputs` resolves each output path and refuses one that is the same file as an
  input (or an input's sidecar: an adapter or model is a ``.safetensors`` + ``.json`` pair, a
  recording has its ``.lock``), a folder, anything that is not a regular file (a device, a FIFO, a
  socket, or a link to one), a name longer than the file system allows, or an existing file unless
  ``--overwrite``. :func:`check_output_name` refuses what cannot name a file at all (``""``, a name
  ending in ``/``, a NUL character).
- Every file is created with mode 0o666 less the user's umask (as ``open()`` would), so the files of
  a session (recordings, locks, adapters, reports) share one default permission.
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
import secrets
import stat
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


#: a temporary name keeps at most this many characters of the target's name, so it stays within
#: the file system's name limit whenever the target's name does
_TEMP_NAME_CHARS = 40
#: mode of every file bci-app creates, before the umask (what ``open(path, "w")`` uses)
FILE_MODE = 0o666


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` (or its nearest existing parent) takes."""
    for parent in (folder, *folder.parents):
        try:
            return int(os.pathconf(parent, "PC_NAME_MAX"))
        except (OSError, ValueError):
            continue
    return 255


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def refuse_special(path: str | Path, option: str = "output") -> None:
    """Raise :class:`OutputError` when ``path`` exists and is a device, a FIFO or a socket (or a link to
    one): bci-app never replaces one. (A folder is refused by the callers, and no rename replaces one.)"""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links: a link to /dev/null is a device
    except (FileNotFoundError, NotADirectoryError):
        return  # absent, a dangling link (replacing the link harms nothing), or under a file (no folder)
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot inspect it ({exc.strerror or exc})") from exc
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a folder: the rename itself fails (IsADirectoryError)
        link = " (through a symbolic link)" if path.is_symlink() else ""
        raise OutputError(f"{option} {path} is {_kind(mode)}{link}, not a regular file; bci-app only writes or "
                          "replaces regular files: choose a file name")


def check_output_name(option: str, text: str) -> str:
    """``text`` when it can name an output file; else :class:`OutputError` naming ``option``:
    empty, ending in a path separator (a folder), holding a NUL character, or a name (any part)
    longer than the file system allows."""
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    if not text.strip():
        raise OutputError(f"{option} is empty; expected a file name")
    if "\0" in text:
        raise OutputError(f"{option} {text!r} holds a NUL character; expected a file name")
    if text.endswith(seps) or os.path.basename(text) in ("", ".", ".."):
        folder = text.rstrip("".join(seps)) or os.sep
        raise OutputError(f"{option} {text!r} names a folder; expected a file name (e.g. "
                          f"{os.path.join(folder, 'result')})")
    _check_name_length(option, Path(text).expanduser())
    return text


def _check_name_length(option: str, path: Path) -> None:
    limit = _name_max(path.parent if str(path.parent) else Path("."))
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise OutputError(f"{option}: the name {part[:40]}... is {len(os.fsencode(part))} bytes long; this file "
                              f"system takes at most {limit}: choose a shorter name")


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
            check_output_name(option, str(raw))
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
            refuse_special(path, option)
            if path.exists() and not overwrite:
                raise OutputError(f"{option} {path} already exists; choose another name or pass "
                                  f"{OVERWRITE_FLAG} to replace it")
            parent = path.parent if str(path.parent) else Path(".")
            if parent.exists() and not parent.is_dir():
                raise OutputError(f"{option} {path}: {parent} is a file, not a folder")


def _temp_path(path: Path) -> Path:
    """A new empty file beside ``path`` (a short hidden name), mode :data:`FILE_MODE` less the umask."""
    for _ in range(100):
        tmp = path.parent / f".{path.name[:_TEMP_NAME_CHARS]}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")


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
        refuse_special(path)
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
        refuse_special(a)
        refuse_special(b)
        if a.exists():
            backup = _temp_path(a)
            os.replace(a, backup)
        os.replace(tmp_a, a)
    except BaseException:
        tmp_a.unlink(missing_ok=True)
        tmp_b.unlink(missing_ok=True)
        if backup is not None:
            if a.exists():
                backup.unlink(missing_ok=True)  # the move aside failed (e.g. another user's file in a sticky folder)
            else:
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
