"""``bci-app sys-info``: versions and import status of everything the app relies on, for bug reports."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys

NAME = "sys-info"
HELP = "print Python, torch, LSL, BrainFlow, Qt and MNE versions and whether each imports"

_PACKAGES = ("numpy", "scipy", "torch", "pylsl", "brainflow", "PySide6", "pyqtgraph", "mne", "pyxdf", "pyriemann")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def collect() -> dict[str, dict[str, str | bool | int]]:
    """Return ``{package: {"imports": bool, "version": str, ...extra}}`` plus a ``python`` entry."""
    from bci_app import __version__

    report: dict[str, dict[str, str | bool | int]] = {
        "bci-app": {"imports": True, "version": __version__},
        "python": {"imports": True, "version": sys.version.split()[0], "platform": platform.platform()},
    }
    for name in _PACKAGES:
        entry: dict[str, str | bool | int] = {}
        try:
            if name == "pylsl":
                from bci_app.lsl_config import applied_lsl_scope, configure_lsl

                configure_lsl()
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure is what we report
            entry = {"imports": False, "error": f"{type(exc).__name__}: {exc}"}
        else:
            entry = {"imports": True, "version": str(getattr(module, "__version__", "unknown"))}
            if name == "torch":
                entry["threads"] = module.get_num_threads()
            elif name == "pylsl":
                entry["liblsl"] = str(module.library_version())
                entry["scope"] = str(applied_lsl_scope())
            elif name == "brainflow":
                from importlib.metadata import version

                entry["version"] = version("brainflow")
        report[name] = entry
    return report


def run(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, entry in report.items():
        if entry["imports"]:
            extra = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in ("imports", "version"))
            print(f"{name:<10} {entry['version']}" + (f"  ({extra})" if extra else ""))
        else:
            print(f"{name:<10} NOT IMPORTABLE: {entry['error']}")
    return 0
