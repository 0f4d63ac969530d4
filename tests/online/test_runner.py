"""DecoderRunner: it wakes when samples enter the buffer, never polls a threaded stream for nothing."""

from __future__ import annotations

import threading
import time

import numpy as np

from bci_app.acquisition.ringbuffer import RingBuffer
from bci_app.config import OnlineConfig
from bci_app.online.runner import WAKE_S, DecoderRunner


class _ThreadedStream:
    """A stream whose buffer another thread fills (what an acquisition thread does)."""

    connected, acquisition_delay = True, 0.01

    def __init__(self) -> None:
        self.buffer = RingBuffer(2, 1000)


class _Decoder:
    """Records when each poll saw new samples (the runner's only contract with the decoder)."""

    def __init__(self, stream: _ThreadedStream) -> None:
        self.config, self.stream = OnlineConfig(), stream
        self.next_index, self.polls, self.seen = 0, 0, []
        self.install_pending = False

    @property
    def next_decision_index(self) -> int:  # a decision at every sample
        return self.next_index

    def poll(self) -> None:
        self.polls += 1
        n = self.stream.buffer.n_written
        if n > self.next_index:
            self.seen.append(time.perf_counter())
            self.next_index = n


def test_runner_wakes_on_new_samples_and_sleeps_otherwise() -> None:
    stream = _ThreadedStream()
    dec = _Decoder(stream)
    runner = DecoderRunner(dec).start()
    written: list[float] = []
    try:
        for i in range(10):
            time.sleep(0.03)
            written.append(time.perf_counter())
            stream.buffer.write(np.full((2, 5), float(i)), np.arange(5) + 5.0 * i)
        time.sleep(0.05)
    finally:
        runner.stop()
    assert runner.error is None and len(dec.seen) == 10  # every chunk seen, each once
    delays = np.array(dec.seen) - np.array(written)
    assert np.median(delays) < 0.01  # woken by the write, not by a timer
    # one poll per chunk plus one per WAKE_S of silence; polling every millisecond would be ~350
    assert dec.polls <= 10 + 0.35 / WAKE_S + 10, dec.polls


def test_stop_returns_while_waiting_for_samples() -> None:
    runner = DecoderRunner(_Decoder(_ThreadedStream())).start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    runner.stop()
    assert time.perf_counter() - t0 < 0.5 and not runner.running
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())


class _SteppedDecoder(_Decoder):
    """Decides every 10 samples."""

    @property
    def next_decision_index(self) -> int:
        return self.next_index + 9 - self.next_index % 10


def test_runner_feeds_every_chunk_so_a_decision_waits_only_for_the_model() -> None:
    stream = _ThreadedStream()
    dec = _SteppedDecoder(stream)
    runner = DecoderRunner(dec).start()
    try:
        for i in range(10):  # 5 samples per chunk: a step is complete every other chunk
            time.sleep(0.03)
            stream.buffer.write(np.full((2, 5), float(i)), np.arange(5) + 5.0 * i)
        time.sleep(0.05)
    finally:
        runner.stop()
    # every chunk is filtered as it arrives, not left for the step's decision
    assert runner.error is None and len(dec.seen) == 10 and dec.next_index == 50
