"""Outputs that cannot destroy anything (bad input, round 2): a file a command reads is never an
output, a device, FIFO or socket is never replaced, a refused write leaves nothing behind, a name
that cannot be a file is refused, and every file the app writes follows the user's umask."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from pathlib import Path

import pytest
from bad_input_files import assert_refused_cleanly, snapshot, write_xdf
from shared_data import EEGMMIDB_DIR, EEGMMIDB_EDF, needs_eegmmidb

from bci_app.errors import OutputError, RecordingError
from bci_app.outputs import atomic_write_json, atomic_write_text

EEGMMIDB, EDF = EEGMMIDB_DIR, EEGMMIDB_EDF
needs_edf = needs_eegmmidb


def _data_folder(d: Path) -> Path:
    """A one-person EEGMMIDB folder (two imagery runs) inside ``d``."""
    (d / "eeg" / "S001").mkdir(parents=True)
    for run in ("04", "08"):
        shutil.copy(EEGMMIDB / "S001" / f"S001R{run}.edf", d / "eeg" / "S001" / f"S001R{run}.edf")
    return d / "eeg"


def _refused(cli, folder: Path, argv: list, expected: list[str]) -> None:
    before = snapshot(folder)
    assert_refused_cleanly(cli(argv), expected, before, folder, argv)


# -- a file the command reads is never an output ---------------------------------------------------

@needs_edf
@pytest.mark.parametrize("given", ["folder", "parent"])
def test_pretrain_never_replaces_a_file_inside_its_data_folder(cli, tmp_path, given):
    """The guard checks the files the command reads inside ``--data``, not only the folder."""
    data = _data_folder(tmp_path)
    folder = data if given == "folder" else tmp_path
    _refused(cli, tmp_path, ["pretrain", "--data", folder, "--out", tmp_path / "m", "--report",
                             data / "S001" / "S001R08.edf", "--overwrite", "--epochs", "1"],
             ["--report", "S001R08.edf", "same file as the input"])


@needs_edf
def test_pretrain_never_replaces_a_cached_file(cli, tmp_path):
    data = _data_folder(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "0123-abc.npz").write_bytes(b"cached epochs")
    _refused(cli, tmp_path, ["pretrain", "--data", data, "--cache", cache, "--out", tmp_path / "m",
                             "--report", cache / "0123-abc.npz", "--overwrite"], ["--report", "0123-abc.npz", "input"])


# -- never anything but a regular file ---------------------------------------------------------------

def _special(kind: str, path: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.close()
    else:  # a link to a character device
        path.symlink_to(os.devnull)
    return path


SPECIAL = {"fifo": "FIFO", "socket": "socket", "link-to-device": "character device"}


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("command", ["replay", "evaluate", "record", "calibrate"])
def test_a_device_fifo_or_socket_is_never_replaced(cli, case_dir, kind, command):
    node = _special(kind, case_dir / "node.json")
    argv = {
        "replay": ["replay", case_dir / "rec.xdf", "--adapter", case_dir / "adapter", "--json", node],
        "evaluate": ["evaluate", "--calib", case_dir / "rec.xdf", "--test", case_dir / "rec.xdf", "--json", node],
        "record": ["record", "--simulate", "--duration", "1", "--out", node],
        "calibrate": ["calibrate", "--calib", case_dir / "rec.xdf", "--base", case_dir / "base", "--out",
                      case_dir / "new", "--report", node],
    }[command]
    before = os.lstat(node)
    _refused(cli, case_dir, [*argv, "--overwrite"], [str(node.name), SPECIAL[kind], "not a regular file"])
    after = os.lstat(node)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    if kind == "link-to-device":
        assert stat.S_ISCHR(os.stat(node).st_mode)


@pytest.mark.parametrize("kind", SPECIAL)
def test_the_writers_themselves_refuse_a_non_regular_target(tmp_path, kind):
    """Defence in depth: the atomic writer and the XDF recorder refuse too (the GUI and the session
    call them without the command-line guard)."""
    node = _special(kind, tmp_path / "x.xdf")
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write_text(node, "x")
    with pytest.raises(RecordingError, match="not a regular file"):
        from bci_app.io.xdf import XdfRecorder

        XdfRecorder(node, overwrite=True, flush_interval=None, clock=lambda: 0.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.xdf"]  # no temporary, no lock left


def test_a_refused_move_aside_leaves_no_temporary_file(world, tmp_path, monkeypatch):
    """Another user's pair in a sticky folder: moving the old weights aside fails (EPERM); the
    placeholder for them must not stay behind."""
    from bci_app.models.adapters import load_adapter, save_adapter
    from bci_app.models.io import load_model

    model, _ = load_model(world.base)
    load_adapter(model, world.adapter)
    for name in ("adapter.safetensors", "adapter.json"):
        shutil.copy(world.root / name, tmp_path / name)
    before = snapshot(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if Path(src) == tmp_path / "adapter.safetensors":
            raise PermissionError(1, "Operation not permitted")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    from bci_app.errors import ModelError

    with pytest.raises(ModelError, match="Operation not permitted; nothing was changed"):
        save_adapter(model, tmp_path / "adapter", {"classes": ["left_hand", "right_hand"]})
    assert snapshot(tmp_path) == before


# -- names that cannot be a file ----------------------------------------------------------------------

LONG = "x" * 300


@pytest.mark.parametrize("name, fragment", [("", "is empty"), ("new/", "names a folder"), ("new/.", "names a folder"),
                                            ("sub/", "names a folder"), (LONG, "300 bytes long")])
@pytest.mark.parametrize("command", ["calibrate", "pretrain", "evaluate", "replay", "record", "demo"])
def test_an_output_name_that_cannot_be_a_file_is_refused(cli, case_dir, command, name, fragment):
    (case_dir / "sub").mkdir()
    out = name if name in ("", LONG) else f"{case_dir}{os.sep}{name}"  # a Path would drop the final '/'

    option, argv = {
        "calibrate": ("--out", ["calibrate", "--calib", case_dir / "rec.xdf", "--base", case_dir / "base", "--out", out]),
        "pretrain": ("--out", ["pretrain", "--data", case_dir, "--out", out]),
        "evaluate": ("--json", ["evaluate", "--calib", case_dir / "rec.xdf", "--test", case_dir / "rec.xdf", "--json", out]),
        "replay": ("--json", ["replay", case_dir / "rec.xdf", "--adapter", case_dir / "adapter", "--json", out]),
        "record": ("--out", ["record", "--simulate", "--duration", "1", "--out", out]),
        "demo": ("--json", ["demo", "--headless", "--json", out]),
    }[command]
    _refused(cli, case_dir, argv, [option, fragment])


def test_a_name_whose_sidecar_would_pass_the_limit_is_refused_and_a_long_one_that_fits_is_written(cli, case_dir):
    stem = "a" * 250  # 250 + ".safetensors" is over the 255-byte limit of common file systems
    _refused(cli, case_dir, ["calibrate", "--calib", case_dir / "rec.xdf", "--base", case_dir / "base",
                             "--out", case_dir / stem], ["--out", "bytes long", "shorter name"])
    fits = case_dir / ("b" * 250 + ".json")  # its temporary name must fit too
    atomic_write_json(fits, {"ok": True})
    assert json.loads(fits.read_text()) == {"ok": True}
    assert not [p for p in case_dir.iterdir() if p.name.endswith(".tmp")]


# -- one default permission for every file of a session (the user's umask) -------------------------

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_every_file_the_app_writes_follows_the_umask(world, tmp_path, umask):
    from bci_app.io.lock import lock_path
    from bci_app.io.xdf import XdfRecorder
    from bci_app.models.adapters import load_adapter, save_adapter
    from bci_app.models.io import load_model
    from bci_app.report.document import Report

    old = os.umask(umask)
    try:
        with XdfRecorder(tmp_path / "calibration.xdf", flush_interval=None, clock=lambda: 0.0):
            lock_mode = stat.S_IMODE(os.stat(lock_path(tmp_path / "calibration.xdf")).st_mode)
        model, _ = load_model(world.base)
        load_adapter(model, world.adapter)
        save_adapter(model, tmp_path / "adapter", {"classes": ["left_hand", "right_hand"]})
        atomic_write_json(tmp_path / "report.json", {"accuracy": 1.0})
        Report("t").save(tmp_path / "report.html")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert set(modes) == {"calibration.xdf", "adapter.safetensors", "adapter.json", "report.json", "report.html"}
    assert modes == dict.fromkeys(modes, expected) and lock_mode == expected, (oct(expected), modes, oct(lock_mode))
    write_xdf(tmp_path / "again.xdf")  # the default umask of this process still applies afterwards
