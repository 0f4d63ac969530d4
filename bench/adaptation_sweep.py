"""How the adaptation recipe was chosen: fine-tuning settings compared on the development group only.

For each development person: the one ``CalibrationJob`` on run 4 (15 trials) with the fold base that
never saw them, each recipe with the gate off (the adapter itself) and on (what a user gets), scored on
every cue window of runs 8 + 12 (the fixed window after the cue; faster than the online replay of
``bench/decoding.py``, which measures the chosen recipe end to end). The final test group is never
touched here. Prints JSON: per recipe, mean accuracy of unadapted / adapter / gated and the adapter's
wins and losses against the base.

    python bench/adaptation_sweep.py [--recipes default no_val_30] [--subjects S001 S002] [--readme]
    python bench/adaptation_sweep.py --render bench/results-adaptation-sweep.json --readme
"""

from __future__ import annotations

import argparse
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

from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

from bci_app.config import AppConfig, load_config  # noqa: E402
from bci_app.events import window_tmin  # noqa: E402
from bci_app.models.pretrained import fold_base_for, load_base_model  # noqa: E402
from calibration.data import eegmmidb_files  # noqa: E402
from calibration.finetune import predict_proba  # noqa: E402
from calibration.job import CalibrationJob  # noqa: E402
from calibration.prepare import cue_trials  # noqa: E402
from calibration.split import development_group  # noqa: E402

DATA = Path(os.environ.get("BCI_APP_EEGMMIDB", ROOT.parent / "shared" / "data" / "eegmmidb"))

#: finetune settings per recipe (anything not named keeps the config's value)
RECIPES: dict[str, dict] = {
    "default": {},
    "no_val_30": {"validation_fraction": 0.0, "max_epochs": 30},
    "no_val_60_lr1e-2": {"validation_fraction": 0.0, "max_epochs": 60, "learning_rate": 1e-2},
    "no_val_100_lr1e-2_wd": {"validation_fraction": 0.0, "max_epochs": 100, "learning_rate": 1e-2,
                             "weight_decay": 0.05},
    "val_lr1e-2": {"learning_rate": 1e-2},
}


def configure(base: AppConfig, recipe: str, gate: bool) -> AppConfig:
    cfg = base.model_copy(deep=True)
    cfg.finetune = cfg.finetune.model_copy(update={**RECIPES[recipe], "gate": gate})
    return cfg


def markdown(result: dict) -> str:
    lines = ["| recipe (finetune settings) | unadapted | adapter (gate off) | gated | adapter better / worse "
             "than the base | gate chose the adapter |", "|---|---|---|---|---|---|"]
    for recipe, v in result["summary"].items():
        settings = ", ".join(f"{k} {val}" for k, val in v["settings"].items()) or "config defaults"
        lines.append(f"| `{recipe}` ({settings}) | {v['unadapted']:.3f} | {v['adapter']:.3f} | {v['gated']:.3f} | "
                     f"{v['adapter_wins']} / {v['adapter_losses']} | {v['gate_chose_adapter']} of "
                     f"{len(result['people'])} |")
    return "\n".join(lines)


def readme_body(result: dict) -> str:
    """The block ``adaptation-sweep`` (docs/benchmarks.md) for ``result``."""
    note = (f"Written by `python bench/adaptation_sweep.py --readme`: {len(result['people'])} development people, "
            f"fold bases of `{result['base']}`, run 4 calibrates, cue windows of runs 8 + 12 scored.")
    return f"{note}\n\n{markdown(result)}"


def update_readme(result: dict) -> None:
    write_readme_block("adaptation-sweep", readme_body(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--subjects", nargs="*", default=None)
    ap.add_argument("--base", default=None)
    ap.add_argument("--config", default=None)
    add_output_arguments(ap, "bench/results-adaptation-sweep.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    torch.set_num_threads(1)
    config = load_config(args.config)
    family = args.base or config.model.base
    files = eegmmidb_files([DATA], runs=(4, 8, 12))
    people = development_group(args.subjects or [s for s, f in files.items() if len(f) == 3])
    rows: dict = {r: {} for r in args.recipes}
    for person in people:
        base = fold_base_for(person, family)
        calib, *tests = sorted(files[person])
        base_model, _ = load_base_model(base)
        for recipe in args.recipes:
            entry = {}
            for gate in (False, True):
                t0 = time.perf_counter()
                outcome = CalibrationJob([calib], configure(config, recipe, gate), base=base).run_to_end()
                X, y = cue_trials(tests, outcome.data.spec, outcome.data.classes, window_tmin(outcome.data.meta),
                                  outcome.decoder_model.n_times)
                acc = float((predict_proba(outcome.model, X).argmax(1) == y).mean())
                entry["gated" if gate else "adapter"] = acc
                entry["seconds_gated" if gate else "seconds"] = round(time.perf_counter() - t0, 2)
                if gate:
                    entry["chosen"] = outcome.chosen
            entry["unadapted"] = float((predict_proba(base_model, X).argmax(1) == y).mean())
            rows[recipe][person] = entry
        print(person, {r: {k: v for k, v in rows[r][person].items() if "seconds" not in k} for r in args.recipes},
              file=sys.stderr, flush=True)
    summary = {}
    for recipe, per in rows.items():
        a = np.array([v["adapter"] for v in per.values()])
        u = np.array([v["unadapted"] for v in per.values()])
        g = np.array([v["gated"] for v in per.values()])
        summary[recipe] = {"unadapted": float(u.mean()), "adapter": float(a.mean()), "gated": float(g.mean()),
                           "adapter_wins": int((a > u).sum()), "adapter_losses": int((a < u).sum()),
                           "gate_chose_adapter": sum(v["chosen"] == "adapted" for v in per.values()),
                           "settings": RECIPES[recipe]}
    result = {"benchmark": "adaptation_sweep", "group": "dev", "people": people, "base": family,
              "summary": summary, "rows": rows}
    out = args.out or (ROOT / "bench" / "results-adaptation-sweep.json" if not args.subjects else None)
    return finish(result, out, args, update_readme)


if __name__ == "__main__":
    raise SystemExit(main())
