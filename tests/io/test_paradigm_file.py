"""A session's paradigm set-up on disk: paradigm.yaml in the session folder and the config in a
recording's XDF header, both reloaded and validated as the config is."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from bci_app.config import AppConfig, ParadigmConfig
from bci_app.errors import ConfigError
from bci_app.io.paradigm_file import PARADIGM_FILE, load_paradigm, save_paradigm
from bci_app.io.xdf import XdfRecorder, read_file_desc


def _xdf(path, config: AppConfig | None) -> None:
    desc = {"config": yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)} if config else {"command": "x"}
    with XdfRecorder(path, file_desc=desc, flush_interval=None, clock=lambda: 0.0) as xdf:
        eeg = xdf.add_stream("eeg", "EEG", ["C3", "C4"], sfreq=100.0)
        xdf.push(eeg, np.zeros((2, 10), np.float32), np.arange(10) / 100.0)


def test_the_set_up_round_trips_through_the_folder_and_the_header(tmp_path):
    paradigm = ParadigmConfig(classes=["left_hand", "feet"], trials_per_class=7, trials_per_run=7, break_s=20.0,
                              imagery_end_s=5.0, beep=True, seed=3)
    path = save_paradigm(tmp_path, paradigm)
    assert path.name == PARADIGM_FILE and load_paradigm(tmp_path) == paradigm == load_paradigm(path)
    config = AppConfig()
    config.paradigm = paradigm
    session = tmp_path / "s2"
    session.mkdir()
    _xdf(session / "calibration.xdf", config)
    assert "paradigm:" in read_file_desc(session / "calibration.xdf")["config"]
    assert load_paradigm(session / "calibration.xdf") == paradigm == load_paradigm(session)  # no yaml: the header


def test_a_bad_set_up_is_named(tmp_path):
    (tmp_path / "bad.yaml").write_text("paradigm:\n  trials_per_class: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="paradigm.trials_per_class"):
        load_paradigm(tmp_path / "bad.yaml")
    _xdf(tmp_path / "other.xdf", None)
    with pytest.raises(ConfigError, match="not recorded by a bci-app session"):
        load_paradigm(tmp_path / "other.xdf")
    (tmp_path / "fake.xdf").write_bytes(b"not xdf")
    with pytest.raises(ConfigError, match="not an XDF file"):
        load_paradigm(tmp_path / "fake.xdf")
    with pytest.raises(ConfigError, match="holds neither paradigm.yaml nor a recording"):
        load_paradigm(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)


def test_paradigm_problems_and_description():
    from bci_app.paradigm.timing import describe_paradigm, paradigm_problems

    p = ParadigmConfig(classes=["left_hand", "tongue"], trials_per_class=20, trials_per_run=20, imagery_end_s=3.0)
    problems = paradigm_problems(p, decoded=("left_hand", "right_hand"), window=(0.5, 2.0))
    assert len(problems) == 2 and "not tongue" in problems[0] and "set paradigm.imagery_end_s to at least 4.5 s" in problems[1]
    assert paradigm_problems(ParadigmConfig(), decoded=("left_hand", "right_hand"), window=(0.5, 2.0)) == []
    assert describe_paradigm(p).startswith("40 trials (20 per class) in 2 runs with a 15 s break; about ")
