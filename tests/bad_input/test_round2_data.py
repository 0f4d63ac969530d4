"""Data that contradicts itself, unhandled exceptions and silent no-ops (bad input, round 2).

The catalogue cases run ``bci-app`` in-process and expect exit 2 with one error line naming the
problem, no traceback and every file unchanged (:func:`assert_refused_cleanly`); the other tests
check the warnings and choices made when the input is usable."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from bad_input_files import assert_refused_cleanly, snapshot, write_xdf
from shared_data import EEGMMIDB_DIR, needs_eegmmidb

from bci_app.errors import CalibrationError, ConfigError

EEGMMIDB = EEGMMIDB_DIR


def signal_xdf(path: Path, streams: dict[str, np.ndarray | None], *, sfreq: float = 160.0, cues: bool = True,
               irregular: tuple[str, ...] = ()) -> Path:
    """An XDF (our writer) with one EEG stream per entry of ``streams`` (name -> µV data (16, n), None
    for a stream without samples), each on ``SENSORIMOTOR_16``, plus GDF cues every 8 s."""
    from bci_app.io.xdf import XdfRecorder
    from bci_app.vocabulary import SENSORIMOTOR_16

    with XdfRecorder(path, flush_interval=None, clock=lambda: 100.0) as rec:
        n = 0
        for name, data in streams.items():
            handle = rec.add_stream(name, "EEG", list(SENSORIMOTOR_16), units=["microvolts"] * 16,
                                    sfreq=0.0 if name in irregular else sfreq)
            if data is not None:
                n = data.shape[1]
                rec.push(handle, data.astype(np.float32), 100.0 + np.arange(n) / sfreq)
        if cues:
            markers = rec.add_stream("markers", "Markers", ["marker"], channel_format="string")
            onsets = np.arange(2.0, max(n / sfreq, 40.0) - 6.0, 8.0)
            rec.push(markers, ["769" if i % 2 == 0 else "770" for i in range(len(onsets))], 100.0 + onsets)
    return path


def eeg(kind: str, seconds: float = 40.0) -> np.ndarray:
    """(16, n) µV: ``noise`` (valid), ``zero``, ``railed`` (a square wave between the amplifier's limits),
    ``nan``, ``constant``."""
    n = int(seconds * 160)
    if kind == "noise":
        return np.random.default_rng(1).standard_normal((16, n)) * 10.0
    if kind == "zero":
        return np.zeros((16, n))
    if kind == "railed":
        return np.where((np.arange(n) // 40) % 2 == 0, 187_500.0, -187_500.0)[None, :].repeat(16, axis=0)
    if kind == "nan":
        return np.full((16, n), np.nan)
    return np.full((16, n), 42.0)


def _two_people(d: Path) -> Path:
    for person in ("S001", "S002"):
        (d / "eeg" / person).mkdir(parents=True)
        shutil.copy(EEGMMIDB / person / f"{person}R04.edf", d / "eeg" / person / f"{person}R04.edf")
    return d / "eeg"


def _yaml(d: Path, text: str) -> Path:
    (d / "bad.yaml").write_text(text, encoding="utf-8")
    return d / "bad.yaml"


def _calibrate(d: Path, calib: Path, *extra) -> list:
    return ["calibrate", "--calib", calib, "--base", d / "base", "--out", d / "new", "--config", d / "config.yaml",
            *extra]


Build = Callable[[Path], tuple[list, list[str]]]
CASES: list = []


def case(name: str, build: Build, *, needs_edf: bool = False) -> None:
    marks = [needs_eegmmidb] if needs_edf else []
    CASES.append(pytest.param(build, id=name, marks=marks))


# -- data that contradicts itself ------------------------------------------------------------------
for kind, word in (("zero", "flat"), ("railed", "railed"), ("constant", "flat")):
    case(f"calibrate-on-{kind}-data", lambda d, kind=kind, word=word: (
        _calibrate(d, signal_xdf(d / f"{kind}.xdf", {"eeg": eeg(kind)})),
        [f"{kind}.xdf", "every one of its 16 EEG channels is dead", word, "no brain signal"]))
case("calibrate-on-half-dead-half-nan", lambda d: (
    _calibrate(d, signal_xdf(d / "mix.xdf", {"eeg": np.vstack([eeg("zero")[:8], eeg("nan")[8:]])})),
    ["mix.xdf", "flat", "no finite sample"]))
case("two-usable-eeg-streams-of-one-size", lambda d: (
    _calibrate(d, signal_xdf(d / "two.xdf", {"amp-a": eeg("noise"), "amp-b": eeg("noise") * 2})),
    ["two.xdf", "2 usable EEG streams", "'amp-a'", "'amp-b'", "cannot tell which"]))
case("no-usable-eeg-stream-of-three", lambda d: (
    ["replay", signal_xdf(d / "three.xdf", {"a": eeg("nan"), "b": eeg("zero"), "c": None}), "--adapter",
     d / "adapter"],
    ["three.xdf", "none is usable", "'a' (16 ch): only NaN/Inf", "'b' (16 ch): every channel constant",
     "'c' (16 ch): no samples"]))
case("events-map-a-marker-to-two-classes", lambda d: (
    _calibrate(d, d / "rec.xdf", "--events", "769=left_hand,770=right_hand,769=right_hand,770=left_hand"),
    ["--events", "'769'", "to left_hand and to right_hand"]))
case("events-map-a-marker-twice", lambda d: (
    _calibrate(d, d / "rec.xdf", "--events", "770=right_hand,769=left_hand,770=right_hand"),
    ["--events", "'770' again"]))
for key, text, fragment in (
        ("lora.rank", "lora:\n  rank: true\n", "valid integer (got True)"),
        ("finetune.max_epochs", "finetune:\n  max_epochs: 2.5\n", "valid integer"),
        ("finetune.gate", "finetune:\n  gate: 1\n", "valid boolean"),
        ("lora.alpha", "lora:\n  alpha: false\n", "boolean"),
        ("paradigm.trials_per_class", "paradigm:\n  trials_per_class: '20'\n", "valid integer")):
    case(f"config-{key}-{text.split(': ')[-1].strip()}", lambda d, text=text, key=key, fragment=fragment: (
        _calibrate(d, d / "rec.xdf")[:-2] + ["--config", _yaml(d, text)], ["bad.yaml", key, fragment]))

# -- unhandled exceptions: each a clear exit 2 ------------------------------------------------------
case("replay-irregular-eeg-stream-without-samples", lambda d: (
    ["replay", signal_xdf(d / "irr.xdf", {"eeg": None}, irregular=("eeg",)), "--adapter", d / "adapter"],
    ["irr.xdf", "irregular rate and 0 sample(s)"]))
case("replay-irregular-eeg-stream-of-one-sample", lambda d: (
    ["replay", signal_xdf(d / "one.xdf", {"eeg": eeg("noise")[:, :1]}, irregular=("eeg",)), "--adapter",
     d / "adapter"], ["one.xdf", "irregular rate and 1 sample(s)"]))
for seed in ("-1", "1e23", str(2**40)):
    case(f"config-finetune-seed-{seed}", lambda d, seed=seed: (
        _calibrate(d, d / "rec.xdf")[:-2] + ["--config", _yaml(d, f"finetune:\n  seed: {seed}\n")],
        ["bad.yaml", "finetune.seed"]))
case("config-paradigm-seed-negative", lambda d: (
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--json", d / "o.json", "--config",
     _yaml(d, "paradigm:\n  seed: -5\n")], ["bad.yaml", "paradigm.seed"]))
for text, fragment in (('""', "is empty"), ('"data\\0here"', "control character"), ('"  "', "is empty")):
    case(f"config-recording-directory-{text}", lambda d, text=text, fragment=fragment: (
        ["record", "--simulate", "--duration", "1", "--out", d / "o.xdf", "--config",
         _yaml(d, f"recording:\n  directory: {text}\n")], ["bad.yaml", "recording.directory", fragment]))
case("record-markers-without-lsl", lambda d: (
    ["record", "--simulate", "--markers", "cues", "--duration", "1", "--out", d / "o.xdf"], ["--markers", "--lsl"]))
for argv in (["record", "--simulate", "--subject-seed", "-5", "--duration", "1", "--out", "o.xdf"],
             ["simulate", "--session-seed", "-1", "--duration", "0.2"], ["demo", "--headless", "--seed", "-2"],
             ["simulate", "--subject-seed", "1e23", "--duration", "0.2"],
             ["evaluate", "--calib", "rec.xdf", "--test", "rec.xdf", "--json", "o.json", "--shuffle-labels", "-1"]):
    option = next(a for a in argv if "seed" in a or "shuffle" in a)
    case(f"{argv[0]}{option}-{argv[argv.index(option) + 1]}", lambda d, argv=argv, option=option: (
        [d / a if a.endswith((".xdf", ".json")) else a for a in argv], [option, argv[argv.index(option) + 1]]))
case("pretrain-seed-negative", lambda d: (["pretrain", "--data", d, "--out", d / "m", "--seed", "-3"],
                                          ["--seed", "-3"]))
case("pretrain-exclude-every-person", lambda d: (
    ["pretrain", "--data", _two_people(d), "--out", d / "m", "--exclude-subjects", "s001", "S002"],
    ["--exclude-subjects", "no person", "S001, S002"]), needs_edf=True)
case("pretrain-cache-is-a-file", lambda d: (
    ["pretrain", "--data", _two_people(d), "--out", d / "m", "--cache", d / "config.yaml"],
    ["--cache", "config.yaml", "is a file"]), needs_edf=True)

# -- silent no-ops --------------------------------------------------------------------------------
for extra, fragment in ((["--folds", "2", "--only-folds", "99"], "--only-folds 99: no such fold"),
                        (["--folds", "2", "--only-folds", "-1"], "--only-folds -1: no such fold"),
                        (["--folds", "2", "--only-folds", "0", "5", "7"], "--only-folds 5 7"),
                        (["--only-folds", "0"], "--only-folds needs --folds"),
                        (["--no-final", "--folds", "0"], "trains nothing"),
                        (["--no-final", "--folds", "2", "--only-folds"], "trains nothing"),
                        (["--folds", "1"], "--folds 1"),
                        (["--folds", "3"], "the number of people (2)"),
                        (["--save-folds"], "--save-folds needs --folds")):
    case(f"pretrain-{'_'.join(extra)}", lambda d, extra=extra, fragment=fragment: (
        ["pretrain", "--data", _two_people(d), "--out", d / "m", *extra], [fragment]), needs_edf=True)


@pytest.mark.parametrize("build", CASES)
def test_round2_bad_input_is_refused_cleanly(build, case_dir, cli):
    argv, expected = build(case_dir)
    before = snapshot(case_dir)
    assert_refused_cleanly(cli(argv), expected, before, case_dir, argv)


# -- usable input: the choice or the warning is said -------------------------------------------------

def test_of_several_eeg_streams_the_usable_one_is_read_with_a_warning(tmp_path, caplog):
    from bci_app.io.recording import read_recording

    path = signal_xdf(tmp_path / "s.xdf", {"broken": eeg("nan"), "headset": eeg("noise"), "small": None})
    with caplog.at_level(logging.WARNING, logger="bci_app.io.recording"):
        rec = read_recording(path)
    assert np.isfinite(rec.data).all() and rec.data.std() > 0
    (message,) = [r.getMessage() for r in caplog.records if "EEG streams" in r.getMessage()]
    assert "using 'headset' (16 ch)" in message and "'broken' (16 ch): only NaN/Inf" in message


def test_replay_of_a_flat_recording_warns_in_the_log_and_the_report(world, tmp_path, cli):
    path = signal_xdf(tmp_path / "flat.xdf", {"eeg": eeg("zero")})
    result = cli(["replay", path, "--adapter", world.adapter, "--json", tmp_path / "r.json"])
    assert result.code == 0, result.err[-2000:]
    assert result.err.count("flat.xdf: every one of its 16 EEG channels is dead") == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["warnings"] and "no brain signal" in report["warnings"][0]
    fine = cli(["replay", world.xdf, "--adapter", world.adapter, "--json", tmp_path / "ok.json"])
    assert fine.code == 0 and json.loads((tmp_path / "ok.json").read_text())["warnings"] == []


def test_evaluate_on_flat_test_data_warns_and_a_file_without_cues_is_not_said_to_have_some(world, tmp_path, cli):
    signal_xdf(tmp_path / "flat.xdf", {"eeg": eeg("railed")})
    write_xdf(tmp_path / "quiet.xdf", cues=False)
    (tmp_path / "c.yaml").write_text("finetune:\n  max_epochs: 1\n  min_trials_per_class: 2\n  gate: false\n")
    result = cli(["evaluate", "--calib", world.xdf, "--test", tmp_path / "flat.xdf", tmp_path / "quiet.xdf",
                  "--base", world.base, "--config", tmp_path / "c.yaml", "--json", tmp_path / "e.json"])
    assert result.code == 0, result.err[-2000:]
    warnings = json.loads((tmp_path / "e.json").read_text())["warnings"]
    assert any("flat.xdf" in w and "railed" in w and "no brain signal" in w for w in warnings), warnings
    quiet = [w for w in warnings if w.startswith("quiet.xdf")]
    assert quiet and "it holds no cues" in quiet[0] and "its cues are" not in quiet[0]


def test_a_mapping_that_leaves_cues_unused_says_so(world, tmp_path, caplog):
    """Markers the --events mapping does not name, and cues of classes the base does not decode, are
    each named in a warning."""
    from bci_app.config import load_config
    from bci_app.io.dataset_presets import parse_event_mapping
    from bci_app.io.recording import read_recording
    from calibration.epochs import find_cues
    from calibration.prepare import prepare_calibration

    rec = read_recording(world.xdf)
    with caplog.at_level(logging.WARNING):
        find_cues(rec, parse_event_mapping("769=left_hand"))
    assert any("not cues of the --events mapping 769=left_hand" in r.getMessage() and "'770': 2" in r.getMessage()
               for r in caplog.records), caplog.text
    caplog.clear()
    config = load_config(world.config)
    with caplog.at_level(logging.WARNING):
        prepare_calibration([world.xdf], config, base=world.base, preset=parse_event_mapping("769=left_hand,770=feet"))
    assert any("cue(s) of classes the base does not decode were left unused: {'feet': 2}" in r.getMessage()
               for r in caplog.records), caplog.text


def test_too_many_bad_channels_are_refused_not_half_repaired():
    from bci_app.signal.repair import find_bad_channels

    rng = np.random.default_rng(0)
    trials = rng.standard_normal((6, 16, 320)) * 10.0
    trials[:, :9] = 0.0  # 9 of 16 channels flat in every trial
    with pytest.raises(CalibrationError, match="9 of 16 channels are flat, railed or not finite"):
        find_bad_channels(trials, [f"c{i}" for i in range(16)], fraction=0.5, max_fraction=0.25, amplitude_uv=150,
                          flat_uv=0.5, railed_fraction=0.05)
    trials[:, 5:9] = rng.standard_normal((6, 4, 320)) * 10.0  # 5 bad: the worst 4 are repaired, as before
    assert len(find_bad_channels(trials, [f"c{i}" for i in range(16)], fraction=0.5, max_fraction=0.25,
                                 amplitude_uv=150, flat_uv=0.5, railed_fraction=0.05)) == 4
    # noisy but alive channels (real EEG with large artifacts) are repaired, never a refusal
    noisy = rng.standard_normal((6, 16, 320)) * 10.0
    noisy[:, :9] *= 40.0  # 9 of 16 beyond 150 µV in every trial
    assert len(find_bad_channels(noisy, [f"c{i}" for i in range(16)], fraction=0.5, max_fraction=0.25,
                                 amplitude_uv=150, flat_uv=0.5, railed_fraction=0.05)) == 4


@needs_eegmmidb
def test_the_same_data_folder_twice_is_used_once_with_a_warning(tmp_path, cli):
    data = _two_people(tmp_path)
    result = cli(["pretrain", "--data", data, str(data) + os.sep, data / "S001", "--out", tmp_path / "m",
                  "--no-final"])
    assert result.code == 2 and "trains nothing" in result.err  # the plan is refused after de-duplication
    assert result.err.count("is the folder already given; using it once") == 1
    assert result.err.count(f"is inside the folder {data} already given; using it once") == 1


def test_session_refuses_a_data_folder_that_cannot_be_one(tmp_path):
    """A NUL in the data folder reaches the session as an error event, never as an exception (the
    config refuses it at load; a config built in code reaches the session folder's own check)."""
    from bci_app.config import AppConfig
    from bci_app.io.participant import SessionFolder
    from bci_app.session import Session

    for root in ("", "a\0b", "\t"):
        with pytest.raises(ConfigError, match="data folder"):
            SessionFolder.create(root, "P001")
    config = AppConfig()
    config.recording = config.recording.model_copy(update={"directory": str(tmp_path / "a\0b")})  # unvalidated
    session = Session(config)
    errors = []
    session.subscribe("error", errors.append)
    assert session.start_participant("P001") is False
    assert errors and "control character" in str(errors[0])
    assert list(tmp_path.iterdir()) == []


def test_a_recording_given_twice_counts_once_with_a_warning(case_dir, cli):
    """``--calib A A`` (or A and a hard link of A) would count A's trials twice."""
    os.link(case_dir / "rec.xdf", case_dir / "same.xdf")
    rec = case_dir / "rec.xdf"
    result = cli(["calibrate", "--calib", rec, rec, case_dir / "same.xdf", "--base", case_dir / "base", "--out",
                  case_dir / "new", "--config", case_dir / "config.yaml"])
    assert "--calib" in result.err and result.err.count("given already; using it once") == 2
    assert "left_hand: 2, right_hand: 2" in result.err  # the 4 trials of one file, not 12
