"""A simulated motor-imagery headset: realistic enough EEG to calibrate a decoder on.

Signal model (all in volts, channels placed on a sphere fitted to the MNE 10-05 template positions):

- background: pink (1/f) noise from ``N_LATENT`` latent sources at random scalp positions, mixed to
  the channels by a Gaussian falloff of angular distance (spatially correlated), plus a little
  independent pink noise per channel;
- posterior alpha (~10 Hz) from an occipital source;
- mu (8–13 Hz) and beta (18–26 Hz) rhythms from sources near C3, C4 and Cz, as narrow-band filtered
  noise (so amplitudes wax and wane like real rhythms); each source projects through a smooth
  spatial pattern (a main lobe plus a weaker opposite-sign lobe, per subject);
- event-related desynchronisation while the simulated user imagines: ``right_hand`` → C3 source,
  ``left_hand`` → C4, ``feet`` → Cz (with slight surround synchronisation at C3/C4), ``tongue`` is
  rest-like (a faint bilateral drop). The power drop starts ``erd_latency`` (~0.5 s) after the cue
  onset, builds over ~0.75 s, holds until the imagery ends and recovers over ~1 s;
- optional eye blinks (frontal, ~one every 5 s) and 50/60 Hz line noise.

``subject_seed`` draws the person: source positions (±~1.5 cm), mu/beta/alpha peak frequencies, ERD
depth, latency and spatial patterns. ``session_seed`` draws the noise. Data depend only on these
seeds, the channel set, ``sfreq``, ``chunk_size`` and the clock: sample ``k`` has timestamp
``t0 + k / sfreq`` (``t0`` = clock at connect) and is generated once it is due, in fixed blocks of
``chunk_size`` samples, so however often ``acquire()`` is called the samples are identical.

Ground truth: each cue given with :meth:`StreamSimulated.imagine` / :meth:`StreamSimulated.set_intent`
becomes a marker ``"sim:<label>"`` (``duration`` = imagery length, ``inf`` while open) at its onset,
delivered with the samples, so it is never earlier than the data around it. The values are kept apart
from the paradigm's GDF cue codes (``"769"``…) on purpose, so a recording holding both never counts
a trial twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy import signal as sps

from bci_app.acquisition.base import Stream, StreamInfo
from bci_app.errors import StreamError
from bci_app.lsl_config import lsl_clock
from bci_app.types import Marker
from bci_app.units import VOLTS_PER_MICROVOLT, as_float32_microvolts, from_microvolts
from bci_app.vocabulary import EEGMMIDB_64, electrode_positions, normalize_ch_name

if TYPE_CHECKING:
    from bci_app.config import ParadigmConfig

#: Cue labels the simulated user can follow (``None`` = rest).
SIM_LABELS: tuple[str, ...] = ("left_hand", "right_hand", "feet", "tongue")
#: Marker value prefix of the simulator's ground-truth markers: ``"sim:left_hand"``.
SIM_MARKER_PREFIX = "sim:"

#: The 64 EEGMMIDB channels in file order, in standard 10-10 spelling (the default montage).
DEFAULT_CH_NAMES: tuple[str, ...] = EEGMMIDB_64

N_LATENT = 24
# Amplitudes are set so the 4-40 Hz rms per channel is ~13-15 µV, the median of EEGMMIDB
# (10-27 µV across its subjects), with the rhythms at the same ratio to the background as before.
_BG_UV = 24.0  # rms of the background per channel, µV
_MU_UV = 18.0  # rms of a mu source at its peak channel for snr=1, µV
_ALPHA_UV = 20.0
_UV = VOLTS_PER_MICROVOLT
# Paul Kellet's "economy" pink-noise filter: 1/f within about 3 decades below Nyquist.
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])


@lru_cache(maxsize=1)
def _template_positions() -> dict[str, tuple[str, np.ndarray]]:
    """``{normalised name: (standard spelling, unit vector from the fitted head centre)}`` of every
    position of :func:`bci_app.vocabulary.electrode_positions`."""
    table = electrode_positions()
    keys = list(table)
    xyz = np.array([table[k][1] for k in keys], dtype=float)
    # least-squares sphere: |p|^2 = 2 p.c + (r^2 - |c|^2)
    design = np.column_stack([2 * xyz, np.ones(len(xyz))])
    sol, *_ = np.linalg.lstsq(design, (xyz**2).sum(axis=1), rcond=None)
    unit = xyz - sol[:3]
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    return {k: (table[k][0], u) for k, u in zip(keys, unit)}


def channel_positions(ch_names: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Standard spellings and unit-sphere positions (n_chans, 3) of 10-10/10-05 ``ch_names``.

    Names match case-insensitively with dots and spaces ignored (``"Fc5."`` → ``"FC5"``). Raises
    :class:`StreamError` naming every unknown or repeated channel.
    """
    table = _template_positions()
    unknown = [n for n in ch_names if normalize_ch_name(n) not in table]
    if unknown:
        raise StreamError(
            f"the simulated headset does not know channel(s) {', '.join(map(repr, unknown))}; "
            "use 10-10/10-05 names such as 'C3', 'FCz', 'Fp1' (case and dots are ignored)"
        )
    if not ch_names:
        raise StreamError("the simulated headset needs at least one channel name")
    keys = [normalize_ch_name(n) for n in ch_names]
    dup = sorted({n for n, k in zip(ch_names, keys) if keys.count(k) > 1})
    if dup:
        raise StreamError(f"channel(s) listed more than once: {', '.join(dup)}; give each channel once")
    return tuple(table[k][0] for k in keys), np.array([table[k][1] for k in keys])


def _position(name: str) -> np.ndarray:
    return _template_positions()[normalize_ch_name(name)][1]


def _jitter(pos: np.ndarray, rng: np.random.Generator, rad: float) -> np.ndarray:
    out = pos + rng.normal(0.0, rad, 3)
    return out / np.linalg.norm(out)


def _falloff(ch_pos: np.ndarray, src: np.ndarray, width: float) -> np.ndarray:
    """Gaussian of the angular distance (rad) between each channel and ``src``: (n_chans,)."""
    ang = np.arccos(np.clip(ch_pos @ src, -1.0, 1.0))
    return np.exp(-0.5 * (ang / width) ** 2)


@dataclass(frozen=True)
class SubjectProfile:
    """What ``subject_seed`` draws: rhythm frequencies (Hz), ERD power drops (fractions), latency (s)."""

    mu_freq: float
    beta_freq: float
    alpha_freq: float
    erd_mu: float
    erd_beta: float
    erd_ipsi: float
    erd_latency: float
    mu_amp: dict[str, float]
    beta_ratio: float


@dataclass
class _Intent:
    label: str
    onset: float
    duration: float  # inf while open


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class StreamSimulated(Stream):
    """Simulated motor-imagery headset behind the :class:`Stream` contract.

    Parameters
    ----------
    ch_names : 10-10 channel names (default: the 64 EEGMMIDB channels, :data:`DEFAULT_CH_NAMES`).
    sfreq : sampling rate in Hz (default 160).
    subject_seed : draws the simulated person (rhythm frequencies, ERD strength, spatial patterns).
    session_seed : draws the noise of this session.
    snr : amplitude ratio of the sensorimotor/alpha rhythms to the background (default 1.0).
    blinks : add frontal eye blinks (~0.2 per second).
    line_noise_hz : 50.0, 60.0 or ``None`` (about 3 µV, varying per channel).
    clock : callable returning seconds (default ``pylsl.local_clock`` after ``configure_lsl()``).
    name : LSL-style stream name.
    chunk_size : samples per generated block (part of the determinism key).
    sample_format : ``"float64"`` (default) or ``"float32"``: every sample rounded to float32
        microvolts, as an amplifier streaming float32 µV (LSL's usual format) delivers it; a recording
        (float32 µV) then holds exactly the samples that were decoded live.
    bufsize, acquisition_delay : see :class:`Stream`.
    """

    def __init__(
        self,
        *,
        ch_names: Sequence[str] = DEFAULT_CH_NAMES,
        sfreq: float = 160.0,
        subject_seed: int = 0,
        session_seed: int = 0,
        snr: float = 1.0,
        blinks: bool = True,
        line_noise_hz: float | None = 50.0,
        clock: Callable[[], float] | None = None,
        name: str = "bci-app-simulated",
        chunk_size: int = 32,
        sample_format: str = "float64",
        bufsize: float = 30.0,
        acquisition_delay: float | None = None,
    ) -> None:
        super().__init__(bufsize=bufsize, acquisition_delay=acquisition_delay)
        if sample_format not in ("float64", "float32"):
            raise StreamError(f"sample_format must be 'float64' or 'float32', got {sample_format!r}")
        if not sfreq > 0:
            raise StreamError(f"sfreq must be > 0 Hz, got {sfreq}")
        if sfreq < 64:
            raise StreamError(f"sfreq {sfreq:g} Hz is too low to carry beta rhythms; use at least 64 Hz")
        if line_noise_hz is not None and line_noise_hz not in (50.0, 60.0):
            raise StreamError(f"line_noise_hz must be 50, 60 or None, got {line_noise_hz}")
        if snr < 0:
            raise StreamError(f"snr must be >= 0, got {snr}")
        if chunk_size < 1:
            raise StreamError(f"chunk_size must be >= 1 sample, got {chunk_size}")
        self.ch_names, self._ch_pos = channel_positions(list(ch_names))
        self.sfreq = float(sfreq)
        self.subject_seed = int(subject_seed)
        self.session_seed = int(session_seed)
        self.snr = float(snr)
        self.blinks = bool(blinks)
        self.line_noise_hz = line_noise_hz if line_noise_hz is None or line_noise_hz < sfreq / 2 else None
        self.name = name
        self.chunk_size = int(chunk_size)
        self.sample_format = sample_format
        if clock is None:
            clock = lsl_clock()
        self._clock = clock
        self._intents: list[_Intent] = []
        self._pending_markers: list[Marker] = []
        self.profile = self._draw_subject()
        self._t0: float | None = None

    # -- the simulated person ------------------------------------------------------------------
    def _draw_subject(self) -> SubjectProfile:
        rng = np.random.default_rng([self.subject_seed, 0x5EB])
        pos = self._ch_pos
        self._motor_names = ("C3", "C4", "Cz")
        patterns = []
        for anchor in self._motor_names:
            src = _jitter(_position(anchor), rng, 0.12)
            side = _jitter(src, rng, 0.35)
            main = _falloff(pos, src, rng.uniform(0.30, 0.40))
            pattern = main - rng.uniform(0.0, 0.5) * _falloff(pos, side, rng.uniform(0.25, 0.35))
            patterns.append(pattern)
        alpha_src = _jitter(_position("Oz") + 0.3 * _position("Pz"), rng, 0.1)
        patterns.append(_falloff(pos, alpha_src, rng.uniform(0.45, 0.6)))
        mu_freq = float(rng.uniform(9.0, 12.5))
        profile = SubjectProfile(
            mu_freq=mu_freq,
            beta_freq=float(rng.uniform(18.0, 26.0)),
            alpha_freq=float(np.clip(mu_freq + rng.normal(-0.5, 0.7), 8.5, 12.0)),
            # source-level power drops; at the contralateral channel (background and the other
            # sources mixed in) mu ERD is ~30-60 %, beta ~20-35 %: the range of good BCI users
            erd_mu=float(rng.uniform(0.45, 0.75)),
            erd_beta=float(rng.uniform(0.35, 0.60)),
            erd_ipsi=float(rng.uniform(0.0, 0.10)),
            erd_latency=float(rng.uniform(0.35, 0.7)),
            mu_amp={n: float(rng.uniform(0.8, 1.25)) for n in self._motor_names},
            beta_ratio=float(rng.uniform(0.3, 0.55)),
        )
        # oscillators: mu C3, mu C4, mu Cz, beta C3, beta C4, beta Cz, alpha
        amps = [profile.mu_amp[n] * _MU_UV for n in self._motor_names]
        amps += [profile.mu_amp[n] * profile.beta_ratio * _MU_UV for n in self._motor_names]
        amps.append(_ALPHA_UV * rng.uniform(0.8, 1.3))
        motor = np.array(patterns[:3]).T
        self._osc_mix = np.column_stack([motor, motor, patterns[3]]) * (np.array(amps) * _UV * self.snr)
        self._osc_freqs = np.array([profile.mu_freq] * 3 + [profile.beta_freq] * 3 + [profile.alpha_freq])
        self._osc_bw = np.array([3.0] * 3 + [4.0] * 3 + [2.5])

        # background: latent pink sources with a smooth falloff + independent per-channel noise
        latent = rng.normal(size=(N_LATENT, 3))
        latent[:, 2] = np.abs(latent[:, 2])
        latent /= np.linalg.norm(latent, axis=1, keepdims=True)
        mix = np.column_stack([_falloff(pos, s, rng.uniform(0.4, 0.7)) for s in latent])
        mix *= rng.uniform(0.5, 1.5, N_LATENT)
        mix /= np.sqrt((mix**2).sum(axis=1, keepdims=True)) + 1e-12
        self._bg_mix = mix * (_BG_UV * _UV * math.sqrt(0.85))
        self._ch_noise_scale = _BG_UV * _UV * math.sqrt(0.15) * rng.uniform(0.8, 1.2, len(self.ch_names))

        # blinks: a source in front of and below Fpz
        eye = _position("Fpz") + np.array([0.0, 0.35, -0.35])
        eye /= np.linalg.norm(eye)
        self._blink_pattern = _falloff(pos, eye, 0.45) * _UV
        self._line_amp = rng.uniform(1.0, 4.0, len(self.ch_names)) * _UV
        self._line_phase = rng.uniform(-0.3, 0.3, len(self.ch_names))

        # ERD depth (power fraction) per oscillator and label; negative = synchronisation
        c3, c4, cz = 0, 1, 2
        depth = {label: np.zeros(3) for label in SIM_LABELS}
        depth["right_hand"][[c3, c4, cz]] = [1.0, profile.erd_ipsi, 0.1]
        depth["left_hand"][[c3, c4, cz]] = [profile.erd_ipsi, 1.0, 0.1]
        depth["feet"][[c3, c4, cz]] = [-0.15, -0.15, 1.0]
        depth["tongue"][[c3, c4, cz]] = [0.08, 0.08, 0.05]
        self._erd_depth = {}
        for label, d in depth.items():
            mu = np.where(d >= 0.5, d * profile.erd_mu, d)
            beta = np.where(d >= 0.5, d * profile.erd_beta, d)
            self._erd_depth[label] = np.concatenate([mu, beta, [0.0]])
        return profile

    # -- cues ----------------------------------------------------------------------------------
    def imagine(self, label: str | None, onset: float, duration: float) -> None:
        """The simulated user imagines ``label`` from ``onset`` (clock seconds) for ``duration`` s.

        ``label=None`` is rest (nothing changes, no marker). Emits the ground-truth marker
        ``"sim:<label>"`` at ``onset``.
        """
        if label is None:
            return
        if label not in SIM_LABELS:
            raise StreamError(f"unknown imagery label {label!r}; expected one of {', '.join(SIM_LABELS)} or None")
        if not duration > 0:
            raise StreamError(f"imagery duration must be > 0 s, got {duration}")
        intent = _Intent(label, float(onset), float(duration))
        with self._acquire_lock:
            self._intents.append(intent)
            self._pending_markers.append(Marker(intent.onset, SIM_MARKER_PREFIX + label, intent.duration))
            self._pending_markers.sort(key=lambda m: m.timestamp)

    def set_intent(self, label: str | None, at: float | None = None) -> None:
        """Start imagining ``label`` at ``at`` (default now) until the next call; ``None`` = rest."""
        at = self.now() if at is None else float(at)
        with self._acquire_lock:
            for intent in self._intents:
                if math.isinf(intent.duration):
                    intent.duration = max(at - intent.onset, 1e-9)
                    # a marker not yet delivered gets the real duration
                    self._pending_markers = [
                        Marker(m.timestamp, m.value, intent.duration)
                        if m.timestamp == intent.onset and math.isinf(m.duration) else m
                        for m in self._pending_markers
                    ]
        if label is not None:
            self.imagine(label, at, math.inf)

    def sample_time(self, index: int) -> float:
        """Clock time (s) of sample ``index`` (0 = the first after connect): ``t0 + index / sfreq``."""
        if self._t0 is None:
            raise StreamError("the simulated headset is not connected; sample times start at connect()")
        return self._t0 + int(index) / self.sfreq

    # -- Stream hooks --------------------------------------------------------------------------
    def now(self) -> float:
        return float(self._clock())

    def _connect(self) -> StreamInfo:
        n = len(self.ch_names)
        rng_key = [self.subject_seed, self.session_seed, 0xEE6]
        self._rng = np.random.default_rng(rng_key)
        self._t0 = self.now()
        self._n_emitted = 0  # samples returned so far
        self._n_generated = 0
        self._backlog: list[np.ndarray] = []  # source-level blocks not yet emitted
        self._pink_zi = np.zeros((N_LATENT + n, len(_PINK_A) - 1))
        pink_var = _variance_ba(_PINK_B, _PINK_A)
        self._pink_gain = 1.0 / math.sqrt(pink_var)
        self._osc_sos = []
        self._osc_zi = []
        self._osc_gain = []
        nyq = self.sfreq / 2
        for f, bw in zip(self._osc_freqs, self._osc_bw):
            lo, hi = max(f - bw / 2, 0.5), min(f + bw / 2, nyq * 0.95)
            sos = sps.butter(2, [lo, hi], btype="bandpass", fs=self.sfreq, output="sos")
            self._osc_sos.append(sos)
            self._osc_zi.append(np.zeros((sos.shape[0], 2)))
            self._osc_gain.append(1.0 / math.sqrt(_variance_sos(sos)))
        self._active_blinks: list[tuple[int, float, float]] = []  # (onset sample, amplitude V, width s)
        return StreamInfo(
            name=self.name,
            sfreq=self.sfreq,
            ch_names=self.ch_names,
            ch_types=tuple("eeg" for _ in self.ch_names),
            units=tuple("V" for _ in self.ch_names),
            source_id=f"bci-app-sim-s{self.subject_seed}-r{self.session_seed}",
        )

    def _disconnect(self) -> None:
        self._backlog = []

    def _generate_block(self) -> np.ndarray:
        """One block of source-level signals: rows = N_LATENT background, n_chans channel noise,
        7 oscillators, 1 blink trace. Depends only on the seeds and the block index."""
        b = self.chunk_size
        n = len(self.ch_names)
        white = self._rng.standard_normal((N_LATENT + n + len(self._osc_sos), b))
        pink, self._pink_zi = sps.lfilter(_PINK_B, _PINK_A, white[: N_LATENT + n], axis=1, zi=self._pink_zi)
        pink *= self._pink_gain
        osc = np.empty((len(self._osc_sos), b))
        for i, sos in enumerate(self._osc_sos):
            osc[i], self._osc_zi[i] = sps.sosfilt(sos, white[N_LATENT + n + i], zi=self._osc_zi[i])
            osc[i] *= self._osc_gain[i]
        # blinks: Poisson onsets, each a smooth bump of ~0.3-0.5 s
        k0 = self._n_generated
        if self.blinks:
            n_new = self._rng.poisson(0.2 * b / self.sfreq)
            for _ in range(n_new):
                onset = k0 + int(self._rng.integers(0, b))
                self._active_blinks.append((onset, self._rng.uniform(80, 150) * 1.0, self._rng.uniform(0.25, 0.45)))
        blink = np.zeros((1, b))
        if self._active_blinks:
            k = np.arange(k0, k0 + b)
            keep = []
            for onset, amp, width in self._active_blinks:
                tau = (k - onset) / self.sfreq / width
                inside = (tau >= 0) & (tau <= 1)
                blink[0] += np.where(inside, amp * np.sin(np.pi * np.clip(tau, 0, 1)) ** 2, 0.0)
                if (k0 + b - onset) / self.sfreq < width:
                    keep.append((onset, amp, width))
            self._active_blinks = keep
        self._n_generated += b
        return np.vstack([pink, osc, blink])

    def _gains(self, t: np.ndarray) -> np.ndarray:
        """Amplitude gain of each oscillator at times ``t``: (7, n)."""
        drop = np.zeros((len(self._osc_freqs), t.size))
        lat = self.profile.erd_latency
        for intent in self._intents:
            end = intent.onset + intent.duration
            if t[-1] < intent.onset + lat or t[0] > end + lat + 1.5:
                continue
            tau = t - intent.onset
            rise = _smoothstep((tau - lat) / 0.75)
            fall = 1.0 - _smoothstep((t - end - lat * 0.5) / 1.0) if math.isfinite(end) else 1.0
            drop += self._erd_depth[intent.label][:, None] * (rise * fall)[None, :]
        return np.sqrt(np.clip(1.0 - drop, 0.02, 4.0))

    def _pull(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        n_chans = len(self.ch_names)
        due = int(math.floor((self.now() - self._t0) * self.sfreq + 1e-9)) + 1
        n = due - self._n_emitted
        if n <= 0:
            return np.empty((n_chans, 0)), np.empty(0), []
        # source-level samples for [emitted, due)
        have = sum(block.shape[1] for block in self._backlog)
        while have < n:
            self._backlog.append(self._generate_block())
            have += self.chunk_size
        src = np.hstack(self._backlog) if len(self._backlog) > 1 else self._backlog[0]
        src, rest = src[:, :n], src[:, n:]
        self._backlog = [rest] if rest.shape[1] else []
        k = np.arange(self._n_emitted, due)
        t = self._t0 + k / self.sfreq
        n_bg = N_LATENT
        data = self._bg_mix @ src[:n_bg]
        data += self._ch_noise_scale[:, None] * src[n_bg : n_bg + n_chans]
        osc = src[n_bg + n_chans : n_bg + n_chans + len(self._osc_freqs)]
        gains = self._gains(t)  # _pull runs under _acquire_lock, as do the cue methods
        data += self._osc_mix @ (osc * gains)
        if self.blinks:
            data += self._blink_pattern[:, None] * src[-1][None, :]
        if self.line_noise_hz is not None:
            phase = 2 * np.pi * self.line_noise_hz * k / self.sfreq
            data += self._line_amp[:, None] * np.sin(phase[None, :] + self._line_phase[:, None])
        if self.sample_format == "float32":
            data = from_microvolts(as_float32_microvolts(data))
        self._n_emitted = due
        self._intents = [i for i in self._intents if i.onset + i.duration + 5.0 > t[0]]
        markers = [m for m in self._pending_markers if m.timestamp <= t[-1]]
        if markers:
            self._pending_markers = self._pending_markers[len(markers) :]
        return data, t, markers



def _variance_sos(sos: np.ndarray) -> float:
    """Output variance of ``sos`` for unit-variance white input."""
    _, h = sps.sosfreqz(sos, worN=8192)
    return float(np.mean(np.abs(h) ** 2))


def _variance_ba(b: np.ndarray, a: np.ndarray) -> float:
    _, h = sps.freqz(b, a, worN=8192)
    return float(np.mean(np.abs(h) ** 2))


def cued_imagery(imagine: Callable[[str, float, float], None] | None, paradigm: ParadigmConfig):
    """A paradigm-event callback making a simulated person imagine each cued class for the imagery
    period (``imagine(label, onset_s, duration_s)``, e.g. :meth:`StreamSimulated.imagine`); ``None``
    when there is no one to imagine (a real headset)."""
    if imagine is None:
        return None
    duration = max(paradigm.imagery_end_s - paradigm.cue_at_s, 0.1)

    def on_event(ev) -> None:
        if ev.phase == "cue" and ev.label is not None:
            imagine(ev.label, ev.timestamp, duration)

    return on_event
