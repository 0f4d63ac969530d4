"""LSL pull benchmark: ``StreamLSL.acquire()`` vs pylsl's two ways to pull a chunk.

Three inlets read the same 1024 x 64 float32 chunks from one outlet in the same process, in turn,
so the ratios hold on a noisy machine. Timed: from the call to the data being a (64, 1024) numpy
array. The sides (also named in the JSON's ``sides``):

- ``stream_lsl``: ``StreamLSL.acquire()``: pulls into its preallocated array, scales to volts,
  writes the ring buffer;
- ``pylsl_list``: ``pull_chunk()`` returning Python lists, then ``np.asarray(...).T`` (the list loop);
- ``pylsl_numpy``: ``pull_chunk(dest_obj=...)`` into a preallocated (1024, 64) float32 numpy array,
  then its transposed view (pylsl's fastest pull; no unit conversion, no ring buffer).

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
    found = pylsl.resolve_byprop("name", name, timeout=5.0)[0]
    plain = pylsl.StreamInlet(found, max_buflen=60)
    plain.open_stream(timeout=5.0)
    numpy_inlet = pylsl.StreamInlet(found, max_buflen=60)
    numpy_inlet.open_stream(timeout=5.0)
    dest = np.empty((CHUNK, N_CHANS), dtype=np.float32)  # pylsl's numpy pull writes (samples, channels)
    chunk = np.random.default_rng(0).standard_normal((CHUNK, N_CHANS)).astype(np.float32)

    ours, lists, arrays = [], [], []
    for _ in range(repeats + 2):  # the first two warm up
        outlet.push_chunk(chunk)
        _wait_available(stream._inlet, CHUNK)  # noqa: SLF001 - the bench needs the inlet to wait on
        _wait_available(plain, CHUNK)
        _wait_available(numpy_inlet, CHUNK)
        t0 = time.perf_counter()
        n = stream.acquire()
        t1 = time.perf_counter()
        samples, stamps = plain.pull_chunk(timeout=0.0, max_samples=CHUNK)
        data = np.asarray(samples, dtype=np.float64).T
        t2 = time.perf_counter()
        _, np_stamps = numpy_inlet.pull_chunk(timeout=0.0, max_samples=CHUNK, dest_obj=dest)
        view = dest[: len(np_stamps)].T
        t3 = time.perf_counter()
        assert n == CHUNK and data.shape == (N_CHANS, CHUNK) and len(stamps) == CHUNK
        assert view.shape == (N_CHANS, CHUNK) and np.array_equal(view, chunk.T)
        ours.append(t1 - t0)
        lists.append(t2 - t1)
        arrays.append(t3 - t2)
    ours, lists, arrays = ours[2:], lists[2:], arrays[2:]
    stream.disconnect()
    plain.close_stream()
    numpy_inlet.close_stream()

    def _ms(times: list[float]) -> dict[str, float]:
        return {"median": 1e3 * statistics.median(times), "p95": 1e3 * float(np.percentile(times, 95))}

    result = {
        "benchmark": "lsl_pull",
        "chunk": [N_CHANS, CHUNK],
        "repeats": repeats,
        "sides": {
            "stream_lsl_ms": "StreamLSL.acquire(): preallocated pull, scaled to volts, into the ring buffer",
            "plain_pylsl_ms": "pylsl pull_chunk() list loop, then np.asarray(...).T",
            "pylsl_numpy_ms": "pylsl pull_chunk(dest_obj=preallocated float32 array), transposed view; no volts, no ring buffer",
        },
        "stream_lsl_ms": _ms(ours),
        "plain_pylsl_ms": _ms(lists),
        "pylsl_numpy_ms": _ms(arrays),
    }
    result["speedup_median"] = result["plain_pylsl_ms"]["median"] / result["stream_lsl_ms"]["median"]
    result["numpy_pull_vs_stream_lsl_median"] = result["pylsl_numpy_ms"]["median"] / result["stream_lsl_ms"]["median"]
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
