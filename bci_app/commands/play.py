"""``bci-app play FILE``: publish a recording as an LSL EEG stream plus a ``Markers`` stream.

The EEG outlet carries voltage channels in microvolts (``--unit V`` for volts), with channel labels,
types and units in its description; markers go to ``<NAME>-markers``. Samples are published in real
time times ``--speed`` until the file ends (or forever with ``--loop``) or Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from bci_app.commands._arguments import number

NAME = "play"
HELP = "publish a recording (EDF/BDF/GDF/FIF/XDF) as an LSL EEG stream plus a Markers stream"


def _speed(text: str) -> float:
    if text.lower() in ("max", "inf"):
        return math.inf
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"speed must be a number > 0 or 'max', got {text!r}") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"speed must be > 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="recording to publish (.edf, .bdf, .gdf, .fif, .xdf)")
    parser.add_argument("--speed", type=_speed, default=1.0, help="playback speed factor (1 = real time, 'max')")
    parser.add_argument("--loop", action="store_true", help="start again at the end, forever")
    parser.add_argument("--name", default=None, help="LSL stream name (default: the file name without suffix)")
    parser.add_argument("--unit", choices=("microvolts", "V"), default="microvolts",
                        help="unit of voltage channels in the outlet (default microvolts)")
    parser.add_argument("--config", default=None, metavar="CFG", help="YAML config (lsl.scope)")
    parser.add_argument("--wait-for-consumer", type=number(0, 3600, unit="s"), default=0.0, metavar="SECONDS",
                        help="wait up to SECONDS for an inlet before playing (0: start at once)")


def run(args: argparse.Namespace) -> int:
    from bci_app.acquisition.file import StreamFile
    from bci_app.acquisition.lsl import LslPlayer
    from bci_app.errors import StreamError

    stream = StreamFile(args.file, speed=args.speed, loop=args.loop)
    player = LslPlayer(stream, args.name, eeg_unit=args.unit)
    try:
        player.open()
        info = stream.info
        print(
            f"publishing {info.n_chans} channels at {info.sfreq:g} Hz as LSL stream {player.name!r} "
            f"(markers: {player.name + '-markers'!r}), speed {args.speed:g}{', looping' if args.loop else ''}; "
            f"Ctrl-C to stop",
            flush=True,
        )
        player.start(wait_for_consumers=args.wait_for_consumer or None)
        while not player.done.wait(0.25):
            pass
        if player.error is not None:
            raise StreamError(f"publishing stopped: {player.error}") from player.error
        if player.outlet is not None and player.outlet.have_consumers():
            time.sleep(1.0)  # let inlets pull the last chunk: liblsl drops queued samples once the outlet is gone
        print(f"done: {player.n_pushed} samples and {player.n_markers_pushed} markers published", file=sys.stderr)
        return 0
    finally:
        player.stop()
        stream.disconnect()
