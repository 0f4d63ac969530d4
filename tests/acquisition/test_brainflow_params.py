"""Every BrainFlow connection parameter reaches the board: config section, ``record`` options, GUI form."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bci_app.config import AppConfig, BrainFlowConfig


def test_config_section_gives_only_the_parameters_that_are_set():
    cfg = BrainFlowConfig(board="cyton", serial_port="/dev/ttyUSB0", ip_port=6677, ip_protocol=2, timeout=15)
    assert cfg.stream_params() == {"serial_port": "/dev/ttyUSB0", "ip_port": 6677, "ip_protocol": 2, "timeout": 15}
    assert AppConfig().brainflow.stream_params() == {}


def test_record_options_override_the_config():
    import argparse

    from bci_app.commands import record

    parser = argparse.ArgumentParser()
    record.add_arguments(parser)
    args = parser.parse_args(["--brainflow", "unicorn", "--out", "x.xdf", "--serial-number", "UN-2021.05.36",
                              "--timeout", "20", "--mac-address", "00:11:22:33:44:55"])
    cfg = AppConfig()
    cfg.brainflow = BrainFlowConfig(serial_port="COM3", timeout=5)
    assert record.brainflow_params(args, cfg) == {"serial_port": "COM3", "serial_number": "UN-2021.05.36",
                                                  "timeout": 20, "mac_address": "00:11:22:33:44:55"}


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_record_plays_back_a_brainflow_file_with_its_master_board(tmp_path: Path):
    """``record --brainflow playback_file --board-file F --master-board synthetic``: the file and the
    master board reach BrainFlow; the recording holds the synthetic board's 16 named channels."""
    from brainflow.board_shim import BoardShim, BrainFlowInputParams
    from brainflow.data_filter import DataFilter

    from bci_app.cli import main
    from bci_app.io.recording import read_recording

    board = BoardShim(-1, BrainFlowInputParams())
    board.prepare_session()
    board.start_stream()
    time.sleep(2.0)
    board.stop_stream()
    raw = board.get_board_data()
    board.release_session()
    src = tmp_path / "synthetic.csv"
    DataFilter.write_file(raw, str(src), "w")
    out = tmp_path / "played.xdf"
    assert main(["record", "--brainflow", "playback_file", "--board-file", str(src), "--master-board", "synthetic",
                 "--out", str(out), "--duration", "1.5"]) == 0
    rec = read_recording(out)
    assert rec.ch_names[:3] == ("Fz", "C3", "Cz") and rec.sfreq == 250.0 and rec.n_times > 100
