"""A stimulus program's cues drive the window: its Markers stream is chosen in the source panel with
the --events mapping; the calibration and the cued online trials follow it (a real pylsl outlet in
another process, at real time: an unknown marker, a late one, a stream that vanishes), and the app
publishes no cues of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter

import pytest

#: the stimulus program: once told, 3 T1 and 3 T2 cues 1.4 s apart (one stamped 0.5 s before it is
#: sent) and an unknown X9; once told again, one T1 and one T2, then it exits without closing (gone)
SENDER = textwrap.dedent('''
    import os, pathlib, sys, time
    import pylsl
    pylsl.set_config_content("[ports]\\nIPv6 = disable\\n[multicast]\\nResolveScope = machine\\n"
                             "[lab]\\nKnownPeers = {127.0.0.1}\\n[log]\\nlevel = -3\\n")
    name, flags = sys.argv[1], pathlib.Path(sys.argv[2])
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, name))
    def wait(flag):
        while not (flags / flag).exists():
            time.sleep(0.05)
    def send(value, late=0.0):
        t = pylsl.local_clock() - late
        time.sleep(late)
        outlet.push_sample([value], t)
    wait("calibrate")
    for i, v in enumerate(["T1", "T2", "T2", "T1", "T1", "T2"]):
        send(v, late=0.5 if i == 2 else 0.0)
        if i == 1:
            send("X9")
        time.sleep(1.4)
    wait("online")
    for v in ["T1", "T2"]:
        send(v)
        time.sleep(1.4)
    time.sleep(0.5)
    os._exit(0)
''')


def test_the_cue_box_checks_the_mapping(qtbot):
    from bci_app.gui.cue_source_view import OWN_CUES, CueSourceBox

    box = CueSourceBox()
    qtbot.addWidget(box)
    assert box.choice() is None and not box.events_edit.isEnabled()
    assert "bci-app-markers" in box.note.text()
    box.set_streams([{"name": "psychopy", "type": "Markers", "host": "lab-pc"}])
    assert [box.stream_choice.itemText(i) for i in range(box.stream_choice.count())] == \
        [OWN_CUES, "psychopy (Markers, lab-pc)"]
    box.stream_choice.setCurrentIndex(1)
    assert box.events_edit.isEnabled() and "say which marker" in box.note.text()
    box.events_edit.setText("T1=rest")
    assert "unknown class 'rest'" in box.note.text()
    box.events_edit.setText("T1=left_hand,T2=right_hand")
    choice = box.choice()
    assert (choice.stream, choice.mapping()) == ("psychopy", {"T1": "left_hand", "T2": "right_hand"})
    assert "publishes no cues of its own" in box.note.text()
    box.set_streams([])  # the chosen stream stays listed while it is not seen
    assert box.choice().stream == "psychopy"
    box.choose(None)
    assert box.choice() is None


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_stimulus_programs_cues_calibrate_and_score_the_window(qtbot, tmp_path, unique_name):
    from bci_app.gui.main_window import MainWindow
    from tests.gui.test_session_flow import connect_simulated, fast_config, make_factory

    flags = tmp_path / "flags"
    flags.mkdir()
    sender = subprocess.Popen([sys.executable, "-c", SENDER, unique_name, str(flags)])
    w = MainWindow(fast_config(), log_dir=tmp_path / "logs", training_factory=make_factory(max_epochs=2))
    w.session.model_window = (0.0, 1.0)
    qtbot.addWidget(w)
    w.show()
    try:
        connect_simulated(w, qtbot)
        box = w.source_panel.cue_box
        assert box.isEnabled()  # chosen after connecting too

        def listed() -> bool:
            if box.refresh_button.isEnabled() and box.stream_choice.findData(unique_name) < 0:
                box.refresh_button.click()
            return box.stream_choice.findData(unique_name) >= 0

        qtbot.waitUntil(listed, timeout=20000)
        w.source_panel.wait_discovery()
        names = [box.stream_choice.itemData(i) for i in range(box.stream_choice.count())]
        assert "bci-app-markers" not in names  # the app's own cue stream is no stimulus program
        box.stream_choice.setCurrentIndex(box.stream_choice.findData(unique_name))
        box.events_edit.setText("T1=left_hand,T2=right_hand")
        w.operator_panel.start_button.click()
        qtbot.waitUntil(lambda: w.state_text == "calibrating", timeout=10000)
        cues = w.session.paradigm
        assert cues.mapping == {"T1": "left_hand", "T2": "right_hand"}
        assert not w.operator_panel.pause_button.isEnabled() and not box.isEnabled()
        qtbot.waitUntil(lambda: w.operator_panel.phase_label.text() == "Phase: waiting for cues", timeout=5000)
        assert w.operator_panel.time_label.text() == "Time left: set by the stimulus program"
        (flags / "calibrate").write_text("")
        qtbot.waitUntil(lambda: w.cue_display.phase == "imagery", timeout=10000)  # the mirror of the first cue
        qtbot.waitUntil(lambda: w.session.calibration_data is not None, timeout=30000)
        assert cues.phase == "finished" and cues.unknown == Counter({"X9": 1}) and cues.too_early == 0
        assert w.session._cues._outlet is None  # noqa: SLF001 - the app published no cues of its own
        values = [m.value for m in w.session.calibration_data.markers]
        assert values.count("769") == 3 and values.count("770") == 3  # one GDF mirror per cue
        assert "of 6" in w.operator_panel.trial_label.text()
        qtbot.waitUntil(lambda: w.session.model is not None or w.error_banner.isVisible(), timeout=60000)
        assert not w.error_banner.isVisible(), w.error_banner.text.text()
        # cued online trials from the same program; it vanishes after two
        w.online_panel.cued_check.setChecked(True)
        w.online_panel.cued_trials.setValue(5)  # more than it sends: the run ends when the stream is lost
        w.online_panel.start_button.click()
        qtbot.waitUntil(lambda: w.session.online_paradigm is not None, timeout=10000)
        (flags / "online").write_text("")
        qtbot.waitUntil(lambda: w.session.online_result() is not None, timeout=30000)
        assert w.session.online_paradigm.phase == "cue stream lost"
        result = w.session.online_result()
        assert result["n_trials"] == 2 and 0.0 <= result["accuracy"] <= 1.0
        assert w.session._cues._outlet is None  # noqa: SLF001
        assert not w.error_banner.isVisible(), w.error_banner.text.text()
        w.online_panel.stop_button.click()
    finally:
        w.close()
        sender.kill()
        sender.wait(10)


def test_a_cue_stream_that_is_not_there_is_said_and_nothing_starts(qtbot, tmp_path, unique_name):
    from bci_app.gui.main_window import MainWindow
    from tests.gui.test_session_flow import connect_simulated, fast_config, make_factory

    w = MainWindow(fast_config(), log_dir=tmp_path / "logs", training_factory=make_factory(max_epochs=1))
    qtbot.addWidget(w)
    w.show()
    try:
        connect_simulated(w, qtbot)
        w.bridge.cue_opener.timeout = 0.3
        w.source_panel.cue_box.choose(unique_name, "T1=left_hand,T2=feet")
        w.operator_panel.start_button.click()  # feet is not among the paradigm's classes: said at once
        qtbot.waitUntil(w.error_banner.isVisible, timeout=5000)
        assert "which the calibration does not train" in w.error_banner.text.text() and w.state_text == "connected"
        w.error_banner.hide()
        w.source_panel.cue_box.choose(unique_name, "T1=left_hand,T2=right_hand")
        w.operator_panel.start_button.click()
        qtbot.waitUntil(w.error_banner.isVisible, timeout=10000)
        assert f"no LSL Markers stream named '{unique_name}'" in w.error_banner.text.text()
        assert w.state_text == "connected" and w.session.paradigm is None
    finally:
        w.close()
