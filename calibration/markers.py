"""LSL markers in and out: the outlet for paradigm events (GDF codes as text, ``"769"``, on a
``Markers`` stream) and the inlet for another program's markers (:class:`LslMarkerInlet`)."""

from __future__ import annotations

import logging

from bci_app.errors import StreamError
from bci_app.types import Marker
from calibration.paradigm import ParadigmEvent

log = logging.getLogger(__name__)


class LslMarkerOutlet:
    """A pylsl outlet: type ``Markers``, 1 string channel, irregular rate.

    Subscribe it to a paradigm: ``paradigm.subscribe(outlet)``; events without a GDF code are not
    sent. Timestamps are pushed as given (the paradigm's clock should be ``pylsl.local_clock``).
    """

    def __init__(self, name: str = "bci-app-markers", source_id: str = "bci-app-markers") -> None:
        from bci_app.lsl_config import configure_lsl

        configure_lsl()
        import pylsl

        info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
        try:
            self._outlet = pylsl.StreamOutlet(info)
        except (RuntimeError, OSError) as exc:
            raise StreamError(f"cannot create LSL marker outlet {name!r}: {exc}") from exc
        self.name = name
        self.source_id = source_id

    def push(self, code: int | str, timestamp: float) -> None:
        """Send one marker ``str(code)`` stamped ``timestamp`` (LSL clock seconds)."""
        if self._outlet is None:
            raise StreamError(f"LSL marker outlet {self.name!r} is closed")
        self._outlet.push_sample([str(code)], float(timestamp))

    def __call__(self, event: ParadigmEvent) -> None:
        if event.code is not None:
            self.push(event.code, event.timestamp)

    def have_consumers(self) -> bool:
        return self._outlet is not None and self._outlet.have_consumers()

    def close(self) -> None:
        self._outlet = None

    def __enter__(self) -> LslMarkerOutlet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LslMarkerInlet:
    """Another program's LSL ``Markers`` stream (PsychoPy, Psychtoolbox, your own code) named ``name``,
    read without blocking; timestamps on this machine's LSL clock (the sender's clock offset applied).

    :meth:`pull` returns the markers that arrived since the last call; once the sender has gone,
    :attr:`lost` is True (the markers received before stay valid). Raises :class:`StreamError` naming
    the visible Markers streams when none is called ``name`` within ``timeout`` seconds.
    """

    def __init__(self, name: str, *, timeout: float = 5.0) -> None:
        from bci_app.lsl_config import configure_lsl

        configure_lsl()
        import pylsl

        from bci_app.acquisition.lsl import _describe, _lit, _type_is

        self.name = name
        found = pylsl.resolve_bypred(f"{_type_is('markers')} and name={_lit(name)}", 1, timeout)
        if not found:
            visible = pylsl.resolve_bypred(_type_is("markers"), 0, min(timeout, 1.0))
            raise StreamError(f"no LSL Markers stream named {name!r} found within {timeout:g} s; visible Markers "
                              f"streams: {_describe(visible)}. Start the stimulus program first, or check its name.")
        self._inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False,
                                        processing_flags=pylsl.proc_clocksync)
        try:
            self._inlet.open_stream(timeout=timeout)
            self._inlet.time_correction(timeout=timeout)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            raise StreamError(f"LSL Markers stream {name!r} was found but could not be opened: {exc}") from exc
        self.lost = False

    def pull(self) -> list[Marker]:
        """Markers received since the last call (first channel of each sample), oldest first."""
        import pylsl

        out: list[Marker] = []
        if self._inlet is None or self.lost:
            return out
        while True:
            try:
                values, stamps = self._inlet.pull_chunk(timeout=0.0)
            except pylsl.util.LostError:
                self.lost = True
                log.warning("the LSL Markers stream %r went away", self.name)
                return out
            if not stamps:
                return out
            out += [Marker(float(t), str(v[0] if len(v) else "")) for v, t in zip(values, stamps)]

    def close(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
