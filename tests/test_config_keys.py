"""Every configuration key does something: the default config, one key changed at a time, and
something its consumer produces changes (no setting accepted and ignored).

Each key has a probe: a function of the whole config returning what the app or a command builds or
computes from it (a calibration job's outcome, the decoder's decisions, the paradigm's timeline, the
LSL stream the ``record`` command and the desktop app open, ...). A key without a probe fails
:func:`test_every_key_has_a_probe`; a key kept for a reason but unused would be listed in
``RESERVED`` with that reason (none is today).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import BaseModel

from bci_app.config import AppConfig

RESERVED: dict[str, str] = {}


def leaf_keys(model: BaseModel, prefix: str = "") -> list[str]:
    keys = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        keys += leaf_keys(value, f"{prefix}{name}.") if isinstance(value, BaseModel) else [f"{prefix}{name}"]
    return keys


def with_key(config: AppConfig, key: str, value: Any) -> AppConfig:
    """A validated copy of ``config`` with ``key`` (a dotted path) set to ``value``."""
    data = config.model_dump(mode="json")
    node = data
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return AppConfig.model_validate(data)


# ---------------------------------------------------------------------------------------- probes


def _lsl_streams(config: AppConfig) -> tuple:
    """The LSL stream ``record --lsl`` builds (not connected); the desktop app's LSL tab: tests/gui."""
    from bci_app.commands.record import _open_source

    s = _open_source(argparse.Namespace(simulate=False, lsl="eeg", brainflow=None, channels=None), config)
    return s.resolve_timeout, s.bufsize, s.acquisition_delay, s.default_unit


def _lsl_scope_applied(config: AppConfig, tmp_path: Path, monkeypatch) -> str:
    """The configuration text the CLI entry hands to liblsl for a command run with this config
    (captured, never handed over: liblsl keeps the test's machine scope)."""
    import pylsl

    import bci_app.lsl_config as lsl_config
    from bci_app.cli import main

    texts: list[str] = []
    monkeypatch.setattr(pylsl, "set_config_content", texts.append)
    monkeypatch.setattr(lsl_config, "_applied", None)
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config.model_dump(mode="json")), encoding="utf-8")
    main(["replay", str(tmp_path / "missing.xdf"), "--config", str(path)])
    monkeypatch.undo()
    return "".join(texts)


def _timeline(config: AppConfig) -> tuple:
    from bci_app.clocks import ManualClock
    from bci_app.paradigm.timing import GrazParadigm

    p = GrazParadigm(config.paradigm, ManualClock())
    return tuple(p.order), tuple(np.round(p.trial_offsets, 9)), tuple(np.round(p.rest_s, 9)), round(p.duration_s, 9), \
        tuple((round(e.offset, 9), e.code, e.phase) for e in p._schedule)


def _decisions(config: AppConfig) -> tuple:
    """The online decoder's decisions on 12 s of the simulated headset with a 0.4 s gap and NaNs."""
    from bci_app.acquisition import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.models import ATCNet
    from bci_app.online import Decoder, DecoderModel
    from bci_app.signal.preprocess import PreprocessingSpec
    from bci_app.vocabulary import SENSORIMOTOR_16

    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, subject_seed=1, clock=clock, bufsize=20).connect()
    clock.advance(12.0)
    sim.acquire()
    data, ts = sim.get_data()
    sim.disconnect()
    data, ts = data.copy(), ts.copy()
    ts[1000:] += 0.4
    data[:, 1500:1510] = np.nan
    torch.manual_seed(0)
    model = ATCNet(16, 2, 160.0, 480).eval()
    dm = DecoderModel(model, PreprocessingSpec(SENSORIMOTOR_16, 160.0), ("left_hand", "right_hand"))
    dec = Decoder(dm, 160.0, SENSORIMOTOR_16, config.online)
    preds = dec.feed(data, ts)
    return dec.fast, tuple((p.sample_index, tuple(p.probabilities)) for p in preds)


def _threads_set_by(command: list[str]) -> Callable[[AppConfig, Path, Any], int]:
    """The torch threads a command sets from the config before it reads its (missing) input."""

    def probe(config: AppConfig, tmp_path: Path, monkeypatch) -> int:
        from bci_app.cli import main

        path = tmp_path / "config.yaml"
        path.write_text(json.dumps(config.model_dump(mode="json")), encoding="utf-8")
        before = torch.get_num_threads()
        try:
            main([*command, str(tmp_path / "missing.edf"), "--config", str(path),
                  *(["--out", str(tmp_path / "a")] if command[0] == "calibrate" else [])])
            return torch.get_num_threads()
        finally:
            torch.set_num_threads(before)

    return probe


def _polls(config: AppConfig) -> int:
    """How often the live decoder runner polls a stream without an acquisition thread of its own
    (it acquires, then looks for a completed step) in 0.3 s. (A stream with its own thread wakes the
    runner when samples arrive instead.)"""
    import time

    from bci_app.online.runner import DecoderRunner

    class _Stream:
        connected, acquisition_delay = True, None

        def acquire(self) -> int:
            return 0

    class _Counting:
        def __init__(self) -> None:
            self.config, self.stream, self.n = config.online, _Stream(), 0

        def poll(self) -> None:
            self.n += 1

    dec = _Counting()
    runner = DecoderRunner(dec).start()
    time.sleep(0.3)
    runner.stop()
    torch.set_num_threads(1)
    return int(dec.n > 30)  # 1 ms polls: a hundred or more; 50 ms: a handful


def _session_outputs(config: AppConfig) -> tuple:
    """The prediction outlet name and the recorder's flush interval of a Session online on the
    simulated headset (machine-scope LSL)."""
    import tempfile

    import pylsl

    from bci_app.acquisition import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.models import ATCNet
    from bci_app.online import DecoderModel
    from bci_app.session import Session
    from bci_app.signal.preprocess import PreprocessingSpec
    from bci_app.vocabulary import SENSORIMOTOR_16

    clock = ManualClock(10.0)
    session = Session(config, clock=clock)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=20)
    assert session.connect(sim)
    torch.manual_seed(0)
    session.set_model(DecoderModel(ATCNet(16, 2, 160.0, 480).eval(), PreprocessingSpec(SENSORIMOTOR_16, 160.0),
                                   ("left_hand", "right_hand"), name="probe"))
    with tempfile.TemporaryDirectory() as folder:
        assert session.start_recording(Path(folder) / "r.xdf")
        flush = session.recorder.flush_interval
        assert session.start_online(runner=False)
        found = pylsl.resolve_byprop("name", config.online.outlet_name, 1, 2.0)
        session.stop_online()
        session.stop_recording()
        session.disconnect()
    return flush, tuple(i.name() for i in found)


def _brainflow(config: AppConfig) -> tuple:
    """The connection parameters ``record --brainflow`` passes (the desktop app's form: tests/gui)."""
    from bci_app.commands.record import brainflow_params

    none = argparse.Namespace(serial_port=None, mac_address=None, ip_address=None, ip_port=None, ip_protocol=None,
                              serial_number=None, other_info=None, board_file=None, timeout=None, master_board=None)
    return tuple(sorted(brainflow_params(none, config).items()))


def _channel_map(config: AppConfig) -> dict | None:
    """The channel map ``record`` gives its live source (the desktop app's channel table: tests/gui)."""
    from bci_app.commands.record import source_channel_map

    cmap = source_channel_map(None, config)
    return cmap.as_dict() if cmap is not None else None


def _participant_root(config: AppConfig, tmp_path: Path, monkeypatch) -> Path:
    """Where the session opens a participant's folder (``~`` is a temporary home here)."""
    from bci_app.clocks import ManualClock
    from bci_app.session import Session

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    session = Session(config, clock=ManualClock(0.0))
    assert session.start_participant("P1")
    return session.folder.path.parent.parent


#: key -> (a changed value, probe name)
FAST: dict[str, tuple[Any, str]] = {
    "lsl.scope": ("site", "scope"),
    "lsl.resolve_timeout_s": (2.0, "lsl"),
    "lsl.bufsize_s": (60.0, "lsl"),
    "lsl.acquisition_delay_s": (0.05, "lsl"),
    "lsl.default_unit": ("V", "lsl"),
    **{f"paradigm.{k}": (v, "timeline") for k, v in {
        "classes": ["left_hand", "feet"], "trials_per_class": 5, "trials_per_run": 10, "cue_at_s": 1.5,
        "cue_duration_s": 2.0, "imagery_end_s": 5.0, "rest_min_s": 1.0, "rest_max_s": 4.0, "break_s": 10.0,
        "seed": 3}.items()},
    "recording.directory": ("~/elsewhere", "participant_root"),
    "online.step_s": (0.125, "decisions"),
    "online.smoothing.method": ("moving_average", "decisions"),
    "online.smoothing.alpha": (0.6, "decisions"),
    "online.gap_threshold_s": (1.0, "decisions"),
    "online.settle_s": (1.0, "decisions"),
    "online.fast": (False, "decisions"),
    "online.torch_threads": (2, "replay_threads"),
    "finetune.torch_threads": (2, "calibrate_threads"),
    "online.poll_interval_s": (0.05, "polls"),
    "channels.map": ({"Fz": "FCz", "F8": "eog"}, "channel_map"),
    **{f"brainflow.{k}": (v, "brainflow") for k, v in {
        "serial_port": "/dev/ttyUSB0", "mac_address": "00:11:22:33:44:55",
        "ip_address": "192.168.1.10", "ip_port": 6677, "ip_protocol": 2, "serial_number": "UN-1",
        "other_info": "x", "file": "board.csv", "timeout": 15, "master_board": "synthetic"}.items()},
}
#: keys only the desktop app reads (probed in tests/gui/test_config_keys_gui.py, with the GUI's side
#: of the keys above)
GUI_ONLY = {"paradigm.beep", "brainflow.board"}
#: with smoothing "moving_average" the window matters (the default method is exponential)
PAIRED = {"online.smoothing.window": ({"online.smoothing.method": "moving_average"}, 3, "decisions")}
SLOW_SESSION = {"online.outlet_name": ("bci-app-probe-predictions", "session"),
                "recording.flush_interval_s": (0.25, "session")}
#: keys read by the calibration job; probed on a real recording
JOB: dict[str, Any] = {
    "model.base": "sensorimotor8",
    "lora.enabled": False, "lora.rank": 4, "lora.alpha": 4.0, "lora.target_modules": ["msa"], "lora.dropout": 0.0,
    "preprocessing.l_freq": 8.0, "preprocessing.h_freq": 30.0, "preprocessing.filter_order": 2,
    "preprocessing.scale": 1.0e5, "preprocessing.euclidean_alignment": False,
    "preprocessing.reject_amplitude_uv": 60.0, "preprocessing.reject_flat_uv": 100.0,
    "preprocessing.reject_railed_fraction": 0.0001, "preprocessing.repair_bad_channels": False,
    "preprocessing.bad_channel_fraction": 0.9, "preprocessing.max_repaired_fraction": 0.01,
    "preprocessing.interpolate_missing_channels": False,
    "finetune.max_epochs": 2, "finetune.batch_size": 4, "finetune.learning_rate": 0.001,
    "finetune.weight_decay": 0.5, "finetune.patience": 1, "finetune.validation_fraction": 0.0,
    "finetune.seed": 1, "finetune.min_trials_per_class": 8, "finetune.monitor": "val_accuracy",
    "finetune.gate": False, "finetune.gate_folds": 3, "finetune.gate_repeats": 2,
    "finetune.window_span_s": 0.0, "finetune.window_stride_s": 0.25,
    "finetune.prior": "kl" if AppConfig().finetune.prior != "kl" else "l2",
    "finetune.prior_weight": 0.1 if AppConfig().finetune.prior_weight != 0.1 else 1.0,
    "finetune.average_folds": not AppConfig().finetune.average_folds,
    "finetune.gate_margin": 0.5,
    "finetune.label_smoothing": 0.2, "finetune.feature_noise": 0.5, "finetune.feature_mixup": 1.0,
}


def test_every_key_has_a_probe():
    probed = set(FAST) | set(PAIRED) | set(SLOW_SESSION) | set(JOB) | set(RESERVED) | GUI_ONLY
    keys = set(leaf_keys(AppConfig()))
    assert keys - probed == set(), "keys nobody checks: add a probe, or list them in RESERVED with a reason"
    assert probed - keys == set(), "probes for keys that no longer exist"


@pytest.fixture
def probes(tmp_path, monkeypatch) -> dict[str, Callable[[AppConfig], Any]]:
    return {
        "scope": lambda c: _lsl_scope_applied(c, tmp_path, monkeypatch),
        "lsl": _lsl_streams,
        "timeline": _timeline,
        "participant_root": lambda c: _participant_root(c, tmp_path, monkeypatch),
        "decisions": _decisions,
        "replay_threads": lambda c: _threads_set_by(["replay"])(c, tmp_path, monkeypatch),
        "calibrate_threads": lambda c: _threads_set_by(["calibrate", "--calib"])(c, tmp_path, monkeypatch),
        "polls": _polls,
        "channel_map": _channel_map,
        "brainflow": _brainflow,
        "session": _session_outputs,
    }


@pytest.mark.parametrize("key", sorted(FAST) + sorted(PAIRED))
def test_changing_the_key_changes_what_its_consumer_does(key, probes):
    if key in PAIRED:
        others, value, probe = PAIRED[key]
        default = AppConfig()
        for k, v in others.items():
            default = with_key(default, k, v)
    else:
        (value, probe), default = FAST[key], AppConfig()
    assert probes[probe](default) != probes[probe](with_key(default, key, value)), f"{key} changed nothing"


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("key", sorted(SLOW_SESSION))
def test_session_keys(key, probes):
    value, probe = SLOW_SESSION[key]
    default = AppConfig()
    assert probes[probe](default) != probes[probe](with_key(default, key, value)), f"{key} changed nothing"


# ------------------------------------------------------------------------- the calibration job


@pytest.fixture(scope="module")
def clean_recording(eegmmidb_dir):
    """S001 run 4 on the sensorimotor channels without FCz (interpolated)."""
    from bci_app.io.recording import map_channels, read_recording
    from bci_app.vocabulary import SENSORIMOTOR_16

    return map_channels(read_recording(eegmmidb_dir / "S001" / "S001R04.edf"),
                         [c for c in SENSORIMOTOR_16 if c != "FCz"])


@pytest.fixture(scope="module")
def calibration_recording(clean_recording):
    """The clean recording with C3 loose in the first 60 % (repaired)."""
    rec = clean_recording
    data = rec.data.copy()
    n = int(0.6 * rec.n_times)
    data[rec.ch_names.index("C3"), :n] += 400e-6 * np.sin(2 * np.pi * 7.0 * np.arange(n) / rec.sfreq)
    return dataclasses.replace(rec, data=data)


#: the job's baseline: short training so that each key's run takes about a second
#: (with a validation split and enough epochs that early stopping and its monitor matter)
JOB_BASE = {"finetune.max_epochs": 20, "finetune.learning_rate": 0.03, "finetune.gate_folds": 2,
            "finetune.gate_repeats": 1, "finetune.validation_fraction": 0.2}


def _without_timings(node: Any) -> Any:
    """``node`` without wall-clock figures (``seconds``, ``elapsed_s``), which differ run to run."""
    if isinstance(node, dict):
        return {k: _without_timings(v) for k, v in node.items() if k not in ("seconds", "elapsed_s")}
    if isinstance(node, list):
        return [_without_timings(v) for v in node]
    return node


def _job_outcome(recording, config: AppConfig) -> str:
    """Everything the job produces but its timings: metadata, every weight, or the refusal."""
    from bci_app.errors import BCIError
    from calibration.job import CalibrationJob

    try:
        # labels the base does not already decode perfectly, so training has something to learn
        # (early stopping and its monitor then matter)
        outcome = CalibrationJob([recording], config, labels=lambda y: np.roll(y, 3)).run_to_end()
    except BCIError as exc:
        return f"refused: {exc}"
    meta = _without_timings(outcome.metadata)
    digest = hashlib.sha256()
    for name, tensor in sorted(outcome.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return json.dumps(meta, sort_keys=True, default=str) + digest.hexdigest()


#: keys probed on the clean recording: on the repaired one, validation accuracy and loss happen to
#: pick the same epochs
ON_CLEAN = {"finetune.monitor"}


@pytest.fixture(scope="module")
def job_config() -> AppConfig:
    config = AppConfig()
    for key, value in JOB_BASE.items():
        config = with_key(config, key, value)
    return config


@pytest.fixture(scope="module")
def job_defaults(job_config, calibration_recording, clean_recording) -> dict[str, tuple[Any, str]]:
    return {"repaired": (calibration_recording, _job_outcome(calibration_recording, job_config)),
            "clean": (clean_recording, _job_outcome(clean_recording, job_config))}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("key", sorted(JOB))
def test_changing_a_calibration_key_changes_the_outcome(key, job_config, job_defaults):
    recording, default = job_defaults["clean" if key in ON_CLEAN else "repaired"]
    changed = _job_outcome(recording, with_key(job_config, key, JOB[key]))
    assert changed != default, f"{key} changed nothing in the calibration job's outcome"
