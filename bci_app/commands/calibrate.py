"""``bci-app calibrate``: LoRA calibration from recorded files into an adapter."""

from __future__ import annotations

import argparse

from bci_app.commands._arguments import add_overwrite, base_inputs, guard_outputs, output_file
from bci_app.commands._recording_options import add_recording_options, recording_options, require_recordings

NAME = "calibrate"
HELP = "fine-tune LoRA adapters of a base model on recorded calibration files (EDF/XDF)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calib", nargs="+", required=True, metavar="FILE",
                        help="calibration recordings: XDF/EDF with GDF cues 769-772, or EEGMMIDB runs (SxxxR04.edf)")
    parser.add_argument("--out", required=True, type=output_file, metavar="ADAPTER",
                        help="writes ADAPTER.safetensors + ADAPTER.json")
    parser.add_argument("--config", default=None, metavar="CFG", help="YAML config (default: the packaged one)")
    add_recording_options(parser)
    parser.add_argument("--report", default=None, type=output_file, metavar="PATH",
                        help="also write the calibration report (accuracy, confusion matrix, kappa, ITR, "
                             "ERD/ERS maps) as one self-contained HTML file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from bci_app.config import load_config
    from bci_app.errors import ConfigError
    from bci_app.models.io import model_paths
    from calibration.job import CalibrationJob

    guard_outputs(args, {"--out": model_paths(args.out), "--report": [args.report] if args.report else []},
                  [*args.calib, args.config, *base_inputs(args.base), args.dataset])
    config = load_config(args.config)
    torch.set_num_threads(config.finetune.torch_threads)
    args.calib = require_recordings("--calib", args.calib)
    if args.report and not Path(args.report).parent.is_dir():
        raise ConfigError(f"--report {args.report}: the folder {Path(args.report).parent} does not exist")

    def show(p) -> None:
        if not args.json:
            val = "-" if p.val_accuracy is None else f"{p.val_accuracy:.2f}"
            print(f"epoch {p.epoch}/{p.n_epochs} loss {p.train_loss:.3f} val {val} ({p.elapsed_s:.1f} s)")

    channels, preset = recording_options(args)
    outcome = CalibrationJob(args.calib, config, base=args.base, channels=channels,
                             preset=preset).run_to_end(on_progress=show)
    base = outcome.metadata["base_model"]
    path = outcome.save(args.out)
    report_path = None
    if args.report:
        from bci_app.report import write_calibration_report

        report_path = args.report
        write_calibration_report(outcome, report_path, preprocessing=config.preprocessing)
    result, meta = outcome.finetune, outcome.metadata
    summary = {
        "adapter": str(path),
        "base": str(base),
        "n_trials": meta["n_trials"],
        "rejected_per_class": meta["rejected_per_class"],
        "rejections": meta["rejections"],
        "readmitted_trials": meta["readmitted_trials"],
        "repaired_channels": meta["repaired_channels"],
        "chosen": outcome.chosen,
        "gate": meta["gate"],
        "target_modules": list(result.target_modules) if result is not None else [],
        "trainable_params": result.trainable_params if result is not None else 0,
        "total_params": result.total_params if result is not None else None,
        "val_accuracy": result.val_accuracy if result is not None else None,
        "finetune_seconds": round(outcome.seconds["finetune"], 3),
        "calibration_seconds": meta["seconds"],
        "report": str(report_path) if report_path else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"adapter written: {path}\n{outcome.summary()}")
        if report_path:
            print(f"report written: {report_path}")
    return 0
