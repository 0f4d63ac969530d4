import numpy as np
import pytest
from scipy import signal as sps

from bci_app.errors import ConfigError
from bci_app.signal.filters import StreamingBandpass, StreamingResampler


def _chunks(n, rng, max_chunk=40):
    bounds = [0]
    while bounds[-1] < n:
        bounds.append(min(n, bounds[-1] + int(rng.integers(0, max_chunk))))
    return list(zip(bounds[:-1], bounds[1:]))


def test_bandpass_chunked_equals_one_shot():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3000)) * 1e-5 + 3e-3  # DC offset like raw EEG
    one = StreamingBandpass(250.0, 4.0, 40.0, 4, 5).process(x)
    f = StreamingBandpass(250.0, 4.0, 40.0, 4, 5)
    chunked = np.concatenate([f.process(x[:, a:b]) for a, b in _chunks(x.shape[1], rng)], axis=1)
    np.testing.assert_allclose(chunked, one, rtol=0, atol=1e-15)


def test_bandpass_no_onset_transient_for_dc_offset():
    x = np.full((2, 500), 5e-3)
    y = StreamingBandpass(160.0, 4.0, 40.0, 4, 2).process(x)
    assert np.abs(y).max() < 1e-12


def test_bandpass_frequency_response():
    sfreq = 250.0
    t = np.arange(int(20 * sfreq)) / sfreq
    f = StreamingBandpass(sfreq, 8.0, 30.0, 4, 3)
    x = np.stack([np.sin(2 * np.pi * 12 * t), np.sin(2 * np.pi * 2 * t), np.sin(2 * np.pi * 60 * t)])
    y = f.process(x)[:, int(5 * sfreq):]  # after settling
    rms = np.sqrt((y**2).mean(axis=1)) / np.sqrt(0.5)
    assert rms[0] > 0.9  # pass band kept
    assert rms[1] < 0.01  # 2 Hz: > 40 dB down
    assert rms[2] < 0.02  # 60 Hz (one octave above 30 Hz, order 4): > 34 dB down


def test_bandpass_rejects_bad_edges():
    with pytest.raises(ConfigError, match="sfreq/2"):
        StreamingBandpass(64.0, 4.0, 40.0, 4, 1)


@pytest.mark.parametrize("sfreq_in,sfreq_out,n_chans,max_chunk", [
    (250.0, 160.0, 4, 40), (160.0, 128.0, 4, 40), (128.0, 160.0, 4, 40),
    (2048.0, 160.0, 4, 4),  # a 2048 Hz headset polled every millisecond: one or two samples a chunk
    (2048.0, 160.0, 1, 300),  # one channel: the sum order must not depend on the array's shape
])
def test_resampler_chunked_equals_one_shot_and_upfirdn(sfreq_in, sfreq_out, n_chans, max_chunk):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n_chans, 2000 if sfreq_in < 1000 else 6000))
    one = StreamingResampler(sfreq_in, sfreq_out, n_chans)
    y1, m1 = one.process(x)
    r = StreamingResampler(sfreq_in, sfreq_out, n_chans)
    parts = [r.process(x[:, a:b]) for a, b in _chunks(x.shape[1], rng, max_chunk)]
    y2 = np.concatenate([p[0] for p in parts], axis=1)
    m2 = np.concatenate([p[1] for p in parts])
    np.testing.assert_array_equal(m1, np.arange(y1.shape[1]))
    np.testing.assert_array_equal(m2, m1)
    np.testing.assert_array_equal(y2, y1)  # bit-identical however the samples arrive (replay = live)
    # the same numbers as scipy's one-shot polyphase filter (causal, untrimmed)
    h = sps.firwin(2 * one.half_len + 1, 1.0 / max(one.up, one.down), window=("kaiser", 5.0)) * one.up
    ref = sps.upfirdn(h, x, one.up, one.down, axis=-1)[:, : y1.shape[1]]
    np.testing.assert_allclose(y1, ref, rtol=0, atol=1e-12)
    assert y1.shape[1] == pytest.approx(x.shape[1] * sfreq_out / sfreq_in, abs=1)


def test_resampler_keeps_10hz_tone_250_to_160():
    sfreq_in, sfreq_out = 250.0, 160.0
    t = np.arange(int(10 * sfreq_in)) / sfreq_in
    r = StreamingResampler(sfreq_in, sfreq_out, 1)
    y, m = r.process(np.sin(2 * np.pi * 10 * t)[None, :])
    t_out = m / sfreq_out - r.delay_s  # delay-compensated output times
    sel = (t_out > 1.0) & (t_out < 9.0)
    expected = np.sin(2 * np.pi * 10 * t_out[sel])
    np.testing.assert_allclose(y[0, sel], expected, atol=3e-3)  # Kaiser pass-band ripple ~0.1 %
    # a 100 Hz tone (above the new Nyquist of 80 Hz) is removed, not aliased
    y2, _ = StreamingResampler(sfreq_in, sfreq_out, 1).process(np.sin(2 * np.pi * 100 * t)[None, :])
    assert np.abs(y2[0, 200:-10]).max() < 0.01
