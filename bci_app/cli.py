"""The ``bci-app`` command.

Subcommands live in :mod:`bci_app.commands`, one module each, discovered at start-up. A command
module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; it imports
heavy dependencies inside ``run`` so ``bci-app --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


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
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "_run", None) is None:
        if "gui" in {m.NAME for m in _command_modules()}:
            args = parser.parse_args([*argv, "gui"])
        else:
            parser.print_help()
            return 2
    try:
        _apply_lsl_scope(args)
        return int(args._run(args) or 0)
    except BCIError as exc:
        print(f"bci-app {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"bci-app {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
