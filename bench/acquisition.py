"""Acquisition benchmark: a 64-channel x 2000 Hz float32 LSL stream through StreamLSL (acquisition
thread) into the ring buffer and, when available, the XDF recorder. Prints JSON.

The producer runs in a subprocess (so the CPU figure is the consuming side's alone): it pushes
chunks every ``--chunk-ms`` with channel 0 holding the sample index and the chunk's push time as the
last sample's timestamp. The consumer measures

- samples lost: produced minus distinct indices received (and duplicates / order errors), plus
  what the recorder's buffer cursor lost and how many samples the XDF file holds;
- CPU: ``time.process_time()`` of the consumer process (all its threads, liblsl's included) over
  wall time, in % of one core;
- pull latency: ``local_clock()`` when a chunk lands in the buffer minus its last sample's timestamp;
- with ``--decode BASE``: the online decoder runs too (the shipped base, unadapted, on its channels
  picked from the cap: the EEG channels are labelled with 10-05 positions), on its own thread as in a
  session; decisions made and their latency (sample arrival to decision).

CPU is also split by thread (``/proc``: the acquisition thread, the XDF writer, the decoder, liblsl's
own threads), and so is the time each thread was ready to run but waited for a core (Linux
``schedstat``: the other programs' share of a loaded machine, which no code of ours removes); the
machine's load average is recorded (above its core count every figure here is pessimistic).

Pull latency is a sample's age when the acquisition thread has it: ``local_clock()`` after the pull
minus the timestamp of the pull's last sample. The producer stamps a chunk's last sample with the
push time and liblsl dates the others back at the nominal rate, so a pull that ends inside a chunk
(the rest still on its way) counts the producer's own buffering too; the acquisition thread lets a
chunk arrive whole before pulling it. Past the 10-05 names (345) channels are numbered ``E<k>`` as on dense nets; a recording
above 2 GiB is read back chunk by chunk instead of with pyxdf.

Usage: ``python bench/acquisition.py [--duration 60] [--channels 64] [--sfreq 2000] [--no-record] [--decode BASE]``
Goals: 0 samples lost, CPU < 10 % of one core (64 ch); 256 ch x 2048 Hz with the decoder: < 20 % and
decision p99 <= 5 ms; 1024 ch x 4096 Hz: < 15 % and pull p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bci_app.lsl_config import configure_lsl  # noqa: E402


def produce(name: str, n_chans: int, sfreq: float, duration: float, chunk_ms: float) -> None:
    """Producer side (subprocess): push ``duration`` s of data in real time, then report."""
    configure_lsl()
    import pylsl

    info = pylsl.StreamInfo(name, "EEG", n_chans, sfreq, "float32", f"{name}-sid")
    import mne

    positions = mne.channels.make_standard_montage("colin27_1005").ch_names  # 10-05 names, as a real cap
    sensorimotor = ["FC3", "FCz", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP3", "CP1", "CPz", "CP2", "CP4", "Pz"]
    labels = (sensorimotor + [p for p in positions if p not in sensorimotor])[: n_chans - 1]
    labels += [f"E{k}" for k in range(len(labels) + 1, n_chans)]  # beyond the 10-05 names: numbered, as dense nets
    info.set_channel_labels(["index"] + labels)
    info.set_channel_types(["misc"] + ["EEG"] * (n_chans - 1))
    info.set_channel_units([""] + ["microvolts"] * (n_chans - 1))
    outlet = pylsl.StreamOutlet(info)
    if not outlet.wait_for_consumers(30.0):
        print(json.dumps({"error": "no consumer within 30 s"}), flush=True)
        return
    time.sleep(1.0)  # let the consumer finish connecting (clock sync) before the clock starts
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal((int(sfreq), n_chans)) * 20.0).astype(np.float32)
    total = int(round(duration * sfreq))
    sent, start = 0, time.monotonic()
    cpu0 = time.process_time()
    while sent < total:
        due = min(total, int((time.monotonic() - start) * sfreq))
        if due > sent:
            chunk = noise[np.arange(sent, due) % len(noise)]
            chunk[:, 0] = np.arange(sent, due)
            outlet.push_chunk(chunk, pylsl.local_clock())
            sent = due
        time.sleep(chunk_ms / 1000.0)
    producer_cpu = time.process_time() - cpu0
    time.sleep(1.5)  # let the consumer pull the tail before the outlet closes
    print(json.dumps({"produced": sent, "producer_cpu_s": producer_cpu}), flush=True)


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) of each thread of this process so far, by name: the Python
    thread's name where the thread is one, else the OS name (liblsl's own threads); Linux only
    (``/proc``), empty elsewhere."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return {}
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in tasks.iterdir():
        try:
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (task / "comm").read_text().strip()
        except OSError:  # the thread ended while we read
            continue
        name = names.get(int(task.name), f"native:{comm}")
        out[name] = out.get(name, 0.0) + (int(stat[11]) + int(stat[12])) / tick
    return out


def thread_wait_s() -> dict[str, tuple[float, int]]:
    """Per thread of this process, by name as :func:`thread_cpu_s`: (seconds spent ready to run but
    waiting for a core, times it was scheduled) so far; Linux with schedstats only, empty elsewhere."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return {}
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, tuple[float, int]] = {}
    for task in tasks.iterdir():
        try:
            _, waited_ns, slices = (task / "schedstat").read_text().split()[:3]
            comm = (task / "comm").read_text().strip()
        except (OSError, ValueError):  # the thread ended while we read, or no schedstats
            continue
        name = names.get(int(task.name), f"native:{comm}")
        w, n = out.get(name, (0.0, 0))
        out[name] = (w + int(waited_ns) / 1e9, n + int(slices))
    return out


def consume(args: argparse.Namespace) -> dict:
    configure_lsl()
    from bci_app.acquisition.lsl import StreamLSL

    latencies: list[float] = []

    class TimedStreamLSL(StreamLSL):
        def _pull(self):
            data, timestamps, markers = super()._pull()
            if timestamps.size:
                latencies.append(self.now() - float(timestamps[-1]))
            return data, timestamps, markers

    name = f"bciapp-bench-{uuid.uuid4().hex[:8]}"
    producer = subprocess.Popen(
        [sys.executable, __file__, "--producer", name, "--duration", str(args.duration), "--channels",
         str(args.channels), "--sfreq", str(args.sfreq), "--chunk-ms", str(args.chunk_ms)],
        stdout=subprocess.PIPE, text=True,
    )
    stream = TimedStreamLSL(name, resolve_timeout=30.0, bufsize=args.bufsize,
                            acquisition_delay=args.acquisition_delay, marker_stream=False)
    recorder = tap = None
    tmpdir = tempfile.TemporaryDirectory()
    record = not args.no_record
    if record:
        try:
            from bci_app.io.xdf import XdfRecorder
        except ImportError:
            record = False
    stream.connect()
    decoder = runner = None
    decisions: list[float] = []
    if args.decode:
        decoder, runner = _start_decoder(stream, args.decode, decisions)
    if record:
        recorder = XdfRecorder(Path(tmpdir.name) / "bench.xdf", flush_interval=0.5)
        tap = recorder.record_stream(stream)
    index, received, duplicates_or_disorder, reader_lost = 0, 0, 0, 0
    expected_next = 0
    missing = 0
    wall0, cpu0, threads0, waits0 = time.monotonic(), time.process_time(), thread_cpu_s(), thread_wait_s()
    load0 = os.getloadavg()[0]
    try:
        while producer.poll() is None:
            time.sleep(0.1)  # a decoder-like reader polling at 10 Hz
            res = stream.read_since(index)
            reader_lost += res.n_lost
            index = res.next_index
            idx = res.data[0]
            if idx.size:
                received += idx.size
                gaps = np.diff(np.concatenate([[expected_next - 1], idx]))
                missing += int(np.sum(gaps[gaps > 1] - 1))
                duplicates_or_disorder += int(np.sum(gaps < 1))
                expected_next = int(idx[-1]) + 1
        wall, cpu, threads1 = time.monotonic() - wall0, time.process_time() - cpu0, thread_cpu_s()
        waits1 = thread_wait_s()
        if runner is not None:
            runner.stop()
        time.sleep(0.2)
        res = stream.read_since(index)
        received += res.data.shape[1]
        if res.data.shape[1]:
            expected_next = int(res.data[0, -1]) + 1
    finally:
        out = producer.stdout.read() if producer.stdout else ""
        producer.wait(timeout=10)
        if recorder is not None:
            recorder.close()
        stream.disconnect()
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": "producer printed nothing"}
    produced = int(report.get("produced", 0))
    lat = np.array(latencies) * 1000.0
    result = {
        "channels": args.channels,
        "sfreq": args.sfreq,
        "duration_s": args.duration,
        "acquisition_delay_s": args.acquisition_delay,
        "produced": produced,
        "received": received,
        "samples_lost": produced - received + duplicates_or_disorder,
        "missing_in_sequence": missing + max(0, produced - expected_next),
        "duplicates_or_disorder": duplicates_or_disorder,
        "reader_lost_to_overrun": reader_lost,
        "stream_counters": vars(stream.counters),
        "cpu_consumer_percent_of_one_core": round(100.0 * cpu / wall, 2),
        "cpu_by_thread_percent_of_one_core": {
            name: round(100.0 * (t - threads0.get(name, 0.0)) / wall, 2)
            for name, t in sorted(threads1.items(), key=lambda kv: -(kv[1] - threads0.get(kv[0], 0.0)))
            if t - threads0.get(name, 0.0) > 0},
        # time each thread was ready but waited for a core (ms per second of the run; mean per wake-up)
        "waiting_for_a_core_by_thread": {
            name: {"ms_per_s": round(1000.0 * (w - waits0.get(name, (0.0, 0))[0]) / wall, 2),
                   "mean_per_wakeup_ms": round(1000.0 * (w - waits0.get(name, (0.0, 0))[0])
                                               / max(1, n - waits0.get(name, (0.0, 0))[1]), 3)}
            for name, (w, n) in sorted(waits1.items(), key=lambda kv: -(kv[1][0] - waits0.get(kv[0], (0.0, 0))[0]))
            if w - waits0.get(name, (0.0, 0))[0] > 0},
        "cpu_producer_s": report.get("producer_cpu_s"),
        # runnable processes on the machine (1-minute mean) at the start and end: above the core
        # count, every thread here waited for a core now and then (latencies and CPU are pessimistic)
        "machine_load_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "pull_latency_ms": {
            "median": round(float(np.median(lat)), 2) if lat.size else None,
            "p99": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
            "max": round(float(lat.max()), 2) if lat.size else None,
            "n_pulls": int(lat.size),
        },
        "recorder": None,
        "decoder": None if decoder is None else {
            "base": args.decode, "model_channels": len(decoder._pre.picks),  # noqa: SLF001
            "decisions": len(decisions), "decisions_per_s": round(len(decisions) / wall, 2),
            "latency_ms_p50": round(float(np.median(decisions)) * 1e3, 2) if decisions else None,
            "latency_ms_p99": round(float(np.percentile(decisions, 99)) * 1e3, 2) if decisions else None,
            "error": None if runner.error is None else str(runner.error),
        },
        "goals": goals_for(args.channels, bool(args.decode)),
    }
    if recorder is not None and tap is not None:
        size = recorder.path.stat().st_size
        if size <= PYXDF_MAX_BYTES:  # read back by another program's reader
            import pyxdf

            streams, _ = pyxdf.load_xdf(str(recorder.path), dejitter_timestamps=False)
            eeg = [s for s in streams if s["info"]["type"][0] == "EEG"][0]
            in_file, reader = np.asarray(eeg["time_series"])[:, 0], "pyxdf"
        else:  # pyxdf holds the whole file in memory, twice
            in_file, reader = xdf_first_channel(recorder.path, "EEG", args.channels), "chunk walk"
        result["recorder"] = {
            "read_back_with": reader,
            "samples_in_file": int(in_file.size),
            "file_index_contiguous": bool(in_file.size and np.array_equal(
                in_file, np.arange(in_file[0], in_file[0] + in_file.size))),
            "tap_lost": tap.n_lost,
            "error": None if recorder.error is None else str(recorder.error),
            "bytes": recorder.bytes_written,
        }
    tmpdir.cleanup()
    return result


def goals_for(n_chans: int, decoding: bool) -> dict:
    """The issue's goals for this configuration."""
    if decoding:
        return {"samples_lost": 0, "cpu_percent_of_one_core": "< 20", "decision_latency_ms_p99": "<= 5"}
    if n_chans >= 1024:
        return {"samples_lost": 0, "cpu_percent_of_one_core": "< 15", "pull_latency_ms_p99": "<= 10"}
    return {"samples_lost": 0, "cpu_percent_of_one_core": "< 15" if n_chans >= 128 else "< 10"}


#: files larger than this are read back chunk by chunk (a 10-minute 1024-channel recording is 10 GB)
PYXDF_MAX_BYTES = 2 * 2**30


def xdf_first_channel(path: Path, stype: str, n_chans: int) -> np.ndarray:
    """Channel 0 of every sample of the stream of type ``stype`` in the XDF file ``path``, read one
    chunk at a time (the recorder writes each sample as ``0x08 + float64 timestamp + n_chans
    float32``)."""
    import struct
    import xml.etree.ElementTree as ET

    sample = np.dtype([("flag", "u1"), ("ts", "<f8"), ("values", "<f4", (n_chans,))])
    parts: list[np.ndarray] = []
    sid_of_type: int | None = None
    with open(path, "rb") as f:
        if f.read(4) != b"XDF:":
            raise ValueError(f"{path} is not an XDF file")
        while head := f.read(1):
            length = int.from_bytes(f.read(head[0]), "little")
            (tag,) = struct.unpack("<H", f.read(2))
            body = f.read(length - 2)
            if tag == 2 and ET.fromstring(body[4:]).findtext("type") == stype:
                sid_of_type = struct.unpack("<I", body[:4])[0]
            elif tag == 3 and struct.unpack("<I", body[:4])[0] == sid_of_type:
                width = body[4]
                n = int.from_bytes(body[5 : 5 + width], "little")
                rec = np.frombuffer(body, dtype=sample, count=n, offset=5 + width)
                if not (rec["flag"] == 8).all():
                    raise ValueError(f"{path}: a sample without its own timestamp; not what the recorder writes")
                parts.append(rec["values"][:, 0].copy())
    return np.concatenate(parts) if parts else np.zeros(0)


def _start_decoder(stream, base: str, decisions: list[float]):
    """The shipped ``base`` (unadapted, identity alignment) decoding ``stream`` on a runner thread;
    each decision's latency (s) goes to ``decisions``."""
    from bci_app.config import OnlineConfig
    from bci_app.models.pretrained import load_base_model
    from bci_app.online import Decoder, DecoderModel
    from bci_app.online.runner import DecoderRunner
    from bci_app.signal.preprocess import PreprocessingSpec

    model, meta = load_base_model(base)
    model.eval()
    spec = PreprocessingSpec(tuple(meta["ch_names"]), float(meta["sfreq"]))
    dm = DecoderModel(model, spec, tuple(meta["classes"]), name=f"{base} (unadapted)")
    decoder = Decoder.for_stream(stream, dm, OnlineConfig())
    decoder.subscribe(lambda p: decisions.append(p.latency_s))
    return decoder, DecoderRunner(decoder).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--sfreq", type=float, default=2000.0)
    parser.add_argument("--chunk-ms", type=float, default=10.0, help="producer push interval")
    parser.add_argument("--acquisition-delay", type=float, default=0.01, help="StreamLSL thread period (s)")
    parser.add_argument("--bufsize", type=float, default=30.0)
    parser.add_argument("--no-record", action="store_true", help="skip the XDF recorder")
    parser.add_argument("--decode", default=None, metavar="BASE", help="also run the online decoder with this shipped base")
    parser.add_argument("--producer", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.producer:
        produce(args.producer, args.channels, args.sfreq, args.duration, args.chunk_ms)
        return
    print(json.dumps(consume(args), indent=2))


if __name__ == "__main__":
    main()
