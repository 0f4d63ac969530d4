"""``bci-app replay FILE.xdf``: run a recorded session through the identical online decoder.

The one replay driver (:class:`bci_app.online.replay.Replay`, also behind ``evaluate`` and the GUI's
replay) feeds the recording, from the sample where the live decoder started (recorded as
``decoder_start_index`` with the predictions), through the online decoder; decisions are tied to
sample indices, so the same model on the same samples makes the same decisions. ``--compare``
matches them by sample index with the predictions logged live (stream ``bci-app-predictions``) and
reports label agreement and the largest probability difference. The adapter is ``--adapter`` or
``<stem>-adapter`` next to the recording (the demo's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bci_app.commands._arguments import add_overwrite, guard_outputs, number, output_path
from bci_app.commands._recording_options import require_recordings

NAME = "replay"
HELP = "replay a recorded session through the online decoder (--compare with the live predictions)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.xdf")
    parser.add_argument("--adapter", type=Path, help="adapter (.safetensors + .json); default <stem>-adapter")
    parser.add_argument("--speed", type=number(0, 1e6), default=0.0, metavar="X",
                        help="pace the replay at X times real time (default: as fast as possible)")
    parser.add_argument("--compare", action="store_true", help="compare with the predictions logged live")
    parser.add_argument("--config", type=Path, metavar="CFG")
    parser.add_argument("--json", type=output_path, metavar="OUT")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from bci_app.config import load_config
    from bci_app.errors import RecordingError
    from bci_app.online.calibrate import adapted_decoder_model
    from bci_app.online.replay import Replay, compare_predictions, live_predictions
    from bci_app.online.scoring import latency_summary
    from bci_app.outputs import atomic_write_text, json_text

    adapter = args.adapter or args.file.with_name(f"{args.file.stem}-adapter")
    guard_outputs(args, {"--json": [args.json]}, [args.file, adapter, args.config])
    config = load_config(args.config)
    torch.set_num_threads(config.online.torch_threads)
    require_recordings("FILE.xdf", [args.file])
    model, _info = adapted_decoder_model(adapter)
    t0 = time.perf_counter()

    def show(done_s: float, total_s: float) -> None:
        print(f"bci-app replay: {done_s:.0f} of {total_s:.0f} s decoded", file=sys.stderr, flush=True)

    driver = Replay(args.file, model, config.online, speed=args.speed)
    preds = driver.run(show)
    driver.close()
    rec, dec = driver.recording, driver.decoder
    wall = time.perf_counter() - t0
    report = {
        "file": str(args.file), "adapter": str(adapter), "n_predictions": len(preds),
        "duration_s": round(rec.duration, 2), "wall_s": round(wall, 2),
        "speed": round(rec.duration / wall, 1) if wall > 0 else None,
        "latency_ms": latency_summary(preds), "decoder": vars(dec.counters),
        "warnings": [driver.warning] if driver.warning else [],
    }
    if args.compare:
        live = live_predictions(rec)
        if not live:
            raise RecordingError(f"{rec.path} holds no live predictions (stream 'bci-app-predictions') to compare with")
        report["compare"] = compare_predictions(preds, live)
    text = json_text(report)
    if args.json:
        atomic_write_text(args.json, text)
    print(text, end="")
    if args.compare and report["compare"]["agreement"] != 1.0:
        print("bci-app replay: replayed labels differ from the live ones", file=sys.stderr)
    return 0
