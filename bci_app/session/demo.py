"""The demo's rig, Qt-free: the simulated person published over real LSL like an amplifier, the
paradigm shortened to the base model's window, and a session on the demo's (possibly faster) clock.
``bci-app demo --headless`` drives it from code, the demo window through its buttons; both build
it here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bci_app.acquisition.lsl import LslPlayer
from bci_app.acquisition.simulated import StreamSimulated
from bci_app.clocks import ScaledClock
from bci_app.lsl_config import configure_lsl
from bci_app.models.pretrained import load_base_model
from bci_app.paradigm.timing import short_paradigm
from bci_app.session.machine import Session
from bci_app.vocabulary import window_tmin

if TYPE_CHECKING:
    from bci_app.config import AppConfig

__all__ = ["DemoRig", "demo_rig"]


@dataclass
class DemoRig:
    """What :func:`demo_rig` made. ``config``: the given one with ``model.base`` the demo's base and
    the shortened paradigm of the base's classes; ``model``/``meta``: that base; ``simulator``
    publishes through ``player`` on the LSL stream ``name`` (opened, not started: start it once the
    session's inlet is open, so every sample arrives); ``session`` runs on ``clock``."""

    config: AppConfig
    base: str
    model: Any
    meta: dict
    clock: ScaledClock
    name: str
    simulator: StreamSimulated
    player: LslPlayer
    session: Session
    time_scale: float = 1.0
    closed: bool = field(default=False, repr=False)

    @property
    def sfreq(self) -> float:
        """The base's (and the simulated headset's) sampling rate, Hz."""
        return float(self.meta["preprocessing"]["sfreq"])

    @property
    def tmin(self) -> float:
        """Where the base's window starts after the cue, s."""
        return window_tmin(self.meta)

    @property
    def source_spec(self) -> dict:
        """The source spec of the published stream (:func:`~bci_app.acquisition.sources.make_stream`)."""
        return {"kind": "lsl", "name": self.name, "type": "EEG"}

    def close(self) -> None:
        """Stop publishing and the simulated headset (the session is its owner's to disconnect). Idempotent."""
        if not self.closed:
            self.closed = True
            self.player.stop()
            self.simulator.disconnect()


def demo_rig(config: AppConfig, *, base: str, seed: int = 0, trials_per_class: int = 10,
             time_scale: float = 1.0) -> DemoRig:
    """Build the demo: ``base`` (a shipped base name or path) decides the channels, rate, classes and
    window; the simulated person ``seed`` (subject and session) follows the cues it is told to imagine;
    the paradigm has ``trials_per_class`` trials per class, no breaks; the clock runs ``time_scale``
    times faster than real time (the player publishes as fast)."""
    configure_lsl(config.lsl.scope)
    model, meta = load_base_model(base)
    sfreq = float(meta["preprocessing"]["sfreq"])
    config = config.model_copy(deep=True)
    config.model.base = base
    config.paradigm = short_paradigm(config, trials_per_class, seed, window_tmin(meta), model.n_times / sfreq,
                                     ).model_copy(update={"classes": list(meta["classes"])})
    clock = ScaledClock(time_scale)
    name = f"bci-app-demo-{uuid.uuid4().hex[:8]}"
    sim = StreamSimulated(ch_names=tuple(meta["preprocessing"]["ch_names"]), sfreq=sfreq, subject_seed=seed,
                          session_seed=seed, clock=clock, name=name, bufsize=60.0)
    player = LslPlayer(sim, name=name, interval=0.01 / time_scale).open()
    return DemoRig(config=config, base=base, model=model, meta=meta, clock=clock, name=name, simulator=sim,
                   player=player, session=Session(config, clock=clock), time_scale=time_scale)
