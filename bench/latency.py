"""Online decoder latency: buffer arrival of a window's last sample → prediction published.

The default model architecture (ATCNet, 2 classes, 3 s at 160 Hz) at 64 and 16 channels, with LoRA
adapters on ``dense`` + ``msa`` (merged for inference) and an alignment matrix, on one torch thread.
A simulated headset on a manual clock delivers one decoder step (62.5 ms) per ``acquire()``; the
decoder filters the new samples, runs the model and publishes to a real LSL outlet. Uses the shipped
base model when present (``--base``), else a freshly initialised one of the same shape.

    python bench/latency.py [--steps 2000] [--eager]

Prints JSON: p50, p95, p99, max (ms) and steps, per channel count.
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch


class _Clock:
    """A manual clock (bench/ holds a calibration.py that shadows the calibration package)."""

    def __init__(self, t: float) -> None:
        self.now = t

    def __call__(self) -> float:
        return self.now

    def advance(self, dt: float) -> None:
        self.now += dt


def measure(ch_names, steps: int, fast: bool, base: str | None) -> dict:
    from bci_app.acquisition import StreamSimulated
    from bci_app.config import OnlineConfig
    from bci_app.models import ATCNet
    from bci_app.models.lora import add_lora
    from bci_app.online import Decoder, DecoderModel, PredictionOutlet
    from bci_app.signal.preprocess import PreprocessingSpec

    model = None
    if base:
        from bci_app.models.pretrained import load_base_model

        model, meta = load_base_model(base)
        if model.n_chans != len(ch_names):
            model = None
    if model is None:
        torch.manual_seed(0)
        model = ATCNet(len(ch_names), 2, 160.0, 480)
    add_lora(model, ["dense", "msa"], 8, 16.0, 0.0)
    model.eval()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((len(ch_names), len(ch_names))) * 0.05
    spec = PreprocessingSpec(tuple(ch_names), 160.0).with_alignment(np.eye(len(ch_names)) + a @ a.T)
    dm = DecoderModel(model, spec, ("left_hand", "right_hand"), name="bench")
    clock = _Clock(1000.0)
    stream = StreamSimulated(ch_names=ch_names, sfreq=160.0, clock=clock).connect()
    config = OnlineConfig(fast=fast)
    dec = Decoder.for_stream(stream, dm, config)
    outlet = PredictionOutlet(dm.classes, name=f"bench-latency-{len(ch_names)}")
    dec.add_output(outlet)
    lat = []
    warm = 60
    for _ in range(warm + steps):
        clock.advance(dec.step / 160.0)
        stream.acquire()
        lat += [p.latency_s for p in dec.poll()]
    stream.disconnect()
    outlet.close()
    x = np.array(lat[warm:]) * 1e3
    return {"p50": round(float(np.percentile(x, 50)), 3), "p95": round(float(np.percentile(x, 95)), 3),
            "p99": round(float(np.percentile(x, 99)), 3), "max": round(float(x.max()), 3), "steps": int(x.size)}


def readme_body(saved: dict) -> str:
    """The README block ``latency``: decision latency per path, from a saved ``bench/results.json``."""
    r = saved["benchmarks"]["latency"]["result"]
    lines = [f"Written by `python bench/readme_block.py --write` from `bench/results.json` "
             f"(`python bench/latency.py --eager`, {r['threads']} torch thread, base `{r['base']}`).", "",
             "| | p50 | p95 | p99 | max |", "|---|---|---|---|---|"]
    for key in ("64ch", "16ch", "64ch_eager", "16ch_eager"):
        if key in r:
            v = r[key]
            path = "plain eager model" if key.endswith("_eager") else "fast path"
            lines.append(f"| {key[:2]} channels, {path} | {v['p50']:.2f} ms | {v['p95']:.2f} ms | "
                         f"{v['p99']:.2f} ms | {v['max']:.1f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eager", action="store_true", help="also measure the eager (unfolded) path")
    parser.add_argument("--base", default="default", help="shipped base model name or path ('' for none)")
    args = parser.parse_args()
    from bci_app.lsl_config import configure_lsl

    configure_lsl("machine")
    torch.set_num_threads(1)
    from bci_app.models.pretrained import list_base_models
    from bci_app.vocabulary import EEGMMIDB_64, SENSORIMOTOR_16

    base = args.base if args.base and (args.base not in ("default",) or "default" in list_base_models()) else None
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.machine(),
           "base": base or "fresh ATCNet", "step_ms": 62.5,
           "model": "ATCNet 2 classes, 480 samples @ 160 Hz, LoRA dense+msa merged"}
    for label, chans in (("64ch", EEGMMIDB_64), ("16ch", SENSORIMOTOR_16)):
        out[label] = measure(chans, args.steps, True, base)
        if args.eager:
            out[f"{label}_eager"] = measure(chans, max(200, args.steps // 5), False, base)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
