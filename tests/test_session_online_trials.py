"""Session: cued online trials (the paradigm drives cues while decoding) and their running score,
stepped on a manual clock (no threads, no sleeps)."""

from __future__ import annotations

import numpy as np

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.models.pretrained import load_base_model
from bci_app.online.calibrate import base_decoder_model
from bci_app.online.scoring import score_trials
from bci_app.session import Mode, Session
from bci_app.vocabulary import CUE_CODES


def test_cued_online_trials_score_like_scoring_module():
    model, meta = load_base_model("sensorimotor16")
    dm = base_decoder_model(model, meta)
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={
        "cue_at_s": 0.5, "cue_duration_s": 0.5, "imagery_end_s": 4.5, "rest_min_s": 0.5, "rest_max_s": 1.0,
        "break_s": 0.0, "trials_per_run": 100})
    clock = ManualClock(50.0)
    sim = StreamSimulated(ch_names=tuple(meta["preprocessing"]["ch_names"]), sfreq=160.0, clock=clock)
    session = Session(cfg, clock=clock)
    session.connect(sim)
    session.set_model(dm)
    assert not session.start_online_trials()  # needs online
    assert session.start_online(runner=False, outlet=False)
    seen = []

    def imagine(ev):
        if ev.code in CUE_CODES.values():
            seen.append(ev)
            sim.imagine(ev.label, ev.timestamp, 4.0)

    all_preds = []
    session.decoder.subscribe(all_preds.append)
    assert session.start_online_trials(imagine, trials_per_class=2)
    assert session.online_score() is None
    scores = []
    while not session.online_paradigm.finished:
        clock.advance(0.05)
        session.update()
        sc = session.online_score()
        if sc is not None and (not scores or sc["n_trials"] != scores[-1]["n_trials"]):
            scores.append(sc)
    for _ in range(20):
        clock.advance(0.05)
        session.update()
    final = session.online_score()
    assert [s["n_trials"] for s in scores] == [1, 2, 3, 4][: len(scores)] and final["n_trials"] == 4
    assert sorted(ev.label for ev in seen) == ["left_hand", "left_hand", "right_hand", "right_hand"]
    assert final["n_undecided"] == 0 and all(t["n_decisions"] >= 4 for t in final["trials"])
    # the same rule as bci_app.online.scoring applied to every decision of the session
    from bci_app.online.scoring import Trial

    trials = [Trial(ev.timestamp, ev.timestamp + 4.0, ev.label) for ev in seen]
    ref = score_trials(all_preds, trials, dm.classes, tmin=0.5, window_s=3.0, sfreq=160.0)
    assert [t["predicted"] for t in final["trials"]] == [t["predicted"] for t in ref["trials"]]
    assert np.isclose(final["accuracy"], ref["accuracy"])
    session.stop_online()
    assert session.mode is Mode.CONNECTED and not session.online_trials.active
    session.disconnect()
