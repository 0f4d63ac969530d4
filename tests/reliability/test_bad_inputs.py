"""Bad inputs, one test each, that no other test file covers (the full catalogue, with the tests
elsewhere, is the table in docs/what-happens-when.md): each gets a clear error or a documented
handling."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bci_app.acquisition import Stream, StreamFile, StreamInfo, StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import FinetuneConfig, LoraConfig, OnlineConfig, SmoothingConfig, resolve_lora
from bci_app.errors import CalibrationError, ModelError, RecordingError, StreamError
from bci_app.io.recording import read_recording
from bci_app.io.xdf import XdfRecorder
from bci_app.models import ATCNet
from bci_app.models.pretrained import PRETRAINED_DIR, load_base_model
from bci_app.online import Decoder, DecoderModel
from bci_app.signal.preprocess import PreprocessingSpec
from bci_app.types import Marker, Recording
from bci_app.vocabulary import SENSORIMOTOR_16
from calibration.epochs import find_cues
from calibration.finetune import finetune, run_to_end

CLASSES = ("left_hand", "right_hand")


def _model(n_times: int = 240) -> DecoderModel:
    torch.manual_seed(0)
    module = ATCNet(16, 2, 160.0, n_times).eval()
    return DecoderModel(module, PreprocessingSpec(SENSORIMOTOR_16, 160.0), CLASSES, name="test")


class _ArrayStream(Stream):
    """A real :class:`Stream` serving a fixed array (volts) in chunks of ``chunk`` samples per
    ``acquire()``: lets a test put exactly the samples it wants (NaN, Inf) through the pipeline."""

    def __init__(self, data: np.ndarray, sfreq: float, ch_names, chunk: int = 32) -> None:
        super().__init__(bufsize=120.0)
        self.data, self.sfreq, self.ch_names, self.chunk = data, sfreq, tuple(ch_names), chunk
        self.pos = 0

    def _connect(self) -> StreamInfo:
        n = len(self.ch_names)
        return StreamInfo("array", self.sfreq, self.ch_names, ("eeg",) * n, ("V",) * n, "array-1")

    def _disconnect(self) -> None:
        pass

    def _pull(self):
        end = min(self.pos + self.chunk, self.data.shape[1])
        idx = np.arange(self.pos, end)
        self.pos = end
        return self.data[:, idx], 1000.0 + idx / self.sfreq, []

    def now(self) -> float:
        return 1000.0 + self.pos / self.sfreq


def _sim(seconds: float, sfreq: float = 160.0, ch_names=SENSORIMOTOR_16) -> np.ndarray:
    clock = ManualClock(10.0)
    s = StreamSimulated(ch_names=ch_names, sfreq=sfreq, clock=clock, bufsize=seconds + 5).connect()
    clock.advance(seconds)
    s.acquire()
    data, _ = s.get_data()
    s.disconnect()
    return data


# -- samples -------------------------------------------------------------------------------------

def test_nan_and_inf_samples_flagged_kept_out_of_decisions_and_recorded_as_received(tmp_path):
    data = _sim(12.0)
    bad = {800: np.nan, 801: np.inf, 1500: -np.inf}
    for col, value in bad.items():
        data[3, col] = value
    data[:, 1200] = np.nan  # a whole sample lost by the amplifier
    stream = _ArrayStream(data, 160.0, SENSORIMOTOR_16).connect()
    rec = XdfRecorder(tmp_path / "nan.xdf", flush_interval=None, clock=stream.now)
    rec.record_stream(stream)
    config = OnlineConfig(smoothing=SmoothingConfig(method="none"))
    dec = Decoder.for_stream(stream, _model(), config)
    preds = []
    while stream.pos < data.shape[1]:
        stream.acquire()
        rec.poll()
        preds += dec.poll()
    rec.close()

    assert stream.counters.non_finite == 4  # flagged at the source ...
    assert dec.counters.non_finite_samples == 4 and dec.counters.skipped_nonfinite > 0
    assert preds and all(np.isfinite(p.probabilities).all() for p in preds)
    window = 240 + int(round(config.settle_s * 160))  # the model window plus settling, in samples
    for p in preds:  # ... kept out of every decision whose window or settling holds them
        assert not any(col <= p.sample_index < col + window for col in (800, 801, 1200, 1500))
    back = read_recording(tmp_path / "nan.xdf")  # ... and recorded exactly as received
    assert back.n_times == data.shape[1]
    np.testing.assert_array_equal(np.isnan(back.data), np.isnan(data))
    np.testing.assert_array_equal(np.isposinf(back.data), np.isposinf(data))
    np.testing.assert_array_equal(np.isneginf(back.data), np.isneginf(data))


def test_source_rate_unlike_the_models_is_resampled():
    data = _sim(8.0, sfreq=250.0)
    stream = _ArrayStream(data, 250.0, SENSORIMOTOR_16, chunk=50).connect()
    dec = Decoder.for_stream(stream, _model(), OnlineConfig())
    preds = []
    while stream.pos < data.shape[1]:
        stream.acquire()
        preds += dec.poll()
    assert dec.step == 16  # 62.5 ms at 250 Hz
    assert len(preds) >= 50 and all(p.sample_index % 16 == 15 for p in preds)
    assert dec._pre.resampler is not None  # 250 -> 160 Hz inside the shared preprocessing


def test_source_rate_too_low_for_the_model_is_a_clear_error():
    with pytest.raises(StreamError, match=r"source rate 64 Hz is too low .* must exceed 80 Hz"):
        Decoder(_model(), 64.0, SENSORIMOTOR_16)


def test_source_missing_channels_the_model_needs_names_them():
    source = [c for c in SENSORIMOTOR_16 if c not in ("C3", "C4")]
    with pytest.raises(StreamError) as info:
        Decoder(_model(), 160.0, source)
    assert "C3" in str(info.value) and "C4" in str(info.value)


def test_zero_channels_refused_everywhere(tmp_path):
    with pytest.raises(StreamError, match="zero channels"):
        StreamInfo("empty", 160.0, (), (), (), "x")
    with pytest.raises(StreamError, match="zero channels"):
        _ArrayStream(np.zeros((0, 10)), 160.0, ()).connect()
    with XdfRecorder(tmp_path / "z.xdf", flush_interval=None, clock=lambda: 0.0) as rec:
        with pytest.raises(RecordingError, match="zero channels"):
            rec.add_stream("empty", "EEG", [])
    with pytest.raises(StreamError, match="C3"):
        Decoder(_model(), 160.0, ())


# -- files -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, content, match",
    [
        ("notes.edf", b"this is a text file renamed .edf\n" * 20, "cannot read EDF file"),
        ("empty.xdf", b"", "cannot read XDF file"),
        ("garbage.xdf", b"NOT AN XDF FILE" * 100, "cannot read XDF file"),
        ("header_only.xdf", None, "holds no signal stream"),
        ("data.csv", b"1,2,3\n", "unsupported recording format '.csv'"),
    ],
)
def test_unreadable_or_wrong_format_recording(tmp_path, name, content, match):
    path = tmp_path / name
    if content is None:
        XdfRecorder(path, flush_interval=None, clock=lambda: 0.0).close()  # a file with no stream
    else:
        path.write_bytes(content)
    with pytest.raises(RecordingError, match=match) as info:
        read_recording(path)
    assert str(path.name) in str(info.value)
    stream = StreamFile(path, speed="max")
    with pytest.raises(StreamError, match=match):  # the same clear message through the file source
        stream.connect()
    assert not stream.connected


def test_missing_recording_and_folder_instead_of_file(tmp_path):
    with pytest.raises(RecordingError, match="recording not found"):
        read_recording(tmp_path / "nope.xdf")
    folder = tmp_path / "dir.xdf"
    folder.mkdir()
    with pytest.raises(RecordingError, match="not a file"):
        read_recording(folder)


def test_unknown_base_model_names_the_shipped_ones():
    with pytest.raises(ModelError) as info:
        load_base_model("no-such-model")
    assert "default" in str(info.value) and "model.base" in str(info.value)


def test_truncated_shipped_base_copy_is_refused(tmp_path):
    stem = tmp_path / "copy"
    shutil.copy(PRETRAINED_DIR / "default.json", f"{stem}.json")
    raw = (PRETRAINED_DIR / "default.safetensors").read_bytes()
    Path(f"{stem}.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        load_base_model(stem)


# -- calibration -------------------------------------------------------------------------------------

def test_too_few_clean_trials_names_classes_and_counts():
    torch.manual_seed(0)
    model = ATCNet(16, 2, 160.0, 240)
    X = np.random.default_rng(0).standard_normal((7, 16, 240)).astype(np.float32)
    y = np.array([0, 0, 0, 0, 0, 0, 1])
    with pytest.raises(CalibrationError) as info:
        run_to_end(finetune(model, X, y, lora=resolve_lora(LoraConfig(), len(y)), config=FinetuneConfig(min_trials_per_class=5),
                            classes=CLASSES))
    message = str(info.value)
    assert "left_hand: 6" in message and "right_hand: 1" in message
    assert "short: right_hand" in message and "at least 5" in message


def test_markers_with_unknown_codes_are_ignored_counted_and_logged(caplog):
    markers = [Marker(t, v) for t, v in [
        (1.0, "768"), (3.0, "769"), (5.0, "999"), (7.0, "770"), (8.0, "foo"), (9.0, "999"),
        (10.0, "gap"), (11.0, "pred:left_hand"), (12.0, "800"), (13.0, "772"),
    ]]
    rec = Recording(Path("session.xdf"), np.zeros((1, 10)), np.arange(10.0), 1.0, ("C3",), ("eeg",), ("V",),
                    tuple(markers))
    with caplog.at_level(logging.WARNING, logger="calibration.epochs"):
        onsets, labels, classes, _ = find_cues(rec, "gdf", CLASSES)
    np.testing.assert_array_equal(onsets, [3.0, 7.0])  # 772 (tongue) is known, just not requested
    np.testing.assert_array_equal(labels, [0, 1])
    (record,) = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert "ignored 3 markers" in record.getMessage() and "'999': 2" in record.getMessage()
    assert "'foo': 1" in record.getMessage() and "gap" not in record.getMessage()
