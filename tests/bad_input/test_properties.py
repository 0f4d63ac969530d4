"""Property tests (hypothesis) over untrusted values: config values, adapter JSON fields, XDF/EDF
bytes. Whatever the value, the result is a validated object or a :class:`~bci_app.errors.BCIError`
(never another exception), and nothing allocates runaway memory: each example runs under an
address-space cap (``memory_cap``: current size + 2 GiB), so a runaway allocation raises
MemoryError (torch: RuntimeError "can't allocate memory") and fails the property."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_data import EEGMMIDB_EDF as EDF
from shared_data import needs_eegmmidb

from bci_app.config import MAX_THREADS, AppConfig, config_from_dict, load_config
from bci_app.errors import BCIError, ConfigError, RecordingError
from bci_app.io.recording import read_recording

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 10**9, 10**18]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, float("inf"), float("nan")]),
    st.text(max_size=12),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                           max_leaves=12)


def _fields() -> list[tuple[str, str]]:
    out = []
    for section, info in AppConfig.model_fields.items():
        sub = info.annotation
        for key in getattr(sub, "model_fields", {}):
            out.append((section, key))
    return out


FIELDS = _fields()


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(FIELDS), json_values), min_size=1, max_size=4))
def test_any_config_values_validate_or_fail_with_a_config_error(memory_cap, edits):
    data: dict = {}
    for (section, key), value in edits:
        data.setdefault(section, {})[key] = value
    try:
        cfg = config_from_dict(data, origin="prop.yaml")
    except ConfigError as exc:
        assert "prop.yaml" in str(exc)
        return
    dumped = cfg.model_dump()
    for (section, key), _value in edits:  # every accepted number is finite
        value = dumped[section][key]
        if isinstance(value, float):
            assert math.isfinite(value), (section, key, value)
    assert 1 <= cfg.finetune.torch_threads <= MAX_THREADS and 1 <= cfg.online.torch_threads <= MAX_THREADS


@PROPERTY
@given(st.text(max_size=200))
def test_any_config_text_loads_or_fails_with_a_config_error(memory_cap, tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        assert "c.yaml" in str(exc)


ADAPTER_KEYS = ["rank", "alpha", "dropout", "classes", "target_modules", "wrapped_modules", "format_version",
                "base_model_hash", "weights_sha256", "base_model", "preprocessing", "format"]
PREPROCESSING_KEYS = ["ch_names", "sfreq", "l_freq", "h_freq", "filter_order", "scale", "alignment", "version"]


@pytest.fixture(scope="module")
def adapter_dir(world, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("adapter-prop")
    for name in ("adapter.json", "adapter.safetensors"):
        shutil.copy(world.root / name, d / name)
    return d


@PROPERTY
@given(key=st.sampled_from(ADAPTER_KEYS), sub=st.sampled_from(PREPROCESSING_KEYS), value=json_values,
       legacy=st.booleans())
def test_any_adapter_field_loads_or_fails_with_a_bci_error(memory_cap, adapter_dir, world, key, sub, value, legacy):
    """One field of a valid adapter replaced by any JSON value (inside ``preprocessing`` too); as a
    legacy pair (format 1, no hashes) the field checks themselves are exercised."""
    from safetensors.torch import load_file, save

    from bci_app.online.calibrate import adapted_decoder_model as load_adapted

    info = json.loads((world.root / "adapter.json").read_text())
    if key == "preprocessing":
        info["preprocessing"] = {**info["preprocessing"], sub: value}
    else:
        info[key] = value
    weights = (world.root / "adapter.safetensors").read_bytes()
    if legacy:
        info.pop("weights_sha256", None)
        info["format_version"] = 1 if key != "format_version" else value
        weights = save(load_file(str(world.root / "adapter.safetensors")))
    (adapter_dir / "adapter.safetensors").write_bytes(weights)
    (adapter_dir / "adapter.json").write_text(json.dumps(info), encoding="utf-8")
    try:
        model, _ = load_adapted(adapter_dir / "adapter")
    except BCIError as exc:
        assert "adapter" in str(exc)
        return
    assert len(model.classes) >= 2


edits = st.lists(st.tuples(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=255)),
                 min_size=1, max_size=8)


def _corrupt(raw: bytes, changes, cut: float | None, head: int | None = None) -> bytes:
    data = bytearray(raw)
    for pos, byte in changes:
        data[pos % (head or len(data))] = byte
    if cut is not None:
        data = data[: int(len(data) * cut)]
    return bytes(data)


def _reads_or_names_the_file(path) -> None:
    """A corrupted recording either reads as a plausible recording or fails with a RecordingError
    naming the file."""
    try:
        rec = read_recording(path)
    except RecordingError as exc:
        assert path.name in str(exc)
        return
    assert rec.n_times > 0 and 0 < rec.sfreq <= 100_000


@PROPERTY
@given(changes=edits, cut=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),
       header=st.booleans())
def test_corrupt_xdf_reads_or_fails_with_a_recording_error(memory_cap, world, tmp_path_factory, changes, cut, header):
    raw = world.xdf.read_bytes()
    path = tmp_path_factory.mktemp("xdf") / "c.xdf"
    path.write_bytes(_corrupt(raw, changes, cut, head=2000 if header else None))  # the headers, or anywhere
    _reads_or_names_the_file(path)


@needs_eegmmidb
@PROPERTY
@given(changes=edits, cut=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)))
def test_corrupt_edf_reads_or_fails_with_a_recording_error(memory_cap, tmp_path_factory, changes, cut):
    raw = EDF.read_bytes()
    n_signals = int(raw[252:256].decode("ascii"))
    path = tmp_path_factory.mktemp("edf") / "c.edf"
    path.write_bytes(_corrupt(raw, changes, cut, head=256 * (n_signals + 1)))  # the header: sizes, rates, counts
    _reads_or_names_the_file(path)


def test_the_memory_cap_turns_a_runaway_allocation_into_memory_error(memory_cap):
    import numpy as np

    with pytest.raises(MemoryError):
        np.ones(memory_cap // 8 + 1)  # more than the whole cap


def test_without_the_rank_bound_an_adapter_would_allocate_beyond_the_cap(memory_cap):
    """The bound matters: the rank the issue saw (1e8) is refused before any tensor exists."""
    import torch

    from bci_app.errors import ModelError
    from bci_app.models import ATCNet
    from bci_app.models.lora import add_lora

    with pytest.raises(ModelError, match="rank must be an integer from 1 to 256"):
        add_lora(ATCNet(16, 2, 160.0, 480), ["dense"], 100_000_000, 8.0, 0.0)
    with pytest.raises((MemoryError, RuntimeError), match="memory|alloc"):  # torch: "can't allocate memory"
        torch.empty(100_000_000, 32 * 3 * 16)  # what that rank would have asked for (lora_A of one layer)
