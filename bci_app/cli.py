"""The ``bci-app`` command.

Subcommands live in :mod:`bci_app.commands`, one module each, discovered at start-up. A command
module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; it imports
heavy dependencies inside ``run`` so ``bci-app --help`` stays fast.

One handler catches what a command raises: a :class:`~bci_app.errors.BCIError` (bad input: a file,
option or setting that is wrong) prints one plain line and exits 2; anything else (a bug) prints one
line and exits 1. Either way the traceback goes to the log file (:func:`log_file_path`), named in
the message, and reaches the terminal only with ``--debug``. Usage errors exit 2 (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bci_app import __version__
from bci_app.errors import BCIError

log = logging.getLogger("bci_app")


def _command_modules():
    import bci_app.commands as commands_pkg

    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        yield importlib.import_module(f"bci_app.commands.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bci-app",
        description="Motor-imagery BCI: stream EEG, calibrate, adapt ATCNet with LoRA, decode online.",
    )
    parser.add_argument("--version", action="version", version=f"bci-app {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--debug", action="store_true", help="print tracebacks on the terminal too (they always go to the log)")
    parser.add_argument("--log-file", type=Path, default=None, metavar="PATH",
                        help="where errors and their tracebacks are logged (default: $BCI_APP_LOG_DIR/bci-app.log, "
                             "else ~/.bci-app/logs/bci-app.log)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


#: exit codes: bad input (a BCIError, or a usage error) and internal error (a bug)
EXIT_BAD_INPUT, EXIT_INTERNAL = 2, 1


def log_file_path(option: Path | None = None) -> Path:
    """``--log-file``, else ``bci-app.log`` in :func:`bci_app.outputs.default_log_dir`
    (``$BCI_APP_LOG_DIR`` or ``~/.bci-app/logs``, the desktop app's log too)."""
    from bci_app.outputs import default_log_dir

    return Path(option).expanduser() if option is not None else default_log_dir() / "bci-app.log"


class _NoTraceback(logging.Formatter):
    """Terminal log lines without tracebacks (a library's ``logger.exception`` included): those go
    to the log file only, unless ``--debug``."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def _open_log(path: Path) -> logging.Handler | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def _log_failure(path: Path, argv: Sequence[str], exc: BaseException) -> str:
    """Append the command line and the traceback to the log; returns how the message names the log."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} bci-app {' '.join(argv)}\n")
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return f"details: {path}"
    except OSError as err:
        return f"no log written: {path}: {err.strerror or err}"


def _apply_lsl_scope(args: argparse.Namespace) -> None:
    """The one place a command's process applies the LSL scope: from its ``--config`` (default: the
    packaged config), before any command code runs (see :mod:`bci_app.lsl_config`)."""
    from bci_app.config import load_config
    from bci_app.lsl_config import configure_lsl

    configure_lsl(load_config(getattr(args, "config", None)).lsl.scope)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    root = logging.getLogger()
    terminal = logging.StreamHandler(sys.stderr)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    terminal.setFormatter(logging.Formatter(fmt) if args.debug else _NoTraceback(fmt))
    log_path = log_file_path(args.log_file)
    handlers = [h for h in (terminal, _open_log(log_path)) if h is not None]
    level = logging.DEBUG if args.debug else logging.WARNING - 10 * min(args.verbose, 2)
    saved_level = root.level
    root.setLevel(level)  # as logging.basicConfig did: a logger set lower (pretrain's INFO) still reaches the terminal
    for handler in handlers:
        root.addHandler(handler)
    try:
        if getattr(args, "_run", None) is None:
            if "gui" in {m.NAME for m in _command_modules()}:
                args = parser.parse_args([*argv, "gui"])
            else:
                parser.print_help()
                return EXIT_BAD_INPUT
        _apply_lsl_scope(args)
        return int(args._run(args) or 0)
    except BCIError as exc:
        where = _log_failure(log_path, argv, exc)
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"bci-app {args.command}: error: {exc} ({where})", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"bci-app {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one top-level handler: a bug becomes one plain line
        where = _log_failure(log_path, argv, exc)
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"bci-app {args.command}: internal error ({type(exc).__name__}: {exc}); this is a bug, please "
              f"report it with the log ({where}); --debug shows the traceback", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(saved_level)


if __name__ == "__main__":
    sys.exit(main())
