"""Decoding benchmark on people the base never saw, through the user's code path.

For every person of a group (``pretraining/split.py``): calibrate on run 4 (15 trials) and decode
runs 8 + 12 (30 trials) (``--classes 4``: runs 4 + 6 / 8 + 10 + 12 + 14 with the 4-class base)
exactly as ``bci-app evaluate`` does (the one ``CalibrationJob``: preparation
with bad-channel repair and artifact handling, fine-tuning, the gate; then the online ``Decoder`` on
the played files and the online scoring rule). Methods, side by side on the same trials:

- ``base_unadapted``: ``lora.enabled: false`` (the base with the person's alignment);
- ``lora_dense`` / ``lora_msa`` / ``lora_dense_msa`` / ``full``: that adaptation, gate off;
- ``gated``: the shipped configuration (``target_modules: auto`` + the gate): what a user gets;
- ``ts_lr`` / ``csp_lda``: pyRiemann tangent space + LR and CSP + LDA trained on the same prepared
  calibration trials, scored on the test trials' cue windows with the same spec;
- ``xsubj_riemann``: tangent space + LR trained on the other people of the development group
  (covariances re-centred per person), re-centred on this person's calibration trials.

Development people are scored with the fold base that never saw them (``<base>.fold{k}``), final
test people with the shipped base, which never saw any of them (checked against its JSON). Prints JSON
with per-person figures and the mean with a 95 % bootstrap confidence interval over people; ``--readme``
writes the table into docs/benchmarks.md between ``<!-- decoding-<group>:begin/end -->``.

    python bench/decoding.py --group dev [--subjects S001 S002] [--methods gated ts_lr] [--out F]
    python bench/decoding.py --group final --readme      # the final test group: only ever scored
    python bench/decoding.py --render bench/results-decoding-dev.json --readme   # table of a saved run
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

from bci_app.commands.evaluate import calibrate, evaluate_outcome  # noqa: E402
from bci_app.config import AppConfig, load_config  # noqa: E402
from bci_app.errors import CalibrationError  # noqa: E402
from bci_app.io.recording import map_channels, read_recording  # noqa: E402
from bci_app.models.pretrained import PRETRAINED_DIR, fold_base_for  # noqa: E402
from bci_app.vocabulary import window_tmin  # noqa: E402
from calibration.prepare import cue_trials  # noqa: E402
from pretraining.eegmmidb import EEGMMIDB_DIR as DATA  # noqa: E402
from pretraining.eegmmidb import eegmmidb_files, eegmmidb_missing  # noqa: E402
from pretraining.split import split_people  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

ONLINE_METHODS = ("base_unadapted", "lora_dense", "lora_msa", "lora_dense_msa", "full", "gated")
OFFLINE_METHODS = ("ts_lr", "csp_lda", "xsubj_riemann")
METHODS = ONLINE_METHODS + OFFLINE_METHODS
#: (calibration runs, test runs, base family suffix) per number of classes: left/right hand on runs
#: 4 / 8 + 12; four classes (+ both hands, feet) on runs 4 + 6 / 8 + 10 + 12 + 14
PROTOCOLS = {2: ((4,), (8, 12), ""), 4: ((4, 6), (8, 10, 12, 14), "_4class")}
BOOTSTRAP = 10_000


def method_config(base_config: AppConfig, method: str) -> tuple[AppConfig, bool]:
    """(config, full) of an online method; ``gated`` is the config as shipped."""
    cfg = base_config.model_copy(deep=True)
    full = False
    if method == "base_unadapted":
        cfg.lora.enabled = False
    elif method == "gated":
        pass
    else:
        cfg.finetune.gate = False
        if method == "full":
            full = True
        else:
            cfg.lora.target_modules = {"lora_dense": ["dense"], "lora_msa": ["msa"],
                                       "lora_dense_msa": ["dense", "msa"]}[method]
    return cfg, full


def run_path(subject: str, run: int) -> Path:
    return DATA / subject / f"{subject}R{run:02d}.edf"


def protocol_text(n_classes: int) -> str:
    calib_runs, test_runs, _ = PROTOCOLS[n_classes]
    return (f"{n_classes} classes, calibration run{'s' if len(calib_runs) > 1 else ''} "
            f"{' + '.join(map(str, calib_runs))}, test runs {' + '.join(map(str, test_runs))}")


def person_trials(subject: str, config: AppConfig, base: str, runs: tuple[int, ...]):
    """All prepared trials of the base's classes in ``runs`` of one person (own alignment), for the
    cross-subject baseline: (X, y)."""
    from calibration.prepare import prepare_calibration

    data = prepare_calibration([run_path(subject, r) for r in runs], config, base)
    return data.X, data.y


def bench_person(subject: str, base: str, config: AppConfig, methods: list[str], others: dict,
                 n_classes: int, channels: list[str] | None = None,
                 runs: tuple[tuple[int, ...], tuple[int, ...]] | None = None) -> dict:
    """One person's row: every method on the same calibration and test trials (``channels``: as if
    the headset had only these; ``runs``: (calibration runs, test runs) instead of the protocol's)."""
    from bci_app.models.baselines import BASELINES, CrossSubjectTSLR

    calib_runs, test_runs = runs if runs is not None else PROTOCOLS[n_classes][:2]
    calib = [run_path(subject, r) for r in calib_runs]
    tests = [run_path(subject, r) for r in test_runs]
    row: dict = {"base": base}
    outcome = None
    for method in [m for m in methods if m in ONLINE_METHODS]:
        cfg, full = method_config(config, method)
        t0 = time.perf_counter()
        try:
            outcome = calibrate(calib, cfg, base, full=full, channels=channels)
        except CalibrationError as exc:  # a refused person scores chance and is counted
            row[method] = {"accuracy": 1.0 / n_classes, "refused": str(exc)}
            continue
        calib_s = time.perf_counter() - t0
        report = evaluate_outcome(outcome, tests, cfg, channels=channels)
        row[method] = {"accuracy": report["accuracy"], "n_test": report["n_test_trials"], "chosen": outcome.chosen,
                       "calibration_seconds": round(calib_s, 3), "seconds": report["calibration_seconds"],
                       "gate": report["gate"], "preparation": report["preparation"]}
    offline = [m for m in methods if m in OFFLINE_METHODS]
    if offline:
        if outcome is None:
            cfg, _ = method_config(config, "base_unadapted")
            outcome = calibrate(calib, cfg, base, channels=channels)
        X_cal, y_cal = outcome.data.X, outcome.data.y
        X_test, y_test = cue_trials([map_channels(read_recording(t), channels) for t in tests] if channels else tests,
                                    outcome.data.spec, outcome.data.classes,
                                    window_tmin(outcome.data.meta), outcome.decoder_model.n_times)
        for method in offline:
            t0 = time.perf_counter()
            if method == "xsubj_riemann":
                clf = CrossSubjectTSLR().fit([others[s] for s in sorted(others) if s != subject])
                proba = clf.predict_proba(X_test, reference=X_cal)
            else:
                # the classical baselines see only the headset's channels, never interpolated ones
                own = [outcome.data.spec.ch_names.index(c) for c in outcome.data.spec.present_ch_names]
                clf = BASELINES[method]().fit(X_cal[:, own], y_cal)
                proba = clf.predict_proba(X_test[:, own])
            row[method] = {"accuracy": float((proba.argmax(1) == y_test).mean()), "n_test": int(len(y_test)),
                           "seconds": round(time.perf_counter() - t0, 3)}
    return row


def select_people(group: str, subjects: list[str] | None, runs: tuple[int, ...], family: str
                  ) -> tuple[list[str], list[str], list[str]]:
    """``(people to score, development group, final group)`` among the people with every run of
    ``runs``: ``subjects`` (checked to be in ``group``) or the whole group. A final-group run is
    refused when the shipped base ``family`` was trained on any of them."""
    available = [s for s, files in eegmmidb_files([DATA]).items() if all(run_path(s, r) in files for r in runs)]
    dev, final = split_people(available)
    members = dev if group == "dev" else final
    people = [s.upper() for s in subjects] if subjects else members
    strangers = sorted(set(people) - set(members))
    if strangers:
        raise SystemExit(f"{', '.join(strangers)} not in the {group} group ({', '.join(members)})")
    if group == "final":
        shipped = json.loads((PRETRAINED_DIR / f"{family}.json").read_text(encoding="utf-8"))["metadata"]
        seen = sorted(set(people) & set(shipped.get("training_subjects", [])))
        if seen:
            raise SystemExit(f"the shipped base {family} was trained on final-group people {seen}; re-pretrain it "
                             "with --exclude-final-group")
    return people, dev, final


def bootstrap_ci(values: list[float], seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean over people."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), float(v.mean())
    means = v[np.random.default_rng(seed).integers(0, len(v), (BOOTSTRAP, len(v)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarize(rows: dict[str, dict]) -> dict:
    out: dict = {}
    people = sorted(rows)
    for method in METHODS:
        vals = [rows[p][method]["accuracy"] for p in people if method in rows[p]]
        if len(vals) != len(people) or not vals:
            continue
        lo, hi = bootstrap_ci(vals)
        out[method] = {"mean_accuracy": float(np.mean(vals)), "ci95": [lo, hi], "n_people": len(vals)}
    for a, b in (("gated", "base_unadapted"), ("gated", "ts_lr"), ("lora_dense", "base_unadapted")):
        if a in out and b in out:
            diff = [rows[p][a]["accuracy"] - rows[p][b]["accuracy"] for p in people]
            lo, hi = bootstrap_ci(diff)
            out[f"{a}_minus_{b}"] = {"mean": float(np.mean(diff)), "ci95": [lo, hi]}
    if "gated" in out:
        chosen = [rows[p]["gated"]["chosen"] for p in people]
        secs = [rows[p]["gated"]["seconds"]["total"] for p in people]
        out["gated"]["adapter_chosen"] = sum(c == "adapted" for c in chosen)
        out["gated"]["median_calibration_seconds"] = float(np.median(secs))
        out["gated"]["max_calibration_seconds"] = float(np.max(secs))
    refused = [p for p in people if any("refused" in rows[p].get(m, {}) for m in ONLINE_METHODS)]
    out["refused"] = refused
    return out


def markdown(result: dict) -> str:
    """Per-person table + mean and CI."""
    methods = [m for m in METHODS if m in result["summary"]]
    head = "| person | " + " | ".join(methods) + " |"
    lines = [head, "|---|" + "---|" * len(methods)]
    for p, row in sorted(result["people"].items()):
        cells = []
        for m in methods:
            cell = f"{row[m]['accuracy']:.2f}" if m in row else "–"
            if m == "gated" and m in row:
                cell += " (A)" if row[m]["chosen"] == "adapted" else " (B)"
            cells.append(cell)
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    s = result["summary"]
    lines.append("| **mean** | " + " | ".join(f"**{s[m]['mean_accuracy']:.3f}**" for m in methods) + " |")
    lines.append("| 95 % CI | " + " | ".join(f"{s[m]['ci95'][0]:.2f}–{s[m]['ci95'][1]:.2f}" for m in methods) + " |")
    return "\n".join(lines)


def readme_block_name(result: dict) -> str:
    """``decoding-{group}`` (2 classes) or ``decoding-{group}-{n}class``."""
    group = result["group"]
    return f"decoding-{group}" if result["n_classes"] == 2 else f"decoding-{group}-{result['n_classes']}class"


def readme_body(result: dict) -> str:
    """The docs block of ``result`` (see :func:`readme_block_name`), in docs/benchmarks.md."""
    group = result["group"]
    s = result["summary"]
    classes_arg = "" if result["n_classes"] == 2 else f" --classes {result['n_classes']}"
    notes = [f"Written by `python bench/decoding.py{classes_arg} --group {group} --readme` on {result['when']}: "
             f"{len(result['people'])} people, base `{result['base']}`"
             + (" fold models" if group == "dev" else " (trained on the development group only)")
             + f", {protocol_text(result['n_classes'])}."
             + " (A)/(B): the gate installed the adapter / kept the base."]
    for key, label in (("gated_minus_base_unadapted", "gated − unadapted"), ("gated_minus_ts_lr", "gated − TS+LR"),
                       ("lora_dense_minus_base_unadapted", "LoRA dense (no gate) − unadapted")):
        if key in s:
            notes.append(f"{label}: {100 * s[key]['mean']:+.1f} points (95 % CI {100 * s[key]['ci95'][0]:+.1f} to "
                         f"{100 * s[key]['ci95'][1]:+.1f}).")
    if "gated" in s:
        notes.append(f"Adapter installed for {s['gated']['adapter_chosen']} of {len(result['people'])} people; "
                     f"last trial to installed model (preparation + fine-tuning + gate, one thread): median "
                     f"{s['gated']['median_calibration_seconds']:.2f} s, max {s['gated']['max_calibration_seconds']:.2f} s. "
                     f"Refused: {len(s['refused'])}.")
    return "\n".join([" ".join(notes), "", markdown(result)])


def update_readme(result: dict) -> None:
    write_readme_block(readme_block_name(result), readme_body(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=["dev", "final"], default="dev")
    ap.add_argument("--subjects", nargs="*", default=None, help="a subset of the group's people")
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    ap.add_argument("--base", default=None, help="shipped base family (default: config model.base, with "
                                                 "_4class for --classes 4)")
    ap.add_argument("--classes", type=int, choices=sorted(PROTOCOLS), default=2,
                    help="2: left/right hand (runs 4 / 8 + 12); 4: + both hands, feet (runs 4 + 6 / 8-14)")
    ap.add_argument("--config", default=None)
    add_output_arguments(ap, "bench/results-decoding-<group>.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    torch.set_num_threads(1)
    if eegmmidb_missing():
        print(json.dumps({"skipped": eegmmidb_missing()}))
        return 0
    config = load_config(args.config)
    calib_runs, test_runs, suffix = PROTOCOLS[args.classes]
    family = args.base or f"{config.model.base}{suffix}"
    people, dev, final = select_people(args.group, args.subjects, (*calib_runs, *test_runs), family)
    bases = {p: (fold_base_for(p, family) if args.group == "dev" else family) for p in people}
    others = {}
    if "xsubj_riemann" in args.methods:
        for p in dev:
            others[p] = person_trials(p, config, fold_base_for(p, family), (*calib_runs, *test_runs))
            print(f"cross-subject data: {p} {len(others[p][1])} trials", file=sys.stderr, flush=True)
    rows = {}
    for p in people:
        t0 = time.perf_counter()
        rows[p] = bench_person(p, bases[p], config, args.methods, others, args.classes)
        print(f"{p} ({time.perf_counter() - t0:.0f} s): " + ", ".join(
            f"{k} {v['accuracy']:.2f}" for k, v in rows[p].items() if isinstance(v, dict)), file=sys.stderr, flush=True)
    result = {"benchmark": "decoding", "group": args.group, "base": family, "people": rows,
              "n_classes": args.classes, "protocol": protocol_text(args.classes),
              "split": {"development": dev, "final": final, "rule": "pretraining/split.py"},
              "when": time.strftime("%Y-%m-%d %H:%M %Z"), "torch_threads": 1,
              "config": {"lora": config.lora.model_dump(), "finetune": config.finetune.model_dump()},
              "summary": summarize(rows)}
    tag = args.group if args.classes == 2 else f"{args.group}-{args.classes}class"
    out = args.out or (ROOT / "bench" / f"results-decoding-{tag}.json" if not args.subjects else None)
    print(markdown(result), file=sys.stderr)
    return finish(result, out, args, update_readme)


if __name__ == "__main__":
    raise SystemExit(main())
