"""A Cyton-like 8-channel headset over real LSL: a real EEGMMIDB recording restricted to the Cyton's
channels (Fp1 Fp2 C3 C4 P7 P8 O1 O2) calibrates (base picked for those channels, the rest
interpolated), then the same person's next run, published over LSL, is decoded online."""

from __future__ import annotations

import pytest

from bci_app.acquisition.file import StreamFile
from bci_app.acquisition.lsl import LslPlayer, StreamLSL
from bci_app.config import AppConfig
from bci_app.io.recording import map_channels, read_recording
from bci_app.session import Mode, Session
from calibration.job import CalibrationJob

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CYTON = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]


def test_cyton_layout_over_lsl_calibrates_and_decodes(eegmmidb_dir, unique_name):
    outcome = CalibrationJob([eegmmidb_dir / "S001" / "S001R04.edf"], AppConfig(), channels=CYTON).run_to_end()
    assert len(outcome.data.missing) == outcome.decoder_model.spec.n_chans - 8
    rec = map_channels(read_recording(eegmmidb_dir / "S001" / "S001R08.edf"), CYTON)
    session = Session(AppConfig())
    errors: list[str] = []
    session.subscribe("error", lambda e: errors.append(e.message))
    with StreamFile(rec, speed=8.0) as source:
        player = LslPlayer(source, unique_name, interval=0.01).open()
        try:
            lsl = StreamLSL(unique_name, resolve_timeout=5.0)
            assert session.connect(lsl), errors
            assert tuple(lsl.info.ch_names) == tuple(CYTON)  # the headset has only these 8
            player.start(wait_for_consumers=5.0)
            session.set_model(outcome.decoder_model)
            assert session.start_online(runner=False, outlet=False) and session.mode is Mode.ONLINE, errors
            assert session.run_until(lambda: session.decoder.counters.decisions >= 100, timeout_s=60), errors
            assert session.last_prediction.classes == ("left_hand", "right_hand")
        finally:
            session.stop_online()
            session.disconnect()
            player.stop()
    assert not errors
