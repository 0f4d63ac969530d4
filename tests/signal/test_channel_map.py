"""Channel maps: which electrode each source channel is, applied to live sources and recordings."""

from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from bci_app.errors import ConfigError, RecordingError, StreamError
from bci_app.signal.channels import ChannelMap, match_channels
from bci_app.vocabulary import position_name


def test_parse_names_and_label_pairs() -> None:
    plain = ChannelMap.parse("c3, CZ ,c4")
    assert plain.only_listed and plain.as_dict() == {"c3": "C3", "CZ": "Cz", "c4": "C4"}
    pairs = ChannelMap.parse("Ch1=C3,Ch2=fcz,Ch3=EOG")
    assert pairs.as_dict() == {"Ch1": "C3", "Ch2": "FCz", "Ch3": "eog"}
    assert position_name("cpz") == "CPz" and position_name("Ch1") is None


@pytest.mark.parametrize("text, problem", [
    ("Ch1=Q9", "neither a 10-05 electrode position"),
    ("Ch1=C3,Ch2=c3", "each position can hold one channel"),
    ("Ch1=C3,ch1=C4", "twice"),
    ("Ch1=", "LABEL=POSITION"),
    (" , ", "names no channel"),
])
def test_bad_maps_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        ChannelMap.parse(text)


def test_apply_renames_types_and_keeps_every_row() -> None:
    names = ("Ch1", "Ch2", "Ch3", "Ch4")
    cmap = ChannelMap.from_mapping({"Ch1": "C3", "Ch2": "C4", "Ch3": "eog"})
    out_names, out_types, listed = cmap.apply(names, ("eeg",) * 4)
    assert out_names == ("C3", "C4", "Ch3", "Ch4") and out_types == ("eeg", "eeg", "eog", "eeg")
    assert listed == [0, 1, 2]
    only = ChannelMap(cmap.entries, only_listed=True)
    assert only.apply(names, ("eeg",) * 4)[1] == ("eeg", "eeg", "eog", "misc")
    with pytest.raises(StreamError, match="has no channel 'Ch9'.*Ch1, Ch2, Ch3, Ch4"):
        ChannelMap.from_mapping({"Ch9": "Cz"}).apply(names, ("eeg",) * 4, error=StreamError)
    with pytest.raises(ConfigError, match="several EEG channels at c3"):
        ChannelMap.from_mapping({"Ch1": "C3"}).apply(("Ch1", "C3"), ("eeg", "eeg"))


def test_non_eeg_channels_never_stand_in_for_a_position() -> None:
    # an EOG electrode labelled Fp1 is not the EEG position Fp1
    assert match_channels(("Fp1", "C3"), ["C3"], types=("eog", "eeg")) == [1]
    with pytest.raises(Exception, match="lacks 1 channel"):
        match_channels(("Fp1", "C3"), ["Fp1"], types=("eog", "eeg"))


def test_brainflow_presets_come_from_the_descriptor() -> None:
    from bci_app.acquisition.brainflow import board_channels, brainflow_channel_preset

    synthetic = brainflow_channel_preset("synthetic")
    assert list(synthetic)[:3] == ["Fz", "C3", "Cz"] and synthetic["C3"] == "C3"
    assert synthetic["accel_x"] == "accel"
    cyton = brainflow_channel_preset("cyton")
    assert [k for k, v in cyton.items() if v not in ("accel", "aux")] == ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
    ganglion = board_channels("ganglion")
    assert ganglion["names"][:4] == ["ch1", "ch2", "ch3", "ch4"] and not ganglion["named"]
    assert set(brainflow_channel_preset("ganglion")) == {"accel_x", "accel_y", "accel_z"}  # EEG left to the operator
    muse = board_channels("muse_2")
    assert muse["names"] == ["TP9", "AF7", "AF8", "TP10"]


def test_recording_map_restricts_and_renames(eegmmidb_dir) -> None:
    from bci_app.io.recording import map_channels, read_recording

    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    out = map_channels(rec, ChannelMap.parse("C3,Cz,C4,Fp1=eog"))
    assert out.ch_names == ("C3", "Cz", "C4", "Fp1.") and out.ch_types == ("eeg", "eeg", "eeg", "eog")
    np.testing.assert_array_equal(out.data[3], rec.data[rec.ch_names.index("Fp1.")])
    with pytest.raises(RecordingError, match="TP9"):
        map_channels(rec, ["C3", "TP9"])


@pytest.mark.timeout(60)
def test_unlabeled_lsl_stream_mapped_recorded_and_decoded(unique_name: str, tmp_path) -> None:
    """A stream whose channels carry no labels (Ch1..Ch4 as many amplifiers send) gets positions
    from the map; the recording keeps the source labels; the EOG row never feeds the model."""
    import pyxdf

    from bci_app.acquisition.lsl import StreamLSL
    from bci_app.io.xdf import XdfRecorder
    from bci_app.signal.preprocess import StreamingPreprocessor

    info = pylsl.StreamInfo(unique_name, "EEG", 4, 250.0, "float32", unique_name)
    outlet = pylsl.StreamOutlet(info)
    stream = StreamLSL(unique_name, "EEG", resolve_timeout=3.0, marker_stream=False)
    stream.channel_map = ChannelMap.from_mapping({"ch1": "C3", "ch2": "Cz", "ch3": "C4", "ch4": "eog"})
    path = tmp_path / "mapped.xdf"
    with stream, XdfRecorder(path, flush_interval=None) as recorder:
        assert stream.info.ch_names == ("C3", "Cz", "C4", "ch4")
        assert stream.info.ch_types == ("eeg", "eeg", "eeg", "eog")
        assert stream.info.channel_map() == {"ch1": "C3", "ch2": "Cz", "ch3": "C4", "ch4": "eog"}
        recorder.record_stream(stream)
        t0 = pylsl.local_clock()
        outlet.push_chunk(np.random.default_rng(0).normal(0, 20, (250, 4)).astype(np.float32).tolist(),
                          [t0 + k / 250 for k in range(250)])
        end = time.monotonic() + 5
        while stream.n_new_samples < 250 and time.monotonic() < end:
            stream.acquire()
            time.sleep(0.01)
        recorder.poll()
        spec_names = ("C3", "Cz", "C4")
        from bci_app.signal.preprocess import PreprocessingSpec

        spec = PreprocessingSpec(ch_names=spec_names, sfreq=250.0, l_freq=4.0, h_freq=40.0, filter_order=4,
                                 scale=1e6, alignment=None)
        pre = StreamingPreprocessor(spec, 250.0, stream.info.ch_names, source_ch_types=stream.info.ch_types)
        assert list(pre.picks) == [0, 1, 2]
        with pytest.raises(StreamError, match="lacks"):  # ch4 is EOG: not a model input even if named so
            StreamingPreprocessor(PreprocessingSpec(ch_names=("ch4",), sfreq=250.0, l_freq=4.0, h_freq=40.0,
                                                    filter_order=4, scale=1e6, alignment=None),
                                  250.0, stream.info.ch_names, source_ch_types=stream.info.ch_types)
    streams, _ = pyxdf.load_xdf(str(path))
    eeg = next(s for s in streams if s["info"]["type"][0] == "EEG")
    chans = eeg["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"][0] for c in chans] == ["C3", "Cz", "C4", "ch4"]
    assert [c["source_label"][0] for c in chans] == ["ch1", "ch2", "ch3", "ch4"]
    assert [c["type"][0] for c in chans] == ["EEG", "EEG", "EEG", "eog"]
    assert len(eeg["time_stamps"]) == 250
