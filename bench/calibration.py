"""Calibration benchmark: 15 trials (run 4) per shared EEGMMIDB subject, tested on runs 8 + 12.

For every subject, with the shipped fold base that never saw that subject (``default.fold{i}``):
accuracy of the unadapted base, LoRA ``['dense']``, ``['msa']``, ``['dense','msa']``, full
fine-tuning, and pyRiemann tangent space + LR and CSP + LDA trained on the same 15 trials (same
preprocessing, same Euclidean alignment); plus the wall time to a finished adapter / model
(fine-tuning + writing the files) on one torch thread. Prints JSON.

    python bench/calibration.py [--subjects S001 S004] [--base default] [--no-full] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bci_app.config import FinetuneConfig, LoraConfig, resolve_lora  # noqa: E402
from bci_app.models.lora import save_adapter  # noqa: E402
from bci_app.models.io import save_model  # noqa: E402
from bci_app.models.pretrained import fold_base_for, load_base_model  # noqa: E402
from calibration.baselines import CSPLDA, TangentSpaceLR  # noqa: E402
from calibration.data import subject_split  # noqa: E402
from calibration.finetune import finetune, predict_proba, run_to_end  # noqa: E402

DATA = Path(os.environ.get("BCI_APP_EEGMMIDB", ROOT.parent / "shared" / "data" / "eegmmidb"))
METHODS = ("lora_dense", "lora_msa", "lora_dense_msa", "full", "ts_lr", "csp_lda")


def _acc(p: np.ndarray, y: np.ndarray) -> float:
    return float((p.argmax(1) == y).mean())


def bench_subject(subject: str, base: str, full: bool, cfg: FinetuneConfig, tmp: Path) -> dict:
    name = fold_base_for(subject, base)
    model, meta = load_base_model(name)
    split = subject_split([DATA], subject, meta, cache_dir=ROOT / "bench" / "out" / "cache")
    row: dict = {"base": name, "n_calib": int(len(split.y_cal)), "n_test": int(len(split.y_test))}
    row["base_unadapted"] = {"accuracy": _acc(predict_proba(model, split.X_test), split.y_test)}
    for key, targets in (("lora_dense", ["dense"]), ("lora_msa", ["msa"]), ("lora_dense_msa", ["dense", "msa"])):
        model, _ = load_base_model(name)
        lora = resolve_lora(LoraConfig(target_modules=targets), len(split.y_cal))
        t0 = time.perf_counter()
        res = run_to_end(finetune(model, split.X_cal, split.y_cal, lora=lora, config=cfg))
        save_adapter(model, tmp / f"{subject}-{key}", {"metrics": res.metrics()})
        wall = time.perf_counter() - t0
        row[key] = {"accuracy": _acc(predict_proba(model, split.X_test), split.y_test), "seconds": wall,
                    "epochs": res.epochs_run, "trainable_params": res.trainable_params, "cache": res.cache}
    if full:
        model, _ = load_base_model(name)
        t0 = time.perf_counter()
        res = run_to_end(finetune(model, split.X_cal, split.y_cal, config=cfg, full=True))
        save_model(model, tmp / f"{subject}-full", {})
        row["full"] = {"accuracy": _acc(predict_proba(model, split.X_test), split.y_test),
                       "seconds": time.perf_counter() - t0, "epochs": res.epochs_run,
                       "trainable_params": res.trainable_params}
    for key, cls in (("ts_lr", TangentSpaceLR), ("csp_lda", CSPLDA)):
        t0 = time.perf_counter()
        clf = cls().fit(split.X_cal, split.y_cal)
        wall = time.perf_counter() - t0
        row[key] = {"accuracy": _acc(clf.predict_proba(split.X_test), split.y_test), "seconds": wall}
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", nargs="*", default=None)
    ap.add_argument("--base", default="default")
    ap.add_argument("--no-full", action="store_true", help="skip full fine-tuning (slowest)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not (DATA / "S001").is_dir():
        print(json.dumps({"skipped": f"EEGMMIDB data not found at {DATA} (set BCI_APP_EEGMMIDB)"}))
        return 0
    subjects = args.subjects or sorted(p.name for p in DATA.iterdir() if p.is_dir() and p.name.startswith("S"))
    cfg = FinetuneConfig()
    # warm-up: first-call costs (imports, allocator) are paid once per app session, not per calibration
    warm_model, warm_meta = load_base_model(fold_base_for(subjects[0], args.base))
    warm = subject_split([DATA], subjects[0], warm_meta, cache_dir=ROOT / "bench" / "out" / "cache")
    run_to_end(finetune(warm_model, warm.X_cal, warm.y_cal, config=FinetuneConfig(max_epochs=2)))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in subjects:
            rows[s] = bench_subject(s, args.base, not args.no_full, cfg, Path(tmp))
            print(f"{s}: " + ", ".join(f"{k} {v['accuracy']:.2f}" for k, v in rows[s].items() if isinstance(v, dict)),
                  file=sys.stderr)
    summary: dict = {}
    for key in ("base_unadapted", *METHODS):
        vals = [r[key] for r in rows.values() if key in r]
        if not vals:
            continue
        summary[key] = {"mean_accuracy": float(np.mean([v["accuracy"] for v in vals]))}
        if "seconds" in vals[0]:
            secs = [v["seconds"] for v in vals]
            summary[key].update({"median_seconds": float(np.median(secs)), "max_seconds": float(np.max(secs))})
    if "full" in summary:
        summary["speedup_lora_dense_vs_full"] = summary["full"]["median_seconds"] / summary["lora_dense"]["median_seconds"]
    summary["lora_dense_minus_ts_lr_points"] = 100 * (summary["lora_dense"]["mean_accuracy"] - summary["ts_lr"]["mean_accuracy"])
    out = {"benchmark": "calibration", "calib": "run 4 (15 trials)", "test": "runs 8 + 12 (30 trials)",
           "torch_threads": 1, "finetune_config": cfg.model_dump(), "summary": summary, "subjects": rows}
    text = json.dumps(out, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
