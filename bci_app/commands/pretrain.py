"""``bci-app pretrain``: cross-subject ATCNet base model on EEGMMIDB (runs under ``torchrun`` too)."""

from __future__ import annotations

import argparse

from bci_app.commands._arguments import add_overwrite, guard_outputs, number, threads

NAME = "pretrain"
HELP = "train the ATCNet base model across subjects (leave-subjects-out validation); torchrun-ready"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="EEGMMIDB folder(s) with S001/...")
    parser.add_argument("--out", required=True, metavar="MODEL", help="output path (writes MODEL.safetensors + .json)")
    parser.add_argument("--montage", default="64", choices=["64", "sensorimotor16", "sensorimotor8", "unicorn8", "motor3"])
    parser.add_argument("--exclude-subjects", nargs="*", default=[], metavar="SXXX")
    parser.add_argument("--exclude-final-group", action="store_true",
                        help="leave out the final test group (calibration/split.py) so it is only ever scored")
    parser.add_argument("--epochs", type=number(1, 10_000, integer=True), default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=number(0, 100, integer=True), default=0, help="leave-subjects-out folds (0: none)")
    parser.add_argument("--only-folds", type=int, nargs="*", default=None, help="run only these fold indices")
    parser.add_argument("--save-folds", action="store_true", help="also write MODEL.fold{i} (bases that never saw fold i)")
    parser.add_argument("--no-final", action="store_true", help="skip the final model on all subjects")
    parser.add_argument("--tmin", type=number(-5, 10, unit="s"), default=0.5, help="window start after the cue (s)")
    parser.add_argument("--window", type=number(0, 30, lo_open=True, unit="s"), default=3.0, help="window length (s)")
    parser.add_argument("--no-alignment", action="store_true", help="disable per-subject Euclidean alignment")
    parser.add_argument("--no-augment", action="store_true", help="disable crops, scaling and noise")
    parser.add_argument("--extra-runs", action="store_true", help="add runs 6/10/14 (both_hands, feet) as extra classes")
    parser.add_argument("--four-class", action="store_true",
                        help="ship a 4-class model (left hand, right hand, both hands, feet; runs 4-14)")
    parser.add_argument("--lr", type=number(0, 1, lo_open=True), default=3e-3)
    parser.add_argument("--batch-size", type=number(1, 4096, integer=True), default=64)
    parser.add_argument("--cache", default=None, metavar="DIR", help="cache preprocessed epochs (.npz) here")
    parser.add_argument("--report", default=None, metavar="JSON", help="write the validation summary here")
    parser.add_argument("--threads", type=threads, default=1, help="torch intra-op threads per process")
    parser.add_argument("--person-adapters", action="store_true",
                        help="pretrain for adaptation: one low-rank adapter per training person on the dense heads")
    parser.add_argument("--adapter-rank", type=number(1, 64, integer=True), default=8,
                        help="rank of each person's adapter (--person-adapters)")
    add_overwrite(parser)


def _excluded(args: argparse.Namespace) -> list[str]:
    """``--exclude-subjects`` plus, with ``--exclude-final-group``, the final test group found in ``--data``."""
    excluded = [s.upper() for s in args.exclude_subjects]
    if args.exclude_final_group:
        from calibration.data import eegmmidb_files
        from calibration.split import final_group

        excluded += final_group(eegmmidb_files(list(args.data)))
    return sorted(set(excluded))


def run(args: argparse.Namespace) -> int:
    import logging

    import torch

    from bci_app.models.io import model_paths
    from calibration.pretrain import PretrainOptions, pretrain

    guard_outputs(args, {"--out": model_paths(args.out), "--report": [args.report]}, [*args.data, args.cache])
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("calibration").setLevel(logging.INFO)
    opts = PretrainOptions(
        montage=args.montage, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        seed=args.seed, tmin=args.tmin, window_s=args.window, euclidean_alignment=not args.no_alignment,
        augment=not args.no_augment, extra_runs=args.extra_runs, four_class=args.four_class, folds=args.folds,
        exclude_subjects=_excluded(args), person_adapters=args.person_adapters, adapter_rank=args.adapter_rank,
        adapter_alpha=2.0 * args.adapter_rank,
    )
    validation = pretrain(args.data, args.out, opts, cache_dir=args.cache, save_folds=args.save_folds,
                          only_folds=args.only_folds, final=not args.no_final, report=args.report)
    if validation.get("mean_accuracy") is not None:
        print(f"leave-subjects-out mean accuracy: {validation['mean_accuracy']:.3f}")
    return 0
