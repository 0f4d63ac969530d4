"""LSL pull benchmark: ``StreamLSL.acquire()`` vs a plain pylsl ``pull_chunk`` list loop.

Both sides read the same 1024 x 64 float32 chunks from one outlet in the same process, alternating,
so the ratio holds on a noisy machine. Timed: from the call to the data being a (64, 1024) numpy
array (StreamLSL: in volts, in the ring buffer; plain: ``np.asarray`` of the returned lists).
Prints JSON. Usage: ``python bench/lsl_pull.py [--repeats 200] [--smoke]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bci_app.lsl_config import configure_lsl  # noqa: E402

N_CHANS, CHUNK = 64, 1024


def _wait_available(inlet, n: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while inlet.samples_available() < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {inlet.samples_available()} of {n} samples arrived")
        time.sleep(0.001)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few repeats, for CI")
    args = parser.parse_args(argv)
    repeats = 5 if args.smoke else args.repeats

    configure_lsl()
    import pylsl

    from bci_app.acquisition import StreamLSL

    name = f"bench-pull-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EEG", N_CHANS, 1000.0, "float32", f"{name}-sid")
    info.set_channel_labels([f"EEG{k:02d}" for k in range(N_CHANS)])
    info.set_channel_units(["microvolts"] * N_CHANS)
    outlet = pylsl.StreamOutlet(info, chunk_size=CHUNK, max_buffered=60)
    stream = StreamLSL(name, marker_stream=False, bufsize=10.0, max_chunk=CHUNK).connect()
    plain = pylsl.StreamInlet(pylsl.resolve_byprop("name", name, timeout=5.0)[0], max_buflen=60)
    plain.open_stream(timeout=5.0)
    chunk = np.random.default_rng(0).standard_normal((CHUNK, N_CHANS)).astype(np.float32)

    ours, theirs = [], []
    for _ in range(repeats + 2):  # the first two warm up
        outlet.push_chunk(chunk)
        _wait_available(stream._inlet, CHUNK)  # noqa: SLF001 - the bench needs the inlet to wait on
        _wait_available(plain, CHUNK)
        t0 = time.perf_counter()
        n = stream.acquire()
        t1 = time.perf_counter()
        samples, stamps = plain.pull_chunk(timeout=0.0, max_samples=CHUNK)
        data = np.asarray(samples, dtype=np.float64).T
        t2 = time.perf_counter()
        assert n == CHUNK and data.shape == (N_CHANS, CHUNK) and len(stamps) == CHUNK
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    ours, theirs = ours[2:], theirs[2:]
    stream.disconnect()
    plain.close_stream()
    result = {
        "benchmark": "lsl_pull",
        "chunk": [N_CHANS, CHUNK],
        "repeats": repeats,
        "stream_lsl_ms": {"median": 1e3 * statistics.median(ours), "p95": 1e3 * float(np.percentile(ours, 95))},
        "plain_pylsl_ms": {"median": 1e3 * statistics.median(theirs), "p95": 1e3 * float(np.percentile(theirs, 95))},
    }
    result["speedup_median"] = result["plain_pylsl_ms"]["median"] / result["stream_lsl_ms"]["median"]
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
