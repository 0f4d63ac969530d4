"""How the adaptation recipe was chosen: fine-tuning settings compared on the development group only.

For each development person and each rotation of the three left/right imagery runs (4, 8, 12): the one
``CalibrationJob`` on one run (15 trials) or two runs (30 trials) with the fold base that never saw them,
each recipe with the gate off (the adapter itself) and on (what a user gets), scored on the other
run(s) by the online scoring rule on the decoder's sliding windows (every 62.5 ms from the model's
window start until the window reaches the end of imagery, probabilities averaged per trial; faster
than the online replay of ``bench/decoding.py``, which measures the chosen recipe end to end), beside
TS+LR trained on the same calibration trials and scored the same way. The final test group is never
touched here. Prints JSON: per recipe and number of calibration trials, mean accuracy of unadapted /
adapter / gated / TS+LR, the paired difference gated - unadapted with a 95 % bootstrap interval over
people, and how often the gate chose the adapter.

    python bench/adaptation_sweep.py [--recipes default no_val_30] [--subjects S001 S002] [--trials 15 30] [--readme]
    python bench/adaptation_sweep.py --render bench/results-adaptation-sweep.json --readme
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

from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

from bci_app.config import AppConfig, load_config  # noqa: E402
from bci_app.models.pretrained import fold_base_for, load_base_model  # noqa: E402
from bci_app.vocabulary import window_tmin  # noqa: E402
from calibration.finetune import predict_proba  # noqa: E402
from calibration.job import CalibrationJob  # noqa: E402
from calibration.prepare import decision_trials  # noqa: E402
from pretraining.eegmmidb import EEGMMIDB_DIR as DATA  # noqa: E402
from pretraining.eegmmidb import eegmmidb_files  # noqa: E402
from pretraining.split import development_group  # noqa: E402

#: every recipe states all the fine-tuning settings that were ever in question, so a saved result means
#: the same whatever the config's defaults are at the time: ``_recipe(**changes)`` is this baseline
#: with changes (``lora.*`` keys set the LoRA section)
BASELINE: dict = {"window_span_s": 0.5, "window_stride_s": 0.125, "max_epochs": 30, "validation_fraction": 0.0,
                  "batch_size": 16, "learning_rate": 3e-3, "prior": "none", "prior_weight": 0.0,
                  "average_folds": False, "gate_repeats": 2, "gate_margin": 0.0, "label_smoothing": 0.0,
                  "feature_noise": 0.0, "feature_mixup": 0.0}


def _recipe(**changes) -> dict:
    return {**BASELINE, **changes}


def _around_shipped(**changes) -> dict:
    """The shipped recipe (``b64_l2w0.3_avg_r1``) with the adapter always installed (``gate_margin``
    -1: every margin read off one run), with changes."""
    shipped = {"prior": "l2", "prior_weight": 0.3, "batch_size": 64, "average_folds": True, "gate_repeats": 1,
               "gate_margin": -1.0}
    return _recipe(**{**shipped, **changes})


RECIPES: dict[str, dict] = {
    # the recipe shipped before: one window per trial, early stopping on a fifth of the trials
    "previous": _recipe(window_span_s=0.0, max_epochs=60, validation_fraction=0.2),
    "no_val_30": _recipe(),
    "no_val_15": _recipe(max_epochs=15),
    "no_val_30_l2": _recipe(prior="l2", prior_weight=1.0),
    "no_val_30_kl": _recipe(prior="kl", prior_weight=1.0),
    "no_val_30_l2w0.3": _recipe(prior="l2", prior_weight=0.3),
    "no_val_30_l2w0.1": _recipe(prior="l2", prior_weight=0.1),
    "no_val_30_l2_b64": _recipe(prior="l2", prior_weight=1.0, batch_size=64),
    "no_val_60_l2_b64_lr1e-2": _recipe(prior="l2", prior_weight=1.0, batch_size=64, max_epochs=60, learning_rate=1e-2),
    "no_val_60_l2w3_lr1e-2": _recipe(prior="l2", prior_weight=3.0, max_epochs=60, learning_rate=1e-2),
    "no_val_30_l2_dense_msa": _recipe(prior="l2", prior_weight=1.0, **{"lora.target_modules": ["dense", "msa"]}),
    "one_window_l2": _recipe(prior="l2", prior_weight=1.0, window_span_s=0.0),
    # fold-averaged, gate_margin -1: the adapter is installed every time and the gate's figures are kept,
    # so what every margin would give is read off one run (gate_margins)
    "b64_e30_l2_avg_r1": _recipe(prior="l2", prior_weight=1.0, batch_size=64, average_folds=True, gate_repeats=1,
                                 gate_margin=-1.0),
    "l2w0.3_avg_r1": _recipe(prior="l2", prior_weight=0.3, average_folds=True, gate_repeats=1, gate_margin=-1.0),
    "l2w0.3_r1": _recipe(prior="l2", prior_weight=0.3, gate_repeats=1, gate_margin=-1.0),
    "b64_l2w0.3_avg_r1": _recipe(prior="l2", prior_weight=0.3, batch_size=64, average_folds=True, gate_repeats=1,
                                 gate_margin=-1.0),
    # around the shipped recipe: a higher learning rate, a weaker prior, more targets
    "b64_l2w0.3_avg_r1_lr1e-2": _recipe(prior="l2", prior_weight=0.3, batch_size=64, average_folds=True,
                                        gate_repeats=1, gate_margin=-1.0, learning_rate=1e-2),
    "b64_l2w0.1_avg_r1": _recipe(prior="l2", prior_weight=0.1, batch_size=64, average_folds=True, gate_repeats=1,
                                 gate_margin=-1.0),
    "b64_l2w0.3_avg_r1_dense_msa": _recipe(prior="l2", prior_weight=0.3, batch_size=64, average_folds=True,
                                           gate_repeats=1, gate_margin=-1.0,
                                           **{"lora.target_modules": ["dense", "msa"]}),
    # another rank at 15-30 trials (alpha auto: 2 x rank, so the scaling stays 2); the dense heads have 2
    # outputs, so any rank >= 2 holds every update and the rank only changes how training moves
    "b64_l2w0.3_avg_r1_rank2": _around_shipped(**{"lora.rank": 2}),
    "b64_l2w0.3_avg_r1_rank1": _around_shipped(**{"lora.rank": 1}),
    "b64_l2w0.3_avg_r1_rank16": _around_shipped(**{"lora.rank": 16}),
    "b64_l2w0.3_avg_r1_rank4": _around_shipped(**{"lora.rank": 4}),
    # regularisers on the cached window features and the loss (no extra forward pass)
    "b64_l2w0.3_avg_r1_noise0.5": _around_shipped(feature_noise=0.5),
    "b64_l2w0.3_avg_r1_noise1": _around_shipped(feature_noise=1.0),
    "b64_l2w0.3_avg_r1_mixup1": _around_shipped(feature_mixup=1.0),
    "b64_l2w0.3_avg_r1_ls0.1": _around_shipped(label_smoothing=0.1),
    # the shipped recipe with another seed: how far a recipe moves by chance alone (the null for the rest)
    "b64_l2w0.3_avg_r1_seed1": _around_shipped(seed=1),
    # training windows every 62.5 ms (the decoder's step) instead of every 125 ms; no dropout on the adapter
    "b64_l2w0.3_avg_r1_stride62": _around_shipped(window_stride_s=0.0625),
    "b64_l2w0.3_avg_r1_drop0": _around_shipped(**{"lora.dropout": 0.0}),
    # more fold adapters in the average (and a steadier gate): two repeats of 5 folds, or 10 folds
    "b64_l2w0.3_avg_r2": _around_shipped(gate_repeats=2),
    "b64_l2w0.3_avg_r1_f10": _around_shipped(gate_folds=10),
    # feature noise (a ridge in each feature's spread) in place of part of the isotropic L2 prior
    "b64_l2w0.1_avg_r1_noise1": _around_shipped(prior_weight=0.1, feature_noise=1.0),
    "b64_l2w0.1_avg_r1_noise2": _around_shipped(prior_weight=0.1, feature_noise=2.0),
    "b64_avg_r1_noise1": _around_shipped(prior="none", prior_weight=0.0, feature_noise=1.0),
    "b64_avg_r1_noise2": _around_shipped(prior="none", prior_weight=0.0, feature_noise=2.0),
    # the attention's output projections alone, below the heads (the windows' features are no longer frozen)
    "b64_l2w0.3_avg_r1_msa": _around_shipped(**{"lora.target_modules": ["msa"]}),
}
LR_RUNS = (4, 8, 12)
#: the online decoder's window starts after the model's window start: every 62.5 ms until the 3 s
#: window reaches the end of EEGMMIDB's 4.1 s imagery period (cue + 0.5 s + 3 s + 0.6 s)
DECISION_OFFSETS = tuple(round(k * 0.0625, 4) for k in range(10))
BOOTSTRAP = 10_000


def configure(base: AppConfig, recipe: str, gate: bool) -> AppConfig:
    cfg = base.model_copy(deep=True)
    settings = RECIPES[recipe]
    ft = {k: v for k, v in settings.items() if not k.startswith("lora.")}
    lora = {k[5:]: v for k, v in settings.items() if k.startswith("lora.")}
    cfg.finetune = cfg.finetune.model_copy(update={**ft, "gate": gate})
    cfg.lora = cfg.lora.model_copy(update=lora)
    return cfg


def rotations(n_calib_runs: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(calibration runs, test runs) for each rotation of the three left/right runs."""
    if n_calib_runs == 1:
        return [((r,), tuple(t for t in LR_RUNS if t != r)) for r in LR_RUNS]
    return [(tuple(t for t in LR_RUNS if t != r), (r,)) for r in LR_RUNS]


def paired_ci(diff: np.ndarray, seed: int = 0) -> list[float]:
    """95 % bootstrap interval over people of the mean paired difference."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (BOOTSTRAP, len(diff)))].mean(1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def _cell(v: float, fmt: str = ".3f") -> str:
    return "–" if v is None or not np.isfinite(v) else format(v, fmt)


def markdown(result: dict) -> str:
    lines = ["| recipe (changes to the baseline) | calibration trials | unadapted | adapter (gate off) | installed | TS+LR | "
             "installed − unadapted (95 % CI) | adapter installed | log-loss installed / unadapted |",
             "|---|---|---|---|---|---|---|---|---|"]
    margins = []
    for recipe, per_n in result["summary"].items():
        for n, v in per_n.items():
            settings = ", ".join(f"{k} {val}" for k, val in v["settings"].items()
                                 if result["baseline"].get(k, "-") != val and k != "gate_margin") or "baseline"
            gated = np.isfinite(v["gated"])
            lo, hi = v["gated_minus_unadapted_ci"] if gated else (np.nan, np.nan)
            diff = (f"{100 * v['gated_minus_unadapted']:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})" if gated
                    else f"adapter {100 * v['adapter_minus_unadapted']:+.1f} ({100 * v['adapter_minus_unadapted_ci'][0]:+.1f}"
                         f" to {100 * v['adapter_minus_unadapted_ci'][1]:+.1f})")
            loss = (f"{_cell(v.get('log_loss_gated', np.nan))} / {_cell(v.get('log_loss_unadapted', np.nan))}"
                    if gated else "–")
            lines.append(f"| `{recipe}` ({settings}) | {n} | {v['unadapted']:.3f} | {_cell(v['adapter'])} | "
                         f"{_cell(v['gated'])} | {v['ts_lr']:.3f} | {diff} | "
                         f"{v['gate_chose_adapter'] if gated else '–'} of {v['calibrations'] if gated else '–'} | {loss} |")
            for margin, g in v.get("gate_margins", {}).items():
                margins.append(f"| `{recipe}` | {n} | {margin} | {g['gated']:.3f} | {100 * g['gated_minus_unadapted']:+.1f} "
                               f"({100 * g['ci'][0]:+.1f} to {100 * g['ci'][1]:+.1f}) | {g['installed']} of "
                               f"{v['calibrations']} |")
    if margins:
        lines += ["", "What the gate would install at each margin (recipes run with the adapter always installed, "
                      "the gate's cross-validated figures kept per calibration):", "",
                  "| recipe | calibration trials | gate_margin | installed | − unadapted (95 % CI) | adapter installed |",
                  "|---|---|---|---|---|---|", *margins]
    versus = versus_shipped(result)
    if versus:
        lines += ["", f"Each recipe against the shipped one (`{SHIPPED}`), paired per person on the same calibrations "
                      "(percentage points, 95 % CI): with the adapter always installed and at the shipped margin "
                      f"({SHIPPED_MARGIN:+.2f}):", "",
                  "| recipe | calibration trials | always installed − shipped | at the shipped margin − shipped |",
                  "|---|---|---|---|", *versus]
    margins_vs = margins_versus_previous(result)
    if margins_vs:
        lines += ["", f"The shipped recipe at each margin against the margin shipped before ({PREVIOUS_MARGIN:+.2f}), "
                      "paired per person on the same calibrations (percentage points, 95 % CI; people better / worse):",
                  "", "| gate_margin | calibration trials | − at the previous margin | people better / worse |",
                  "|---|---|---|---|", *margins_vs]
    return "\n".join(lines)


#: the recipe the shipped configuration follows, its gate margin and the margin shipped before it
SHIPPED, SHIPPED_MARGIN, PREVIOUS_MARGIN = "b64_l2w0.3_avg_r1", -0.10, -0.05


def margins_versus_previous(result: dict) -> list[str]:
    """Rows of paired differences, for :data:`SHIPPED`, between each gate margin and :data:`PREVIOUS_MARGIN`."""
    per_n = result.get("rows", {}).get(SHIPPED, {})
    out = []
    for margin in (-1.0, -0.15, -0.10, 0.0):
        for n, per in per_n.items():
            people = sorted(p for p in per if "cv_margin" in per[p])
            if not people:
                continue
            diff = np.array([installed_at_margin(per[p], margin) - installed_at_margin(per[p], PREVIOUS_MARGIN)
                             for p in people])
            lo, hi = paired_ci(diff)
            label = "adapter always" if margin == -1.0 else f"{margin:+.2f}"
            out.append(f"| {label} | {n} | {100 * diff.mean():+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f}) | "
                       f"{int((diff > 0).sum())} / {int((diff < 0).sum())} |")
    return out


def versus_shipped(result: dict) -> list[str]:
    """Rows of paired differences to :data:`SHIPPED` for every other recipe run with ``gate_margin`` -1
    on the same people (from the saved per-calibration figures)."""
    rows = result.get("rows", {})
    if SHIPPED not in rows:
        return []
    out = []
    for recipe, per_n in rows.items():
        if recipe == SHIPPED or RECIPES.get(recipe, {}).get("gate_margin") != -1.0:
            continue
        for n, per in per_n.items():
            ref = rows[SHIPPED].get(n, {})
            people = sorted(set(per) & set(ref))
            if not people or any("cv_margin" not in per[p] or "cv_margin" not in ref[p] for p in people):
                continue
            cells = []
            for margin in (-1.0, SHIPPED_MARGIN):
                diff = np.array([installed_at_margin(per[p], margin) - installed_at_margin(ref[p], margin)
                                 for p in people])
                lo, hi = paired_ci(diff)
                cells.append(f"{100 * diff.mean():+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})")
            out.append(f"| `{recipe}` | {n} | {cells[0]} | {cells[1]} |")
    return out


def readme_body(result: dict) -> str:
    """The block ``adaptation-sweep`` (docs/benchmarks.md) for ``result``."""
    note = (f"Written by `python bench/adaptation_sweep.py --readme`: {len(result['people'])} development people, "
            f"fold bases of `{result['base']}`, every rotation of runs 4 / 8 / 12 (15 trials: one run calibrates, "
            "two are decided; 30 trials: two calibrate, one is decided), online scoring rule on the decoder's "
            "sliding windows; means per person first. Each recipe is the baseline "
            f"({', '.join(f'{k} {v}' for k, v in result['baseline'].items())}) with the changes named.")
    return f"{note}\n\n{markdown(result)}"


def update_readme(result: dict) -> None:
    write_readme_block("adaptation-sweep", readme_body(result))


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood (nats) of the true class: how well calibrated the probabilities are."""
    return float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)).mean())


def installed_at_margin(v: dict, margin: float) -> float:
    """One person's accuracy (mean over calibrations) had the gate used ``margin``: the job's rule, the
    adapter when cv adapted - cv base > margin, else the base (a recipe run with ``gate_margin`` -1)."""
    return float(np.mean([ad if cv > margin else un for cv, ad, un in zip(v["cv_margin"], v["installed_if_adapted"],
                                                                        v["unadapted_each"])]))


def gate_margins(per: dict) -> dict:
    """For a recipe run with the adapter always installed (``gate_margin`` -1): what each gate margin
    would have given, from the gate's cross-validated figures of each calibration."""
    out = {}
    for margin in (-0.15, -0.1, -0.05, -0.02, 0.0, 0.02, 0.05):
        acc, unad, installed = [], [], 0
        for v in per.values():
            installed += sum(cv > margin for cv in v["cv_margin"])
            acc.append(installed_at_margin(v, margin))
            unad.append(float(np.mean(v["unadapted_each"])))
        diff = np.array(acc) - np.array(unad)
        out[f"{margin:+.2f}"] = {"gated": float(np.mean(acc)), "gated_minus_unadapted": float(diff.mean()),
                                 "ci": paired_ci(diff), "installed": installed}
    return out


def person_rows(person: str, files: list[Path], family: str, config: AppConfig, recipes: list[str],
                n_runs: int, gates: tuple[bool, ...] = (False, True)) -> dict:
    """``{recipe: {metric: mean over rotations}}`` for one person and one calibration size."""
    from bci_app.models.baselines import TangentSpaceLR

    base = fold_base_for(person, family)
    base_model, _ = load_base_model(base)
    by_run = {int(f.stem[-2:]): f for f in files}
    out: dict = {r: {"adapter": [], "gated": [], "unadapted": [], "ts_lr": [], "chosen": [], "seconds": [],
                     "cv_margin": [], "installed_if_adapted": [], "log_loss_gated": [], "log_loss_unadapted": []}
                 for r in recipes}
    for calib_runs, test_runs in rotations(n_runs):
        calib, tests = [by_run[r] for r in calib_runs], [by_run[r] for r in test_runs]
        X = y = None
        for recipe in recipes:
            entry = out[recipe]
            for gate in gates:
                t0 = time.perf_counter()
                outcome = CalibrationJob(calib, configure(config, recipe, gate), base=base).run_to_end()
                if X is None:  # the same spec (repair, alignment) for every recipe: same test windows
                    X, y = decision_trials(tests, outcome.data.spec, outcome.data.classes,
                                           window_tmin(outcome.data.meta), outcome.decoder_model.n_times,
                                           DECISION_OFFSETS)
                    p_un = predict_proba(base_model, X)
                    entry_un = float((p_un.argmax(1) == y).mean())
                    ll_un = log_loss(p_un, y)
                    ts = TangentSpaceLR().fit(outcome.data.X, outcome.data.y)
                    n, k = X.shape[:2]
                    p = ts.predict_proba(X.reshape(n * k, *X.shape[2:])).reshape(n, k, -1).mean(1)
                    entry_ts = float((p.argmax(1) == y).mean())
                p_model = predict_proba(outcome.model, X)
                acc = float((p_model.argmax(1) == y).mean())
                entry["gated" if gate else "adapter"].append(acc)
                if gate:
                    entry["chosen"].append(outcome.chosen == "adapted")
                    entry["seconds"].append(time.perf_counter() - t0)
                    entry["log_loss_gated"].append(log_loss(p_model, y))
                    entry["log_loss_unadapted"].append(ll_un)
                    g = outcome.gate
                    if g is not None and g.cv_accuracy_adapted is not None:
                        entry["cv_margin"].append(g.cv_accuracy_adapted - g.cv_accuracy_base)
                        entry["installed_if_adapted"].append(acc if outcome.chosen == "adapted" else None)
            entry["unadapted"].append(entry_un)
            entry["ts_lr"].append(entry_ts)
    lists = ("cv_margin", "installed_if_adapted")
    return {r: {k: v if k in lists else (float(np.mean(v)) if v else float("nan")) if k != "chosen" else int(np.sum(v))
                for k, v in m.items()} | {"calibrations": len(m["chosen"]), "unadapted_each": list(m["unadapted"])}
            for r, m in out.items()}


def merge_runs(paths: list[str], recipes: list[str]) -> dict:
    """One result from saved runs of this script on the same people, of the ``recipes`` they hold, or
    of those a path names (``PATH:recipe,recipe``); the first run's base names the result, a recipe
    of a run on another base is keyed ``recipe @ base``."""
    picks = [p.split(":", 1)[1].split(",") if ":" in p else recipes for p in paths]
    paths = [p.split(":", 1)[0] for p in paths]
    runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    first = runs[0]
    merged = {**first, "baseline": BASELINE, "summary": {}, "rows": {}, "merged_from": [Path(p).name for p in paths]}
    for path, run, wanted in zip(paths, runs, picks):
        if run["people"] != first["people"]:
            raise SystemExit(f"{path}: other people than {paths[0]}; runs merge on the same people")
        for saved_key in run["summary"]:
            # a merged result holds keys 'recipe @ base' of its own: they merge again as they are
            recipe, _, saved_base = saved_key.partition(" @ ")
            if recipe not in wanted:
                continue
            if recipe not in RECIPES:
                raise SystemExit(f"{path}: recipe {recipe!r} is not one of this script's RECIPES")
            base = saved_base or run["base"]
            key = recipe if base == first["base"] else f"{recipe} @ {base}"
            # the recipe's every setting, as RECIPES defines it (runs saved before they were spelled out)
            merged["summary"][key] = {n: {**v, "settings": RECIPES[recipe]}
                                      for n, v in run["summary"][saved_key].items()}
            merged["rows"][key] = run["rows"][saved_key]
    return merged


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--subjects", nargs="*", default=None)
    ap.add_argument("--trials", nargs="*", type=int, default=[15, 30], choices=[15, 30],
                    help="calibration trials: 15 (one run) and/or 30 (two runs)")
    ap.add_argument("--base", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--adapter-only", action="store_true",
                    help="only the adapter itself (gate off): a quicker first look at recipes")
    ap.add_argument("--gated-only", action="store_true", help="only the gated job (what a user gets)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="combine saved runs on the same people into one result (PATH or PATH:recipe,recipe; a "
                         "recipe run on another base is named 'recipe @ base'); no measuring")
    add_output_arguments(ap, "bench/results-adaptation-sweep.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    if args.merge:
        return finish(merge_runs(args.merge, args.recipes), args.out, args, update_readme)
    torch.set_num_threads(1)
    config = load_config(args.config)
    family = args.base or config.model.base
    files = eegmmidb_files([DATA], runs=LR_RUNS)
    people = development_group(args.subjects or [s for s, f in files.items() if len(f) == 3])
    rows: dict = {r: {n: {} for n in args.trials} for r in args.recipes}
    for person in people:
        for n in args.trials:
            per = person_rows(person, files[person], family, config, args.recipes, n // 15,
                              (False,) if args.adapter_only else (True,) if args.gated_only else (False, True))
            for r in args.recipes:
                rows[r][n][person] = per[r]
            print(person, n, {r: {k: round(v, 3) for k, v in per[r].items() if k in ("unadapted", "adapter", "gated",
                                                                                    "ts_lr", "chosen")}
                              for r in args.recipes}, file=sys.stderr, flush=True)
    summary: dict = {}
    for recipe, per_n in rows.items():
        summary[recipe] = {}
        for n, per in per_n.items():
            col = {k: np.array([v[k] for v in per.values()], dtype=float)
                   for k in ("unadapted", "adapter", "gated", "ts_lr", "chosen", "calibrations")}
            diff = col["gated"] - col["unadapted"]
            summary[recipe][n] = {
                "unadapted": float(col["unadapted"].mean()), "adapter": float(col["adapter"].mean()),
                "gated": float(col["gated"].mean()), "ts_lr": float(col["ts_lr"].mean()),
                "gated_minus_unadapted": float(diff.mean()), "gated_minus_unadapted_ci": paired_ci(diff),
                "adapter_minus_unadapted": float((col["adapter"] - col["unadapted"]).mean()),
                "adapter_minus_unadapted_ci": paired_ci(col["adapter"] - col["unadapted"]),
                "gate_chose_adapter": int(col["chosen"].sum()), "calibrations": int(col["calibrations"].sum()),
                "log_loss_gated": float(np.mean([v["log_loss_gated"] for v in per.values()])),
                "log_loss_unadapted": float(np.mean([v["log_loss_unadapted"] for v in per.values()])),
                "settings": RECIPES[recipe]}
            if RECIPES[recipe].get("gate_margin") == -1.0 and not args.adapter_only:
                summary[recipe][n]["gate_margins"] = gate_margins(per)
    result = {"benchmark": "adaptation_sweep", "group": "dev", "people": people, "base": family, "baseline": BASELINE,
              "decision_offsets_s": list(DECISION_OFFSETS), "summary": summary, "rows": rows}
    out = args.out or (ROOT / "bench" / "results-adaptation-sweep.json" if not args.subjects else None)
    return finish(result, out, args, update_readme)


if __name__ == "__main__":
    raise SystemExit(main())
