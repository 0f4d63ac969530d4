"""A thread that keeps a :class:`~bci_app.online.decoder.Decoder` up to date with its stream.

Every ``online.poll_interval_s`` (1 ms) it calls ``decoder.poll()`` (and ``stream.acquire()`` when
the stream has no acquisition thread of its own). Decisions themselves are tied to sample indices,
so the poll rate only bounds the latency, never changes which decisions are made. torch runs on
``online.torch_threads`` threads (1). An exception stops the thread, is logged and kept in
:attr:`DecoderRunner.error`, and is passed to ``on_error``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import torch

from bci_app.errors import StreamError
from bci_app.online.decoder import Decoder

log = logging.getLogger(__name__)


class DecoderRunner:
    def __init__(self, decoder: Decoder, *, on_error: Callable[[BaseException], None] | None = None) -> None:
        if decoder.stream is None:
            raise StreamError("DecoderRunner needs a decoder attached to a stream (Decoder.for_stream)")
        self.decoder = decoder
        self.on_error = on_error
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> DecoderRunner:
        torch.set_num_threads(self.decoder.config.torch_threads)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bci-decoder", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        dec = self.decoder
        stream = dec.stream
        assert stream is not None
        interval = dec.config.poll_interval_s
        manual = stream.acquisition_delay is None
        while not self._stop.wait(interval):
            try:
                if not stream.connected:
                    continue
                if manual:
                    stream.acquire()
                dec.poll()
            except Exception as exc:  # noqa: BLE001 - reported through .error / on_error and the log
                log.exception("online decoder stopped")
                self.error = exc
                if self.on_error is not None:
                    self.on_error(exc)
                return

    def stop(self) -> None:
        """Stop and join the thread (safe to call twice)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
