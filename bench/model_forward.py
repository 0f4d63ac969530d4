"""ATCNet size and single-window latency (default config, 2 classes, 3 s at 160 Hz).

Prints JSON: parameter counts for 64 and 16 channels, LoRA trainable parameters at rank 8 for the
guide's three options, and the forward latency at batch 1 on one thread under
``torch.inference_mode`` (median and p95 of 200 runs after 20 warm-ups), for 64 and 16 channels.

    python bench/model_forward.py [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from bci_app.models import ATCNet, count_parameters
from bci_app.models.lora import add_lora

SFREQ, N_TIMES, N_OUTPUTS = 160.0, 480, 2
LORA_OPTIONS = {"dense": ["dense"], "msa": ["msa"], "dense+msa": ["dense", "msa"]}


def latency_ms(model: torch.nn.Module, n_chans: int, runs: int, warmup: int = 20) -> dict[str, float]:
    """Median / p95 / mean wall time (ms) of one forward pass at batch 1."""
    x = torch.randn(1, n_chans, N_TIMES)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    arr = np.asarray(times)
    return {
        "median": round(float(np.median(arr)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "mean": round(float(arr.mean()), 3),
        "runs": runs,
    }


def readme_body(saved: dict) -> str:
    """The README block ``model-sizes``: parameter counts, LoRA sizes and the plain forward pass, from a
    saved ``bench/results.json`` (``make bench``)."""
    r = saved["benchmarks"]["model_forward"]["result"]
    c, lat = r["config"], r["latency_ms_batch1"]
    lines = [f"Written by `python bench/readme_block.py --write` from `bench/results.json` (`python bench/model_forward.py`): "
             f"{c['n_outputs']} classes, {c['window_s']:g} s at {c['sfreq']:g} Hz = {c['n_times']} samples.", "",
             "| configuration | adapters | trainable parameters | % of the model |", "|---|---|---|---|"]
    for n in ("64ch", "16ch"):
        lines.append(f"| ATCNet, {n[:-2]} channels | – | {r['params'][n]:,} (all) | 100 % |")
    for key, v in r["lora_rank8_trainable"].items():
        n, targets = key.split("/")
        if n == "64ch":
            names = ", ".join(f"'{t}'" for t in targets.split("+"))
            lines.append(f"| LoRA `[{names}]`, rank 8 | {v['adapters']} | {v['trainable']:,} | {v['pct_of_model']:.2f} % |")
    lines += ["", f"One plain eager forward pass at batch 1 on {r['threads']} thread, median: "
              f"{lat['64ch']['median']:.1f} ms (64 channels), {lat['16ch']['median']:.1f} ms (16 channels); the online "
              "decoder's folded, traced path is faster (*Online decoding*)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    result: dict = {
        "config": {"sfreq": SFREQ, "n_times": N_TIMES, "n_outputs": N_OUTPUTS, "window_s": N_TIMES / SFREQ},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "params": {},
        "lora_rank8_trainable": {},
        "latency_ms_batch1": {},
    }
    for n_chans in (64, 16):
        model = ATCNet(n_chans, N_OUTPUTS, SFREQ, N_TIMES).eval()
        result["params"][f"{n_chans}ch"] = count_parameters(model)
        result["latency_ms_batch1"][f"{n_chans}ch"] = latency_ms(model, n_chans, args.runs)
    for n_chans in (64, 16):
        for label, targets in LORA_OPTIONS.items():
            model = ATCNet(n_chans, N_OUTPUTS, SFREQ, N_TIMES)
            total = count_parameters(model)
            wrapped = add_lora(model, targets, rank=8, alpha=16, dropout=0.1)
            trainable = count_parameters(model, trainable_only=True)
            result["lora_rank8_trainable"][f"{n_chans}ch/{label}"] = {
                "adapters": len(wrapped),
                "trainable": trainable,
                "pct_of_model": round(100 * trainable / total, 2),
            }
    # latency with 6 unmerged adapters (what the online decoder runs unless it merges)
    model = ATCNet(64, N_OUTPUTS, SFREQ, N_TIMES)
    add_lora(model, ["dense", "msa"], rank=8, alpha=16, dropout=0.1)
    result["latency_ms_batch1"]["64ch_lora_dense+msa_unmerged"] = latency_ms(model.eval(), 64, args.runs)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
