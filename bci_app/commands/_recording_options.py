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

    from bci_app.errors import RecordingError

    channels = parse_channel_list(args.channels) if args.channels is not None else None
    if channels == []:
        raise RecordingError(f"--channels {args.channels!r} names no channel; give comma-separated 10-10 names, "
                             "e.g. C3,Cz,C4")
    return channels, cue_preset(args.events, args.dataset)


def require_recordings(option: str, paths) -> None:
    """Every file of ``option`` (e.g. ``--test``) exists and has a supported format, checked before
    any work starts (RecordingError naming the option and the file)."""
    from pathlib import Path

    from bci_app.errors import RecordingError
    from bci_app.io.recording import check_recording_path

    for path in paths:
        try:
            check_recording_path(Path(path))
        except RecordingError as exc:
            raise RecordingError(f"{option}: {exc}") from exc
