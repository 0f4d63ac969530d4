"""The learning curve through co-adaptation, as a user meets it, on people the base never saw.

Each EEGMMIDB person has three left/right imagery runs of 15 trials (4, 8, 12). For every rotation
(A, B, C) of them, the session's path: calibrate on run A (15 trials, the one ``CalibrationJob``),
decode the cued online runs B and C with the online decoder (the 15-trial figure); then *Retrain after
each cued run*: the same job on A + B (what ``Session`` retrains on: the calibration plus the run's
labelled trials, 30 trials), decode run C (the 30-trial figure). Methods on the same trials, as
``bench/decoding.py`` runs them (``bench_person``): the base with the person's alignment
(``base_unadapted``), the shipped configuration (``gated``: adapted as installed), TS+LR trained only
on the person's calibration trials, and the cross-subject Riemannian baseline re-centred on them.
Per person the mean over rotations; the mean over people with a 95 % bootstrap interval, and the
paired differences with theirs.

``--classes 4`` extends the curve where people have more runs: the three pairs of runs (4 + 6, 8 + 10,
12 + 14; left hand, right hand, both hands, feet) rotate in the same way with the 4-class base, so the
curve reads at 30 and 60 calibration trials.

    python bench/learning_curve.py --group dev [--subjects S001 S002] [--readme]
    python bench/learning_curve.py --group final --readme      # only ever scored
    python bench/learning_curve.py --classes 4 --group dev --readme
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

from decoding import bench_person, bootstrap_ci, person_trials, select_people  # noqa: E402
from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

from bci_app.config import load_config  # noqa: E402
from bci_app.models.pretrained import fold_base_for  # noqa: E402

#: classes -> the units of the curve (runs cued together, in rotation) and the base family suffix
UNITS: dict[int, tuple[tuple[int, ...], ...]] = {2: ((4,), (8,), (12,)), 4: ((4, 6), (8, 10), (12, 14))}
FAMILY_SUFFIX = {2: "", 4: "_4class"}
TRIALS_PER_RUN = 15
METHODS = ("base_unadapted", "gated", "ts_lr", "xsubj_riemann")
PAIRS = (("gated", "base_unadapted"), ("gated", "ts_lr"), ("gated", "xsubj_riemann"))


def rotations(units: tuple[tuple[int, ...], ...] = UNITS[2]) -> list[tuple[tuple[int, ...], ...]]:
    """(calibration runs, online runs 1, online runs 2) for each rotation: every unit calibrates once."""
    return [tuple(units[(i + k) % 3] for k in range(3)) for i in range(3)]


def curve_person(person: str, base: str, config, others: dict, n_classes: int = 2) -> dict:
    """``{n_trials: {method: {accuracy (mean over rotations), ...}}}`` for one person, at one and two
    units of calibration (15 and 30 trials for 2 classes, 30 and 60 for 4)."""
    small, large = (TRIALS_PER_RUN * len(UNITS[n_classes][0]) * k for k in (1, 2))
    out: dict = {small: {m: [] for m in METHODS}, large: {m: [] for m in METHODS}}
    chosen: dict = {small: [], large: []}
    seconds: dict = {small: [], large: []}
    for a, b, c in rotations(UNITS[n_classes]):
        for n, runs in ((small, (a, b + c)), (large, (a + b, c))):
            row = bench_person(person, base, config, list(METHODS), others, n_classes, runs=runs)
            for m in METHODS:
                out[n][m].append(row[m]["accuracy"])
            chosen[n].append(row["gated"].get("chosen") == "adapted")
            seconds[n].append(row["gated"]["seconds"]["total"] if "seconds" in row["gated"] else float("nan"))
    return {n: {"accuracy": {m: float(np.mean(v)) for m, v in out[n].items()},
                "per_rotation": out[n], "adapter_installed": int(sum(chosen[n])), "calibrations": len(chosen[n]),
                "max_calibration_seconds": float(np.nanmax(seconds[n]))} for n in out}


def summarize(rows: dict) -> dict:
    summary: dict = {}
    people = sorted(rows)
    for n in sorted(next(iter(rows.values()))):
        s: dict = {}
        for m in METHODS:
            vals = [rows[p][n]["accuracy"][m] for p in people]
            s[m] = {"mean": float(np.mean(vals)), "ci95": list(bootstrap_ci(vals))}
        for a, b in PAIRS:
            diff = [rows[p][n]["accuracy"][a] - rows[p][n]["accuracy"][b] for p in people]
            s[f"{a}_minus_{b}"] = {"mean": float(np.mean(diff)), "ci95": list(bootstrap_ci(diff))}
        s["adapter_installed"] = sum(rows[p][n]["adapter_installed"] for p in people)
        s["calibrations"] = sum(rows[p][n]["calibrations"] for p in people)
        s["people_with_adapter_installed_at_least_once"] = sum(rows[p][n]["adapter_installed"] > 0 for p in people)
        s["max_calibration_seconds"] = max(rows[p][n]["max_calibration_seconds"] for p in people)
        summary[n] = s
    return summary


def markdown(result: dict) -> str:
    lines = ["| calibration trials | " + " | ".join(METHODS) + " | gated − unadapted | gated − TS+LR | "
             "adapter installed |", "|---|" + "---|" * (len(METHODS) + 3)]
    for n, s in result["summary"].items():
        cells = [f"{s[m]['mean']:.3f} ({s[m]['ci95'][0]:.2f}–{s[m]['ci95'][1]:.2f})" for m in METHODS]
        for a, b in PAIRS[:2]:
            d = s[f"{a}_minus_{b}"]
            cells.append(f"{100 * d['mean']:+.1f} ({100 * d['ci95'][0]:+.1f} to {100 * d['ci95'][1]:+.1f})")
        cells.append(f"{s['adapter_installed']} of {s['calibrations']}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    sizes = list(result["summary"])
    lines += ["", "| person | " + " | ".join(f"{m} ({n})" for n in sizes for m in METHODS) + " |",
              "|---|" + "---|" * (2 * len(METHODS))]
    for p, row in sorted(result["people"].items()):
        lines.append(f"| {p} | " + " | ".join(f"{row[n]['accuracy'][m]:.2f}" for n in sizes for m in METHODS)
                     + " |")
    return "\n".join(lines)


def readme_body(result: dict) -> str:
    four = result.get("n_classes", 2) == 4
    rotation = ("Every rotation of the run pairs 4 + 6 / 8 + 10 / 12 + 14 (left hand, right hand, both hands, feet): "
                "calibrate on one pair (30 trials) and decode the two cued online pairs; retrain on it plus the first "
                "online pair (60 trials, co-adaptation) and decode the second." if four else
                "Every rotation of runs 4 / 8 / 12: calibrate on one (15 trials) and decode the two cued online runs; "
                "retrain on it plus the first online run (30 trials, co-adaptation) and decode the second.")
    note = (f"Written by `python bench/learning_curve.py{' --classes 4' if four else ''} --group {result['group']} "
            f"--readme` on {result['when']}: {len(result['people'])} people, base `{result['base']}`"
            + (" fold models" if result["group"] == "dev" else " (trained on the development group only)")
            + f". {rotation} Per person the mean over rotations; mean over people (95 % bootstrap CI); differences "
              "are paired per person (percentage points).")
    return f"{note}\n\n{markdown(result)}"


def block_name(result: dict) -> str:
    """``learning-curve-{group}`` (2 classes) or ``learning-curve-{group}-4class``."""
    return f"learning-curve-{result['group']}" + ("-4class" if result.get("n_classes", 2) == 4 else "")


def update_readme(result: dict) -> None:
    write_readme_block(block_name(result), readme_body(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=["dev", "final"], default="dev")
    ap.add_argument("--subjects", nargs="*", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--classes", type=int, choices=sorted(UNITS), default=2,
                    help="2: left/right runs 4, 8, 12; 4: the run pairs 4 + 6, 8 + 10, 12 + 14 with the 4-class base")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="combine saved runs of the same group on other people into one result; no measuring")
    add_output_arguments(ap, "bench/results-learning-curve-<group>.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    if args.merge:
        runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.merge]
        if len({(r["group"], r["base"], json.dumps(r["config"], sort_keys=True)) for r in runs}) != 1:
            raise SystemExit("the runs differ in group, base or configuration; only runs of one setting merge")
        people = {p: row for r in runs for p, row in r["people"].items()}
        merged = {**runs[-1], "people": dict(sorted(people.items())),
                  "summary": json.loads(json.dumps(summarize({p: {int(n): v for n, v in row.items()}
                                                              for p, row in people.items()})))}
        return finish(merged, args.out, args, update_readme)
    torch.set_num_threads(1)
    config = load_config(args.config)
    family = config.model.base + FAMILY_SUFFIX[args.classes]
    all_runs = tuple(sorted(r for unit in UNITS[args.classes] for r in unit))
    people, dev, final = select_people(args.group, args.subjects, all_runs, family)
    others = {p: person_trials(p, config, fold_base_for(p, family), all_runs) for p in dev}
    rows = {}
    for p in people:
        t0 = time.perf_counter()
        base = fold_base_for(p, family) if args.group == "dev" else family
        rows[p] = curve_person(p, base, config, others, args.classes)
        print(f"{p} ({time.perf_counter() - t0:.0f} s): " + "; ".join(
            f"{n}: " + ", ".join(f"{m} {v:.2f}" for m, v in rows[p][n]["accuracy"].items()) for n in rows[p]),
            file=sys.stderr, flush=True)
    result = {"benchmark": "learning_curve", "group": args.group, "n_classes": args.classes, "base": family,
              "people": rows,
              "split": {"development": dev, "final": final, "rule": "pretraining/split.py"},
              "when": time.strftime("%Y-%m-%d %H:%M %Z"), "torch_threads": 1,
              "config": {"lora": config.lora.model_dump(), "finetune": config.finetune.model_dump()},
              "summary": summarize(rows)}
    result = json.loads(json.dumps(result))  # int keys as JSON has them, so a saved result renders the same
    default_out = ROOT / "bench" / f"results-{block_name(result)}.json"
    out = args.out or (default_out if not args.subjects else None)
    print(markdown(result), file=sys.stderr)
    return finish(result, out, args, update_readme)


if __name__ == "__main__":
    raise SystemExit(main())
