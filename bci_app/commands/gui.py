"""``bci-app gui`` (and ``bci-app`` alone): the desktop app."""

from __future__ import annotations

import argparse

NAME = "gui"
HELP = "open the desktop app (the default when no command is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (default: the built-in defaults)")
    parser.add_argument("--log-dir", dest="log_dir", help="folder for bci-app.log (default ~/.bci-app/logs)")


def run(args: argparse.Namespace) -> int:
    try:
        from bci_app.gui.app import run_gui
    except ImportError as exc:
        from bci_app.errors import BCIError

        raise BCIError(
            f"the desktop app needs the GUI extra ({exc.name} is missing): pip install 'bci-app[gui]'"
        ) from exc
    return run_gui(args)
