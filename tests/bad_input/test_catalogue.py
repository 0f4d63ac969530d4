"""The bad-input catalogue: what a careless or unlucky user types, across every command and file type.

Each case builds its inputs in its own folder from valid files (:func:`world`) and runs ``bci-app``
in-process. Every case asserts: a non-zero exit; exactly one error line that names the problem and
the file, option or key (the expected fragments); no traceback; every file in the folder
byte-identical afterwards and no file added (no output, no half-written or temporary file).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_input_files import assert_refused_cleanly, edit_json, snapshot, write_xdf
from shared_data import EEGMMIDB_EDF as EDF
from shared_data import needs_eegmmidb

Build = Callable[[Path], tuple[list, list[str]]]
CASES: list = []


def case(name: str, *, needs_edf: bool = False, slow: bool = False):
    def register(build: Build) -> Build:
        marks = [pytest.mark.slow] if slow else []
        if needs_edf:
            marks.append(needs_eegmmidb)
        CASES.append(pytest.param(build, id=name, marks=marks))
        return build

    return register


def cases(name: str, values: list, build: Callable, **kw) -> None:
    """One case per value: ``build(d, value)``."""
    for v in values:
        case(f"{name}[{v}]", **kw)(lambda d, v=v: build(d, v))


def edf(d: Path, name: str = "S001R04.edf") -> Path:
    shutil.copy(EDF, d / name)
    return d / name


def yaml_config(d: Path, text: str, name: str = "bad.yaml") -> Path:
    (d / name).write_text(text, encoding="utf-8")
    return d / name


def replay(d: Path, *extra) -> list:
    return ["replay", d / "rec.xdf", "--adapter", d / "adapter", *extra]


def calibrate(d: Path, *extra, calib=None) -> list:
    return ["calibrate", "--calib", calib or d / "rec.xdf", "--base", d / "base", "--out", d / "new", *extra]


# -- outputs that would overwrite inputs, or exist, or cannot be files -------------------------------

case("evaluate-json-is-calib-edf", needs_edf=True)(lambda d: (
    ["evaluate", "--calib", edf(d), "--test", d / "rec.xdf", "--json", d / "S001R04.edf"],
    ["--json", "S001R04.edf", "same file as the input"]))
case("evaluate-json-is-test-file")(lambda d: (
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--json", d / "rec.xdf"],
    ["--json", "rec.xdf", "same file as the input"]))
case("evaluate-json-is-config")(lambda d: (
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--config", d / "config.yaml", "--json",
     d / "config.yaml"], ["config.yaml", "same file as the input"]))
case("evaluate-json-is-base-sidecar")(lambda d: (
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--base", d / "base", "--json", d / "base.json"],
    ["base.json", "same file as the input"]))
case("evaluate-json-exists")(lambda d: (
    (d / "out.json").write_text("{}"),
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--json", d / "out.json"])[1:] + (
    ["out.json", "already exists", "--overwrite"],))
case("evaluate-json-is-folder")(lambda d: (
    (d / "out.json").mkdir(),
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--json", d / "out.json"])[1:] + (
    ["out.json", "is a folder"],))
case("evaluate-json-under-a-file")(lambda d: (
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--json", d / "config.yaml" / "out.json"],
    ["config.yaml", "is a file, not a folder"]))
case("evaluate-json-is-hardlink-of-input")(lambda d: (
    os.link(d / "rec.xdf", d / "link.json"),
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--json", d / "link.json", "--overwrite"])[1:] + (
    ["link.json", "same file as the input"],))
case("replay-json-is-recording")(lambda d: (replay(d, "--json", d / "rec.xdf"), ["--json", "rec.xdf", "same file"]))
case("replay-json-is-adapter-sidecar")(lambda d: (replay(d, "--json", d / "adapter.json"),
                                                  ["--json", "adapter.json", "same file"]))
case("replay-json-is-adapter-weights")(lambda d: (replay(d, "--json", d / "adapter.safetensors"),
                                                  ["adapter.safetensors", "same file"]))
case("replay-json-is-config")(lambda d: (replay(d, "--config", d / "config.yaml", "--json", d / "config.yaml"),
                                         ["config.yaml", "same file"]))
case("replay-json-is-recording-overwrite")(lambda d: (replay(d, "--json", d / "rec.xdf", "--overwrite"),
                                                      ["rec.xdf", "same file"]))
case("replay-json-exists")(lambda d: ((d / "r.json").write_text("old"), replay(d, "--json", d / "r.json"))[1:] + (
    ["r.json", "already exists", "--overwrite"],))
case("replay-json-is-folder")(lambda d: ((d / "r.json").mkdir(), replay(d, "--json", d / "r.json", "--overwrite"))[1:] + (
    ["r.json", "is a folder"],))
case("calibrate-out-exists")(lambda d: (calibrate(d, calib=d / "rec.xdf")[:-2] + ["--out", d / "adapter"],
                                        ["adapter", "already exists", "--overwrite"]))
case("calibrate-out-is-base")(lambda d: (calibrate(d)[:-2] + ["--out", d / "base", "--overwrite"],
                                         ["--out", "base", "same file as the input"]))
case("calibrate-out-json-is-folder")(lambda d: ((d / "new.json").mkdir(), calibrate(d))[1:] + (
    ["new.json", "is a folder"],))
case("calibrate-out-sidecar-is-config")(lambda d: (
    shutil.copy(d / "config.yaml", d / "cfg.json"), calibrate(d, "--config", d / "cfg.json")[:-4] + [
        "--out", d / "cfg", "--config", d / "cfg.json", "--overwrite"])[1:] + (["cfg.json", "same file"],))
case("calibrate-out-is-base-weights")(lambda d: (calibrate(d)[:-2] + ["--out", d / "base.safetensors", "--overwrite"],
                                                  ["base.safetensors", "same file"]))
case("record-out-is-config")(lambda d: (
    ["record", "--simulate", "--out", d / "config.yaml", "--config", d / "config.yaml", "--overwrite"],
    ["--out", "config.yaml", "same file"]))
case("record-out-exists")(lambda d: (["record", "--simulate", "--out", d / "rec.xdf", "--duration", "1"],
                                     ["rec.xdf", "already exists", "--overwrite"]))
case("record-out-is-folder")(lambda d: ((d / "x.xdf").mkdir(), ["record", "--simulate", "--out", d / "x.xdf"])[1:] + (
    ["x.xdf", "is a folder"],))
case("record-out-is-board-file")(lambda d: (
    ["record", "--brainflow", "playback_file", "--board-file", d / "rec.xdf", "--out", d / "rec.xdf", "--overwrite"],
    ["rec.xdf", "same file"]))
case("demo-json-is-config")(lambda d: (["demo", "--headless", "--config", d / "config.yaml", "--json", d / "config.yaml"],
                                       ["config.yaml", "same file"]))
case("demo-json-exists")(lambda d: (["demo", "--headless", "--json", d / "config.yaml"],
                                    ["config.yaml", "already exists", "--overwrite"]))
case("demo-json-is-record")(lambda d: (["demo", "--headless", "--json", d / "s.xdf", "--record", d / "s.xdf"],
                                       ["s.xdf", "also the output of"]))
case("demo-record-exists")(lambda d: (["demo", "--headless", "--record", d / "rec.xdf"],
                                      ["rec.xdf", "already exists", "--overwrite"]))
case("demo-record-adapter-exists")(lambda d: (
    shutil.copy(d / "adapter.json", d / "s-adapter.json"), ["demo", "--headless", "--record", d / "s.xdf"])[1:] + (
    ["s-adapter.json", "already exists"],))
case("pretrain-out-exists")(lambda d: (["pretrain", "--data", d, "--out", d / "base"], ["base", "already exists", "--overwrite"]))
case("pretrain-report-is-out-sidecar")(lambda d: (
    ["pretrain", "--data", d, "--out", d / "m", "--report", d / "m.json"], ["m.json", "also the output of"]))
case("pretrain-report-exists")(lambda d: (["pretrain", "--data", d, "--out", d / "m", "--report", d / "config.yaml"],
                                          ["config.yaml", "already exists"]))

# -- numbers out of range, on the command line (argparse names the option) -------------------------

cases("record-sfreq", ["1e9", "0", "-5", "nan", "inf", "abc"], lambda d, v: (
    ["record", "--simulate", "--out", d / "o.xdf", "--sfreq", v], ["--sfreq", "(0, 100000] Hz"]))
cases("record-duration", ["nan", "-1", "0", "inf"], lambda d, v: (
    ["record", "--simulate", "--out", d / "o.xdf", "--duration", v], ["--duration", "(0, 86400] s"]))
cases("record-ip-port", ["70000", "-1"], lambda d, v: (
    ["record", "--brainflow", "synthetic", "--out", d / "o.xdf", "--ip-port", v], ["--ip-port", "[0, 65535]"]))
cases("record-timeout", ["-1", "1e9"], lambda d, v: (
    ["record", "--brainflow", "synthetic", "--out", d / "o.xdf", "--timeout", v], ["--timeout", "[0, 600]"]))
cases("simulate-sfreq", ["1e9", "nan", "-160"], lambda d, v: (["simulate", "--sfreq", v], ["--sfreq", "(0, 100000] Hz"]))
cases("simulate-duration", ["nan", "-5", "1e12"], lambda d, v: (["simulate", "--duration", v], ["--duration", "(0, 86400] s"]))
cases("play-speed", ["-5", "0", "nan"], lambda d, v: (["play", d / "rec.xdf", "--speed", v], ["--speed", "> 0"]))
cases("play-wait-for-consumer", ["-5", "nan", "inf"], lambda d, v: (
    ["play", d / "rec.xdf", "--wait-for-consumer", v], ["--wait-for-consumer", "[0, 3600] s"]))
cases("replay-speed", ["-5", "nan", "inf"], lambda d, v: (replay(d, "--speed", v), ["--speed", "[0, 1e+06]"]))
cases("pretrain-epochs", ["0", "-1", "1.5"], lambda d, v: (["pretrain", "--data", d, "--out", d / "m", "--epochs", v],
                                                         ["--epochs", "an integer in [1, 10000]"]))
cases("pretrain-threads", ["100000000", "0"], lambda d, v: (["pretrain", "--data", d, "--out", d / "m", "--threads", v],
                                                          ["--threads", "CPU count"]))
cases("pretrain-lr", ["1e30", "0", "nan"], lambda d, v: (["pretrain", "--data", d, "--out", d / "m", "--lr", v],
                                                       ["--lr", "(0, 1]"]))
cases("pretrain-batch-size", ["0", "1e9"], lambda d, v: (["pretrain", "--data", d, "--out", d / "m", "--batch-size", v],
                                                       ["--batch-size"]))
cases("pretrain-window", ["0", "-3", "1e9"], lambda d, v: (["pretrain", "--data", d, "--out", d / "m", "--window", v],
                                                         ["--window", "(0, 30] s"]))
case("pretrain-folds-negative")(lambda d: (["pretrain", "--data", d, "--out", d / "m", "--folds", "-1"], ["--folds"]))
cases("demo-time-scale", ["-1", "0", "nan", "1e9"], lambda d, v: (["demo", "--headless", "--time-scale", v],
                                                                ["--time-scale", "(0, 100]"]))
case("demo-trials-per-class-0")(lambda d: (["demo", "--headless", "--trials-per-class", "0"], ["--trials-per-class"]))
case("demo-online-trials-0")(lambda d: (["demo", "--headless", "--online-trials-per-class", "0"],
                                        ["--online-trials-per-class"]))

# -- config values, keys and files --------------------------------------------------------------------

CONFIG_VALUES = [
    ("lora.rank", "lora:\n  rank: 100000000\n", "less than or equal to 256"),
    ("lora.rank", "lora:\n  rank: 1e999\n", "valid integer"),
    ("lora.rank", "lora:\n  rank: eight\n", "valid integer"),
    ("lora.rank", "lora:\n  rank: 0\n", "greater than or equal to 1"),
    ("lora.alpha", "lora:\n  alpha: -1\n", "greater than 0"),
    ("lora.alpha", "lora:\n  alpha: 1.0e30\n", "less than or equal to 10000"),
    ("lora.dropout", "lora:\n  dropout: 1.5\n", "less than 1"),
    ("finetune.learning_rate", "finetune:\n  learning_rate: 1.0e30\n", "less than or equal to 1"),
    ("finetune.learning_rate", "finetune:\n  learning_rate: 0\n", "greater than 0"),
    ("finetune.learning_rate", "finetune:\n  learning_rate: .nan\n", "finite number"),
    ("finetune.torch_threads", "finetune:\n  torch_threads: 100000000\n", "number of CPUs"),
    ("finetune.batch_size", "finetune:\n  batch_size: 0\n", "greater than or equal to 1"),
    ("finetune.max_epochs", "finetune:\n  max_epochs: 1000000000\n", "less than or equal to 10000"),
    ("online.torch_threads", "online:\n  torch_threads: 100000000\n", "number of CPUs"),
    ("online.step_s", "online:\n  step_s: 0\n", "greater than 0"),
    ("online.step_s", "online:\n  step_s: 1.0e9\n", "less than or equal to 10"),
    ("online.smoothing.window", "online:\n  smoothing:\n    window: 1000000000\n", "less than or equal to 1000"),
    ("preprocessing.scale", "preprocessing:\n  scale: 0\n", "greater than 0"),
    ("preprocessing.scale", "preprocessing:\n  scale: 1.0e300\n", "less than or equal to"),
    ("preprocessing.h_freq", "preprocessing:\n  h_freq: 1.0e9\n", "less than or equal to 50000"),
    ("preprocessing", "preprocessing:\n  l_freq: 30\n  h_freq: 8\n", "l_freq must be below h_freq"),
    ("paradigm.trials_per_class", "paradigm:\n  trials_per_class: 1000000000\n", "less than or equal to 1000"),
    ("recording.flush_interval_s", "recording:\n  flush_interval_s: 0\n", "greater than 0"),
    ("line 3", "lora:\n  rank: 8\n  rank: 16\n", "duplicate key 'rank'"),
    ("line 3", "lora:\n  rank: 8\nlora:\n  rank: 16\n", "duplicate key 'lora'"),
    ("lora.rnak", "lora:\n  rnak: 8\n", "unknown key"),
    ("top level", "- a\n- list\n", "expected a mapping"),
    ("bad.yaml", "lora: [unclosed\n", "not valid YAML"),
]
for i, (key, text, problem) in enumerate(CONFIG_VALUES):
    command = ("replay", "calibrate", "evaluate", "record")[i % 4]

    def _build(d, text=text, key=key, problem=problem, command=command):
        cfg = yaml_config(d, text)
        argv = {"replay": replay(d, "--config", cfg),
                "calibrate": calibrate(d, "--config", cfg),
                "evaluate": ["evaluate", "--calib", d / "rec.xdf", "--test", d / "rec.xdf", "--config", cfg,
                             "--json", d / "o.json"],
                "record": ["record", "--simulate", "--out", d / "o.xdf", "--duration", "1", "--config", cfg]}[command]
        return argv, ["bad.yaml", key, problem]

    case(f"config-{command}-{key}-{i}")(_build)

case("config-not-utf8")(lambda d: ((d / "bad.yaml").write_bytes(b"lora:\n  rank: \xff\xfe8\n"),
                                   replay(d, "--config", d / "bad.yaml"))[1:] + (["bad.yaml", "not UTF-8"],))
case("config-missing")(lambda d: (replay(d, "--config", d / "nope.yaml"), ["nope.yaml", "cannot read config file"]))
case("config-is-folder")(lambda d: ((d / "cfg.yaml").mkdir(), replay(d, "--config", d / "cfg.yaml"))[1:] + (
    ["cfg.yaml", "cannot read config file"],))
case("dataset-preset-duplicate-key")(lambda d: (
    yaml_config(d, "name: x\nname: y\n", "ds.yaml"), calibrate(d, "--dataset", d / "ds.yaml"))[1:] + (
    ["ds.yaml", "duplicate key 'name'"],))
case("dataset-preset-missing")(lambda d: (calibrate(d, "--dataset", "no-such-dataset"), ["no-such-dataset", "not found"]))

# -- adapter files ------------------------------------------------------------------------------------

ADAPTER_FIELDS = [
    ("rank", 100000000, "rank must be an integer from 1 to 256"),
    ("rank", float("inf"), "rank must be an integer from 1 to 256"),
    ("rank", "8", "rank must be an integer"),
    ("rank", True, "rank must be an integer"),
    ("rank", 4.0, "rank must be an integer"),
    ("alpha", float("nan"), "alpha must be a finite number"),
    ("alpha", -1, "alpha must be a finite number"),
    ("dropout", 2, "dropout must be a number in [0, 1)"),
    ("target_modules", "dense", "target_modules must be a list"),
    ("wrapped_modules", ["dense0"] * 5000, "wrapped_modules must be a list of at most 1024"),
    ("format_version", 99, "format_version must be an integer from 1 to 2"),
    ("weights_sha256", None, "weights_sha256 must be"),
    ("classes", ["left_hand"], "classes must be a list of at least two"),
    ("classes", ["left_hand", "left_hand"], "classes must be a list of at least two distinct"),
    ("classes", ["right_hand", "left_hand"], "adapter.safetensors"),
    ("classes", ["left_hand", "right_hand", "feet"], "feet"),
    ("rank", 2, "was edited after adapter.safetensors"),
    ("base_model_hash", "sha256:0000", "was trained for base model sha256:0000"),
    ("base_model", "no-such-base", "no-such-base"),
]
for key, value, problem in ADAPTER_FIELDS:
    case(f"adapter-{key}-{str(value)[:20]}")(lambda d, key=key, value=value, problem=problem: (
        edit_json(d / "adapter.json", lambda i: {**i, key: value}), replay(d))[1:] + (["adapter", problem],))

PREPROCESSING_FIELDS = [
    ("scale", 0, "scale"),
    ("scale", float("inf"), "scale"),
    ("sfreq", 1e12, "sfreq"),
    ("sfreq", -160, "sfreq"),
    ("h_freq", 500.0, "band"),
    ("alignment", [[float("nan")] * 16] * 16, "alignment matrix must be finite"),
    ("alignment", [[1.0] * 3] * 3, "alignment matrix must be finite with shape (16, 16)"),
    ("filter_order", 10**9, "filter_order"),
    ("ch_names", [], "at least one channel"),
]


def _legacy_pair(d: Path, change) -> None:
    """An adapter pair as written before pairs carried hashes (format 1, no digests), its metadata
    changed by ``change``: the field checks behind the hashes are reached."""
    from safetensors.torch import load_file, save

    tensors = load_file(str(d / "adapter.safetensors"))
    (d / "adapter.safetensors").write_bytes(save(tensors))
    edit_json(d / "adapter.json", lambda i: change({**{k: v for k, v in i.items() if k != "weights_sha256"},
                                                    "format_version": 1}))


for key, value, problem in PREPROCESSING_FIELDS:
    case(f"adapter-preprocessing-{key}-{str(value)[:12]}")(lambda d, key=key, value=value, problem=problem: (
        edit_json(d / "adapter.json", lambda i: {**i, "preprocessing": {**i["preprocessing"], key: value}}),
        replay(d))[1:] + (["adapter.json", "was edited after"],))
    case(f"adapter-legacy-preprocessing-{key}-{str(value)[:12]}")(lambda d, key=key, value=value, problem=problem: (
        _legacy_pair(d, lambda i: {**i, "preprocessing": {**i["preprocessing"], key: value}}),
        replay(d))[1:] + (["adapter", "preprocessing", problem],))


def _flip_byte(path: Path, offset_from_end: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[-offset_from_end] ^= 0x40
    path.write_bytes(bytes(raw))


def _nan_weights(d: Path) -> None:
    """Weights holding NaN, with a sidecar whose hashes match them (as a training gone wrong would)."""
    from safetensors.torch import load_file, save

    from bci_app.models.files import METADATA_HASH_KEY, _sha256, metadata_digest

    tensors = {k: v.clone() for k, v in load_file(str(d / "adapter.safetensors")).items()}
    next(iter(tensors.values()))[0, 0] = float("nan")
    info = json.loads((d / "adapter.json").read_text())
    data = save(tensors, metadata={METADATA_HASH_KEY: metadata_digest(info)})
    (d / "adapter.safetensors").write_bytes(data)
    (d / "adapter.json").write_text(json.dumps({**info, "weights_sha256": _sha256(data)}))


case("adapter-weights-bit-flipped")(lambda d: (_flip_byte(d / "adapter.safetensors", 3), replay(d))[1:] + (
    ["adapter.safetensors", "does not match its metadata"],))
case("adapter-weights-truncated")(lambda d: (
    (d / "adapter.safetensors").write_bytes((d / "adapter.safetensors").read_bytes()[:200]), replay(d))[1:] + (
    ["adapter.safetensors", "truncated or corrupt"],))
case("adapter-weights-empty")(lambda d: ((d / "adapter.safetensors").write_bytes(b""), replay(d))[1:] + (
    ["adapter.safetensors", "truncated or corrupt"],))
case("adapter-weights-huge-header")(lambda d: (
    (d / "adapter.safetensors").write_bytes((10**15).to_bytes(8, "little") + b"{}"), replay(d))[1:] + (
    ["adapter.safetensors", "truncated or corrupt"],))
case("adapter-weights-nan")(lambda d: (_nan_weights(d), replay(d))[1:] + (["adapter.safetensors", "NaN or Inf"],))
case("adapter-weights-missing")(lambda d: ((d / "adapter.safetensors").unlink(), replay(d))[1:] + (
    ["adapter.safetensors", "not found"],))
case("adapter-json-missing")(lambda d: ((d / "adapter.json").unlink(), replay(d))[1:] + (["adapter.json", "missing"],))
case("adapter-json-garbage")(lambda d: ((d / "adapter.json").write_text("{not json"), replay(d))[1:] + (
    ["adapter.json", "unreadable or corrupt"],))
case("adapter-json-not-utf8")(lambda d: ((d / "adapter.json").write_bytes(b"\xff\xfe{}"), replay(d))[1:] + (
    ["adapter.json", "unreadable or corrupt"],))
case("adapter-json-a-list")(lambda d: ((d / "adapter.json").write_text("[1, 2]"), replay(d))[1:] + (
    ["adapter.json", "not a bci-app LoRA adapter"],))
case("adapter-json-deep-nesting")(lambda d: ((d / "adapter.json").write_text("[" * 100000 + "]" * 100000), replay(d))[1:] + (
    ["adapter.json", "unreadable or corrupt"],))
case("adapter-json-huge-int")(lambda d: ((d / "adapter.json").write_text('{"rank": ' + "9" * 5000 + "}"), replay(d))[1:] + (
    ["adapter.json", "unreadable or corrupt"],))
case("adapter-pair-mixed")(lambda d: (
    shutil.copy(d / "base.safetensors", d / "adapter.safetensors"), replay(d))[1:] + (
    ["adapter.safetensors", "does not match its metadata"],))
case("adapter-default-missing")(lambda d: (["replay", d / "rec.xdf"], ["rec-adapter.safetensors", "not found"]))
case("base-model-json-huge-hparams")(lambda d: (
    edit_json(d / "base.json", lambda i: {**i, "hparams": {**i["hparams"], "n_chans": 10**9}}),
    calibrate(d))[1:] + (["base.json", "n_chans must be from 1 to 1024"],))
case("base-model-json-rank-like-huge-n-times")(lambda d: (
    edit_json(d / "base.json", lambda i: {**i, "hparams": {**i["hparams"], "n_times": 10**12}}),
    calibrate(d))[1:] + (["base.json", "n_times must be from 1 to 100000"],))

# -- recordings -----------------------------------------------------------------------------------------

case("replay-recording-missing")(lambda d: (["replay", d / "nope.xdf", "--adapter", d / "adapter"],
                                            ["nope.xdf", "recording not found"]))
case("replay-recording-empty")(lambda d: ((d / "rec.xdf").write_bytes(b""), replay(d))[1:] + (
    ["rec.xdf", "cannot read XDF file"],))
case("replay-recording-garbage")(lambda d: ((d / "rec.xdf").write_bytes(b"NOT AN XDF" * 500), replay(d))[1:] + (
    ["rec.xdf", "cannot read XDF file"],))
case("replay-recording-folder")(lambda d: (
    (d / "dir.xdf").mkdir(), ["replay", d / "dir.xdf", "--adapter", d / "adapter"])[1:] + (["dir.xdf", "not a file"],))
case("replay-recording-csv")(lambda d: (
    (d / "r.csv").write_text("1,2\n"), ["replay", d / "r.csv", "--adapter", d / "adapter"])[1:] + (
    ["r.csv", "unsupported recording format"],))
case("replay-recording-header-only")(lambda d: (
    (d / "rec.xdf").write_bytes((d / "rec.xdf").read_bytes()[:300]), replay(d))[1:] + (["rec.xdf"],))
case("replay-recording-rate-1e9")(lambda d: (
    write_xdf(d / "fast.xdf", seconds=0.001, sfreq=1e9, cues=False),
    ["replay", d / "fast.xdf", "--adapter", d / "adapter"])[1:] + (["fast.xdf", "sampling rate", "100000"],))
case("replay-recording-too-short")(lambda d: (
    (d / "rec.xdf").unlink(), write_xdf(d / "rec.xdf", seconds=2.0, cues=False), replay(d))[2:] + (
    ["rec.xdf", "too short", "2.00 s", "3 s"],))
case("record-simulate-buffer-too-large")(lambda d: (
    ["record", "--simulate", "--sfreq", "100000", "--out", d / "o.xdf", "--duration", "1"],
    ["100000 Hz", "GiB", "limit"]))
case("calibrate-text-renamed-edf")(lambda d: ((d / "x.edf").write_text("hello\n" * 100), calibrate(d, calib=d / "x.edf"))[1:] + (
    ["x.edf", "cannot read EDF file"],))
for suffix in ("bdf", "gdf", "fif"):
    case(f"calibrate-garbage-{suffix}")(lambda d, suffix=suffix: (
        (d / f"x.{suffix}").write_bytes(b"\x00garbage" * 300), calibrate(d, calib=d / f"x.{suffix}"))[1:] + (
        [f"x.{suffix}", f"cannot read {suffix.upper()} file"],))
case("play-text-renamed-edf")(lambda d: ((d / "x.edf").write_text("hello\n" * 100), ["play", d / "x.edf"])[1:] + (
    ["x.edf", "cannot read EDF file"],))
case("evaluate-test-csv")(lambda d: (
    (d / "t.csv").write_text("1,2\n"),
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "t.csv", "--json", d / "o.json"])[1:] + (
    ["--test", "t.csv", "unsupported recording format"],))
case("evaluate-test-garbage-after-calibration")(lambda d: (
    (d / "t.xdf").write_bytes(b"XDF:garbage" * 100),
    yaml_config(d, "finetune:\n  max_epochs: 1\n  min_trials_per_class: 2\n  gate: false\n", "c.yaml"),
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "t.xdf", "--base", d / "base", "--config", d / "c.yaml",
     "--json", d / "o.json"])[2:] + (["t.xdf", "holds no signal stream"],))
case("replay-adapter-is-a-base-model")(lambda d: (["replay", d / "rec.xdf", "--adapter", d / "base"],
                                                  ["base.json", "not a bci-app LoRA adapter"]))
case("calibrate-base-is-an-adapter")(lambda d: (calibrate(d)[:-4] + ["--base", d / "adapter", "--out", d / "new"],
                                                ["adapter.json", "not a bci-app model sidecar"]))
case("calibrate-recording-missing")(lambda d: (calibrate(d, calib=d / "nope.edf"), ["nope.edf", "recording not found"]))
case("calibrate-no-cues")(lambda d: (write_xdf(d / "quiet.xdf", cues=False), calibrate(d, calib=d / "quiet.xdf"))[1:] + (
    ["quiet.xdf", "no cue markers"],))
case("calibrate-too-short")(lambda d: (
    write_xdf(d / "short.xdf", seconds=5.0, onsets=[2.0]), calibrate(d, calib=d / "short.xdf"))[1:] + (
    ["short.xdf", "too short", "5.0 s"],))
case("calibrate-h-freq-above-nyquist")(lambda d: (  # the base's 40 Hz band on a 60 Hz recording
    write_xdf(d / "slow.xdf", sfreq=60.0), calibrate(d, calib=d / "slow.xdf"))[1:] + (
    ["preprocessing.h_freq", "slow.xdf", "Nyquist", "30 Hz"],))
case("calibrate-unknown-channels")(lambda d: (calibrate(d, "--channels", "Q1,Q2"), ["Q1"]))
case("calibrate-empty-channels")(lambda d: (calibrate(d, "--channels", ","), ["--channels"]))
case("calibrate-bad-events")(lambda d: (calibrate(d, "--events", "nonsense"), ["--events", "nonsense"]))
case("calibrate-base-missing")(lambda d: (calibrate(d)[:-4] + ["--base", d / "nobase", "--out", d / "new"],
                                          ["nobase"]))
case("calibrate-edf-header-only", needs_edf=True)(lambda d: (
    (d / "h.edf").write_bytes(EDF.read_bytes()[:256]), calibrate(d, calib=d / "h.edf"))[1:] + (
    ["h.edf", "cannot read EDF file"],))
case("evaluate-test-missing")(lambda d: (
    ["evaluate", "--calib", d / "rec.xdf", "--test", d / "nope.xdf", "--json", d / "o.json"], ["nope.xdf"]))
case("play-missing")(lambda d: (["play", d / "nope.xdf"], ["nope.xdf", "recording not found"]))
case("play-garbage")(lambda d: ((d / "rec.xdf").write_bytes(b"\x00" * 1000), ["play", d / "rec.xdf"])[1:] + (
    ["rec.xdf", "cannot read XDF file"],))
case("record-brainflow-unknown-board")(lambda d: (["record", "--brainflow", "no_such_board", "--out", d / "o.xdf"],
                                                  ["no_such_board"]))
case("pretrain-data-missing")(lambda d: (["pretrain", "--data", d / "nothing", "--out", d / "m", "--epochs", "1"],
                                         ["nothing"]))


@pytest.mark.parametrize("build", CASES)
def test_bad_input_is_refused_cleanly(build, case_dir, cli):
    argv, expected = build(case_dir)
    before = snapshot(case_dir)
    assert_refused_cleanly(cli(argv), expected, before, case_dir, argv)


def test_catalogue_has_at_least_100_cases():
    assert len(CASES) >= 100, len(CASES)
