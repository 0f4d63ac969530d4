"""``bci-app demo``: a whole session on the simulated headset over real LSL.

The simulated headset (:class:`~bci_app.acquisition.StreamSimulated`, the base model's montage) is
published as an LSL outlet (:class:`~bci_app.acquisition.lsl.LslPlayer`) and read back through
:class:`~bci_app.acquisition.lsl.StreamLSL`, exactly like a real amplifier. The session then runs a
shortened Graz calibration (the simulated user imagines each cued class), fine-tunes LoRA adapters in
a background thread while streaming and recording continue, goes online and scores cued online
trials from the decoder's own predictions (rule: :mod:`bci_app.online.scoring`). It reports accuracy,
decoder latency and samples lost between the outlet and the session.

``--time-scale X`` runs the simulated person, the paradigm and the outlet X times faster than real
time (default 3 headless; 1 with the GUI): same samples, timestamps and trials, less waiting.

Reproducible per seed: calibration starts on the stream's sample at 10 s, the online trials on the
sample 20 s after calibration ends (the break in which the adapter trains), and the simulated user
plans its imagery from the paradigm's schedule; with decisions tied to sample indices and seeded
fine-tuning, two runs give the same trials and decisions. The report's ``reproducible_timing`` is
False when setup or fine-tuning overran a slot (the run then starts on the next whole second).

Defaults (measured offline on simulated subjects 0, 1, 3, 5, 7 with 40 test trials each): the
headset is the 16-channel sensorimotor montage of the ``sensorimotor16`` base (unadapted 0.78–0.80,
adapted ~0.80–0.83 vs 0.77/0.78 for the 64-channel ``default``, at a quarter of the streaming and
decoding cost), 15 calibration trials per class, 3x time scale so that the headless run stays
under 2 minutes (~76 s).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from bci_app.commands._arguments import add_overwrite, base_inputs, guard_outputs, number, output_path, seed

NAME = "demo"
#: Base model (and so the simulated headset's montage) of the demo unless ``--base`` is given.
DEMO_BASE = "sensorimotor16"
DEMO_TRIALS_PER_CLASS = 15
HEADLESS_TIME_SCALE = 3.0
#: Stream seconds (from the headset's first sample) at which calibration starts: room for connecting.
CALIBRATION_START_S = 10.0
#: Stream seconds between the end of calibration and the first online trial: the break in which the
#: adapter trains on the decoder's windows with the gate (15 s of wall time at the headless 3x; a
#: loaded 2-core machine needs up to about 9 s).
ONLINE_BREAK_S = 45.0
HELP = "full session on the simulated headset over LSL: calibrate, fine-tune, decode online"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="no window; print the report")
    parser.add_argument("--trials-per-class", type=number(2, 200, integer=True), default=DEMO_TRIALS_PER_CLASS, metavar="N",
                        help=f"calibration trials per class ({DEMO_TRIALS_PER_CLASS})")
    parser.add_argument("--online-trials-per-class", type=number(1, 200, integer=True), default=6, metavar="N",
                        help="scored online trials per class (6)")
    parser.add_argument("--seed", type=seed, default=0, help="simulated subject and paradigm seed (0)")
    parser.add_argument("--json", type=output_path, metavar="OUT", help="write the report as JSON")
    parser.add_argument("--config", type=Path, metavar="CFG", help="configuration YAML (default: packaged)")
    parser.add_argument("--base", metavar="MODEL",
                        help=f"base model name or path; the simulated headset gets its montage ({DEMO_BASE})")
    parser.add_argument("--record", type=output_path, metavar="FILE.xdf", help="record the session (EEG, markers, predictions)")
    parser.add_argument("--time-scale", type=number(0, 100, lo_open=True), default=None, metavar="X",
                        help=f"simulation speed ({HEADLESS_TIME_SCALE:g} headless)")
    add_overwrite(parser)


def stream_time_slot(sim, clock, offset_s: float, margin_s: float = 0.5) -> tuple[float, bool]:
    """Clock time of the headset's sample at ``offset_s`` stream seconds, and True, when that is at
    least ``margin_s`` ahead of now; else the next whole stream second that is, and False (the run
    then is not reproducible sample for sample; the report says so)."""
    index = int(round(offset_s * sim.sfreq))
    earliest = clock() + margin_s
    if sim.sample_time(index) >= earliest:
        return sim.sample_time(index), True
    seconds = -(-(earliest - sim.sample_time(0)) // 1.0)
    log.warning("demo: the slot at %.1f stream seconds has passed; starting at %.0f s instead (not reproducible)",
                offset_s, seconds)
    return sim.sample_time(int(round(seconds * sim.sfreq))), False


def adapter_path_for(recording: Path) -> Path:
    """Where the demo saves the adapter of a recorded session: ``<stem>-adapter.safetensors``."""
    recording = Path(recording)
    return recording.with_name(f"{recording.stem}-adapter")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "base", None) is None:
        args.base = DEMO_BASE  # the GUI demo too: same headset and base as the headless one
    from bci_app.models.io import model_paths

    record = getattr(args, "record", None)
    guard_outputs(args, {"--json": [getattr(args, "json", None)], "--record": [record],
                         "--record (adapter)": model_paths(adapter_path_for(record)) if record else []},
                  [getattr(args, "config", None), *base_inputs(args.base if args.base != DEMO_BASE else None)])
    if not args.headless:
        try:
            import bci_app.gui  # noqa: F401
        except ImportError:
            print("bci-app demo: the desktop GUI (bci_app.gui) is not available; running headless.", file=sys.stderr)
            args.headless = True
        else:
            from bci_app.gui import run_demo  # type: ignore[attr-defined]

            return int(run_demo(args) or 0)
    report = run_headless(args)
    if args.json:
        from bci_app.outputs import atomic_write_json

        atomic_write_json(args.json, report)
    print(summary_text(report))
    return 0


def summary_text(report: dict) -> str:
    """A few plain lines for the operator; the whole report goes to ``--json``."""
    ft = report.get("finetune", {})
    lat = report.get("latency_ms", {})
    lines = [
        f"bci-app demo: simulated subject {report.get('seed')}, {report.get('channels')} channels at "
        f"{report.get('sfreq')} Hz over LSL, base {report.get('base_model')}",
        f"  calibration: {report.get('n_calib_trials')} trials ({report.get('n_calib_rejected')} rejected); "
        f"LoRA {ft.get('target_modules')} trained {ft.get('trainable_params')} of {ft.get('total_params')} "
        f"parameters in {report.get('finetune_seconds')} s",
        f"  online: accuracy {report.get('accuracy', 0):.2f} on {report.get('n_online_trials')} trials "
        f"(chance {report.get('chance')}); decision latency p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms",
        f"  samples: {report.get('samples_received')} of {report.get('samples_published')} received, "
        f"{report.get('samples_lost')} lost; {report.get('wall_seconds')} s wall time",
    ]
    if report.get("errors"):
        lines.append(f"  errors: {report['errors']}")
    if report.get("recording"):
        lines.append(f"  recording: {report['recording']}")
    lines.append("  (the whole report with per-trial decisions: --json FILE)")
    return "\n".join(lines)


def run_headless(args: argparse.Namespace) -> dict:
    """Run the demo and return the report (see module doc)."""
    from bci_app.config import load_config
    from bci_app.lsl_config import configure_lsl

    config = load_config(args.config)
    configure_lsl(config.lsl.scope)
    import torch

    torch.set_num_threads(config.online.torch_threads)
    from bci_app.acquisition.lsl import StreamLSL
    from bci_app.errors import BCIError, CalibrationError
    from bci_app.online.scoring import latency_summary
    from bci_app.session import Mode
    from bci_app.session.demo import demo_rig
    from calibration.job import CalibrationJob

    t_start = time.perf_counter()
    scale = args.time_scale if args.time_scale is not None else HEADLESS_TIME_SCALE
    if not scale > 0:
        raise CalibrationError(f"--time-scale must be > 0, got {scale}")
    base_name = args.base or DEMO_BASE
    rig = demo_rig(config, base=base_name, seed=args.seed, trials_per_class=args.trials_per_class, time_scale=scale)
    cfg, model, meta, clock, sim, player, session = (rig.config, rig.model, rig.meta, rig.clock, rig.simulator,
                                                     rig.player, rig.session)
    classes = tuple(meta["classes"])
    spec_sfreq, tmin, ch_names = rig.sfreq, rig.tmin, tuple(meta["preprocessing"]["ch_names"])
    # the demo's clock runs `scale` times faster: a longer buffer and a shorter acquisition period
    source = StreamLSL.from_config(config.lsl, name=rig.name, stype="EEG", bufsize=60.0, acquisition_delay=0.002,
                                   marker_stream=False)
    errors: list[str] = []
    session.subscribe("error", lambda e: errors.append(e.message))
    predictions = []
    imagery_s = cfg.paradigm.imagery_end_s - cfg.paradigm.cue_at_s

    def plan_imagery(paradigm) -> None:
        """The simulated user imagines every cued class of a started paradigm (planned ahead, so a
        busy main thread can never make the ERD start late)."""
        for at, label in paradigm.planned_cues():
            sim.imagine(label, at, imagery_s)

    report: dict = {"base_model": base_name, "seed": args.seed, "time_scale": scale, "classes": list(classes),
                    "channels": len(ch_names), "sfreq": spec_sfreq}
    try:
        if not session.connect(source):
            raise BCIError("; ".join(errors) or "could not connect to the simulated LSL stream")
        player.start()  # after the inlet is open: every published sample must arrive
        if args.record:
            session.start_recording(args.record, overwrite=True)
        # -- calibration, from a fixed sample of the stream (reproducible per seed)
        cal_at, cal_aligned = stream_time_slot(sim, clock, CALIBRATION_START_S)
        slack = {"calibration": round(cal_at - clock(), 2)}
        if not session.start_calibration(start_at=cal_at):
            raise BCIError("; ".join(errors) or "could not start the calibration")
        plan_imagery(session.paradigm)
        cal_s = (cal_at - clock() + session.paradigm.duration_s) / scale
        if not session.run_until(lambda: session.mode is not Mode.CALIBRATING, timeout_s=cal_s + 30):
            raise BCIError("calibration did not finish in time")
        rec = session.calibration_data
        session_paradigm_s = session.paradigm.duration_s
        # -- background fine-tuning (streaming and recording continue)
        job = CalibrationJob([rec], cfg, base=base_name, model=model, meta=meta, preset="gdf",
                             name=f"{base_name}+lora(demo)")
        t_train = time.perf_counter()
        session.start_training(job.run(), lambda outcome: outcome.decoder_model, cancel=job.cancel.set)
        if not session.run_until(lambda: not session.training, timeout_s=300):
            session.cancel_training(wait=True)
            raise BCIError("fine-tuning did not finish within 300 s")
        finetune_s = time.perf_counter() - t_train
        if session.model is None:
            raise BCIError("; ".join(errors) or "fine-tuning produced no model")
        outcome = session.training_result
        # -- cued online trials (the session's), after a fixed break in stream time from calibration's start
        session.start_online()
        session.decoder.subscribe(predictions.append)
        online_at, online_aligned = stream_time_slot(
            sim, clock, (cal_at - sim.sample_time(0)) + session_paradigm_s + ONLINE_BREAK_S)
        slack["online"] = round(online_at - clock(), 2)
        if not session.start_online_trials(trials_per_class=args.online_trials_per_class, seed_offset=1000,
                                           tmin=tmin, start_at=online_at):
            raise BCIError("; ".join(errors) or "could not start the cued online trials")
        paradigm = session.online_paradigm
        plan_imagery(paradigm)
        online_s = (online_at - clock() + paradigm.duration_s) / scale
        if not session.run_until(lambda: paradigm.finished, timeout_s=online_s + 30):
            raise BCIError("online trials did not finish in time")
        player.halt()  # publishing stops, the outlet stays open: n_pushed is final
        published = player.n_pushed  # every one of these must reach the session
        session.run_until(lambda: source.counters.received >= published, timeout_s=5.0)
        received = source.counters.received
        if not session.run_until(lambda: session.online_result() is not None, timeout_s=5.0):
            raise BCIError("the decoder did not reach the end of the last online trial")
        scores = session.online_result()
        counters = session.decoder.counters if session.decoder else None
        status = session.stream_status
        if args.record:
            report["adapter"] = str(outcome.save(adapter_path_for(args.record)))
    finally:
        session.stop_online()
        session.stop_recording()
        session.disconnect()
        rig.close()
    lost = max(0, published - received)
    report.update({
        "accuracy": scores["accuracy"],
        "kappa": scores["kappa"],
        "chance": 1.0 / len(classes),
        "per_class_recall": scores["per_class_recall"],
        "n_calib_trials": int(len(outcome.data.y)),
        "n_calib_rejected": sum(outcome.data.rejected_per_class.values()),
        "chosen": outcome.chosen,
        "gate": outcome.gate.as_dict() if outcome.gate is not None else None,
        "repaired_channels": list(outcome.data.repaired),
        "n_online_trials": scores["n_trials"],
        "n_undecided": scores["n_undecided"],
        "finetune_seconds": round(finetune_s, 2),
        "finetune": ({k: v for k, v in outcome.finetune.metrics().items() if k != "history"}
                     if outcome.finetune is not None else None),
        "latency_ms": latency_summary(predictions),
        "n_predictions": len(predictions),
        "samples_published": published,
        "samples_received": received,
        "samples_lost": lost,
        "buffer_overflow": status.lost if status else None,
        "decoder": None if counters is None else vars(counters),
        "errors": errors,
        "recording": str(args.record) if args.record else None,
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        # True when calibration and online trials began on their fixed stream samples, so the
        # report is reproducible per seed; False when setup or fine-tuning overran the slot
        "reproducible_timing": bool(cal_aligned and online_aligned),
        "slot_slack_stream_s": slack,  # stream seconds to spare when each slot was taken
        "scoring_rule": scores["rule"],
        "trials": scores["trials"],
    })
    return report
