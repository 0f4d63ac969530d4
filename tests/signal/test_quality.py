"""Channel quality flags and calibration quality on simulated EEG (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from bci_app.acquisition.simulated import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.errors import CalibrationError
from bci_app.signal.quality import CalibrationQuality, band_power, channel_quality, power_spectrum

CH = ("C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz")


def _sim(clock, **kw) -> StreamSimulated:
    return StreamSimulated(ch_names=CH, sfreq=160.0, clock=clock, blinks=False, **kw)


def test_flags_flat_railed_noisy_and_line_noise():
    clock = ManualClock(100.0)
    with _sim(clock, line_noise_hz=None) as stream:
        clock.advance(4.0)
        stream.acquire()
        data, _ = stream.get_data(4.0)
    good = channel_quality(data, 160.0, CH)
    assert all(q.ok for q in good), [q.label for q in good]
    bad = data.copy()
    bad[0] = 1e-3  # flat (constant offset)
    bad[1] = np.clip(bad[1], None, np.percentile(bad[1], 80))  # 20 % at the rail
    bad[2] += np.random.default_rng(0).normal(0, 300e-6, bad.shape[1])  # noisy
    t = np.arange(bad.shape[1]) / 160.0
    bad[3] += 40e-6 * np.sin(2 * np.pi * 50 * t)  # strong mains
    bad[4, 10] = np.nan
    q = channel_quality(bad, 160.0, CH)
    assert q[0].flags == ("flat",)
    assert q[1].flags == ("railed",)
    assert "noisy" in q[2].flags
    assert q[3].flags == ("line_noise",) and q[3].line_ratio > 1
    assert "noisy" in q[4].flags
    assert all(x.ok for x in q[5:])
    assert q[0].label == "flat" and q[3].label == "line noise"


def test_spectrum_and_band_power_find_a_sine():
    sfreq = 200.0
    t = np.arange(int(4 * sfreq)) / sfreq
    x = np.vstack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 20 * t)]) * 1e-5
    freqs, psd = power_spectrum(x, sfreq)
    mu = band_power(freqs, psd, (8, 13))
    beta = band_power(freqs, psd, (18, 22))
    assert mu[0] > 100 * mu[1] and beta[1] > 100 * beta[0]
    with pytest.raises(CalibrationError, match="no frequency bin"):
        band_power(freqs, psd, (10.1, 10.2))


def test_calibration_quality_sees_erd_and_separates_classes():
    clock = ManualClock(50.0)
    stream = _sim(clock, subject_seed=3, snr=2.0, bufsize=20.0, line_noise_hz=None)
    stream.connect()
    cq = CalibrationQuality(CH, 160.0, ["left_hand", "right_hand"], min_trials_per_class=4)
    labels = ["left_hand", "right_hand"] * 5
    for label in labels:
        start = clock.now
        stream.imagine(label, start + 2.0, 4.0)
        clock.advance(7.0)
        stream.acquire()
        data, ts = stream.get_data(8.0)
        assert cq.add_trial(label, data, ts, start)
        clock.advance(1.5)
        stream.acquire()
    stream.disconnect()
    s = cq.summary()
    assert s.n_trials == {"left_hand": 5, "right_hand": 5}
    # right hand imagery desynchronises mu over the left hemisphere (C3) more than over C4
    assert s.erd["right_hand"]["C3"]["mu"] < s.erd["right_hand"]["C4"]["mu"]
    assert s.erd["left_hand"]["C4"]["mu"] < s.erd["left_hand"]["C3"]["mu"]
    assert s.erd["right_hand"]["C3"]["mu"] < -20
    assert s.separability is not None and s.separability >= 0.8
    assert s.enough and "Enough" in s.advice


def test_calibration_quality_rejects_short_trials_and_needs_c3_c4():
    cq = CalibrationQuality(CH, 160.0, ["left_hand", "right_hand"])
    ts = np.arange(160) / 160.0
    assert not cq.add_trial("left_hand", np.random.default_rng(0).normal(size=(8, 160)) * 1e-5, ts, 0.0)
    s = cq.summary()
    assert s.n_rejected == 1 and not s.enough and s.separability is None
    assert "Keep going" in s.advice
    with pytest.raises(CalibrationError, match="needs channel C3"):
        CalibrationQuality(("Fz", "Pz"), 160.0, ["left_hand", "right_hand"])


def test_calibration_quality_applies_the_training_artifact_rules_on_the_base_channels():
    from bci_app.config import PreprocessingConfig

    clock = ManualClock(50.0)
    stream = _sim(clock, subject_seed=1, bufsize=20.0, line_noise_hz=None)
    stream.connect()
    cq = CalibrationQuality(CH, 160.0, ["left_hand", "right_hand"], min_trials_per_class=2,
                            artifacts=PreprocessingConfig(), artifact_channels=("C3", "C4", "FC3", "cz"))
    kept = []
    for k, label in enumerate(["left_hand", "right_hand"] * 3):
        start = clock.now
        stream.imagine(label, start + 2.0, 4.0)
        clock.advance(7.0)
        stream.acquire()
        data, ts = stream.get_data(8.0)
        data = data.copy()
        burst = (ts >= start + 3.0) & (ts < start + 3.5)  # 0.5 s, 400 µV at 20 Hz, inside the imagery
        if k in (1, 3):
            data[CH.index("FC3"), burst] += 400e-6 * np.sin(2 * np.pi * 20 * ts[burst])
        if k == 4:  # the same burst on a channel the base does not read: not the model's problem
            data[CH.index("FC4"), burst] += 400e-6 * np.sin(2 * np.pi * 20 * ts[burst])
        kept.append(cq.add_trial(label, data, ts, start))
        clock.advance(1.5)
        stream.acquire()
    stream.disconnect()
    assert kept == [True, False, True, False, True, True]
    s = cq.summary()
    assert s.n_rejected == 2 and s.rejections == {"amplitude at FC3": 2}
    assert s.advice.startswith("2 trials rejected for artifacts, most for amplitude at FC3 (2): check that electrode")
    # a source without the base's channels: the check is off and the advice says why
    off = CalibrationQuality(CH, 160.0, ["left_hand", "right_hand"], artifacts=PreprocessingConfig(),
                             artifact_channels=("C3", "O1"))
    assert off.artifacts is None and "O1" in off.artifact_problem
    assert off.summary().advice.startswith("Artifact check off: the calibration source lacks 1 channel(s) the model needs: O1")


def test_a_trials_span_and_lookback_are_all_the_check_reads():
    """The session passes a trial's span plus ``lookback_s`` (not its whole buffer): the verdicts,
    ERD and rejections are the same as with 20 s of signal."""
    from bci_app.config import PreprocessingConfig

    clock = ManualClock(50.0)
    stream = _sim(clock, subject_seed=2, bufsize=30.0, line_noise_hz=None)
    stream.connect()
    make = lambda: CalibrationQuality(CH, 160.0, ["left_hand", "right_hand"], min_trials_per_class=2,  # noqa: E731
                                      baseline=(0.5, 1.75), imagery=(2.5, 6.0), artifacts=PreprocessingConfig())
    whole, span = make(), make()
    assert span.lookback_s == pytest.approx(1.5)  # the artifact check's 2 s lead before the 0.5 s baseline
    clock.advance(3.0)
    for label in ["left_hand", "right_hand"] * 3:
        start = clock.now
        stream.imagine(label, start + 2.5, 3.5)
        clock.advance(7.0)
        stream.acquire()
        data, ts = stream.get_data(None)
        end = clock.now
        cut = ts >= start - span.lookback_s - 0.01
        assert whole.add_trial(label, data, ts, start) == span.add_trial(label, data[:, cut], ts[cut], start)
        assert ts[cut][-1] <= end
        clock.advance(1.0)
        stream.acquire()
    stream.disconnect()
    assert whole.summary() == span.summary()
