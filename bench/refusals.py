"""Who is refused a decoder: every EEGMMIDB person, each left/right run as the calibration, each base.

Runs the one ``CalibrationJob`` (as ``bci-app calibrate``: bad-channel repair, artifact handling,
fine-tuning, gate) on run 4, 8 and 12 of every person in the data folder with each shipped base (a
4-class base on runs 4 + 6, 8 + 10 and 12 + 14, where a person has them), and
counts refusals (a ``CalibrationError``: no decoder), repaired channels and trials kept despite
artifacts. Refusal depends on the data, not on which people a base saw, so the shipped bases are used.
Prints JSON.

    python bench/refusals.py [--bases sensorimotor16] [--subjects S001 S004] [--runs 4] [--readme]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

from bci_app.config import load_config  # noqa: E402
from bci_app.errors import CalibrationError  # noqa: E402
from bci_app.models.pretrained import list_base_models, load_base_model  # noqa: E402
from calibration.job import CalibrationJob  # noqa: E402
from pretraining.eegmmidb import EEGMMIDB_DIR as DATA  # noqa: E402
from pretraining.eegmmidb import eegmmidb_files, eegmmidb_missing  # noqa: E402


def markdown(result: dict) -> str:
    lines = ["| base | calibrations | refused | with repaired channels | trials kept despite artifacts |",
             "|---|---|---|---|---|"]
    # 4-class bases calibrate on two runs (4 + 6, 8 + 10, 12 + 14) of the people who have them
    for base, v in result["bases"].items():
        lines.append(f"| `{base}` | {v['calibrations']} | {v['refused']} | {len(v['repaired'])} | "
                     f"{v['readmitted_trials']} |")
    return "\n".join(lines)


def readme_body(result: dict) -> str:
    """The block ``refusals`` (docs/benchmarks.md) for ``result``."""
    from collections import Counter

    channels = Counter(c for v in result["bases"].values() for chs in v["repaired"].values() for c in chs)
    top = ", ".join(f"{c} ×{n}" for c, n in channels.most_common(8)) or "none"
    note = (f"Written by `python bench/refusals.py --readme`: {result['people']} people × runs "
            f"{'/'.join(map(str, result['runs']))} (4-class bases: runs 4 + 6, 8 + 10, 12 + 14). "
            f"Channels repaired most often (all bases): {top}.")
    return f"{note}\n\n{markdown(result)}"


def update_readme(result: dict) -> None:
    write_readme_block("refusals", readme_body(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bases", nargs="*", default=None, help="default: every shipped base")
    ap.add_argument("--subjects", nargs="*", default=None)
    ap.add_argument("--runs", nargs="*", type=int, default=[4, 8, 12])
    ap.add_argument("--config", default=None)
    add_output_arguments(ap, "bench/results-refusals.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    torch.set_num_threads(1)
    if eegmmidb_missing():
        print(json.dumps({"skipped": eegmmidb_missing()}))
        return 0
    config = load_config(args.config)
    all_files = eegmmidb_files([DATA])
    people = [s.upper() for s in args.subjects] if args.subjects else sorted(all_files)
    bases = args.bases or list_base_models()
    out: dict = {"benchmark": "refusals", "runs": args.runs, "people": len(people), "bases": {}}
    for base in bases:
        refused, repaired, readmitted, n = [], {}, 0, 0
        t0 = time.perf_counter()
        four = len(load_base_model(base)[1]["classes"]) > 2
        for person in people:
            by_run = {int(p.stem[-2:]): p for p in all_files.get(person, [])}
            for run in args.runs:
                calib = [by_run.get(run), by_run.get(run + 2)] if four else [by_run.get(run)]
                if any(p is None for p in calib):
                    continue
                n += 1
                name = " + ".join(p.name for p in calib)
                try:
                    outcome = CalibrationJob(calib, config, base=base).run_to_end()
                except CalibrationError as exc:
                    refused.append({"file": name, "reason": str(exc)})
                    continue
                if outcome.data.repaired:
                    repaired[name] = list(outcome.data.repaired)
                readmitted += outcome.data.readmitted
        out["bases"][base] = {"calibrations": n, "refused": len(refused), "refusals": refused,
                              "repaired": repaired, "readmitted_trials": readmitted,
                              "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{base}: {n} calibrations, {len(refused)} refused, {len(repaired)} with repaired channels, "
              f"{readmitted} trials kept despite artifacts", file=sys.stderr, flush=True)
    path = args.out or (ROOT / "bench" / "results-refusals.json" if not (args.subjects or args.bases) else None)
    return finish(out, path, args, update_readme)


if __name__ == "__main__":
    raise SystemExit(main())
