"""Another program's cues over a real LSL outlet in another process drive a session: calibration from
them (late markers at their timestamps, unknown classes ignored), online trials scored from them,
and a cue stream that disappears mid-run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from bci_app.errors import CalibrationError
from bci_app.paradigm.external_cues import ExternalCues
from bci_app.types import Marker

#: the stimulus program: waits to be told, sends 5 T1 and 5 T2 cues 1.5 s apart (one of them stamped
#: 0.8 s before it is sent, i.e. arriving late) plus unknown markers; writes what it sent; then, once
#: told to go on, 4 more cues, and exits without closing anything (the stream disappears)
SENDER = textwrap.dedent('''
    import json, sys, time
    import pylsl
    pylsl.set_config_content("[ports]\\nIPv6 = disable\\n[multicast]\\nResolveScope = machine\\n"
                             "[lab]\\nKnownPeers = {127.0.0.1}\\n[log]\\nlevel = -3\\n")
    import pathlib
    name, out, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, name))
    def wait(flag):
        while not (go.parent / flag).exists():
            time.sleep(0.05)
    wait("calibrate")
    sent = []
    def send(value, late=0.0):
        t = pylsl.local_clock() - late
        if late:
            time.sleep(late)
        outlet.push_sample([value], t)
        sent.append([value, t])
    for i, v in enumerate(["T1", "T2"] * 5):
        send(v, late=0.8 if i == 3 else 0.0)
        if i in (2, 6):
            send("X9")
        time.sleep(1.5)
    json.dump(sent, open(out, "w"))
    wait("online")
    for v in ["T1", "T2", "T1", "T2"]:
        send(v)
        time.sleep(1.5)
    import os
    os._exit(0)  # gone mid-run: no more cues, no goodbye
''')


class _Source:
    def __init__(self, markers, lost_after=None):
        self.markers, self.lost = list(markers), False
        self.lost_after = lost_after

    def pull(self):
        out, self.markers = self.markers, []
        if self.lost_after is not None:
            self.lost = True
        return out


def test_mapping_errors_and_counts_without_lsl():
    from bci_app.clocks import ManualClock
    from bci_app.config import ParadigmConfig

    with pytest.raises(CalibrationError, match="no GDF cue code"):  # every class the app knows has one (both_hands 773)
        ExternalCues(_Source([]), {"T1": "rest"}, ParadigmConfig(), ManualClock())
    clock = ManualClock(100.0)
    src = _Source([Marker(99.0, "T1"), Marker(100.5, "T2"), Marker(100.7, "X"), Marker(100.2, "T1")])
    cues = ExternalCues(src, "T1=left_hand,T2=right_hand", ParadigmConfig(), clock, trials_per_class=1)
    events = []
    cues.subscribe(events.append)
    cues.start()
    cues.update()
    assert cues.too_early == 1 and cues.unknown == Counter({"X": 1})
    assert cues.cues == [(100.2, "left_hand"), (100.5, "right_hand")]  # sorted by their own timestamps
    clock.set(100.2 + cues.imagery_s)
    cues.update()
    assert not cues.finished
    clock.set(100.5 + cues.imagery_s)
    cues.update()
    assert cues.finished and cues.phase == "finished"
    assert [e.code for e in events if e.code] == [769, 770, 800, 800]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_external_cues_over_lsl_calibrate_and_score_a_session(unique_name, tmp_path):
    import pylsl

    from bci_app.acquisition import StreamSimulated
    from bci_app.acquisition.simulated import cued_imagery
    from bci_app.config import AppConfig
    from bci_app.session import Mode, Session

    sent_file, go = tmp_path / "sent.json", tmp_path / "flags" / "x"
    go.parent.mkdir()
    sender = subprocess.Popen([sys.executable, "-c", SENDER, unique_name, str(sent_file), str(go)])
    try:
        config = AppConfig()
        config.paradigm.classes = ["left_hand", "right_hand"]
        clock = pylsl.local_clock
        headset = StreamSimulated(clock=clock, subject_seed=3)
        session = Session(config, clock=clock)
        errors = []
        session.subscribe("error", lambda e: errors.append(e.message))
        assert session.connect(headset)
        cues = ExternalCues.from_lsl(unique_name, "T1=left_hand,T2=right_hand", config.paradigm, clock,
                                     trials_per_class=5, timeout=10.0, record=session.record_marker)
        imagine = cued_imagery(headset.imagine, config.paradigm)
        assert session.start_calibration(imagine, paradigm=cues)
        (go.parent / "calibrate").write_text("")
        assert session.run_until(lambda: session.mode is not Mode.CALIBRATING, timeout_s=60), \
            (cues.cues, cues.completed, cues.phase, cues.unknown, cues.too_early, cues.beyond, errors)
        assert cues.phase == "finished" and session._cues._outlet is None  # noqa: SLF001 - no cues of the app's own
        sent = [(v, t) for v, t in json.loads(sent_file.read_text())]
        assert cues.unknown == Counter({"X9": 2})
        # the calibration recording: one GDF mirror per cue, at the sender's own timestamps (the late one too)
        mirrored = [(m.value, m.timestamp) for m in session.calibration_data.markers]
        expected = [("769" if v == "T1" else "770", t) for v, t in sent if v != "X9"]
        assert [v for v, _ in mirrored if v in ("769", "770")] == [v for v, _ in expected]
        assert all(abs(a[1] - b[1]) < 0.01 for a, b in zip([m for m in mirrored if m[0] in ("769", "770")], expected))
        assert session.train_calibration()
        assert session.run_until(lambda: not session.training, timeout_s=120)
        assert session.model is not None, errors
        assert session.training_result.metadata["n_trials"] == 10
        # online: the same sender's next cues score the trials; then it vanishes
        assert session.start_online(outlet=False)
        online = ExternalCues(cues.source, "T1=left_hand,T2=right_hand", config.paradigm, clock)
        assert session.start_online_trials(imagine, paradigm=online)
        (go.parent / "online").write_text("")
        assert session.run_until(lambda: session.online_result() is not None, timeout_s=60)
        assert online.phase == "cue stream lost"
        result = session.online_result()
        assert result["n_trials"] == 4 and result["n_undecided"] == 0 and 0.0 <= result["accuracy"] <= 1.0
        assert not errors, errors
        session.stop_online()
        session.disconnect()
    finally:
        sender.kill()
        sender.wait(10)


def test_a_missing_markers_stream_is_named(unique_name):
    from bci_app.errors import StreamError
    from bci_app.paradigm.external_cues import LslMarkerInlet

    with pytest.raises(StreamError, match=f"no LSL Markers stream named '{unique_name}'"):
        LslMarkerInlet(unique_name, timeout=0.3)


def test_a_cue_source_is_checked_when_chosen_and_shows_its_state():
    from bci_app.clocks import ManualClock
    from bci_app.config import ParadigmConfig
    from bci_app.errors import ConfigError
    from bci_app.paradigm.external_cues import ExternalCueSource

    with pytest.raises(ConfigError, match="choose the LSL Markers stream"):
        ExternalCueSource(" ", "T1=left_hand")
    with pytest.raises(ConfigError, match="unknown class 'rest'"):
        ExternalCueSource("psychopy", "T1=rest")
    choice = ExternalCueSource("psychopy", "T1=left_hand, T2=feet")
    assert choice.classes == ("left_hand", "feet")
    assert choice.describe() == "cues from 'psychopy' (T1=left_hand, T2=feet)"
    with pytest.raises(ConfigError, match=r"cue markers map to \['feet'\], which the calibration does not train"):
        choice.open(ParadigmConfig(classes=["left_hand", "right_hand"]), ManualClock())
    # the state the window draws: the trial in its imagery, its class, completed per class; time set by the program
    clock = ManualClock(10.0)
    cues = ExternalCues(_Source([Marker(10.5, "T1")]), "T1=left_hand,T2=right_hand", ParadigmConfig(), clock,
                        trials_per_class=2)
    assert cues.pausable is False
    cues.start()
    assert (cues.state.phase, cues.state.trial_index, cues.state.n_trials) == ("waiting for cues", None, 4)
    clock.set(11.0)
    cues.update()
    state = cues.state
    assert (state.phase, state.trial_index, state.label) == ("imagery", 0, "left_hand")
    assert state.phase_time_left_s == pytest.approx(10.5 + cues.imagery_s - 11.0) and state.time_left_s == float("inf")
    cues.mark_rejected(0)
    clock.set(10.5 + cues.imagery_s)
    cues.update()
    state = cues.state
    assert (state.phase, state.label, state.rejected) == ("waiting for cues", None, (0,))
    assert state.completed_per_class == {"left_hand": 1, "right_hand": 0}
