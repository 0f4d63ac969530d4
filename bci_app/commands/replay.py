"""``bci-app replay FILE.xdf``: run a recorded session through the identical online decoder.

The EEG stream of the recording is fed, from the sample where the live decoder started (recorded
as ``decoder_start_index`` with the predictions), through :class:`~bci_app.online.decoder.Decoder`
in chunks of one decoder step; decisions are tied to sample indices, so the same model on the same
samples makes the same decisions. ``--compare`` matches them by sample index with the predictions
logged live (stream ``bci-app-predictions``) and reports label agreement and the largest probability
difference. The adapter is ``--adapter`` or ``<stem>-adapter`` next to the recording (the demo's).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bci_app.commands._arguments import add_overwrite, guard_outputs, number
from bci_app.commands._recording_options import require_recordings

log = logging.getLogger(__name__)

NAME = "replay"
HELP = "replay a recorded session through the online decoder (--compare with the live predictions)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.xdf")
    parser.add_argument("--adapter", type=Path, help="adapter (.safetensors + .json); default <stem>-adapter")
    parser.add_argument("--speed", type=number(0, 1e6), default=0.0, metavar="X",
                        help="pace the replay at X times real time (default: as fast as possible)")
    parser.add_argument("--compare", action="store_true", help="compare with the predictions logged live")
    parser.add_argument("--config", type=Path, metavar="CFG")
    parser.add_argument("--json", type=Path, metavar="OUT")
    add_overwrite(parser)


def load_adapted(adapter: Path):
    """(DecoderModel, adapter metadata) from an adapter whose JSON names its base model."""
    from bci_app.errors import ModelError
    from bci_app.models.adapters import load_adapter, read_adapter_metadata
    from bci_app.models.pretrained import load_base_model, restrict_classes
    from bci_app.online.decoder import DecoderModel
    from bci_app.signal.preprocess import PreprocessingSpec

    from bci_app.errors import ConfigError

    info = read_adapter_metadata(adapter)
    for key in ("base_model", "classes", "preprocessing"):
        if key not in info:
            raise ModelError(f"adapter {adapter} lacks {key!r} in its metadata; it was not saved by bci-app calibration")
    try:
        model, meta = load_base_model(info["base_model"])
        model, _ = restrict_classes(model, meta, info["classes"])
    except ModelError as exc:
        raise ModelError(f"adapter {adapter}: its base model and classes do not load: {exc}") from exc
    load_adapter(model, adapter)
    model.eval()
    try:
        spec = PreprocessingSpec.from_dict(info["preprocessing"])
    except ConfigError as exc:
        raise ModelError(f"adapter {adapter}: preprocessing in its metadata is invalid: {exc}") from exc
    return DecoderModel(model, spec, tuple(info["classes"]), name=Path(adapter).name), info


def replay(path: Path, model, config, *, speed: float = 0.0, start_index: int | None = None,
           on_progress: Callable[[float, float], None] | None = None, progress_interval_s: float = 2.0):
    """Feed the recording through a Decoder; returns (predictions, recording, decoder).

    ``on_progress(done_s, total_s)`` (recording seconds) is called about every
    ``progress_interval_s`` of wall time and once at the end. Ctrl+C stops it (KeyboardInterrupt)."""
    from bci_app.io.recording import read_recording
    from bci_app.online.decoder import Decoder

    rec = read_recording(path)
    live = rec.extra_streams.get("bci-app-predictions")
    if start_index is None:
        start_index = 0  # no live predictions: decode the whole recording
        if live is not None:
            try:
                start_index = int(float(live["info"]["desc"][0]["decoder_start_index"][0]))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                log.warning("%s: the live predictions do not say where the live decoder started (%s: %s); "
                            "replaying from the first sample, so early decisions may differ from the live ones",
                            path, type(exc).__name__, exc)
    window_s = model.module.n_times / model.spec.sfreq
    if not 0 <= start_index < rec.n_times or (rec.n_times - start_index) / rec.sfreq < window_s:
        from bci_app.errors import RecordingError

        raise RecordingError(
            f"{path} is too short to decode: {(rec.n_times - min(start_index, rec.n_times)) / rec.sfreq:.2f} s from "
            f"sample {start_index} of {rec.n_times}, the model's window is {window_s:g} s")
    dec = Decoder(model, rec.sfreq, rec.ch_names, config.online, start_index=start_index,
                  source_ch_types=rec.ch_types)
    preds = []
    step = dec.step
    t0 = next_report = time.perf_counter()
    for pos in range(start_index, rec.n_times, step):
        if on_progress is not None and time.perf_counter() >= next_report:
            on_progress((pos - start_index) / rec.sfreq, (rec.n_times - start_index) / rec.sfreq)
            next_report += progress_interval_s
        end = min(pos + step, rec.n_times)
        if speed > 0:
            due = t0 + (pos - start_index) / rec.sfreq / speed
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        preds += dec.feed(rec.data[:, pos:end], rec.timestamps[pos:end])
    if on_progress is not None:
        total = (rec.n_times - start_index) / rec.sfreq
        on_progress(total, total)
    return preds, rec, dec


def compare(preds, rec) -> dict:
    """Agreement by sample index with the live predictions logged in ``rec``."""
    import numpy as np

    from bci_app.errors import RecordingError

    live = rec.extra_streams.get("bci-app-predictions")
    if live is None:
        raise RecordingError(f"{rec.path} holds no live predictions (stream 'bci-app-predictions') to compare with")
    series = np.asarray(live["time_series"], dtype=np.float64)
    live_idx = series[:, -1].astype(np.int64)
    live_prob = series[:, :-1]
    mine = {p.sample_index: p for p in preds}
    matched = [(i, k) for k, i in enumerate(live_idx) if i in mine]
    agree = sum(int(np.argmax(live_prob[k])) == mine[i].label_index for i, k in matched)
    diff = max((float(np.max(np.abs(live_prob[k] - np.array(mine[i].probabilities)))) for i, k in matched), default=0.0)
    return {
        "n_live": int(len(live_idx)), "n_replayed": len(preds), "n_matched": len(matched),
        "agreement": agree / len(matched) if matched else None, "max_probability_difference": diff,
    }


def run(args: argparse.Namespace) -> int:
    from bci_app.config import load_config
    from bci_app.online.scoring import latency_summary
    from bci_app.outputs import atomic_write_text, json_text

    import torch

    adapter = args.adapter or args.file.with_name(f"{args.file.stem}-adapter")
    guard_outputs(args, {"--json": [args.json]}, [args.file, adapter, args.config])
    config = load_config(args.config)
    torch.set_num_threads(config.online.torch_threads)
    require_recordings("FILE.xdf", [args.file])
    model, _info = load_adapted(adapter)
    t0 = time.perf_counter()

    def show(done_s: float, total_s: float) -> None:
        print(f"bci-app replay: {done_s:.0f} of {total_s:.0f} s decoded", file=sys.stderr, flush=True)

    preds, rec, dec = replay(args.file, model, config, speed=args.speed, on_progress=show)
    wall = time.perf_counter() - t0
    report = {
        "file": str(args.file), "adapter": str(adapter), "n_predictions": len(preds),
        "duration_s": round(rec.duration, 2), "wall_s": round(wall, 2),
        "speed": round(rec.duration / wall, 1) if wall > 0 else None,
        "latency_ms": latency_summary(preds), "decoder": vars(dec.counters),
    }
    if args.compare:
        report["compare"] = compare(preds, rec)
    text = json_text(report)
    if args.json:
        atomic_write_text(args.json, text)
    print(text, end="")
    if args.compare and report["compare"]["agreement"] != 1.0:
        print("bci-app replay: replayed labels differ from the live ones", file=sys.stderr)
    return 0
