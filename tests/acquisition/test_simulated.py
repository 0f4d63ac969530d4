"""The simulated motor-imagery headset: ERD where it belongs, per-subject differences, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from bci_app.acquisition import StreamSimulated
from bci_app.acquisition.simulated import DEFAULT_CH_NAMES, SIM_MARKER_PREFIX
from bci_app.errors import StreamError


class ManualClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _run(stream: StreamSimulated, clock: ManualClock, seconds: float, step: float = 0.05) -> None:
    for _ in range(int(round(seconds / step))):
        clock.t += step
        stream.acquire()


def _band_power(x: np.ndarray, sfreq: float, lo: float = 8.0, hi: float = 13.0) -> float:
    f, p = welch(x, fs=sfreq, nperseg=int(sfreq))
    return float(p[(f >= lo) & (f <= hi)].sum())


@pytest.fixture(scope="module")
def imagery_session():
    """20 right-hand and 20 left-hand trials (cue at +2 s, 4 s imagery, 10 s per trial)."""
    clock = ManualClock()
    sim = StreamSimulated(clock=clock, subject_seed=3, bufsize=500.0, blinks=True, line_noise_hz=50.0)
    sim.connect()
    start = clock.t
    labels = ["right_hand", "left_hand"] * 20
    onsets = [start + 10.0 * i + 2.0 for i in range(len(labels))]
    for label, onset in zip(labels, onsets):
        sim.imagine(label, onset, 4.0)
    _run(sim, clock, 10.0 * len(labels) + 1.0)
    data, times = sim.get_data()
    yield sim, data, times, labels, onsets
    sim.disconnect()


def _erd(data, times, sfreq, ch, labels, onsets, which):
    """Mu power drop (fraction) at channel ``ch``: imagery [onset+1, onset+4) vs rest [onset+6.5, onset+9.5)."""
    imag = rest = 0.0
    for label, onset in zip(labels, onsets):
        if label != which:
            continue
        imag += _band_power(data[ch, (times >= onset + 1.0) & (times < onset + 4.0)], sfreq)
        rest += _band_power(data[ch, (times >= onset + 6.5) & (times < onset + 9.5)], sfreq)
    return 1.0 - imag / rest


def test_contralateral_mu_erd(imagery_session):
    sim, data, times, labels, onsets = imagery_session
    ch = list(sim.info.ch_names)
    c3, c4 = ch.index("C3"), ch.index("C4")
    sfreq = sim.info.sfreq
    right_c3 = _erd(data, times, sfreq, c3, labels, onsets, "right_hand")
    right_c4 = _erd(data, times, sfreq, c4, labels, onsets, "right_hand")
    left_c4 = _erd(data, times, sfreq, c4, labels, onsets, "left_hand")
    left_c3 = _erd(data, times, sfreq, c3, labels, onsets, "left_hand")
    print(f"ERD right hand: C3 {right_c3:.2f} C4 {right_c4:.2f}; left hand: C4 {left_c4:.2f} C3 {left_c3:.2f}")
    assert right_c3 >= 0.20 and left_c4 >= 0.20
    assert right_c4 < right_c3 - 0.15 and left_c3 < left_c4 - 0.15
    assert abs(right_c4) < 0.2 and abs(left_c3) < 0.2


def test_amplitudes_in_volts_and_realistic(imagery_session):
    sim, data, times, *_ = imagery_session
    assert data.shape[0] == len(DEFAULT_CH_NAMES) == 64
    rms_uv = data.std(axis=1) * 1e6
    assert 5.0 < np.median(rms_uv) < 50.0
    assert rms_uv.max() < 80.0
    assert np.all(np.isfinite(data))
    assert np.allclose(np.diff(times), 1.0 / sim.info.sfreq)
    # posterior alpha: more 8-12 Hz power at Oz than at Fz during rest
    ch = list(sim.info.ch_names)
    seg = times < times[0] + 2.0
    assert _band_power(data[ch.index("Oz")], 160.0, 8, 12) > _band_power(data[ch.index("Fz")], 160.0, 8, 12)
    assert seg.any()


def test_ground_truth_markers_at_onsets(imagery_session):
    sim, _data, _times, labels, onsets = imagery_session
    markers = sim.get_markers()
    assert [m.value for m in markers] == [SIM_MARKER_PREFIX + label for label in labels]
    assert np.allclose([m.timestamp for m in markers], onsets)
    assert all(m.duration == 4.0 for m in markers)
    assert sim.get_markers(len(markers) - 1) == markers[-1:]


def test_marker_not_delivered_before_its_samples():
    clock = ManualClock(0.0)
    sim = StreamSimulated(clock=clock, ch_names=["C3", "Cz", "C4"], blinks=False)
    with sim:
        sim.imagine("feet", 2.0, 1.0)
        _run(sim, clock, 1.0)
        assert sim.get_markers() == []
        _run(sim, clock, 1.5)
        assert [m.value for m in sim.get_markers()] == ["sim:feet"]
        assert sim.get_data()[1][-1] >= 2.0


def _mu_peak(subject_seed: int) -> float:
    clock = ManualClock(0.0)
    sim = StreamSimulated(clock=clock, ch_names=["C3", "C4", "Cz"], subject_seed=subject_seed, blinks=False,
                          line_noise_hz=None, snr=2.0, bufsize=120.0)
    with sim:
        _run(sim, clock, 60.0, step=1.0)
        data, _ = sim.get_data()
    f, p = welch(data[0], fs=160.0, nperseg=640)
    band = (f >= 7.5) & (f <= 13.5)
    return float(f[band][np.argmax(p[band])])


def test_subject_seeds_differ_in_mu_frequency():
    peaks = {seed: _mu_peak(seed) for seed in (0, 1, 2)}
    profiles = {seed: StreamSimulated(clock=lambda: 0.0, subject_seed=seed).profile.mu_freq for seed in peaks}
    for seed in peaks:
        assert abs(peaks[seed] - profiles[seed]) < 1.25, (peaks, profiles)
    assert len(set(peaks.values())) == 3, peaks  # three people, three measured mu peaks
    order = sorted(peaks, key=peaks.get)
    assert order == sorted(profiles, key=profiles.get), (peaks, profiles)


def test_reproducible_and_independent_of_pull_cadence():
    def make(step, subject=5, session=2):
        clock = ManualClock(50.0)
        sim = StreamSimulated(clock=clock, subject_seed=subject, session_seed=session, sfreq=250.0,
                              ch_names=["Fp1", "C3", "Cz", "C4", "Oz"])
        with sim:
            sim.imagine("left_hand", 51.0, 2.0)
            _run(sim, clock, 4.0, step=step)
            return sim.get_data()

    a, ta = make(0.01)
    b, tb = make(0.4)
    n = min(a.shape[1], b.shape[1])
    assert n >= 999
    np.testing.assert_allclose(a[:, :n], b[:, :n], rtol=1e-9, atol=1e-18)  # same samples, BLAS rounding aside
    np.testing.assert_array_equal(make(0.01)[0], a)  # same cadence: bit-identical
    np.testing.assert_array_equal(ta[:n], tb[:n])
    c, _ = make(0.01, session=3)
    assert not np.allclose(a[:, :n], c[:, :n])
    d, _ = make(0.01, subject=6)
    assert not np.allclose(a[:, :n], d[:, :n])


def test_sample_times_follow_clock():
    clock = ManualClock(10.0)
    sim = StreamSimulated(clock=clock, ch_names=["C3"], sfreq=250.0)
    with sim:
        assert sim.acquire() == 1  # sample 0 is due at t0
        clock.t += 1.0
        assert sim.acquire() == 250
        _, t = sim.get_data()
        assert t[0] == 10.0 and t[-1] == pytest.approx(11.0)
        assert sim.sample_time(0) == t[0] and sim.sample_time(250) == pytest.approx(t[-1])
    with pytest.raises(StreamError, match="not connected"):
        StreamSimulated(clock=clock, ch_names=["C3"]).sample_time(0)


def test_unknown_channel_names_are_named():
    with pytest.raises(StreamError, match=r"'XY1'.*'C99'"):
        StreamSimulated(clock=lambda: 0.0, ch_names=["C3", "XY1", "C99"])
    sim = StreamSimulated(clock=lambda: 0.0, ch_names=["fc5.", "c3..", "CZ"])
    assert sim.ch_names == ("FC5", "C3", "Cz")
    with pytest.raises(StreamError, match="more than once"):
        StreamSimulated(clock=lambda: 0.0, ch_names=["C3", "c3"])


def test_bad_labels_and_options():
    sim = StreamSimulated(clock=lambda: 0.0, ch_names=["C3"])
    with pytest.raises(StreamError, match="unknown imagery label"):
        sim.imagine("both_hands", 1.0, 1.0)
    with pytest.raises(StreamError, match="line_noise_hz"):
        StreamSimulated(clock=lambda: 0.0, line_noise_hz=55.0)


def test_set_intent_open_ended():
    clock = ManualClock(0.0)
    sim = StreamSimulated(clock=clock, ch_names=["C3", "C4"], blinks=False)
    with sim:
        sim.set_intent("right_hand", at=1.0)
        _run(sim, clock, 3.0)
        sim.set_intent(None, at=3.0)
        _run(sim, clock, 1.0)
        (marker,) = sim.get_markers()
        assert marker.value == "sim:right_hand" and marker.timestamp == 1.0
        assert sim._intents[0].duration == pytest.approx(2.0)
