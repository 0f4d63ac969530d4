import json

import numpy as np
import pytest

from bci_app.config import PreprocessingConfig
from bci_app.errors import CalibrationError, ConfigError, StreamError
from bci_app.io.recording import read_recording
from bci_app.signal.preprocess import (
    PreprocessingSpec,
    StreamingPreprocessor,
    cut_windows,
    final_step,
    finalize_window,
    finalize_windows,
    fit_euclidean_alignment,
    preprocess_recording,
    reject_artifacts,
    summarize_rejections,
)
from bci_app.vocabulary import SENSORIMOTOR_16


@pytest.fixture(scope="module")
def rec(eegmmidb_dir):
    return read_recording(eegmmidb_dir / "S001" / "S001R04.edf")


def test_spec_json_roundtrip():
    spec = PreprocessingSpec(ch_names=("C3", "Cz", "C4"), sfreq=160.0).with_alignment(np.eye(3) * 2)
    again = PreprocessingSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    np.testing.assert_array_equal(again.alignment_matrix, np.eye(3) * 2)
    with pytest.raises(ConfigError, match="unknown"):
        PreprocessingSpec.from_dict({**spec.to_dict(), "bogus": 1})
    with pytest.raises(ConfigError, match="shape"):
        spec.with_alignment(np.eye(2))


def test_spec_from_config():
    spec = PreprocessingSpec.from_config(PreprocessingConfig(l_freq=8, h_freq=30), ["C3", "C4"], 160)
    assert (spec.l_freq, spec.h_freq, spec.scale, spec.alignment) == (8, 30, 1e6, None)


def _online_window(rec, spec, end, n_times, rng):
    """Online path: push the recording in irregular chunks up to sample ``end`` (exclusive)."""
    pre = StreamingPreprocessor(spec, rec.sfreq, rec.ch_names, capacity_s=8.0)
    pos = 0
    while pos < end:
        step = min(int(rng.integers(1, 23)), end - pos)  # irregular, like LSL pulls
        pre.push(rec.data[:, pos:pos + step], rec.timestamps[pos:pos + step])
        pos += step
    window, last_ts = pre.latest_window(n_times)
    return finalize_window(window, spec), last_ts


@pytest.mark.parametrize("model_sfreq", [160.0, 128.0])
def test_training_and_online_inputs_identical(rec, model_sfreq):
    spec = PreprocessingSpec(ch_names=SENSORIMOTOR_16, sfreq=model_sfreq)
    # training path: whole recording in 1-s chunks, cut a 3-s window at the 5th cue, finalize
    data, ts = preprocess_recording(rec, spec)
    cues = [m for m in rec.markers if m.value in ("T1", "T2")]
    n_times = int(3 * model_sfreq)
    windows, ok = cut_windows(data, ts, [cues[4].timestamp], 0.5, n_times, model_sfreq)
    assert ok.all()
    train_input = finalize_windows(windows, spec)[0]
    # also with an alignment matrix fitted on several windows
    all_w, _ = cut_windows(data, ts, [c.timestamp for c in cues], 0.5, n_times, model_sfreq)
    spec_ea = spec.with_alignment(fit_euclidean_alignment(finalize_windows(all_w, spec)))
    train_input_ea = finalize_window(windows[0], spec_ea)
    # online path: same samples, pushed in irregular chunks; the window ends where the cut ends
    start = int(np.searchsorted(ts, cues[4].timestamp + 0.5 - 0.5 / model_sfreq))
    end_time = ts[start + n_times - 1]
    end_src = int(np.searchsorted(rec.timestamps, end_time))  # enough source samples for that output
    pre_out, last_ts = None, None
    for extra in range(0, 40):
        online, last_ts = _online_window(rec, spec, end_src + extra, n_times, np.random.default_rng(extra))
        if np.isclose(last_ts, end_time):
            pre_out = online
            break
    assert pre_out is not None, "online path never produced the window's last sample"
    assert last_ts == pytest.approx(end_time, abs=1e-9)
    assert pre_out.dtype == np.float32 and pre_out.shape == (16, n_times)
    np.testing.assert_array_equal(pre_out, train_input)
    rng_ea = np.random.default_rng(3)
    online_ea, _ = _online_window(rec, spec_ea, end_src + extra, n_times, rng_ea)
    np.testing.assert_array_equal(online_ea, train_input_ea)


def test_the_one_final_step_is_the_same_for_a_window_a_stack_and_pretraining_crops():
    """Demean, scale and align: a stack gives each window's own result to the bit (the decoder
    finalises one window, training a stack), and pretraining's crops go through the same step."""
    from pretraining.eegmmidb import alignment_for, finalize_crops

    rng = np.random.default_rng(0)
    long = rng.normal(0, 20e-6, (5, 3, 400)) + rng.normal(0, 50e-6, (5, 3, 1))  # volts, with offsets
    R = fit_euclidean_alignment(final_step(long[:, :, 100:260], 1e6))
    stack = final_step(long[:, :, 100:260], 1e6, R)
    assert stack.dtype == np.float32 and stack.shape == (5, 3, 160)
    for i in range(5):
        np.testing.assert_array_equal(stack[i], final_step(long[i, :, 100:260], 1e6, R))
    spec = PreprocessingSpec(ch_names=("C3", "Cz", "C4"), sfreq=160.0).with_alignment(R)
    np.testing.assert_array_equal(finalize_windows(long[:, :, 100:260], spec), stack)
    np.testing.assert_array_equal(finalize_crops(long, 100, 160, 1e6, R), stack)
    np.testing.assert_array_equal(alignment_for(long, 100, 160, 1e6), R)
    np.testing.assert_allclose(stack[0].mean(axis=1), 0, atol=1e-4)  # µV, demeaned before the rotation
    with pytest.raises(StreamError, match="expected a window"):
        final_step(long[0, 0], 1e6)


def test_ring_wraps_and_latest_timestamps():
    rng = np.random.default_rng(0)
    spec = PreprocessingSpec(ch_names=("a", "b"), sfreq=100.0)
    pre = StreamingPreprocessor(spec, 100.0, ["b", "a", "c"], capacity_s=1.0)
    x = rng.standard_normal((3, 1000)) * 1e-5
    ts = 10 + np.arange(1000) / 100.0
    for a in range(0, 1000, 37):
        pre.push(x[:, a:a + 37], ts[a:a + 37])
    assert pre.n_total == 1000 and pre.n_available == 100
    ref, _ = preprocess_recording_like(spec, x, ts, ["b", "a", "c"])
    win, last = pre.latest_window(100)
    np.testing.assert_allclose(win, ref[:, -100:], rtol=0, atol=1e-18)
    assert last == ts[-1]
    np.testing.assert_array_equal(pre.latest_timestamps(5), ts[-5:])
    with pytest.raises(StreamError, match="available"):
        pre.latest_window(101)


def preprocess_recording_like(spec, x, ts, names):
    pre = StreamingPreprocessor(spec, 100.0, names)
    return pre.process(x, ts)


def test_missing_channels_named():
    spec = PreprocessingSpec(ch_names=("C3", "C4", "Cz"), sfreq=160.0)
    with pytest.raises(StreamError, match="C4, Cz"):
        StreamingPreprocessor(spec, 160.0, ["C3..", "Pz.."])


def test_resampled_timestamps_are_delay_compensated():
    spec = PreprocessingSpec(ch_names=("a",), sfreq=160.0, l_freq=5, h_freq=40)
    sfreq = 250.0
    t = 100 + np.arange(int(8 * sfreq)) / sfreq
    x = np.sin(2 * np.pi * 10 * t)[None, :] * 1e-5
    y, ty = StreamingPreprocessor(spec, sfreq, ["a"]).process(x, t)
    # same band-pass without resampling, evaluated at the output times: the two must line up
    y_ref, t_ref = StreamingPreprocessor(PreprocessingSpec(("a",), sfreq, 5, 40), sfreq, ["a"]).process(x, t)
    sel = (ty > 102) & (ty < 107)
    # linear-interpolation error; a 1-sample shift gives 4e-6
    np.testing.assert_allclose(y[0, sel], np.interp(ty[sel], t_ref, y_ref[0]), atol=2.5e-7)
    assert np.allclose(np.diff(ty), 1 / 160.0)


def test_euclidean_alignment_whitens_mean_covariance():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    mix = q * np.linspace(0.5, 3.0, 6)  # correlated channels, condition number 6
    x = np.einsum("cd,ndt->nct", mix, rng.standard_normal((30, 6, 400)))
    R = fit_euclidean_alignment(x)
    assert R.dtype == np.float64 and R.shape == (6, 6)
    aligned = np.einsum("cd,ndt->nct", R, x)
    mean_cov = np.einsum("nct,ndt->cd", aligned, aligned) / (30 * 400)
    np.testing.assert_allclose(mean_cov, np.eye(6), atol=0.015)  # shrinkage 1e-3 of trace/n: ~1 % on the weakest axis


def test_euclidean_alignment_rank_deficient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 5, 300))
    x -= x.mean(axis=1, keepdims=True)  # common-average reference: rank 4
    R = fit_euclidean_alignment(x)
    assert np.all(np.isfinite(R))
    aligned = np.einsum("cd,ndt->nct", R, x)
    mean_cov = np.einsum("nct,ndt->cd", aligned, aligned) / (20 * 300)
    evals = np.linalg.eigvalsh(mean_cov)
    np.testing.assert_allclose(evals[1:], 1.0, atol=0.05)  # the 4 real dimensions are whitened


def test_reject_artifacts_rules():
    rng = np.random.default_rng(0)
    cfg = PreprocessingConfig()
    ep = rng.standard_normal((6, 3, 400)) * 10e-6
    ep[1, 2] = 3e-6  # flat channel
    ep[2, 0, 100:200] = ep[2, 0].max()  # railed at max for 25 % of samples
    ep[3, 1, 50] = 400e-6  # spike beyond 150 µV
    ep[4, 0, 10] = np.nan
    keep, reasons = reject_artifacts(ep, cfg)
    assert keep.tolist() == [True, False, False, False, False, True]
    assert reasons[0] is None and reasons[5] is None
    assert reasons[1].startswith("flat") and "channel 2" in reasons[1]
    assert reasons[2].startswith("railed")
    assert reasons[3].startswith("amplitude") and "channel 1" in reasons[3]
    assert reasons[4].startswith("NaN")
    named_keep, named = reject_artifacts(ep, cfg, ["C3", "Cz", "C4"])
    assert named_keep.tolist() == keep.tolist()
    assert named[1].startswith("flat (C4: ") and named[3].startswith("amplitude (Cz: ") and named[4].startswith("NaN/Inf (C3: ")
    assert summarize_rejections(named + ["marked rejected (1023) during recording", None]) == {
        "NaN/Inf at C3": 1, "amplitude at Cz": 1, "flat at C4": 1, "marked rejected (1023) during recording": 1,
        "railed at C3": 1}
    reasons = ["amplitude (FT8: 200 µV)", "flat (C3: 0.1 µV peak-to-peak)", "amplitude (FT8: 240 µV)"]
    assert list(summarize_rejections(reasons)) == [
        "amplitude at FT8", "flat at C3"]  # most frequent first
    with pytest.raises(CalibrationError, match="3 channel names for 2 channels"):
        reject_artifacts(ep[:, :2], cfg, ["C3", "Cz", "C4"])


def test_reject_artifacts_keeps_real_clean_data(rec):
    spec = PreprocessingSpec(ch_names=SENSORIMOTOR_16, sfreq=160.0)
    data, ts = preprocess_recording(rec, spec)
    cues = [m.timestamp for m in rec.markers if m.value in ("T1", "T2")]
    windows, _ = cut_windows(data, ts, cues, 0.0, 640, 160.0)
    keep, _ = reject_artifacts(windows, PreprocessingConfig())
    assert keep.mean() >= 0.8
