"""Headset layouts on a group of people: the base the app picks for the channels a headset has,
beside tangent space + LR on the same channels.

Each layout restricts the recordings to its channels (as ``--channels`` does, as if the headset had
only them). The app's rule picks the base (``base_for_channels``, which says which and why; the
channels it lacks are interpolated); each development person is scored with that base's fold model
that never saw them, each final-group person with the shipped base (trained on the development group
only), through the user's code path (``bench/decoding.py``: calibrate on run 4, decode runs 8 + 12
online).
TS+LR is trained on the same prepared calibration trials, on the headset channels that the chosen
base uses (never on interpolated ones; with all 64 present and the 16-channel base kept, those 16).
Prints JSON; ``--readme`` writes the table between ``<!-- layouts:begin/end -->`` (``layouts-final`` for
``--group final``).

    python bench/layouts.py [--layouts cyton unicorn] [--subjects S001 S002] [--readme]
    python bench/layouts.py --group final --readme      # the final test group: only ever scored
    python bench/layouts.py --base sensorimotor16 --out bench/results-layouts-sensorimotor16.json  # a rule's evidence
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from decoding import bench_person, bootstrap_ci, select_people  # noqa: E402
from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

from bci_app.config import load_config  # noqa: E402
from bci_app.models.pretrained import base_for_channels, fold_base_for  # noqa: E402
from bci_app.vocabulary import EEGMMIDB_64, SENSORIMOTOR_16  # noqa: E402
from pretraining.eegmmidb import eegmmidb_missing  # noqa: E402

#: headset layouts (10-10 names), from the boards' BrainFlow descriptors where named so
LAYOUTS: dict[str, tuple[str, ...]] = {
    "cyton": ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"),
    "motor3": ("C3", "Cz", "C4"),
    "unicorn": ("Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8"),
    "synthetic16": ("Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8", "F5", "F7", "F3", "F1", "F2", "F4", "F6", "F8"),
    "sensorimotor16": SENSORIMOTOR_16,
    "10-20_32": ("Fp1", "Fp2", "AF3", "AF4", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7", "C3",
                 "Cz", "C4", "T8", "CP5", "CP1", "CP2", "CP6", "P7", "P3", "Pz", "P4", "P8", "PO3", "PO4", "O1",
                 "Oz", "O2"),
    "all64": EEGMMIDB_64,
}
METHODS = ["gated", "ts_lr"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layouts", nargs="*", default=list(LAYOUTS), choices=list(LAYOUTS))
    ap.add_argument("--group", choices=["dev", "final"], default="dev")
    ap.add_argument("--subjects", nargs="*", default=None, help="a subset of the group's people")
    ap.add_argument("--config", default=None)
    ap.add_argument("--base", default=None, help="force this base family for every layout (evidence for the "
                                                 "app's rule; the default is the rule itself)")
    add_output_arguments(ap, "bench/results-layouts.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    if args.base and args.readme:
        ap.error("--readme writes the table of the app's rule; a --base run is evidence, not that table")
    torch.set_num_threads(1)
    if eegmmidb_missing():
        print(json.dumps({"skipped": eegmmidb_missing()}))
        return 0
    config = load_config(args.config)
    families = {name: ((args.base, "forced by --base") if args.base
                       else base_for_channels(config.model.base, list(LAYOUTS[name]))) for name in args.layouts}
    people: list[str] = []
    for family, _ in set(families.values()):  # the final group is refused for a base that saw any of them
        people = select_people(args.group, args.subjects, (4, 8, 12), family)[0]
    out: dict = {"benchmark": "layouts", "group": args.group, "people": people, "layouts": {},
                 "when": time.strftime("%Y-%m-%d %H:%M %Z")}
    for name in args.layouts:
        channels = list(LAYOUTS[name])
        family, reason = families[name]
        rows = {}
        for p in people:
            base = fold_base_for(p, family) if args.group == "dev" else family
            rows[p] = bench_person(p, base, config, METHODS, {}, 2, channels)
        summary = {}
        for m in METHODS:
            vals = [rows[p][m]["accuracy"] for p in people]
            summary[m] = {"mean_accuracy": float(np.mean(vals)), "ci95": list(bootstrap_ci(vals))}
        out["layouts"][name] = {"channels": channels, "base": family, "base_choice": reason,
                                "summary": summary, "people": rows}
        print(f"{name}: base {family}, " + ", ".join(f"{m} {summary[m]['mean_accuracy']:.3f}" for m in METHODS),
              file=sys.stderr, flush=True)
    default_out = ROOT / "bench" / ("results-layouts.json" if args.group == "dev" else "results-layouts-final.json")
    out_path = args.out or (default_out if not (args.subjects or args.base) else None)
    return finish(out, out_path, args, update_readme)


def markdown(result: dict) -> str:
    lines = ["| layout | channels | base the app picks | interpolated | gated (95 % CI) "
             "| TS+LR on the base's channels present (95 % CI) |",
             "|---|---|---|---|---|---|"]
    for name, v in result["layouts"].items():
        g, t = v["summary"]["gated"], v["summary"]["ts_lr"]
        first = next(iter(v["people"].values()))
        missing = len(first["gated"]["preparation"].get("missing_channels", [])) if "gated" in first else "–"
        lines.append(f"| {name} | {len(v['channels'])} | `{v['base']}` | {missing} | {g['mean_accuracy']:.3f} "
                     f"({g['ci95'][0]:.2f}–{g['ci95'][1]:.2f}) | {t['mean_accuracy']:.3f} "
                     f"({t['ci95'][0]:.2f}–{t['ci95'][1]:.2f}) |")
    return "\n".join(lines)


def readme_body(result: dict) -> str:
    """The block ``layouts`` (docs/benchmarks.md) for ``result``."""
    final = result.get("group", "dev") == "final"
    note = (f"Written by `python bench/layouts.py{' --group final' if final else ''} --readme` on {result['when']}: "
            f"{len(result['people'])} {'final-group' if final else 'development'} people, calibrate on run 4, decode "
            "runs 8 + 12 online, "
            + ("with the shipped bases (trained on the development group only)." if final
               else "each with the fold base that never saw them."))
    return f"{note}\n\n{markdown(result)}"


def update_readme(result: dict) -> None:
    write_readme_block("layouts-final" if result.get("group") == "final" else "layouts", readme_body(result))


if __name__ == "__main__":
    raise SystemExit(main())
