"""The session's parts on their own: the mode machine's transitions, the typed inbox, and the
facade keeping the public API the GUI and the commands use."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bci_app.clocks import ManualClock
from bci_app.session import EVENTS, Mode, Session
from bci_app.session.messages import Inbox, StreamChanged
from bci_app.session.modes import TRANSITIONS, ModeMachine


def test_every_mode_can_return_to_idle_and_training_is_entered_from_connected_or_idle_only():
    assert all(Mode.IDLE in TRANSITIONS[m] for m in Mode if m is not Mode.IDLE)
    assert {m for m in Mode if Mode.TRAINING in TRANSITIONS[m]} == {Mode.IDLE, Mode.CONNECTED}


def test_a_transition_outside_the_table_is_a_bug_and_a_refused_action_an_error():
    entered, refused = [], []
    modes = ModeMachine(entered.append, refused.append)
    with pytest.raises(RuntimeError, match="idle -> online"):
        modes.enter(Mode.ONLINE)
    assert not modes.require("go online", Mode.CONNECTED)
    assert refused == ["cannot go online while idle; expected connected"]
    modes.enter(Mode.CONNECTED)
    modes.begin_training()
    modes.end_training(connected=False)  # the source went away meanwhile
    assert entered == [Mode.CONNECTED, Mode.TRAINING, Mode.IDLE]


def test_the_inbox_delivers_typed_messages_in_order_to_their_one_handler():
    @dataclass(frozen=True)
    class Other:
        n: int

    inbox, seen = Inbox(), []
    inbox.handle(Other, lambda m: seen.append(m.n))
    with pytest.raises(ValueError, match="already has a handler"):
        inbox.handle(Other, print)
    with pytest.raises(TypeError, match="no handler for session message StreamChanged"):
        inbox.post(StreamChanged(event=None))
    for n in range(3):
        inbox.post(Other(n))
    inbox.drain()
    assert seen == [0, 1, 2]


def test_the_facade_keeps_the_public_api():
    session = Session(clock=ManualClock(0.0))
    api = {"subscribe", "set_config", "connect", "disconnect", "close", "start_recording", "stop_recording",
           "record_marker", "start_participant", "previous_adapter", "continue_previous", "start_calibration",
           "abort_calibration", "train_calibration", "calibration_training", "start_training", "training_plan",
           "wait_training", "cancel_training", "set_model", "start_online", "stop_online", "start_online_trials",
           "online_score", "online_result", "update", "start_replay", "replay_file", "stop_replay", "run_until"}
    state = {"config", "clock", "mode", "stream", "recorder", "paradigm", "model", "decoder", "runner",
             "last_prediction", "errors", "calibration_data", "calibration_quality", "calibration_quality_problem",
             "train_after_calibration", "training_factory", "training_result", "online_trials", "folder", "saved",
             "model_source", "online_data", "coadapt", "stream_status", "online_runs", "online_paradigm", "training"}
    assert all(callable(getattr(session, name)) for name in api)
    assert all(hasattr(session, name) for name in state)
    assert session.mode is Mode.IDLE and session.errors == [] and session.online_data == []
    marker = object()
    session.folder = marker  # an attribute a collaborator holds is the same attribute as before
    assert session.folder is marker and session._files.folder is marker  # noqa: SLF001
    session.coadapt = True  # the session's own settings stay plain attributes
    assert set(EVENTS) == {"mode", "error", "stream", "paradigm", "quality", "progress", "model", "prediction",
                           "recording", "replay", "saved"}


def test_refused_actions_are_error_events_not_exceptions():
    session = Session(clock=ManualClock(0.0))
    errors = []
    session.subscribe("error", errors.append)
    assert not session.start_online() and not session.start_calibration() and not session.start_replay(None)
    assert [e.source for e in errors] == ["session", "session", "online"] and session.mode is Mode.IDLE
    assert errors[2].message == "no model to replay with; calibrate first or load an adapter"
