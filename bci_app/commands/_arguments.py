"""Checked command-line values, one home for every command: numbers with their limits (finite,
inside a range that follows from physics or the machine), ``--overwrite``, and the output-path
check of :mod:`bci_app.outputs` applied to a command's inputs and outputs."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from bci_app.config import MAX_SEED, MAX_SFREQ_HZ
from bci_app.errors import OutputError
from bci_app.outputs import OVERWRITE_FLAG, check_output_name, check_outputs


def number(lo: float, hi: float, *, lo_open: bool = False, integer: bool = False,
           unit: str = "") -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), an
    integer with ``integer``; the error names the range."""
    unit = f" {unit}" if unit else ""
    kind = "an integer" if integer else "a number"
    low = "(" if lo_open else "["
    expected = f"{kind} in {low}{lo:g}, {hi:g}]{unit}"

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = kind
    return parse


#: a sampling rate in Hz (positive, at most :data:`~bci_app.config.MAX_SFREQ_HZ`)
sfreq = number(0, MAX_SFREQ_HZ, lo_open=True, unit="Hz")
#: a duration in seconds (positive, at most a day)
seconds = number(0, 86_400, lo_open=True, unit="s")
#: a torch thread count: 1 to this machine's CPU count
threads = number(1, os.cpu_count() or 1, integer=True, unit="(this machine's CPU count is the limit)")
#: a random seed (what numpy and torch take)
seed = number(0, MAX_SEED, integer=True)


def output_file(text: str) -> str:
    """An argparse ``type`` for an output file: refuses ``""``, a name ending in ``/`` (a folder), a
    NUL character and a name longer than the file system takes (see
    :func:`~bci_app.outputs.check_output_name`)."""
    try:
        return check_output_name("the file name", text)
    except OutputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


output_file.__name__ = "file name"


def output_path(text: str) -> Path:
    """:func:`output_file` as a :class:`~pathlib.Path`."""
    return Path(output_file(text))


output_path.__name__ = "file name"


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace existing output files (never an input)."""
    parser.add_argument(OVERWRITE_FLAG, action="store_true", help="replace existing output files (never an input)")


def guard_outputs(args: argparse.Namespace, outputs: Mapping[str, Iterable[str | Path | None]],
                  inputs: Iterable[str | Path | None]) -> None:
    """:func:`~bci_app.outputs.check_outputs` with the command's ``--overwrite`` (None outputs skipped)."""
    check_outputs({k: [p for p in v if p is not None] for k, v in outputs.items()}, inputs,
                  overwrite=bool(getattr(args, "overwrite", False)))


def base_inputs(base: str | Path | None) -> list[Path]:
    """The files of a ``--base`` given as a path (a shipped name reads only packaged files)."""
    return [] if base is None else [Path(base)]
