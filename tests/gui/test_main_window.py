"""The real window, offscreen: open/close, simulated source, samples in the plot, badges, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bci_app.config import AppConfig
from bci_app.errors import StreamError


@pytest.fixture
def window(qtbot, tmp_path):
    from bci_app.gui.main_window import MainWindow

    w = MainWindow(AppConfig(), log_dir=tmp_path / "logs")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_refcount_of_none_does_not_fall(qtbot):
    """Guards the PySide6 6.12 none_dealloc bug (STACK.md): void Qt calls must not drop None."""
    from PySide6 import QtWidgets

    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    before = sys.getrefcount(None)
    for _ in range(1000):
        w.resize(10, 10)
    assert sys.getrefcount(None) >= before - 10


def test_open_and_close(window, qtbot):
    assert window.isVisible()
    assert window.state_text == "idle"
    assert window.log_path.parent.name == "logs"
    window.close()
    assert not window.timer.isActive()


def test_simulated_source_samples_reach_the_plot(window, qtbot):
    window.source_panel.tabs.setCurrentIndex(0)
    window.source_panel.sim_channels.setCurrentText("sensorimotor16")
    window.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: window.state_text == "connected", timeout=5000)
    assert len(window.signal_view._curves) == 1  # one path for all channels
    frames0 = window.signal_view.n_frames
    qtbot.waitUntil(lambda: window.signal_view.last_n_times > 50 and window.signal_view.n_frames > frames0 + 5, timeout=5000)
    x, y = window.signal_view.channel_trace(15)
    assert x is not None and len(x) > 50 and np.isfinite(y).all()
    assert x[-1] == pytest.approx(0.0) and x[0] < 0
    qtbot.waitUntil(lambda: len(window.signal_view.last_quality) == 16, timeout=3000)
    assert len(window.signal_view.badges.flags()) == 16
    window.source_panel.disconnect_button.click()
    assert window.state_text == "idle" and window.stream is None


def test_connect_failure_is_a_plain_message(window, qtbot):
    window.source_panel.tabs.setCurrentIndex(3)
    window.source_panel.file_path.setText(str(window.log_path.parent / "missing.xdf"))
    window.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=5000)
    assert "Traceback" not in window.error_banner.text.text()
    assert "missing.xdf" in window.error_banner.text.text()
    assert window.state_text == "idle"
    assert "Traceback" in window.log_path.read_text() or "missing.xdf" in window.log_path.read_text()


def test_plain_message_hides_internal_errors():
    from bci_app.gui.errors import plain_message

    title, text = plain_message(StreamError("no EEG stream named 'x' found; start it and retry"), "connecting")
    assert title == "The EEG source has a problem" and "start it and retry" in text
    title, text = plain_message(KeyError("boom"), "rendering")
    assert title == "Unexpected problem" and "log file" in text and "boom" not in text


def test_session_folder_and_config_round_trip(tmp_path, qtbot):
    import datetime as dt

    from bci_app.config import load_config
    from bci_app.gui.session_panel import SessionPanel, session_folder

    assert session_folder(tmp_path, "../evil/S1", "02", dt.date(2025, 1, 2)) == tmp_path / "sub-evil-S1" / "2025-01-02_ses-02"
    panel = SessionPanel(AppConfig())
    qtbot.addWidget(panel)
    panel.config.paradigm.trials_per_class = 7
    saved = panel.save(tmp_path / "c.yaml")
    assert load_config(saved).paradigm.trials_per_class == 7
    with qtbot.waitSignal(panel.config_changed, check_params_cb=lambda c: c.paradigm.trials_per_class == 7):
        panel.load(saved)


def test_the_session_tab_says_a_recording_is_closing_until_it_is_saved(tmp_path, qtbot):
    """Stop closes the file on the session's thread: the Session tab says so, then that it is saved;
    recording again is possible meanwhile (a new file)."""
    from bci_app.gui.session_panel import SessionPanel

    panel = SessionPanel(AppConfig())
    qtbot.addWidget(panel)
    panel.set_can_record(True)
    path = tmp_path / "run-01.xdf"
    panel.recording_changed(path, "started")
    assert f"Recording to {path}" in panel.record_label.text() and not panel.record_button.isEnabled()
    panel.recording_changed(path, "closing")
    assert "Closing the recording run-01.xdf" in panel.record_label.text() and panel.record_button.isEnabled()
    panel.recording_changed(path, "stopped")
    assert "Last recording saved: run-01.xdf" in panel.record_label.text()
    assert "Closing" not in panel.record_label.text()


def test_large_caps_are_paged_and_drawn_as_envelopes(qtbot):
    """64 channels: four pages of 16, the selector switches the channels drawn; a long window is drawn
    as the min/max envelope of its bins, kept up to date from the new samples only."""
    from bci_app.acquisition.simulated import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.gui.signal_view import MAX_BINS, PAGE_SIZE, SignalView, TraceEnvelope
    from bci_app.vocabulary import EEGMMIDB_64

    clock = ManualClock(100.0)
    stream = StreamSimulated(ch_names=EEGMMIDB_64, sfreq=1000.0, clock=clock).connect()
    env = TraceEnvelope(stream, slice(32, 40), 10, 100)
    for _ in range(7):  # 1.4 s in uneven chunks: 140 bins' worth, the newest 100 kept
        clock.advance(0.2)
        stream.acquire()
        env.update()
    data, times = stream.get_data(None)
    n = (data.shape[1] // 10) * 10
    last = data[32:40, :n][:, -1000:].reshape(8, 100, 10)
    x, y = env.trace()
    assert env.count == 100 and y.shape == (8, 200) and x.shape == (200,)
    np.testing.assert_array_equal(y[:, 0::2], last.min(axis=2))
    np.testing.assert_array_equal(y[:, 1::2], last.max(axis=2))
    assert x[-1] == times[n - 1] and np.all(np.diff(x) >= 0)

    view = SignalView()
    qtbot.addWidget(view)
    try:
        view.set_source(stream)
        assert view.page.count() == 64 // PAGE_SIZE and not view.page.isHidden()
        assert view.page_rows == slice(0, PAGE_SIZE) and len(view.badges.flags()) == PAGE_SIZE
        for _ in range(30):
            clock.advance(0.2)
            stream.acquire()
        assert view.refresh() and view.last_n_times == 2 * MAX_BINS  # 5 s at 1000 Hz -> the envelope
        view.page.setCurrentIndex(2)
        assert view.page_rows == slice(2 * PAGE_SIZE, 3 * PAGE_SIZE)
        ticks = view.plot.getAxis("left")._tickLevels[0]  # noqa: SLF001
        assert ticks[0][1] == EEGMMIDB_64[2 * PAGE_SIZE]
        assert view.refresh() and view.channel_trace(PAGE_SIZE - 1)[1].size == view.last_n_times
    finally:
        stream.disconnect()



def test_spectrum_and_band_axes_move_only_in_steps(qtbot):
    """The spectrum's log range is whole decades around the power and the bars' limit the next 1-2-5
    step, held while the values still fit: updates with a similar spectrum leave both ranges (and so
    the axes' layout) as they were."""
    from bci_app.acquisition.simulated import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.gui.signal_view import SignalView, decade_range, held_ceiling, held_decades, nice_ceiling

    assert decade_range(np.array([0.02, 3.0, 450.0])) == (-2.0, 3.0)
    assert decade_range(np.array([5.0, 5.0])) == (0.0, 1.0) and decade_range(np.array([0.0, np.nan])) == (-1.0, 1.0)
    assert [nice_ceiling(v) for v in (0.7, 1.0, 1.3, 3.0, 7.0, 42.0, 0.0)] == [1.0, 1.0, 2.0, 5.0, 10.0, 50.0, 1.0]
    assert held_decades((-1.0, 3.0), (-1.0, 2.0)) == (-1.0, 3.0) and held_decades((-1.0, 3.0), (0.0, 2.0)) == (0.0, 2.0)
    assert held_decades((-1.0, 2.0), (-1.0, 3.0)) == (-1.0, 3.0)  # a value outside moves it at once
    assert [held_ceiling(50.0, v) for v in (20.0, 10.0, 5.0, 100.0)] == [50.0, 50.0, 5.0, 100.0]

    clock = ManualClock(100.0)
    stream = StreamSimulated(sfreq=160.0, clock=clock).connect()
    view = SignalView()
    qtbot.addWidget(view)
    try:
        view.set_source(stream)
        ranges = []
        for _ in range(40):
            clock.advance(0.25)
            stream.acquire()
            view.quality_interval_s = 0.0
            view.refresh()
            if view._spectrum_ranges:  # noqa: SLF001
                ranges.append((tuple(view.spectrum.getViewBox().viewRange()[1]),
                               tuple(view.bands.getViewBox().viewRange()[1])))
        assert len(ranges) > 5 and len(set(ranges)) <= 2  # the same simulated person: ranges stay put
        (y_lo, y_hi), (_, bars_top) = ranges[-1]
        assert float(y_lo).is_integer() and float(y_hi).is_integer() and bars_top == nice_ceiling(bars_top)
    finally:
        stream.disconnect()

def test_participant_screen_feedback_points_at_the_decoded_class(qtbot):
    from bci_app.gui.calibration_view import CueDisplay

    screen = CueDisplay()
    qtbot.addWidget(screen)
    screen.resize(400, 300)
    screen.set_state("fixation", None)
    screen.set_feedback(["left_hand", "right_hand"], [0.9, 0.1])
    assert screen.feedback == pytest.approx((-0.8, 0.0))
    screen.set_feedback(["left_hand", "right_hand", "feet"], [0.2, 0.2, 0.6])
    assert screen.feedback == pytest.approx((0.0, 0.4))  # feet: down, (0.6 - 1/3) / (2/3)
    for style in ("bar", "cursor", "none"):
        screen.set_feedback_style(style)
        img = screen.grab().toImage()
        size = 300 * 0.35  # the cross's half-size

        def is_blue(y: float, img=img) -> bool:
            c = img.pixelColor(200, int(150 + y))
            return c.blue() > 200 and c.red() < 100
        assert is_blue(0.2 * size) == (style == "bar")  # half-way down: only the bar
        assert is_blue(0.37 * size) == (style != "none")  # near the tip: bar end or cursor
    with pytest.raises(ValueError, match="feedback style"):
        screen.set_feedback_style("rainbow")
    screen.set_feedback(None, None)
    assert screen.feedback is None
    from bci_app.gui.calibration_view import screen_choice

    monitors = screen_choice()
    assert monitors.count() >= 1 and monitors.currentIndex() == monitors.count() - 1
    screen.show_fullscreen_on(monitors.currentIndex())  # its own full-screen window on that monitor
    assert screen.isWindow() and screen.isFullScreen()
