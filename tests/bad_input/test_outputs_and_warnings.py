"""Atomic writes and pairs, the top-level handler's exit codes and log, and the sanity warnings
(results that would mislead: shared calibration/test files, test files without cues, truncated
files, timestamps going back)."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from bad_input_files import snapshot, write_xdf
from shared_data import EEGMMIDB_EDF as EDF
from shared_data import needs_eegmmidb

from bci_app.errors import ModelError, OutputError
from bci_app.outputs import atomic_write_json, atomic_write_text, commit_pair, json_text, write_temp

# -- atomic writes ---------------------------------------------------------------------------------

def test_atomic_write_replaces_whole_and_a_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    (tmp_path / "d.json").mkdir()
    with pytest.raises(OutputError, match=r"cannot write .*d\.json"):
        atomic_write_text(tmp_path / "d.json", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "r.json"]  # no temporary left


def test_json_outputs_never_hold_bare_nan():
    text = json_text({"accuracy": float("nan"), "kappa": float("inf"), "trials": [1.0, float("-inf")]})
    assert json.loads(text) == {"accuracy": None, "kappa": None, "trials": [1.0, None]}
    assert "NaN" not in text and "Infinity" not in text


def test_a_pair_whose_metadata_cannot_be_committed_leaves_the_previous_pair(tmp_path):
    a, b = tmp_path / "m.safetensors", tmp_path / "m.json"
    a.write_bytes(b"old weights")
    b.mkdir()  # the metadata's name is taken by a folder: its rename fails
    with pytest.raises(OSError):
        commit_pair((write_temp(a, b"new weights"), a), (write_temp(b, b"{}"), b))
    assert a.read_bytes() == b"old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_save_adapter_failing_on_its_metadata_keeps_the_previous_weights(world, tmp_path):
    """The issue's case: ``calibrate --out PREV`` where ``PREV.json`` cannot be written (a folder):
    the previous weights stay, no orphan or temporary file is left."""
    from bci_app.models.adapters import load_adapter, save_adapter
    from bci_app.models.io import load_model

    shutil.copy(world.root / "adapter.safetensors", tmp_path / "prev.safetensors")
    (tmp_path / "prev.json").mkdir()
    before = snapshot(tmp_path)
    model, _ = load_model(world.base)
    load_adapter(model, world.adapter)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(1.0)  # a different adapter
    with pytest.raises(ModelError, match=r"cannot write adapter files .*prev\.safetensors"):
        save_adapter(model, tmp_path / "prev", {"classes": ["left_hand", "right_hand"]})
    assert snapshot(tmp_path) == before


def test_new_weights_beside_old_metadata_are_refused_naming_the_file(world, tmp_path):
    """What a crash between the two renames would leave: the load names the mismatch."""
    from bci_app.models.adapters import load_adapter, save_adapter
    from bci_app.models.io import load_model

    model, _ = load_model(world.base)
    load_adapter(model, world.adapter)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
    save_adapter(model, tmp_path / "new", {"classes": ["left_hand", "right_hand"]})
    shutil.copy(world.root / "adapter.json", tmp_path / "new.json")
    fresh, _ = load_model(world.base)
    with pytest.raises(ModelError, match=r"new\.safetensors does not match its metadata new\.json"):
        load_adapter(fresh, tmp_path / "new")


def test_save_refuses_non_finite_weights_and_writes_nothing(world, tmp_path):
    from bci_app.models.adapters import load_adapter, save_adapter
    from bci_app.models.io import load_model

    model, _ = load_model(world.base)
    load_adapter(model, world.adapter)
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_A" in n)[0, 0] = float("inf")
    with pytest.raises(ModelError, match="NaN or Inf; nothing was written"):
        save_adapter(model, tmp_path / "a", {})
    assert list(tmp_path.iterdir()) == []


# -- the top-level handler -----------------------------------------------------------------------------

def test_an_internal_error_is_one_line_exit_1_with_the_traceback_in_the_log(monkeypatch, cli, tmp_path):
    import bci_app.commands.sys_info as sys_info

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(sys_info, "run", broken)
    log = tmp_path / "my.log"
    result = cli(["--log-file", log, "sys-info"])
    assert result.code == 1
    assert "Traceback" not in result.err and result.err.count("internal error") == 1
    assert "ZeroDivisionError" in result.err and str(log) in result.err and "--debug" in result.err
    assert "Traceback" in log.read_text() and "bci-app --log-file" in log.read_text()
    debug = cli(["--debug", "--log-file", log, "sys-info"])
    assert debug.code == 1 and "Traceback" in debug.err


def test_bad_input_names_the_log_and_debug_shows_the_traceback(cli, tmp_path, world):
    result = cli(["--log-file", tmp_path / "l.log", "replay", tmp_path / "nope.xdf", "--adapter", world.adapter])
    assert result.code == 2 and "Traceback" not in result.err and "l.log" in result.err
    result = cli(["--debug", "replay", tmp_path / "nope.xdf", "--adapter", world.adapter])
    assert result.code == 2 and "Traceback" in result.err


def test_an_unwritable_log_still_gives_the_message(cli, tmp_path):
    (tmp_path / "log").write_text("a file where the log folder would be")
    result = cli(["--log-file", tmp_path / "log" / "x.log", "replay", tmp_path / "nope.xdf"])
    assert result.code == 2 and "recording not found" in result.err and "no log written" in result.err


# -- sanity warnings -------------------------------------------------------------------------------------

@needs_eegmmidb
def test_truncated_edf_is_read_with_a_warning_giving_expected_and_found_length(tmp_path, caplog):
    from bci_app.io.recording import read_recording

    path = tmp_path / "t.edf"
    path.write_bytes(EDF.read_bytes()[:1_500_000])
    with caplog.at_level(logging.WARNING, logger="bci_app.io.recording"):
        rec = read_recording(path)
    (message,) = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert "t.edf" in message and "promises 125.0 s" in message and f"holds {rec.duration:.1f} s" in message


def test_xdf_timestamps_going_back_are_warned(tmp_path, caplog):
    from bci_app.io.recording import read_recording

    ts = 100.0 + np.arange(1600) / 160.0
    ts[800:] -= 20.0  # the clock jumps back 20 s half-way
    write_xdf(tmp_path / "b.xdf", seconds=10.0, timestamps=ts, cues=False)
    with caplog.at_level(logging.WARNING, logger="bci_app.io.recording"):
        read_recording(tmp_path / "b.xdf")
    (message,) = [r.getMessage() for r in caplog.records if "backwards" in r.getMessage()]
    assert "b.xdf" in message and "1 time(s)" in message and "19.99" in message


def test_xdf_with_garbage_at_its_end_is_one_warning_without_traceback(tmp_path, world, cli):
    path = tmp_path / "g.xdf"
    path.write_bytes(world.xdf.read_bytes() + b"\xff" * 64)
    shutil.copy(world.root / "adapter.json", tmp_path / "g-adapter.json")
    shutil.copy(world.root / "adapter.safetensors", tmp_path / "g-adapter.safetensors")
    result = cli(["replay", path])
    assert result.code == 0 and "Traceback" not in result.err
    assert result.err.count("g.xdf is damaged") == 1


def test_evaluate_warns_on_shared_files_and_scores_files_without_cues_as_null(world, tmp_path, cli):
    write_xdf(tmp_path / "quiet.xdf", cues=False)
    (tmp_path / "c.yaml").write_text("finetune:\n  max_epochs: 1\n  min_trials_per_class: 2\n  gate: false\n")
    out = tmp_path / "e.json"
    result = cli(["evaluate", "--calib", world.xdf, "--test", world.xdf, tmp_path / "quiet.xdf", "--base", world.base,
                  "--config", tmp_path / "c.yaml", "--json", out])
    assert result.code == 0, result.err[-2000:]
    assert "is both a calibration and a test file" in result.err
    report = json.loads(out.read_text())  # strict JSON: would fail on a bare NaN
    assert report["warnings"] and "quiet.xdf: no cues" in report["warnings"][0]
    assert report["n_test_trials"] == 4  # rec.xdf's trials; quiet.xdf decoded, not scored

    result = cli(["evaluate", "--calib", world.xdf, "--test", tmp_path / "quiet.xdf", "--base", world.base,
                  "--config", tmp_path / "c.yaml", "--json", tmp_path / "n.json"])
    assert result.code == 0, result.err[-2000:]
    report = json.loads((tmp_path / "n.json").read_text())
    assert report["accuracy"] is None and report["kappa"] is None and report["n_test_trials"] == 0
    assert "no accuracy" in result.err and "quiet.xdf" in result.err
