"""Fixtures of the bad-input catalogue: a small world of valid files (base model, adapter, XDF
recording with cues, config) built once, the CLI run in-process, and a memory cap."""

from __future__ import annotations

import os
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from bad_input_files import write_xdf

from bci_app.cli import main

CLASSES = ["left_hand", "right_hand"]


@dataclass(frozen=True)
class World:
    """Valid files every case starts from (copied into the case's own folder)."""

    root: Path
    base: Path  # stem of a small ATCNet base (.safetensors + .json)
    adapter: Path  # stem of an adapter of that base
    xdf: Path  # 40 s, 16 channels at 160 Hz, GDF cues 769/770 every 8 s
    config: Path  # a valid YAML config


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    from bci_app.models import ATCNet, save_model
    from bci_app.models.adapters import save_adapter
    from bci_app.models.lora import add_lora
    from bci_app.signal.preprocess import PreprocessingSpec
    from bci_app.vocabulary import SENSORIMOTOR_16

    root = tmp_path_factory.mktemp("world")
    torch.manual_seed(0)
    base = ATCNet(16, 2, 160.0, 480).eval()
    spec = PreprocessingSpec(SENSORIMOTOR_16, 160.0)
    meta = {"classes": CLASSES, "preprocessing": spec.to_dict(), "window": {"tmin": 0.5, "tmax": 3.5}}
    save_model(base, root / "base", meta)
    add_lora(base, ["dense"], 4, 8.0, 0.0)
    save_adapter(base, root / "adapter", {"classes": CLASSES, "preprocessing": spec.to_dict(),
                                          "base_model": str(root / "base")})
    write_xdf(root / "rec.xdf")
    (root / "config.yaml").write_text("finetune:\n  max_epochs: 1\n  gate: false\n", encoding="utf-8")
    return World(root, root / "base", root / "adapter", root / "rec.xdf", root / "config.yaml")


@pytest.fixture
def case_dir(tmp_path, world) -> Path:
    """The case's own folder with copies of the world's files (same names)."""
    for p in world.root.iterdir():
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


@pytest.fixture(autouse=True)
def _log_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BCI_APP_LOG_DIR", str(tmp_path_factory.mktemp("log")))


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``bci-app ARGV`` in-process; returns exit code, stdout and stderr."""

    def run(argv: list[str]) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def _virtual_size() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("VmSize not found")


@pytest.fixture
def memory_cap():
    """Cap this process's address space at its current size plus 2 GiB for the test (restored
    after): a runaway allocation from untrusted metadata raises MemoryError and fails the test
    instead of exhausting the machine."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("the memory cap reads /proc (Linux)")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _virtual_size() + 2 * 1024**3
    if hard != resource.RLIM_INFINITY and cap > hard:
        cap = hard
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield cap
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
