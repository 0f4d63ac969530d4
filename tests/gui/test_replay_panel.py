"""Replay in the window: a session is calibrated (simulated user, short Graz paradigm, the one
CalibrationJob on the sensorimotor16 base), then goes online while recording; the recording is
opened in the replay panel, played at 4x, and its decisions must be the live ones bit for bit: same
sample indices, same labels, same probabilities (the replay starts where the live decoder did)."""

from __future__ import annotations

import threading

import pytest

from bci_app.config import AppConfig


def _config() -> AppConfig:
    cfg = AppConfig()
    cfg.model = cfg.model.model_copy(update={"base": "sensorimotor16"})
    cfg.paradigm = cfg.paradigm.model_copy(update={
        "trials_per_class": 4, "trials_per_run": 100, "cue_at_s": 0.5, "cue_duration_s": 0.5,
        "imagery_end_s": 4.5, "rest_min_s": 0.5, "rest_max_s": 0.5, "break_s": 0.0,
        "classes": ["left_hand", "right_hand"]})
    cfg.finetune = cfg.finetune.model_copy(update={"max_epochs": 3, "min_trials_per_class": 2})
    return cfg


def record_session(path, online_s: float = 8.0, *, calibrate: bool = True):
    """Calibrate on the simulated headset (float32 µV samples, as over LSL), train, then record
    ``online_s`` seconds with the decoder online; returns (DecoderModel, live decisions, the live
    decoder's start index). ``calibrate=False``: the unadapted base, online from the first sample."""
    from bci_app.acquisition import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.models.pretrained import load_base_model
    from bci_app.online.calibrate import base_decoder_model
    from bci_app.session import Mode, Session
    from bci_app.vocabulary import CUE_CODES

    _, meta = load_base_model("sensorimotor16")
    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=tuple(meta["preprocessing"]["ch_names"]), sfreq=160.0, clock=clock,
                          bufsize=60.0, sample_format="float32")
    session = Session(_config(), clock=clock)
    assert session.connect(sim)
    assert session.start_recording(path)
    if calibrate:
        imagery = session.config.paradigm.imagery_end_s - session.config.paradigm.cue_at_s
        assert session.start_calibration(
            lambda ev: sim.imagine(ev.label, ev.timestamp, imagery) if ev.code in CUE_CODES.values() else None)
        while session.mode is Mode.CALIBRATING:
            clock.advance(0.05)
            session.update()
        assert session.start_training(*session.calibration_training()[:2])
        assert session.wait_training(300) and session.model is not None, session.errors
    else:
        session.set_model(base_decoder_model(*load_base_model("sensorimotor16"), name="sensorimotor16"))
    live = []
    assert session.start_online(runner=False, outlet=False)
    session.decoder.subscribe(live.append)
    start_index = session.decoder.start_index
    assert (start_index > 160 * 20) == calibrate  # online only after calibration: not from sample 0
    for _ in range(int(online_s / 0.05)):
        clock.advance(0.05)
        session.update()
    dm = session.model
    session.disconnect()
    return dm, live, start_index


def play_in_window(qtbot, tmp_path, path, dm, *, speed: float):
    """Open the main window, install ``dm``, and play ``path`` in the replay panel at ``speed``."""
    from bci_app.gui.main_window import MainWindow

    w = MainWindow(AppConfig(), log_dir=tmp_path / "logs")
    qtbot.addWidget(w)
    w.show()
    w.session.set_model(dm)
    rp = w.replay_panel
    rp.path_edit.setText(str(path))
    rp.speed.setValue(speed)
    rp.play_button.click()  # opened in the background; the replay starts when it is open
    assert "Opening" in rp.status_label.text() and not rp.play_button.isEnabled()
    qtbot.waitUntil(lambda: "Replaying" in rp.status_label.text() or w.error_banner.isVisible(), timeout=30000)
    return w, rp


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_replay_in_the_window_reproduces_live_bit_for_bit(qtbot, tmp_path):
    from bci_app.io.recording import read_recording
    from bci_app.online.replay import live_predictions

    path = tmp_path / "s.xdf"
    dm, live, start_index = record_session(path)
    n_live = len(live)
    assert n_live > 40
    logged = live_predictions(read_recording(path))
    assert [q.sample_index for q in logged] == [p.sample_index for p in live]
    assert logged[0].classes == ("left_hand", "right_hand")

    w, rp = play_in_window(qtbot, tmp_path, path, dm, speed=4.0)
    assert w.state_text == "replay", w.error_banner.text.text()
    assert rp.stop_button.isEnabled() and not rp.play_button.isEnabled()
    assert len(w.bridge.live_predictions) == n_live
    # decoding runs on the session's decoder thread, not in the window's frame
    decoding_threads = set()
    w.session.decoder.subscribe(lambda p: decoding_threads.add(threading.current_thread().name))
    assert w.session.runner is not None and w.session.runner.running
    assert w.session.decoder.start_index == start_index  # where the live decoder started, like the CLI
    # the calibration before it (> 20 s of file, > 5 s at 4x) is released at once, not waited for
    qtbot.waitUntil(lambda: w.session.stream is not None and w.session.stream.buffer.n_written > start_index,
                    timeout=2000)
    qtbot.waitUntil(lambda: w.state_text == "idle", timeout=120000)  # the session ends it at the file's end
    # "finished" once the decoder's thread, joined off the UI thread, has delivered its last decision
    qtbot.waitUntil(lambda: "Replay finished" in rp.status_label.text(), timeout=10000)
    assert decoding_threads == {"bci-decoder"}
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())
    assert not w.error_banner.isVisible(), w.error_banner.text.text()
    replayed = w.bridge.replay_predictions
    # bit-identical decisions: same sample grid, labels and probabilities as live
    assert [(p.sample_index, p.label, p.probabilities) for p in replayed] == \
        [(p.sample_index, p.label, p.probabilities) for p in live]
    cmp = rp.comparison
    assert cmp is not None and cmp["n_live"] == cmp["n_matched"] == n_live
    assert cmp["agreement"] == 1.0 and cmp["max_probability_difference"] == 0.0
    assert "agree with the live ones: 100.0%" in rp.agreement_label.text()
    assert "Replay finished" in rp.status_label.text()
    assert rp.play_button.isEnabled()
    w.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_stop_and_close_mid_replay_leave_no_thread(qtbot, tmp_path):
    path = tmp_path / "s.xdf"
    dm, _, _ = record_session(path, online_s=4.0, calibrate=False)
    w, rp = play_in_window(qtbot, tmp_path, path, dm, speed=0.5)  # stopped long before the end
    assert w.state_text == "replay", w.error_banner.text.text()
    qtbot.waitUntil(lambda: rp.n_predictions >= 2, timeout=120000)
    rp.stop_button.click()  # the decoder's thread ends its decision under way and is joined off the UI thread
    assert w.state_text == "idle" and w.session.runner is None
    qtbot.waitUntil(lambda: "Replay stopped" in rp.status_label.text(), timeout=10000)
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())
    n = len(w.bridge.replay_predictions)
    assert n >= 2 and f"Replay stopped after {n} decisions" == rp.status_label.text()
    indices = [p.sample_index for p in w.bridge.replay_predictions]
    assert indices == sorted(set(indices))  # in sample-index order, none twice
    rp.play_button.click()  # again, then close the window while it plays
    qtbot.waitUntil(lambda: w.state_text == "replay", timeout=30000)
    assert w.bridge.replay_predictions == []
    w.close()
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())


def test_the_panel_adds_only_new_decisions_and_compares_as_the_cli(qtbot):
    """A running replay's decisions arrive a few per frame: the panel's points and agreement equal
    compare_predictions over all of them (bci-app replay --compare), however they arrived."""
    import numpy as np

    from bci_app.gui.replay_view import ReplayPanel
    from bci_app.online.replay import LoggedPrediction, compare_predictions

    rng = np.random.default_rng(0)
    classes = ("left_hand", "right_hand")
    live = [LoggedPrediction(float(i), 100 + 8 * i, tuple(rng.dirichlet([1, 1])), classes) for i in range(120)]
    replayed = [LoggedPrediction(q.timestamp, q.sample_index, q.probabilities if i % 10 else q.probabilities[::-1],
                                 classes) for i, q in enumerate(live[5:100])]  # every tenth decided otherwise
    panel = ReplayPanel()
    qtbot.addWidget(panel)
    growing: list = []
    for chunk in range(0, len(replayed), 7):
        growing += replayed[chunk:chunk + 7]
        panel.render(growing, live, 160.0)
        assert panel.comparison == compare_predictions(growing, live)
    x, y = panel._replayed.getData()  # noqa: SLF001 - the replayed curve's points
    assert np.allclose(x, [p.sample_index / 160.0 for p in replayed]) and np.allclose(y, [p.probabilities[0] for p in replayed])
    assert panel.comparison["n_matched"] == 95 and "agree with the live ones: 89.5%" in panel.agreement_label.text()
    panel.render(replayed[:3], live, 160.0)  # a new replay of the same file: from the start
    assert panel.comparison == compare_predictions(replayed[:3], live) and len(panel._replayed.getData()[0]) == 3  # noqa: SLF001
