"""``bci-app evaluate``: calibrate on some recordings, decode others online, score each trial.

1. Calibration: the one :class:`calibration.job.CalibrationJob`, as ``bci-app calibrate`` and the app
   run it (cue-locked windows through the shared preprocessing, bad-channel repair, artifact handling,
   Euclidean alignment, LoRA fine-tuning of the base ``--base``, default ``model.base``, and the gate
   that keeps the unadapted base when the adapter does not cross-validate better).
2. Each test file is played by the one replay driver (:class:`bci_app.online.replay.Replay`: a file
   stream on a manual clock, one decoder step of samples per ``acquire()``, faster than real time,
   nothing dropped) into the online :class:`~bci_app.online.decoder.Decoder`: the same code as live.
3. Each test trial is scored from the decoder's own predictions (rule in
   :mod:`bci_app.online.scoring`: mean raw probability over decisions whose window lies inside the
   imagery period, argmax). The test labels are only read for scoring.

``--shuffle-labels SEED`` permutes the calibration labels (a control: accuracy must not survive it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from bci_app.commands._arguments import add_overwrite, base_inputs, guard_outputs, output_path, seed
from bci_app.commands._recording_options import add_recording_options, recording_options, require_recordings

log = logging.getLogger(__name__)

NAME = "evaluate"
HELP = "calibrate on recordings, replay others through the online decoder, score each trial (JSON)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calib", nargs="+", type=Path, required=True, metavar="FILE")
    parser.add_argument("--test", nargs="+", type=Path, required=True, metavar="FILE")
    parser.add_argument("--config", type=Path, metavar="CFG")
    add_recording_options(parser)
    parser.add_argument("--json", type=output_path, required=True, metavar="OUT")
    parser.add_argument("--shuffle-labels", type=seed, default=None, metavar="SEED",
                        help="control: permute the calibration labels with this seed")
    add_overwrite(parser)


def calibrate(paths, config, base: str | None, *, shuffle_seed: int | None = None, full: bool = False,
              channels: Any = None, preset=None):
    """The same calibration as ``bci-app calibrate`` (optionally with permuted labels, the control;
    ``full``: every weight trains, a benchmark comparison; ``channels``: keep only these, as if the
    headset had only them; ``base`` None: chosen for the channels; ``preset``: the cue markers'
    meaning, default per file). Returns the
    :class:`~calibration.job.CalibrationOutcome`."""
    import numpy as np

    from calibration.job import CalibrationJob

    labels = None if shuffle_seed is None else (lambda y: np.random.default_rng(shuffle_seed).permutation(y))
    return CalibrationJob(paths, config, base=base, labels=labels, full=full, channels=channels,
                          preset=preset).run_to_end()


#: seconds of clock between two test files, so no decision of one file can fall into a trial of another
FILE_SPACING_S = 60.0


def decode_file(path: Path, model, config, *, start_s: float = 0.0, channels: Any = None,
                preset=None, warnings: list[str] | None = None):
    """Play ``path`` through the decoder on a manual clock starting at ``start_s`` (seconds); returns
    (predictions, trials, decoder, cue onsets in file seconds, the clock at the end). Decode several
    files on disjoint clock spans (``start_s`` = previous end + :data:`FILE_SPACING_S`): the scoring
    rule matches decisions to trials by time."""
    import numpy as np

    from bci_app.errors import CalibrationError
    from bci_app.io.recording import map_channels, read_recording
    from bci_app.online.replay import Replay
    from bci_app.online.scoring import Trial
    from calibration.epochs import find_cues

    rec = read_recording(path)
    if channels:
        rec = map_channels(rec, channels)
    onsets, labels, classes, _ = find_cues(rec, preset)  # this file's classes (e.g. run 8: left/right)
    mine = np.isin(np.asarray(classes, dtype=object)[labels], model.classes) if len(labels) else np.zeros(0, bool)
    if not mine.any():
        found = sorted({str(classes[i]) for i in labels})
        message = (f"{path.name}: no cues of the model's classes {list(model.classes)} "
                   f"({'its cues are ' + str(found) if found else 'it holds no cues'}); it is decoded but not scored")
        if warnings is None:
            raise CalibrationError(message)
        warnings.append(message)
        log.warning("%s", message)
    elif not mine.all():
        other = sorted({str(classes[i]) for i in labels[~mine]})
        log.warning("%s: %d cue(s) of classes the model does not decode (%s) are not scored", path.name,
                    int((~mine).sum()), ", ".join(other))
    onsets, labels = onsets[mine], labels[mine]
    durations = {round(m.timestamp, 6): m.duration for m in rec.markers}
    driver = Replay(rec, model, config.online, start_s=float(start_s))
    if driver.warning and warnings is not None:
        warnings.append(driver.warning)
    preds = driver.run()
    trials = []
    for onset, lab in zip(onsets, labels):
        dur = durations.get(round(float(onset), 6)) or 4.0
        start = driver.clock_time(float(onset))
        trials.append(Trial(start, start + dur, classes[int(lab)]))
    driver.close()
    return preds, trials, driver.decoder, np.asarray(onsets), driver.now


def run(args: argparse.Namespace) -> int:
    import torch

    from bci_app.config import load_config
    from bci_app.outputs import atomic_write_json, json_text

    guard_outputs(args, {"--json": [args.json]},
                  [*args.calib, *args.test, args.config, *base_inputs(args.base), args.dataset])
    args.calib = require_recordings("--calib", args.calib)
    args.test = require_recordings("--test", args.test)
    warn_shared_files(args.calib, args.test)
    config = load_config(args.config)
    torch.set_num_threads(config.online.torch_threads)
    channels, preset = recording_options(args)
    outcome = calibrate(args.calib, config, args.base, shuffle_seed=args.shuffle_labels, channels=channels,
                        preset=preset)
    report = evaluate_outcome(outcome, args.test, config, channels=channels, preset=preset)
    report.update({"base_model": outcome.metadata["base_model"], "base_choice": outcome.metadata["base_choice"],
                   "channels": channels.as_dict() if channels else None, "calib": [p.name for p in args.calib],
                   "shuffled_labels": args.shuffle_labels is not None})
    atomic_write_json(args.json, report)
    print(json_text({k: report[k] for k in ("accuracy", "kappa", "n_calib_trials", "n_test_trials",
                                            "finetune_seconds", "chosen", "latency_ms")}), end="")
    if report["accuracy"] is None:
        print("bci-app evaluate: no accuracy: the test files hold no scorable trials "
              f"({'; '.join(report['warnings']) or 'no cues'}); the JSON has accuracy null", file=sys.stderr)
    return 0


def warn_shared_files(calib: list[Path], test: list[Path]) -> list[str]:
    """Warn (and return the warnings) when a test file is also a calibration file: its accuracy
    would measure memory, not decoding."""
    import os

    shared = [str(t) for t in test for c in calib
              if t.exists() and c.exists() and os.path.samefile(t, c)]
    for name in shared:
        log.warning("%s is both a calibration and a test file: the accuracy on it is not a test result", name)
    return shared


def evaluate_outcome(outcome, test_paths, config, *, channels: Any = None, preset=None) -> dict:
    """Decode ``test_paths`` online with a finished calibration and score every trial (report dict);
    ``channels``: keep only these in the test files too."""
    from bci_app.models import count_parameters
    from bci_app.online.scoring import latency_summary, score_trials
    from bci_app.vocabulary import window_tmin

    model, result = outcome.decoder_model, outcome.finetune
    all_preds, all_trials, per_file, warnings = [], [], [], []
    start = 0.0
    for path in test_paths:
        preds, trials, dec, _, end = decode_file(path, model, config, start_s=start, channels=channels,
                                                  preset=preset, warnings=warnings)
        start = end + FILE_SPACING_S
        all_preds += preds
        all_trials += trials
        per_file.append({"file": path.name, "n_trials": len(trials), "n_decisions": len(preds), "decoder": vars(dec.counters)})
    tmin = window_tmin(outcome.data.meta)
    spec = model.spec
    scores = score_trials(all_preds, all_trials, model.classes, tmin=tmin, window_s=model.n_times / spec.sfreq,
                          sfreq=spec.sfreq)
    lat = latency_summary(all_preds)
    return {
        "accuracy": scores["accuracy"], "kappa": scores["kappa"], "n_calib_trials": int(len(outcome.data.y)),
        "n_test_trials": scores["n_trials"], "n_undecided": scores["n_undecided"],
        "finetune_seconds": round(outcome.seconds["finetune"], 3),
        "calibration_seconds": {k: round(v, 3) for k, v in outcome.seconds.items()},
        "trainable_params": result.trainable_params if result is not None else 0,
        "total_params": count_parameters(model.module),
        "target_modules": list(result.target_modules) if result is not None else [],
        "chosen": outcome.chosen, "gate": outcome.gate.as_dict() if outcome.gate is not None else None,
        "preparation": outcome.data.report(),
        "latency_ms": {"p50": lat["p50"], "p99": lat["p99"]}, "per_class_recall": scores["per_class_recall"],
        "test": per_file, "scoring_rule": scores["rule"], "trials": scores["trials"], "warnings": warnings,
    }
