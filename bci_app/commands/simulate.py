"""``bci-app simulate``: publish the simulated motor-imagery headset over LSL (EEG + Markers)."""

from __future__ import annotations

import argparse
import time

from bci_app.commands._arguments import seconds, seed, sfreq

NAME = "simulate"
HELP = "publish the simulated motor-imagery headset as an LSL EEG stream plus a Markers stream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject-seed", type=seed, default=0, help="the simulated person (rhythms, ERD, patterns)")
    parser.add_argument("--session-seed", type=seed, default=0, help="noise of this session")
    parser.add_argument("--name", default="bci-app-simulated", help="LSL stream name (markers: NAME-markers)")
    parser.add_argument("--sfreq", type=sfreq, default=160.0, help="sampling rate in Hz")
    parser.add_argument("--duration", type=seconds, default=None, help="seconds to publish (default: until Ctrl-C)")
    parser.add_argument("--line-noise", type=float, choices=[0.0, 50.0, 60.0], default=50.0, help="Hz, 0 for none")
    parser.add_argument("--no-blinks", action="store_true", help="no eye blinks")
    parser.add_argument("--config", default=None, metavar="CFG", help="YAML config (lsl.scope)")
    parser.add_argument("--cues", action="store_true",
                        help="let the simulated user imagine left/right hand alternately (4 s every 8 s), "
                             "with ground-truth markers sim:<label>")


def run(args: argparse.Namespace) -> int:
    from bci_app.acquisition.lsl import LslPlayer
    from bci_app.acquisition.simulated import StreamSimulated
    from bci_app.errors import StreamError

    if args.duration is not None and args.duration <= 0:
        raise StreamError(f"--duration must be > 0 s, got {args.duration}")
    sim = StreamSimulated(
        subject_seed=args.subject_seed, session_seed=args.session_seed, sfreq=args.sfreq, name=args.name,
        blinks=not args.no_blinks, line_noise_hz=args.line_noise or None,
    )
    player = LslPlayer(sim, args.name, source_id=f"bci-app-sim-{args.name}")
    try:
        player.start()
        info = sim.info
        print(f"publishing {info.name} ({info.n_chans} ch, {info.sfreq:g} Hz, microvolts) "
              f"and {info.name}-markers over LSL; Ctrl-C stops", flush=True)
        start = sim.now()
        next_cue, k = start + 2.0, 0
        try:
            while args.duration is None or sim.now() - start < args.duration:
                if args.cues and sim.now() >= next_cue - 0.5:
                    sim.imagine(("left_hand", "right_hand")[k % 2], next_cue, 4.0)
                    next_cue, k = next_cue + 8.0, k + 1
                if player.error is not None:
                    raise StreamError(f"publishing stopped: {player.error}") from player.error
                time.sleep(0.05)
        except KeyboardInterrupt:
            print("stopping", flush=True)
    finally:
        player.stop()
        sim.disconnect()
    print(f"published {player.n_pushed} samples and {player.n_markers_pushed} markers", flush=True)
    return 0
