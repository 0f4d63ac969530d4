"""``bci-app pretrain``: cross-subject ATCNet base model on EEGMMIDB (runs under ``torchrun`` too)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bci_app.commands._arguments import add_overwrite, guard_outputs, number, output_file, seed, threads
from bci_app.errors import ConfigError
from bci_app.vocabulary import MONTAGES

log = logging.getLogger(__name__)

NAME = "pretrain"
HELP = "train the ATCNet base model across subjects (leave-subjects-out validation); torchrun-ready"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="EEGMMIDB folder(s) with S001/...")
    parser.add_argument("--out", required=True, type=output_file, metavar="MODEL",
                        help="output path (writes MODEL.safetensors + .json)")
    parser.add_argument("--montage", default="eegmmidb64", choices=list(MONTAGES),
                        help="the channels the base decodes (bci_app.vocabulary.MONTAGES)")
    parser.add_argument("--exclude-subjects", nargs="*", default=[], metavar="SXXX")
    parser.add_argument("--exclude-final-group", action="store_true",
                        help="leave out the final test group (pretraining/split.py) so it is only ever scored")
    parser.add_argument("--epochs", type=number(1, 10_000, integer=True), default=30)
    parser.add_argument("--seed", type=seed, default=0)
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
    parser.add_argument("--report", default=None, type=output_file, metavar="JSON", help="write the validation summary here")
    parser.add_argument("--threads", type=threads, default=1, help="torch intra-op threads per process")
    parser.add_argument("--person-adapters", action="store_true",
                        help="pretrain for adaptation: one low-rank adapter per training person on the dense heads")
    parser.add_argument("--adapter-rank", type=number(1, 64, integer=True), default=8,
                        help="rank of each person's adapter (--person-adapters)")
    add_overwrite(parser)


def _distinct_folders(folders: list[str]) -> list[str]:
    """``--data`` without repeats: a folder given twice, or inside another given folder, would train on
    its people twice; it is dropped with a warning."""
    kept: list[tuple[str, Path]] = []
    for text in folders:
        path = Path(text).expanduser().resolve()
        same = next((k for k, p in kept if p == path or p in path.parents), None)
        if same is not None:
            log.warning("--data %s is %s already given; using it once", text,
                        "the folder" if Path(same).expanduser().resolve() == path else f"inside the folder {same}")
            continue
        inner = [k for k, p in kept if path in p.parents]
        for k in inner:
            log.warning("--data %s is inside the folder %s also given; using it once", k, text)
        kept = [(k, p) for k, p in kept if k not in inner] + [(text, path)]
    return [k for k, _ in kept]


def _check_plan(args: argparse.Namespace, subjects: list[str]) -> None:
    """Refuse a run that would train nothing or fail half-way: no people left, folds that do not exist,
    nothing asked for. ConfigError naming the options."""
    if not subjects:
        raise ConfigError(f"--exclude-subjects (and --exclude-final-group) leave no person of --data to train on; "
                          f"excluded: {', '.join(_excluded_names(args)) or 'none'}")
    if args.folds == 1 or args.folds > len(subjects):
        raise ConfigError(f"--folds {args.folds}: expected 0 (no validation) or 2 to the number of people "
                          f"({len(subjects)})")
    if args.only_folds is not None:
        if not args.folds:
            raise ConfigError("--only-folds needs --folds (leave-subjects-out validation); none were asked for")
        wrong = sorted({i for i in args.only_folds if not 0 <= i < args.folds})
        if wrong:
            raise ConfigError(f"--only-folds {' '.join(map(str, wrong))}: no such fold; with --folds {args.folds} "
                              f"the folds are 0 to {args.folds - 1}")
    if args.save_folds and not args.folds:
        raise ConfigError("--save-folds needs --folds; there are no fold models to save")
    runs_folds = bool(args.folds) and args.only_folds != []
    if args.no_final and not runs_folds:
        raise ConfigError("--no-final with no validation folds to run (--folds 0 or an empty --only-folds) "
                          "trains nothing; drop --no-final or give --folds")


def _excluded_names(args: argparse.Namespace) -> list[str]:
    return sorted({s.upper() for s in args.exclude_subjects})


def _excluded(args: argparse.Namespace, subjects: list[str]) -> list[str]:
    """``--exclude-subjects`` plus, with ``--exclude-final-group``, the final test group of ``subjects``;
    names that are not among ``subjects`` are warned about."""
    excluded = _excluded_names(args)
    unknown = [s for s in excluded if s not in subjects]
    if unknown:
        log.warning("--exclude-subjects %s: not in --data (its people are %s ... %s)", " ".join(unknown),
                    subjects[0], subjects[-1])
    if args.exclude_final_group:
        from pretraining.split import final_group

        excluded += final_group(subjects)
    return sorted(set(excluded))


def _cache_files(cache: str | None) -> list[Path]:
    """The files of ``--cache`` (read by the command); ConfigError when it names a file, not a folder."""
    if cache is None:
        return []
    path = Path(cache).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--cache {cache} is a file; expected a folder for the cached epochs (it is created "
                          "when missing)")
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []


def run(args: argparse.Namespace) -> int:
    import torch

    from bci_app.models.io import model_paths
    from pretraining.eegmmidb import eegmmidb_files
    from pretraining.train import PretrainOptions, pretrain

    args.data = _distinct_folders(list(args.data))
    outputs = {"--out": model_paths(args.out), "--report": [args.report]}
    guard_outputs(args, outputs, [*args.data, args.cache])  # before reading anything
    opts = PretrainOptions(
        montage=args.montage, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        seed=args.seed, tmin=args.tmin, window_s=args.window, euclidean_alignment=not args.no_alignment,
        augment=not args.no_augment, extra_runs=args.extra_runs, four_class=args.four_class, folds=args.folds,
        person_adapters=args.person_adapters, adapter_rank=args.adapter_rank, adapter_alpha=2.0 * args.adapter_rank,
    )
    files = eegmmidb_files(list(args.data), runs=opts.runs)  # every file the command reads
    opts.exclude_subjects = _excluded(args, sorted(files))
    _check_plan(args, sorted(set(files) - set(opts.exclude_subjects)))
    guard_outputs(args, outputs, [*(p for paths in files.values() for p in paths), *_cache_files(args.cache)])
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("calibration").setLevel(logging.INFO)
    validation = pretrain(args.data, args.out, opts, cache_dir=args.cache, save_folds=args.save_folds,
                          only_folds=args.only_folds, final=not args.no_final, report=args.report)
    if validation.get("mean_accuracy") is not None:
        print(f"leave-subjects-out mean accuracy: {validation['mean_accuracy']:.3f}")
    return 0
