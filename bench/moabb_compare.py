"""MOABB's own evaluation of PhysionetMI left vs right hand imagery, on the local EEGMMIDB copy.

MOABB's ``WithinSessionEvaluation`` (its 5-fold stratified cross-validation within the session, its
score: ROC AUC for two classes) runs each pipeline per person:

- ``bci-app``: :class:`calibration.estimator.LoRADecoder`: the calibration job (the shipped config:
  ``target_modules: auto`` and the gate) on the fold base that never saw the person
  (``sensorimotor16.fold{k}``, as ``bench/decoding.py`` uses), decided by the online decoder. Its epochs
  run from 1 s before the cue to 4 s after it (the model's window is cue + 0.5 to 3.5 s; decisions
  end up to cue + 4 s) through ``LeftRightImagery(fmin=1, fmax=45, tmin=-1, tmax=4)``: MOABB's
  zero-phase band-pass is kept wide so that the app's own causal 4-40 Hz filter decides the band;
- ``TS+LR``, ``FgMDM``, ``MDM``, ``CSP+LDA``: pyRiemann pipelines (OAS covariances) with MOABB's
  standard ``LeftRightImagery()`` (8-32 Hz, cue to cue + 3 s), as the field publishes them.

No download: a subclass of MOABB's ``PhysionetMI`` reads the files under ``../shared/data/eegmmidb``
(``$BCI_APP_EEGMMIDB``), loads only the hand-imagery runs 4, 8 and 12 (left vs right needs no other),
and the people are restricted to those who have all three locally. Scored on the development group
only (``pretraining/split.py``): the final group is scored by ``bench/decoding.py --group final`` alone.
Beside MOABB's AUC the table shows the app's own protocol from the committed ``bench/decoding.py``
results (calibrate on run 4, decide online on runs 8 + 12: accuracy, gated and TS+LR).

    python bench/moabb_compare.py [--subjects S001 S002] [--out F] [--readme]
    python bench/moabb_compare.py --subjects S005 S007 --merge bench/results-moabb.json --out bench/results-moabb.json
    python bench/moabb_compare.py --refresh-protocol bench/results-moabb.json --readme   # after decoding.py reruns
    python bench/moabb_compare.py --render bench/results-moabb.json --readme
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from readme_block import add_output_arguments, finish, render_saved, write_readme_block  # noqa: E402

from pretraining.eegmmidb import EEGMMIDB_DIR as DATA  # noqa: E402
from pretraining.eegmmidb import eegmmidb_missing  # noqa: E402

HAND_RUNS = (4, 8, 12)
BASELINES = ("TS+LR", "FgMDM", "MDM", "CSP+LDA")
OURS = "bci-app"
PIPELINES = (OURS, *BASELINES)
APP_EPOCHS = {"fmin": 1.0, "fmax": 45.0, "tmin": -1.0, "tmax": 4.0}
DEV_RESULTS = ROOT / "bench" / "results-decoding-dev.json"


def local_dataset():
    """MOABB's PhysionetMI reading only local files (hand-imagery runs), never downloading."""
    from moabb import datasets

    class PhysionetMI(datasets.PhysionetMI):  # MOABB wants the class name to abbreviate the dataset code
        nemar_id = None  # MOABB would first try its NEMAR mirror over the network

        def __init__(self) -> None:
            super().__init__(imagined=True, executed=False)
            self.feet_runs = []  # left vs right hand needs the hand runs only

        def _load_data(self, subject, runs, path=None, force_update=False, verbose=None):
            paths = []
            for run in np.atleast_1d(runs):
                p = DATA / f"S{subject:03d}" / f"S{subject:03d}R{int(run):02d}.edf"
                if not p.is_file():
                    raise FileNotFoundError(f"{p} is not in the local EEGMMIDB copy (nothing is downloaded)")
                paths.append(str(p))
            return paths

        def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
            return self._load_data(subject, list(self.hand_runs))

    return PhysionetMI()


def people(requested: list[str] | None) -> tuple[list[str], list[str]]:
    """``(development people with runs 4, 8 and 12 locally (or the requested ones), those lacking them)``."""
    from pretraining.split import development_group

    present = sorted(p.name for p in DATA.glob("S[0-9][0-9][0-9]") if p.is_dir())
    dev = development_group(present)
    have = [s for s in dev if all((DATA / s / f"{s}R{r:02d}.edf").is_file() for r in HAND_RUNS)]
    lacking = [s for s in dev if s not in have]
    if requested:
        unknown = [s for s in requested if s not in have]
        if unknown:
            raise SystemExit(f"{unknown}: not development people with runs 4, 8 and 12 locally ({have})")
        have = list(requested)
    return have, lacking


def baseline_pipelines() -> dict:
    from pyriemann.classification import MDM, FgMDM
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return {
        "TS+LR": make_pipeline(Covariances("oas"), TangentSpace(metric="riemann"), LogisticRegression(max_iter=1000)),
        "FgMDM": make_pipeline(Covariances("oas"), FgMDM(metric="riemann")),
        "MDM": make_pipeline(Covariances("oas"), MDM(metric="riemann")),
        "CSP+LDA": make_pipeline(Covariances("oas"), CSP(nfilter=6), LinearDiscriminantAnalysis()),
    }


#: MOABB's WithinSessionEvaluation encodes the labels in sorted order: 0 = left_hand, 1 = right_hand
def evaluate(paradigm, dataset, subject: int, pipelines: dict, hdf5: str) -> list[dict]:
    """MOABB's WithinSessionEvaluation of ``pipelines`` on one person: rows of its results table."""
    from moabb.evaluations import WithinSessionEvaluation

    dataset.subject_list = [subject]
    ev = WithinSessionEvaluation(paradigm=paradigm, datasets=[dataset], overwrite=True, hdf5_path=hdf5,
                                 n_jobs=1, random_state=0, save_model=False)
    table = ev.process(pipelines)
    return table.to_dict("records")


def run(subjects: list[str]) -> dict:
    import mne
    import moabb
    import torch
    from moabb.paradigms import LeftRightImagery
    from sklearn.pipeline import make_pipeline

    from bci_app.models.pretrained import fold_base_for
    from calibration.estimator import LoRADecoder

    torch.set_num_threads(1)
    moabb.set_log_level("error")
    logging.getLogger("calibration").setLevel(logging.ERROR)
    standard = LeftRightImagery()
    wide = LeftRightImagery(**APP_EPOCHS)
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as hdf5:
        # MOABB asks MNE for a dataset folder and would otherwise write one into the user's MNE config;
        # the data are read from DATA (local_dataset), so a throw-away folder is enough
        os.environ["MNE_DATASETS_EEGBCI_PATH"] = os.environ["MNE_DATA"] = hdf5
        for s in subjects:
            t0 = time.perf_counter()
            n = int(s[1:])
            dataset = local_dataset()
            dataset.subject_list = [n]
            # MOABB's epochs keep the EDF's EEG channels in order (its renaming only changes case and dots,
            # which channel matching ignores): the names and rate come from the header, no data read
            header = mne.io.read_raw_edf(dataset.data_path(n)[0], preload=False, verbose="error")
            base = fold_base_for(s, "sensorimotor16")
            ours = make_pipeline(LoRADecoder([c.strip(".") for c in header.ch_names], float(header.info["sfreq"]),
                                             tmin=APP_EPOCHS["tmin"], base=base,
                                             class_names={0: "left_hand", 1: "right_hand"}))
            records = evaluate(wide, dataset, n, {OURS: ours}, hdf5)
            records += evaluate(standard, local_dataset(), n, baseline_pipelines(), hdf5)
            rows[s] = {r["pipeline"]: {"score": float(r["score"]), "time_s": round(float(r["time"]), 3),
                                       "n_samples_test": int(r.get("n_samples_test", 0))} for r in records}
            rows[s]["base"] = base
            rows[s]["seconds"] = round(time.perf_counter() - t0, 1)
            print(f"{s}: " + ", ".join(f"{p} {rows[s][p]['score']:.3f}" for p in PIPELINES), file=sys.stderr, flush=True)
    means = {p: float(np.mean([rows[s][p]["score"] for s in subjects])) for p in PIPELINES}
    return {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "moabb_version": moabb.__version__,
            "evaluation": "WithinSessionEvaluation (5-fold stratified, within session), score: ROC AUC",
            "dataset": "PhysionetMI (local EEGMMIDB copy, hand-imagery runs 4, 8, 12)",
            "paradigms": {OURS: f"LeftRightImagery({', '.join(f'{k}={v:g}' for k, v in APP_EPOCHS.items())})",
                          "baselines": "LeftRightImagery() (8-32 Hz, cue to cue + 3 s)"},
            "people": subjects, "per_person": rows, "mean_score": means}


def app_protocol(subjects: list[str]) -> dict[str, dict[str, float]]:
    """The app's own protocol per person from the committed bench/decoding.py dev results (accuracy)."""
    if not DEV_RESULTS.is_file():
        return {}
    saved = json.loads(DEV_RESULTS.read_text(encoding="utf-8"))
    per = saved.get("people", {})
    out = {}
    for s in subjects:
        row = per.get(s, {}) if isinstance(per, dict) else {}
        out[s] = {m: row[m]["accuracy"] for m in ("gated", "ts_lr") if isinstance(row.get(m), dict) and "accuracy" in row[m]}
    return out


def markdown(result: dict) -> str:
    subjects = result["people"]
    protocol = result.get("app_protocol", {})
    head = [*(f"{p} (AUC)" for p in PIPELINES), "online: gated (acc.)", "online: TS+LR (acc.)"]
    lines = ["| person | " + " | ".join(f"{h}" for h in head) + " |", "|---" * (len(head) + 1) + "|"]

    def fmt(v) -> str:
        return "–" if v is None else f"{v:.3f}"

    for s in subjects:
        row = result["per_person"][s]
        cells = [fmt(row[p]["score"]) for p in PIPELINES]
        cells += [fmt(protocol.get(s, {}).get("gated")), fmt(protocol.get(s, {}).get("ts_lr"))]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    mean = result["mean_score"]
    online = [np.mean(v) if (v := [protocol[s][m] for s in subjects if m in protocol.get(s, {})]) else None
              for m in ("gated", "ts_lr")]
    lines.append("| **mean** | " + " | ".join(f"**{mean[p]:.3f}**" for p in PIPELINES) + " | "
                 + " | ".join(f"**{fmt(v)}**" for v in online) + " |")
    return "\n".join(lines)


def readme_body(result: dict) -> str:
    subj = " ".join(result["people"])
    lacking = result.get("lacking_runs", [])
    where = (f"people lacking a hand run locally: {', '.join(lacking)}" if lacking
             else "every development person has these runs locally")
    notes = (f"Written by `python bench/moabb_compare.py --subjects {subj} --readme` (people added with `--merge`) "
             f"on {result['when']} with MOABB "
             f"{result['moabb_version']}: {result['evaluation']}, {result['dataset']}; {len(result['people'])} "
             f"development people (no download; {where}). "
             f"`bci-app`: the calibration job as an sklearn estimator on the fold base that never saw the person, "
             f"epochs {result['paradigms'][OURS]}; baselines: {result['paradigms']['baselines']}. "
             "The last two columns are the app's own protocol (calibrate on run 4, decide online on runs 8 + 12; "
             "accuracy) from `bench/decoding.py --group dev`.")
    return "\n".join([notes, "", markdown(result)])


def update_readme(result: dict) -> None:
    write_readme_block("moabb", readme_body(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", nargs="*", default=None,
                    help="development people (default: every one with runs 4, 8 and 12 locally)")
    ap.add_argument("--merge", default=None, metavar="JSON",
                    help="add the people scored now to a saved result (people already in it are scored again)")
    ap.add_argument("--refresh-protocol", default=None, metavar="JSON",
                    help="only take the app's own protocol columns of a saved result anew from the committed "
                         "bench/decoding.py dev results (after they were rerun); no MOABB scoring")
    add_output_arguments(ap, "bench/results-moabb.json")
    args = ap.parse_args(argv)
    if render_saved(args, markdown, update_readme):
        return 0
    if args.refresh_protocol:
        saved = json.loads(Path(args.refresh_protocol).read_text(encoding="utf-8"))
        saved["app_protocol"] = app_protocol(saved["people"])
        return finish(saved, args.out or args.refresh_protocol, args, update_readme)
    if eegmmidb_missing():
        print(json.dumps({"skipped": eegmmidb_missing()}))
        return 0
    subjects, lacking = people(args.subjects)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MOABB and MNE deprecation chatter; the figures are the output
        result = run(subjects)
    if args.merge:
        saved = json.loads(Path(args.merge).read_text(encoding="utf-8"))
        if saved.get("moabb_version") != result["moabb_version"]:
            raise SystemExit(f"{args.merge} was made with MOABB {saved.get('moabb_version')}, not {result['moabb_version']}")
        rows = {**saved["per_person"], **result["per_person"]}
        subjects = sorted(rows)
        result.update(people=subjects, per_person=rows, when=f"{saved['when'].split(' to ')[0]} to {result['when']}",
                      mean_score={p: float(np.mean([rows[s][p]["score"] for s in subjects])) for p in PIPELINES})
    result["lacking_runs"] = lacking
    result["app_protocol"] = app_protocol(subjects)
    out = args.out or ("bench/results-moabb.json" if args.subjects is None else None)
    return finish(result, out, args, update_readme)


if __name__ == "__main__":
    raise SystemExit(main())
