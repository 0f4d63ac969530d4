"""``bci-app record --simulate`` and ``bci-app simulate`` end to end (real files, real LSL)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import pyxdf

from bci_app.cli import main
from bci_app.io.recording import read_recording


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_record_simulate_writes_xdf(tmp_path, capsys):
    out = tmp_path / "sim.xdf"
    assert main(["record", "--simulate", "--out", str(out), "--duration", "1.5", "--sfreq", "250"]) == 0
    assert "wrote" in capsys.readouterr().out
    rec = read_recording(out)
    assert rec.sfreq == 250.0 and len(rec.ch_names) == 64 and rec.ch_names[8] == "C3"
    assert 250 <= rec.n_times <= 2 * 250
    assert np.allclose(np.diff(rec.timestamps), 1 / 250.0)
    assert 5e-6 < np.median(rec.data.std(axis=1)) < 50e-6
    _streams, header = pyxdf.load_xdf(str(out))
    assert "lora:" in header["info"]["desc"][0]["config"][0]
    # refuses to overwrite by default, with a clear message
    assert main(["record", "--simulate", "--out", str(out), "--duration", "0.2"]) == 2  # bad input
    assert "already exists" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_simulate_publishes_eeg_and_markers_over_lsl(unique_name):
    from bci_app.acquisition.lsl import StreamLSL

    proc = subprocess.Popen(
        [sys.executable, "-m", "bci_app", "simulate", "--name", unique_name, "--duration", "5", "--cues",
         "--subject-seed", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        stream = StreamLSL(name=unique_name, resolve_timeout=10.0)
        with stream:
            info = stream.info
            assert info.n_chans == 64 and info.sfreq == 160.0 and info.ch_names[10] == "Cz"
            deadline = time.monotonic() + 6.0
            while time.monotonic() < deadline and (not stream.get_markers() or stream.n_new_samples <= 200):
                stream.acquire()
                time.sleep(0.02)
            data, ts = stream.get_data()
            markers = stream.get_markers()
        assert [m.value for m in markers][:1] == ["sim:left_hand"]
        assert data.shape[1] > 160 and np.all(np.diff(ts) > 0)
        assert 5e-6 < np.median(data.std(axis=1)) < 50e-6  # microvolts on the wire, volts in the core
    finally:
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "published" in out
