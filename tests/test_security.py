"""Security: nothing is unpickled or executed, YAML only through safe loading, nothing a stream or
file contains is used as a path, and the config loader never fails with anything but ConfigError.

The XDF writer/reader property round trip lives in tests/io/test_xdf.py (test_property_round_trip).
"""

from __future__ import annotations

import ast
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bci_app.config import AppConfig, config_from_dict, load_config
from bci_app.errors import ConfigError
from bci_app.io.recording import read_recording
from bci_app.io.resume import continuation_path
from bci_app.io.xdf import XdfRecorder

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("bci_app", "calibration", "bench")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
#: ``_UniqueKeyLoader`` (bci_app.config) is a SafeLoader subclass that refuses duplicate keys; a
#: test below proves it stays one
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "_UniqueKeyLoader"}


def test_the_duplicate_key_loader_is_a_safe_loader():
    import yaml

    from bci_app.config import _UniqueKeyLoader

    assert issubclass(_UniqueKeyLoader, yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=_UniqueKeyLoader)


def _call_name(node: ast.Call) -> str:
    """Dotted name of the called function (``torch.load``, ``eval``); '' when not a plain name."""
    parts = []
    func = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return ".".join(reversed(parts))
    return ""


def _kw(node: ast.Call, name: str):
    for kw in node.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_const(value, expected) -> bool:
    return isinstance(value, ast.Constant) and value.value is expected


def unsafe_calls(source: str, filename: str = "<src>") -> list[str]:
    """Every unsafe construct in ``source``: pickle-like imports, ``torch.load`` without
    ``weights_only=True``, ``yaml.load`` without a safe loader, ``yaml.unsafe_load/full_load``,
    ``np.load(allow_pickle=True)``, builtin ``eval``/``exec``/``compile``/``__import__``,
    ``os.system`` and ``shell=True``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in UNSAFE_MODULES:
                found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            last = name.rsplit(".", 1)[-1]
            if name == "torch.load" and not _is_const(_kw(node, "weights_only"), True):
                found.append(f"{where}: torch.load without weights_only=True")
            elif name.endswith("yaml.load") or name == "yaml.load":
                loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                loader_name = getattr(loader, "attr", getattr(loader, "id", None))
                if loader_name not in SAFE_YAML_LOADERS:
                    found.append(f"{where}: yaml.load without SafeLoader")
            elif name in ("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.load_all"):
                found.append(f"{where}: {name}")
            elif last == "load" and name.split(".")[0] in ("np", "numpy") and _is_const(_kw(node, "allow_pickle"), True):
                found.append(f"{where}: np.load(allow_pickle=True)")
            elif name in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec"):
                found.append(f"{where}: {name}()")
            elif name in ("os.system", "os.popen"):
                found.append(f"{where}: {name}()")
            elif _is_const(_kw(node, "shell"), True):
                found.append(f"{where}: shell=True")
    return found


def _python_files() -> list[Path]:
    files = [p for d in SCANNED for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts]
    assert len(files) > 50  # the scan really covers the code base
    return files


def test_scanner_catches_each_unsafe_construct():
    bad = """
import pickle
from joblib import load
import torch, yaml, numpy as np, os, subprocess
torch.load("w.pt")
torch.load("w.pt", weights_only=False)
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.full_load(text)
np.load("x.npy", allow_pickle=True)
eval("1 + 1")
exec("x = 1")
os.system("ls")
subprocess.run("ls", shell=True)
"""
    lines = sorted(int(f.split(":")[1]) for f in unsafe_calls(bad))
    assert lines == [2, 3, *range(5, 15)]  # every line but the harmless import
    good = """
import torch, yaml, numpy as np
torch.load("w.pt", weights_only=True)
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
np.load("x.npz", allow_pickle=False)
model.eval()
"""
    assert unsafe_calls(good) == []


def test_no_pickle_torch_load_unsafe_yaml_eval_or_exec_in_the_code():
    problems = []
    for path in _python_files():
        problems += unsafe_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == []


def test_weights_are_safetensors_and_json_only():
    from bci_app.models.pretrained import PRETRAINED_DIR

    suffixes = {p.suffix for p in PRETRAINED_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert suffixes <= {".safetensors", ".json", ".py", ".md"}, suffixes


# -- nothing from a stream or file is used as a path -------------------------------------------------

HOSTILE_NAMES = ["../../escape", "/tmp/absolute-evil", "..", "a/b\\c", "</name><evil>x</evil>", "C:\\win\\x", "\x00nul"]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_stream_names_never_become_paths(tmp_path, hostile):
    folder = tmp_path / "rec"
    path = folder / "session.xdf"
    with XdfRecorder(path, flush_interval=None, clock=lambda: 1.0) as rec:
        clean = hostile.replace("\x00", "")  # XML cannot carry NUL; the recorder must not either
        h = rec.add_stream(clean, "EEG", [clean, "C4"], units=[clean, "V"], sfreq=100.0, source_id=clean,
                           desc={clean or "_": clean, "subject": {clean or "_": "x"}})
        rec.push(h, np.zeros((2, 5)), np.arange(5.0))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["rec", "session.xdf"]  # nothing else written
    back = read_recording(path)
    assert back.ch_names[0] == clean  # kept as text, literally
    assert continuation_path(Path(str(folder / clean.replace("/", "_").replace("\\", "_")) + ".xdf")).parent == folder


def test_subject_and_session_ids_cannot_leave_the_data_folder(tmp_path):
    pytest.importorskip("PySide6")
    from bci_app.gui.session_panel import safe_id, session_folder

    root = tmp_path / "data"
    day = dt.date(2024, 1, 2)
    for subject in ["../../etc", "/abs/path", "..", "a/../../b", "~root", "S01\\..\\..", "\x00", ""]:
        for session in ["../x", "/", "01"]:
            folder = session_folder(root, subject, session, day)
            assert folder.resolve().is_relative_to(root.resolve())
            assert folder.parent.parent == root and ".." not in folder.parts
            assert "/" not in safe_id(subject, "anon") and "\\" not in safe_id(subject, "anon")


def test_recording_markers_and_names_are_data_not_commands(tmp_path):
    """Marker text and stream descriptions from a file reach the app as plain strings."""
    path = tmp_path / "m.xdf"
    payload = "__import__('os').system('touch pwned')"
    with XdfRecorder(path, flush_interval=None, clock=lambda: 1.0) as rec:
        h = rec.add_stream("eeg", "EEG", ["C3"], sfreq=10.0)
        m = rec.add_stream("eeg-markers", "Markers", ["m"], channel_format="string")
        rec.push(h, np.zeros((1, 20)), np.arange(20) / 10.0)
        rec.push(m, [payload, "!!python/object/apply:os.system ['touch pwned']"], [0.5, 1.0])
    back = read_recording(path)
    assert [mk.value for mk in back.markers] == [payload, "!!python/object/apply:os.system ['touch pwned']"]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_yaml_tags_in_config_are_refused(tmp_path):
    cfg = tmp_path / "evil.yaml"
    cfg.write_text("model: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(cfg)
    assert not (tmp_path / "pwned").exists()


# -- config loader property ----------------------------------------------------------------------------

_FIELDS = {name: list(type(getattr(AppConfig(), name)).model_fields) for name in AppConfig.model_fields}
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["auto", "dense", "machine", "exponential", "left_hand", "1e6", "8"]),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                       max_leaves=8)


@st.composite
def _configs(draw):
    data = {}
    for section in draw(st.lists(st.sampled_from([*_FIELDS, "bogus", "Model"]), max_size=5, unique=True)):
        if draw(st.booleans()) or section not in _FIELDS:
            fields = _FIELDS.get(section, ["x"])
            keys = draw(st.lists(st.sampled_from([*fields, "typo_key"]), max_size=4, unique=True))
            data[section] = {k: draw(_values) for k in keys}
        else:
            data[section] = draw(_values)
    return data


def _assert_valid_or_key_path(data, origin: str) -> None:
    try:
        cfg = config_from_dict(data, origin=origin)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(origin) and message.strip()
        if isinstance(data, dict) and "expected a mapping" not in message:
            for line in message.splitlines():
                key_path = line[len(origin) + 2:].split(": ", 1)[0]
                assert key_path.split(".")[0] in {str(k) for k in data} or key_path == "<root>", line
        return
    assert isinstance(cfg, AppConfig)
    dumped = cfg.model_dump()
    for section, values in dumped.items():
        for key, value in values.items():
            if isinstance(value, float):
                assert math.isfinite(value), f"{section}.{key} accepted {value}"  # inf/nan never pass


@settings(max_examples=300, deadline=None)
@given(data=_configs())
def test_config_loader_property_valid_config_or_config_error_with_key_path(data):
    _assert_valid_or_key_path(data, "<config>")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(_configs(), _values), text=st.text(max_size=60))
def test_config_file_property_valid_or_config_error(tmp_path, data, text):
    path = tmp_path / "c.yaml"
    try:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    except (yaml.YAMLError, ValueError):
        return
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
    path.write_text(text, encoding="utf-8")  # arbitrary text as a config file
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


@st.composite
def _numeric_configs(draw):
    """Only real keys, numbers of any kind (inf, nan, huge, negative) as values."""
    data = {}
    for section in draw(st.lists(st.sampled_from(list(_FIELDS)), min_size=1, max_size=3, unique=True)):
        keys = draw(st.lists(st.sampled_from(_FIELDS[section]), min_size=1, max_size=3, unique=True))
        data[section] = {k: draw(st.one_of(st.floats(), st.integers(), st.sampled_from(["inf", "nan", "-inf"])))
                         for k in keys}
    return data


@settings(max_examples=300, deadline=None)
@given(data=_numeric_configs())
def test_config_numbers_property_finite_and_in_range_or_config_error(data):
    _assert_valid_or_key_path(data, "<config>")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "'inf'"])
def test_infinite_numbers_refused_with_key_path(tmp_path, value):
    # an infinite ring buffer passed 'bufsize_s > 0' and overflowed at connect, far from the config
    path = tmp_path / "inf.yaml"
    path.write_text(f"lsl:\n  bufsize_s: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lsl\.bufsize_s: Input should be a finite number"):
        load_config(path)
