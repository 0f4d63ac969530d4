"""Options shared by the commands that calibrate from recordings (``calibrate``, ``evaluate``):
which base, which channels of the recordings, and what their cue markers mean."""

from __future__ import annotations

import argparse
from typing import Any


def add_recording_options(parser: argparse.ArgumentParser) -> None:
    """``--base``, ``--events``, ``--dataset`` and ``--channels``."""
    parser.add_argument("--base", default=None, metavar="MODEL",
                        help="shipped base name or path (default: model.base, or the shipped base that fits the "
                             "recording's channels best when it has fewer than 3 of model.base's)")
    parser.add_argument("--events", default=None, metavar="MAP",
                        help="which marker means which class, e.g. T1=left_hand,T2=right_hand (any recording)")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="a dataset preset (configs/datasets/NAME.yaml or a YAML path) for the cue markers")
    parser.add_argument("--channels", default=None, metavar="NAMES",
                        help="use only these channels (comma-separated 10-10 names), as if the headset had only them")


def recording_options(args: argparse.Namespace) -> tuple[list[str] | None, Any]:
    """``(channels or None, cue preset or None)`` from the parsed options."""
    from bci_app.io.recording import parse_channel_list
    from calibration.epochs import cue_preset

    channels = parse_channel_list(args.channels) if args.channels else None
    return channels, cue_preset(args.events, args.dataset)
