"""Sources from plain specs (the one factory the window, `record` and scripts use) and what LSL offers
on this machine, with real outlets in this process."""

from __future__ import annotations

import pylsl
import pytest

from bci_app.acquisition.sources import discover_lsl, discover_markers, make_stream
from bci_app.errors import ConfigError


def test_each_kind_of_spec_makes_its_stream(tmp_path):
    from bci_app.acquisition import StreamBrainFlow, StreamLSL, StreamSimulated
    from bci_app.config import LslConfig

    sim = make_stream({"kind": "simulated", "ch_names": ("C3", "Cz", "C4"), "sfreq": 128.0, "subject_seed": 4})
    assert isinstance(sim, StreamSimulated)
    with sim:
        assert sim.info.ch_names == ("C3", "Cz", "C4") and sim.info.sfreq == 128.0
    lsl = make_stream({"kind": "lsl", "name": "amp", "markers": "psychopy", "channel_map": {"ch1": "C3"}},
                      lsl=LslConfig(bufsize_s=7.0))
    assert isinstance(lsl, StreamLSL) and lsl.marker_stream == "psychopy"
    assert lsl.channel_map.entries == (("ch1", "C3"),)
    bf = make_stream({"kind": "brainflow", "board": "synthetic", "params": {"serial_port": "", "timeout": None}})
    assert isinstance(bf, StreamBrainFlow)
    with pytest.raises(ValueError, match="unknown source kind 'usb'; expected one of simulated, lsl"):
        make_stream({"kind": "usb"})
    with pytest.raises(ConfigError):
        make_stream({"kind": "simulated", "channel_map": {"ch1": "nowhere"}})


def test_discover_markers_lists_a_stimulus_programs_stream(unique_name):
    eeg = pylsl.StreamOutlet(pylsl.StreamInfo(f"{unique_name}-eeg", "EEG", 2, 100.0, "float32", "e"))
    cues = pylsl.StreamOutlet(pylsl.StreamInfo(f"{unique_name}-cues", "Markers", 1, 0, pylsl.cf_string, "c"))
    mine = pylsl.StreamOutlet(pylsl.StreamInfo(f"{unique_name}-own", "Markers", 1, 0, pylsl.cf_string, "o"))
    try:
        rows = [r for r in discover_lsl(1.0) if r["name"].startswith(unique_name)]
        assert sorted(r["name"] for r in rows) == sorted(f"{unique_name}-{k}" for k in ("eeg", "cues", "own"))
        found = discover_markers(rows, exclude=(f"{unique_name}-own",))
        assert [(r["name"], r["type"], r["n_chans"]) for r in found] == [(f"{unique_name}-cues", "Markers", 1)]
    finally:
        del eeg, cues, mine
