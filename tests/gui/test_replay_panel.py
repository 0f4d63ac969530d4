"""Replay in the window: a session recorded with live predictions (sensorimotor16 base, manual
clock) is opened in the replay panel, played at 4× and compared with the decisions logged live."""

from __future__ import annotations

import threading

import pytest

from bci_app.config import AppConfig

pytest.importorskip("bci_app.session")


def record_session(path, seconds: float = 8.0):
    """Record ``seconds`` of the simulated headset with the decoder online from the first sample;
    returns (DecoderModel, number of live decisions)."""
    from bci_app.acquisition import StreamSimulated
    from bci_app.models.pretrained import load_base_model
    from bci_app.online.calibrate import base_decoder_model
    from bci_app.session import Session
    from calibration.paradigm import ManualClock

    model, meta = load_base_model("sensorimotor16")
    dm = base_decoder_model(model, meta, name="sensorimotor16")
    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=tuple(meta["preprocessing"]["ch_names"]), sfreq=160.0, clock=clock)
    session = Session(AppConfig(), clock=clock)
    assert session.connect(sim)
    assert session.start_recording(path)
    session.set_model(dm)
    assert session.start_online(runner=False, outlet=False)
    for _ in range(int(seconds / 0.05)):
        clock.advance(0.05)
        session.update()
    n_live = session.decoder.counters.decisions
    session.disconnect()
    return dm, n_live


def play_in_window(qtbot, tmp_path, path, dm, *, speed: float):
    """Open the main window, install ``dm``, and play ``path`` in the replay panel at ``speed``."""
    from bci_app.gui.main_window import MainWindow

    w = MainWindow(AppConfig(), log_dir=tmp_path / "logs")
    qtbot.addWidget(w)
    w.show()
    w.session.set_model(dm)
    w.tabs.setCurrentIndex(4)
    rp = w.replay_panel
    rp.path_edit.setText(str(path))
    rp.speed.setValue(speed)
    rp.play_button.click()
    return w, rp


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_replay_in_the_window_agrees_with_live(qtbot, tmp_path):
    from bci_app.gui.replay_view import live_predictions
    from bci_app.io.recording import read_recording

    path = tmp_path / "s.xdf"
    dm, n_live = record_session(path)
    assert n_live > 40
    logged = live_predictions(read_recording(path))
    assert len(logged) == n_live and logged[0].classes == ("left_hand", "right_hand")

    w, rp = play_in_window(qtbot, tmp_path, path, dm, speed=4.0)
    assert w.state_text == "replay", w.error_banner.text.text()
    assert rp.stop_button.isEnabled() and not rp.play_button.isEnabled()
    assert len(w.bridge.live_predictions) == n_live
    # decoding runs on the session's decoder thread, not in the window's frame
    decoding_threads = set()
    w.session.decoder.subscribe(lambda p: decoding_threads.add(threading.current_thread().name))
    assert w.session.runner is not None and w.session.runner.running
    qtbot.waitUntil(lambda: w.state_text == "idle", timeout=30000)  # 8 s at 4x, then it stops itself
    assert decoding_threads == {"bci-decoder"}
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())
    assert [p.sample_index for p in w.bridge.replay_predictions] == sorted(q.sample_index for q in logged)
    assert not w.error_banner.isVisible(), w.error_banner.text.text()
    cmp = rp.comparison
    assert cmp is not None and cmp["n_live"] == n_live
    assert cmp["n_matched"] == n_live  # decisions tied to sample indices: the same grid
    assert cmp["agreement"] >= 0.95
    assert "agree with the live ones" in rp.agreement_label.text()
    assert "Replay finished" in rp.status_label.text()
    assert rp.play_button.isEnabled()
    w.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_stop_and_close_mid_replay_leave_no_thread(qtbot, tmp_path):
    path = tmp_path / "s.xdf"
    dm, _ = record_session(path, seconds=4.0)
    w, rp = play_in_window(qtbot, tmp_path, path, dm, speed=0.5)  # 8 s of wall time: stopped long before the end
    assert w.state_text == "replay", w.error_banner.text.text()
    qtbot.waitUntil(lambda: rp.n_predictions >= 2, timeout=20000)
    rp.stop_button.click()
    assert w.state_text == "idle" and w.session.runner is None
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())
    n = len(w.bridge.replay_predictions)
    assert n >= 2 and f"Replay stopped after {n} decisions" == rp.status_label.text()
    indices = [p.sample_index for p in w.bridge.replay_predictions]
    assert indices == sorted(set(indices))  # in sample-index order, none twice
    rp.play_button.click()  # again, then close the window while it plays
    assert w.state_text == "replay"
    assert w.bridge.replay_predictions == []
    w.close()
    assert not any(t.name == "bci-decoder" for t in threading.enumerate())
