"""GUI benchmark: the signal view's frame rate with 64 channels, and the longest event-loop stall
while the session's real fine-tuning job runs in the background. Prints JSON.

    QT_QPA_PLATFORM=offscreen python bench/gui.py [--seconds 5] [--trials-per-class 20]
    python bench/gui.py --smoke        # CI: a few seconds, same code paths

The fine-tuning job is the one the window starts after a calibration (``Session.calibration_training``:
the ``default`` base model, 64 channels, LoRA per config — ``['dense']`` below 50 trials — with
cached frozen features), on calibration data recorded by a real :class:`Session` from the simulated
headset (manual clock, so it takes no wall time). The job runs in the session's training thread with
torch limited to one thread while the app's 30 Hz timer refreshes the 64-channel signal view.
"Stall" = longest timer interval minus the 33 ms period. Goals: ≥ 30 fps; stall ≤ 16 ms.

Then the path a clinician triggers, for every shipped base (``--bases`` to choose): the default
configuration with that base, the gate, a simulated headset with the base's channels (and the paradigm
with the base's classes the simulated person can imagine; its samples pulled on its own thread, as the
window's) on a manual clock driven at real time by the timer, as a participant's session (recordings,
adapter and report saved): the last 3 s of calibration -> the session builds the training job ->
training and gate on the training thread -> the decoder model prepared there -> installed -> online
(started the moment the model arrives, as a clinician pressing Start: its decoder, outlet and online
recording made on a thread, online from a later tick) -> first adapted decision -> decisions for 3 s and
until the calibration report is written (drawn in its own process meanwhile) -> Stop and Disconnect (as
the window does it: the online recording closed and synced, the outlet and the headset closed, on the
session's threads; the frames until they are complete are the "closing" path) -> the session's online
recording replayed in the window (``Session.replay_file`` as the replay panel's Play does: the file
opened and its decoder built in the background, then the replay panel drawing replayed against live
decisions and the signal view on the replayed file) to its end.
Measured: the longest time one timer tick takes (the UI thread's longest stall; goal ≤ 16 ms, one
frame at 60 Hz), per path (calibration, training, install, online start, online, stop, closing, replay
start, replay), with
the UI thread's own CPU time in that tick (a tick much longer than its CPU time waited for a core or
the GIL), and the time from the end of calibration to the first adapted decision (goal ≤ 3 s for
15-40 trials) and to the report written. The machine's load average is recorded: above its core
count, ticks also wait for a core.

``--stall-dumps FILE`` finds what a long tick waited for: every thread's stack is written to FILE
(by ``faulthandler``, which needs no interpreter lock) whenever a tick has run 16 ms, or the timer
has not come back 16 ms after its period while fine-tuning.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent  # a bench script must never shadow a package of the same name
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
sys.path.append(str(_HERE))  # last: bench helpers (qt_timer) without shadowing any package

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")


#: a tick longer than this breaks the goal (one frame at 60 Hz)
TICK_GOAL_S = 0.016


class StallWatch:
    """With a file, every thread's stack is written there when the UI thread has not come back
    ``limit_s`` after :meth:`arm` (``faulthandler``'s watchdog: it runs while the interpreter is held)."""

    def __init__(self, path: str | None) -> None:
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w") if path else None  # noqa: SIM115 - open for the whole run

    def arm(self, limit_s: float = TICK_GOAL_S) -> None:
        if self.file is not None:
            faulthandler.dump_traceback_later(limit_s, file=self.file)

    def disarm(self) -> None:
        if self.file is not None:
            faulthandler.cancel_dump_traceback_later()


def machine_jitter(seconds: float) -> dict:
    """The machine's own spread: one fixed piece of numpy work (~4 ms on the bench machine) timed
    every 20 ms for ``seconds`` with nothing else running. On a virtual machine whose host takes its
    cores away now and then, its longest run reads several times its median, often with its thread CPU
    time as long (the guest counts the time it lost as run); a frame of the same length can read as long."""
    import numpy as np

    a = np.random.default_rng(0).random(200_000)
    wall, cpu = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t, c = time.perf_counter(), time.thread_time()
        for _ in range(2):
            np.sin(a).sum()
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        time.sleep(0.02)
    w = np.array(wall) * 1000
    return {"runs": len(w), "median_ms": round(float(np.median(w)), 2), "p99_ms": round(float(np.percentile(w, 99)), 2),
            "max_ms": round(float(w.max()), 2), "cpu_of_longest_ms": round(float(cpu[int(w.argmax())] * 1000), 2)}


def calibration_session(config, trials_per_class: int):
    """A connected Session (simulated 64-ch headset, manual clock) holding calibration data."""
    from bci_app.acquisition.simulated import StreamSimulated, cued_imagery
    from bci_app.clocks import ManualClock
    from bci_app.session import Session

    clock = ManualClock(1000.0)
    sim = StreamSimulated(sfreq=160.0, clock=clock, bufsize=60.0)
    session = Session(config, clock=clock)
    session.connect(sim)
    session.start_calibration(on_event=cued_imagery(sim.imagine, config.paradigm))
    while session.mode.value == "calibrating":
        clock.advance(0.1)
        session.update()
    return session


#: the paths of the clinician's session the ticks are sorted into (issue 20's list, in order):
#: session mode -> path; "install" is the tick installing the model, "online start" the ticks while its
#: decoder is built on a thread, "stop" Stop and Disconnect, "closing" the ticks while the files complete,
#: "replay start" the Replay tab shown, the Play click and the frames until the replay is open and shown,
#: "replay" the replay's ticks
PATHS = {"calibrating": "calibration", "training": "training", "install": "install", "online start": "online start",
         "online": "online", "stop": "stop", "closing": "closing", "replay start": "replay start", "replay": "replay"}


def clinician_path(trials_per_class: int, view, base: str = "sensorimotor16", *, watch: StallWatch | None = None,
                   calibration_tail_s: float = 3.0, online_s: float = 3.0, replay_max_s: float = 60.0) -> dict:
    """End of calibration -> first adapted decision -> report written -> replay of the online recording
    with the shipped ``base``, timed on the UI thread (module doc); the simulated headset has the base's
    channels, the paradigm its classes. ``view``: the window's signal view (shows the replayed file)."""
    import numpy as np
    from qt_timer import run_timer

    from bci_app.acquisition.simulated import SIM_LABELS, StreamSimulated, cued_imagery
    from bci_app.clocks import ManualClock
    from bci_app.config import AppConfig
    from bci_app.gui.replay_view import ReplayPanel
    from bci_app.models.pretrained import base_model_metadata
    from bci_app.online.replay import live_predictions
    from bci_app.session import Session

    meta = base_model_metadata(base)
    config = AppConfig()
    config.model.base = base
    config.paradigm = config.paradigm.model_copy(update={
        "trials_per_class": trials_per_class, "break_s": 0.0,
        "classes": [c for c in meta["classes"] if c in SIM_LABELS]})  # the ones the simulated person imagines
    folder = tempfile.TemporaryDirectory(prefix="bci-bench-gui-")
    config.recording.directory = folder.name  # a participant's session: recordings, adapter and report kept
    clock = ManualClock(1000.0)
    # its own acquisition thread, as the window's simulated headset (``make_stream``): the UI thread
    # never generates or pulls samples of a source
    sim = StreamSimulated(ch_names=list(meta["ch_names"]), sfreq=160.0, clock=clock, bufsize=60.0,
                          acquisition_delay=0.02)
    session = Session(config, clock=clock, train_after_calibration=True)
    session.connect(sim)
    if not session.start_participant("P001"):
        raise SystemExit(f"no participant folder in {folder.name}: {[e.message for e in session.errors]}")
    session.start_calibration(on_event=cued_imagery(sim.imagine, config.paradigm))
    end = session.paradigm.duration_s + clock.now - calibration_tail_s
    while clock.now < end:  # the calibration up to its last seconds, without waiting
        clock.advance(0.1)
        sim.acquire()  # every sample in before the session looks (the thread would lag this fast clock)
        session.update()
    marks: dict[str, float] = {}
    session.subscribe("mode", lambda m: marks.setdefault(m.value, time.perf_counter()))
    session.subscribe("model", lambda _m: (marks.setdefault("model", time.perf_counter()),
                                           session.start_online(background=True)))  # as the window's Start
    session.subscribe("prediction", lambda _p: marks.setdefault("first_decision", time.perf_counter()))
    session.subscribe("saved", lambda s: marks.setdefault("report", time.perf_counter()) if s.report else None)
    session.subscribe("replay", lambda state: marks.setdefault("replay_end", time.perf_counter()))
    ticks: dict[str, list[float]] = {}  # path -> tick durations (s)
    cpu: dict[str, list[float]] = {}  # path -> the UI thread's own CPU time in each tick (s)
    gcs: dict[str, list[float]] = {}  # path -> time the UI thread spent collecting garbage in each tick (s)
    gc_time = [0.0, 0.0]  # [seconds collected on the UI thread so far, start of the collection under way]
    ui = threading.get_ident()

    def on_gc(phase: str, _info: dict) -> None:
        if threading.get_ident() == ui:
            if phase == "start":
                gc_time[1] = time.perf_counter()
            else:
                gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(on_gc)
    last = [time.perf_counter()]
    panel = ReplayPanel()  # the window's replay tab, shown while the replay runs
    panel.resize(900, 500)
    replay = {"queue": [], "live": [], "sfreq": 1.0, "path": None}
    watch = watch or StallWatch(None)

    def record(path: str, t: float, c: float, g: float) -> None:
        watch.disarm()
        ticks.setdefault(path, []).append(time.perf_counter() - t)
        cpu.setdefault(path, []).append(time.thread_time() - c)
        gcs.setdefault(path, []).append(gc_time[0] - g)

    def timed(path: str, work) -> None:
        watch.arm()
        t, c, g = time.perf_counter(), time.thread_time(), gc_time[0]
        work()
        record(path, t, c, g)

    def frame() -> None:
        view.refresh()
        view.plot.viewport().repaint()

    def advance() -> None:
        t = time.perf_counter()
        clock.advance(t - last[0])  # the headset streams in real time
        last[0] = t

    def tick() -> None:
        watch.arm()
        t, c, g = time.perf_counter(), time.thread_time(), gc_time[0]
        path = "online start" if session.online_starting else PATHS.get(session.mode.value, session.mode.value)
        had_model = "model" in marks
        advance()
        session.update()
        frame()
        record("install" if not had_model and "model" in marks else path, t, c, g)  # install: the model's tick

    def online_done() -> bool:
        first = marks.get("first_decision")
        return bool(session.errors) or (first is not None and "report" in marks
                                         and time.perf_counter() - first >= online_s)

    stamps = run_timer(33, 300.0, tick, until=online_done)
    recorded = list(Path(folder.name).rglob("online*.xdf"))

    def stop() -> None:  # Stop, then Disconnect (the window's buttons: the files complete on their threads)
        session.stop_online()
        session.disconnect(wait=False)

    timed("stop", stop)  # the session closes the headset too (on its thread, as the window's Disconnect)
    finishing = list(session.finishing)
    t_stop = time.perf_counter()
    # the frames while the recording closes and syncs (and the outlet closes) on their threads
    run_timer(33, 30.0, lambda: timed("closing", lambda: (session.update(), frame())),
              until=lambda: not session.finishing)
    closed_s = time.perf_counter() - t_stop

    def start_replay() -> None:  # the replay panel's Play (ReplayRun.start): the file opens in the background
        queue: list = replay["queue"]
        session.replay_file(replay["path"], speed=1.0, on_decision=queue.append, background=True)

    steps: list = []

    def replay_tick() -> None:
        starting = [session.mode.value != "replay" or bool(steps)]

        def work() -> None:
            advance()
            replaying = session.mode.value == "replay"
            session.update()
            if not replaying and session.mode.value == "replay":  # ReplayRun.started: the file is open
                stream = session.stream
                steps[:] = [lambda: replay.update(live=live_predictions(stream.recording), sfreq=stream.info.sfreq),
                            lambda: view.set_source(stream)]  # one per frame, in the frames that follow
            elif steps:
                steps.pop(0)()
            panel.render(list(replay["queue"]), replay["live"], replay["sfreq"])
            frame()

        # the frames until the replay is open and shown (entering replay, its live decisions, its signals)
        timed("replay start" if starting[0] else "replay", work)

    replayed_file = None
    if recorded and not session.errors:
        replay["path"] = replayed_file = max(recorded, key=lambda p: p.stat().st_size)
        last[0] = time.perf_counter()
        timed("replay start", panel.show)  # the clinician opens the Replay tab, then presses Play
        timed("replay start", start_replay)
        run_timer(33, replay_max_s, replay_tick, until=lambda: "replay_end" in marks or bool(session.errors))
        session.stop_replay()
        panel.hide()
    view.set_source(None)
    gc.callbacks.remove(on_gc)
    saved = sorted(p.name for p in Path(folder.name).rglob("*") if p.is_file())
    folder.cleanup()
    t_end = marks.get("training", stamps[0])
    ticks_ms = np.concatenate([np.array(v) for v in ticks.values()]) * 1000
    result = session.training_result
    longest = max(ticks, key=lambda k: max(ticks[k]))
    order = [p for p in PATHS.values() if p in ticks] + [p for p in ticks if p not in PATHS.values()]
    return {
        "base": config.model.base, "n_chans": len(meta["ch_names"]), "classes": list(config.paradigm.classes),
        "calibration_trials": len(config.paradigm.classes) * trials_per_class,
        "errors": [e.message for e in session.errors],
        "files_saved": saved,  # the recordings, the adapter and the report (drawn in its own process)
        "chosen": getattr(result, "chosen", None),
        "calibration_end_to_model_s": round(marks["model"] - t_end, 2) if "model" in marks else None,
        "calibration_end_to_first_adapted_decision_s":
            round(marks["first_decision"] - t_end, 2) if "first_decision" in marks else None,
        "calibration_end_to_report_written_s": round(marks["report"] - t_end, 2) if "report" in marks else None,
        "ui_longest_tick_ms": round(float(ticks_ms.max()), 1),
        "ui_longest_tick_ms_by_phase": {path: round(max(ticks[path]) * 1000, 1) for path in order},
        "ui_ticks_by_phase": {path: len(ticks[path]) for path in order},
        "ui_tick_p99_ms": round(float(np.percentile(ticks_ms, 99)), 1),
        # how many ticks broke the goal, per path (one outlier or a path that is slow throughout)
        "ui_ticks_over_16ms_by_phase": {path: int(np.sum(np.array(ticks[path]) > TICK_GOAL_S)) for path in order},
        # the UI thread's own work in its longest tick: far below the tick's wall time, the thread
        # waited (another process had the core on a loaded machine, or another thread the GIL)
        "ui_longest_tick_cpu_ms": round(cpu[longest][int(np.argmax(ticks[longest]))] * 1000, 1),
        "ui_longest_tick_cpu_ms_by_phase": {path: round(cpu[path][int(np.argmax(ticks[path]))] * 1000, 1)
                                            for path in order},
        # of which Python's garbage collector on the UI thread (a full collection of the app's objects)
        "ui_longest_tick_gc_ms_by_phase": {path: round(gcs[path][int(np.argmax(ticks[path]))] * 1000, 1)
                                           for path in order},
        "ui_longest_interval_ms": round(float(np.diff(stamps).max() * 1000), 1),
        "finishing_after_disconnect": finishing,  # what Disconnect left to the session's threads
        "disconnect_to_files_complete_s": round(closed_s, 3),
        "replay": {"file": replayed_file.name if replayed_file else None, "speed": 1.0,
                   "decisions": len(replay["queue"]), "live_decisions": len(replay["live"]),
                   "finished": "replay_end" in marks,
                   "agreement": (panel.comparison or {}).get("agreement")},
        "measured_s": {"calibration_tail": calibration_tail_s,
                       "online_after_first_decision": f">= {online_s:g}, until the report is written"},
        "goals": {"ui_longest_tick_ms": "<= 16", "first_adapted_decision_s": "<= 3 (15-40 trials)"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="each frame-rate measurement (5)")
    parser.add_argument("--train-seconds", type=float, default=15.0, help="stall measurement while training (15)")
    parser.add_argument("--trials-per-class", type=int, default=20, help="calibration trials per class (20)")
    parser.add_argument("--path-trials-per-class", type=int, default=10,
                        help="calibration trials per class for the clinician's path (10: 20 trials)")
    parser.add_argument("--bases", nargs="+", default=None,
                        help="bases for the clinician's path (default: every shipped base)")
    parser.add_argument("--smoke", action="store_true", help="CI: ~1 s measurements, 6 trials per class")
    parser.add_argument("--jitter-seconds", type=float, default=20.0,
                        help="the machine's own spread timed before and after, seconds each (20)")
    parser.add_argument("--stall-dumps", metavar="FILE", default=None,
                        help="write every thread's stack to FILE at each tick over 16 ms (module doc)")
    args = parser.parse_args()
    from bci_app.models.pretrained import list_base_models

    args.bases = args.bases or list_base_models()
    if args.smoke:
        args.seconds, args.train_seconds, args.trials_per_class, args.path_trials_per_class = 1.0, 2.0, 6, 6
        args.jitter_seconds = 1.0

    import numpy as np
    import torch
    from PySide6 import QtWidgets
    from qt_timer import headset_view, run_timer

    from bci_app.config import AppConfig, resolve_lora
    from bci_app.paradigm.timing import short_paradigm
    from bci_app.session.training import warm_up
    from bci_app.vocabulary import WINDOW_TMIN_S, count_cues

    torch.set_num_threads(1)
    load0 = os.getloadavg()[0]
    jitter0 = machine_jitter(args.jitter_seconds)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    warm_s = warm_up()  # as the app does at start: the training thread then imports nothing
    stream, view = headset_view()

    def frame() -> None:
        view.refresh()
        view.plot.viewport().repaint()

    time.sleep(min(view.winsize, 2.0))  # fill the window
    # 1) as fast as possible (upper bound of the frame rate), 2) the app's 30 Hz timer
    t0, frames0 = time.perf_counter(), view.n_frames
    run_timer(0, args.seconds, frame)
    max_fps = (view.n_frames - frames0) / (time.perf_counter() - t0)
    dt = np.diff(run_timer(33, args.seconds, frame))

    # 3) the session's real fine-tuning job in the session's training thread
    cfg = AppConfig()
    cfg.model.base = "default"
    cfg.paradigm = short_paradigm(cfg, args.trials_per_class, 0, WINDOW_TMIN_S, 3.0)
    if args.smoke:
        cfg.finetune.min_trials_per_class = 2
    t_cal = time.perf_counter()
    session = calibration_session(cfg, args.trials_per_class)
    cal_s = time.perf_counter() - t_cal
    t_prep = time.perf_counter()
    job, to_model, cancel = session.calibration_training()  # builds the job only: it runs in the training thread
    prep_s = time.perf_counter() - t_prep
    n_trials = count_cues(m.value for m in session.calibration_data.markers)
    epochs: list = []
    session.subscribe("progress", epochs.append)
    session.start_training(job, to_model, cancel=cancel)
    watch = StallWatch(args.stall_dumps)

    def training_tick() -> None:
        watch.disarm()
        session.update()
        frame()
        watch.arm(0.033 + TICK_GOAL_S)  # the next tick is due in 33 ms

    stamps = run_timer(33, args.train_seconds, training_tick, until=lambda: not session.training)
    watch.disarm()
    trained_to_end = not session.training
    session.cancel_training(wait=True)
    session.disconnect()
    stream.disconnect()
    dt_train = np.diff(stamps)
    report = {
        "machine_load_1min_at_start": round(load0, 2), "cpu_count": os.cpu_count(),
        # the same fixed work timed before and after the measurements (machine_jitter): how long a
        # few-ms piece of work can read on this machine with nothing of the app running
        "machine_fixed_work_ms_before": jitter0,
        "n_chans": 64,
        "signal_view_max_fps": round(max_fps, 1),
        "signal_view_timer_fps": round(1.0 / dt.mean(), 1),
        "timer_interval_p99_ms": round(float(np.percentile(dt, 99) * 1000), 1),
        "finetune_job": {
            "base": "default", "calibration_trials": n_trials,
            "lora_targets": list(resolve_lora(cfg.lora, n_trials).target_modules),
            "feature_cache": True, "epochs_during_measure": len(epochs), "finished": trained_to_end,
            "calibration_simulated_s": round(cal_s, 2), "job_preparation_s": round(prep_s, 2),
            "warm_up_imports_s": round(warm_s, 2),
        },
        "longest_stall_ms_while_finetuning": round(float(dt_train.max() * 1000 - 33), 1),
        "timer_interval_p99_ms_while_finetuning": round(float(np.percentile(dt_train, 99) * 1000), 1),
        "timer_fps_while_finetuning": round(1.0 / dt_train.mean(), 1),
        "goals": {"fps": ">= 30", "stall_ms": "<= 16"},
        "platform": os.environ.get("QT_QPA_PLATFORM"),
        "smoke": args.smoke,
    }
    report["clinician_paths"] = {base: clinician_path(args.path_trials_per_class, view, base, watch=watch)
                                 for base in args.bases}
    report["machine_load_1min_at_end"] = round(os.getloadavg()[0], 2)
    report["machine_fixed_work_ms_after"] = machine_jitter(args.jitter_seconds)
    print(json.dumps(report, indent=2))
    view.close()
    app.processEvents()


if __name__ == "__main__":
    main()
