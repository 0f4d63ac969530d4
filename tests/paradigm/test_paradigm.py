import time
from collections import Counter

import pytest

from bci_app.clocks import ManualClock
from bci_app.config import ParadigmConfig
from bci_app.errors import CalibrationError
from bci_app.paradigm.timing import GrazParadigm, balanced_order


def _paradigm(cfg, t0: float):
    """A paradigm on a manual clock at ``t0`` and the list its events go to."""
    clock = ManualClock(t0)
    p = GrazParadigm(cfg, clock)
    events = []
    p.subscribe(events.append)
    return p, events, clock


def _run(cfg, step=0.05, until=None):
    p, events, clock = _paradigm(cfg, 100.0)
    p.start()
    limit = until if until is not None else p.duration_s + 1
    while clock.now - 100.0 < limit and not p.finished:
        clock.advance(step)
        p.update()
    return p, events, clock


def test_order_balanced_and_reproducible():
    cfg = ParadigmConfig(trials_per_class=10, trials_per_run=10, seed=3)
    order = balanced_order(cfg)
    assert Counter(order) == {"left_hand": 10, "right_hand": 10}
    assert order == balanced_order(cfg)
    assert order != balanced_order(cfg.model_copy(update={"seed": 4}))
    for run in (order[:10], order[10:]):  # balanced within each run too
        assert Counter(run) == {"left_hand": 5, "right_hand": 5}
    four = ParadigmConfig(classes=["left_hand", "right_hand", "feet", "tongue"], trials_per_class=3, trials_per_run=5)
    assert Counter(balanced_order(four)) == dict.fromkeys(four.classes, 3)


def test_timings_and_codes_on_the_paradigm_clock():
    cfg = ParadigmConfig(trials_per_class=3, trials_per_run=4, break_s=10.0, seed=1)
    p, events, _ = _run(cfg, step=0.137)  # coarse, irregular-looking steps
    coded = [e for e in events if e.code is not None]
    assert len(coded) == 4 * 6
    for k in range(6):
        trial = [e for e in coded if e.trial_index == k]
        t0 = trial[0].timestamp
        assert [e.code for e in trial] == [768, {"left_hand": 769, "right_hand": 770}[p.order[k]], 781, 800]
        # schedule-exact, regardless of when update() ran
        assert [e.timestamp - t0 for e in trial] == pytest.approx([0.0, 2.0, 3.25, 6.0], abs=1e-9)
        assert [e.phase for e in trial] == ["fixation", "cue", "imagery", "rest"]
        assert {e.label for e in trial} == {p.order[k]}
    starts = [e.timestamp for e in coded if e.code == 768]
    assert starts[0] == 100.0
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    for i, g in enumerate(gaps):
        rest = g - 6.0 - (10.0 if i + 1 == 4 else 0.0)  # the break after run 1 (4 trials)
        assert 1.5 <= rest <= 3.5
    assert any(e.phase == "break" for e in events)
    assert events[-1].phase == "finished" and p.state.phase == "finished"
    assert p.state.completed_per_class == {"left_hand": 3, "right_hand": 3}
    assert sorted(e.timestamp for e in events) == [e.timestamp for e in events]


def test_pause_shifts_timeline_and_resume():
    p, events, clock = _paradigm(ParadigmConfig(trials_per_class=2, trials_per_run=4, seed=0), 0.0)
    p.start()
    clock.set(1.0)
    p.update()
    p.pause()
    assert p.state.phase == "paused"
    clock.set(31.0)
    assert p.update() == []  # nothing while paused
    p.resume()
    assert p.state.phase == "fixation"
    clock.set(60.0)
    p.update()
    cue = next(e for e in events if e.code in (769, 770))
    assert cue.timestamp == pytest.approx(2.0 + 30.0)
    end = next(e for e in events if e.code == 800)
    assert end.timestamp == pytest.approx(6.0 + 30.0)


def test_start_at_a_future_time_and_planned_cues():
    cfg = ParadigmConfig(trials_per_class=2, trials_per_run=4, seed=2)
    p, events, clock = _paradigm(cfg, 10.0)
    with pytest.raises(CalibrationError, match="not been started"):
        p.planned_cues()
    p.start(at=15.0)
    planned = p.planned_cues()
    assert [label for _, label in planned] == p.order
    assert planned[0][0] == pytest.approx(15.0 + cfg.cue_at_s)
    clock.set(14.99)
    assert p.update() == [] and p.state.phase == "idle"  # nothing before the start time
    while not p.finished:
        clock.advance(0.1)
        p.update()
    cues = [(e.timestamp, e.label) for e in events if e.code in (769, 770)]
    assert [c[1] for c in cues] == [c[1] for c in planned]
    assert [c[0] for c in cues] == pytest.approx([c[0] for c in planned], abs=1e-9)
    assert p.planned_cues() == []


def test_start_in_the_past_is_refused():
    clock = ManualClock(10.0)
    p = GrazParadigm(ParadigmConfig(trials_per_class=1), clock)
    for bad in (9.0, float("nan"), float("inf")):
        with pytest.raises(CalibrationError, match="start time"):
            p.start(at=bad)
    p.start(at=10.0)  # now is fine


def test_abort_and_state():
    cfg = ParadigmConfig(trials_per_class=5, trials_per_run=5, seed=0)
    p, events, clock = _run(cfg, step=0.1, until=2.55)
    st = p.state
    assert st.phase == "cue" and st.trial_index == 0 and st.n_trials == 10 and st.n_runs == 2
    assert st.phase_time_left_s == pytest.approx(3.25 - 2.6, abs=0.06)
    assert 0 < st.time_left_s < p.duration_s
    p.abort()
    assert p.state.phase == "aborted" and events[-1].phase == "aborted"
    n = len(events)
    clock.advance(100)
    assert p.update() == [] and len(events) == n


def test_mark_rejected_emits_1023_at_trial_start():
    cfg = ParadigmConfig(trials_per_class=2, trials_per_run=4)
    p, events, _ = _run(cfg, step=0.25, until=9.0)
    ev = p.mark_rejected(0)
    assert ev.code == 1023 and ev.timestamp == p.trial_start_time(0) and events[-1] == ev
    assert p.state.rejected == (0,)
    with pytest.raises(CalibrationError, match="not started"):
        p.mark_rejected(3)


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_lsl_marker_outlet_real_inlet(unique_name):
    import pylsl

    from bci_app.paradigm.markers import LslMarkerOutlet

    outlet = LslMarkerOutlet(unique_name, unique_name + "-sid")
    streams = pylsl.resolve_byprop("name", unique_name, timeout=5.0)
    assert streams and streams[0].type() == "Markers"
    inlet = pylsl.StreamInlet(streams[0])
    inlet.open_stream(timeout=5.0)
    deadline = time.monotonic() + 5
    while not outlet.have_consumers() and time.monotonic() < deadline:
        time.sleep(0.01)
    cfg = ParadigmConfig(trials_per_class=1, trials_per_run=2, seed=0)
    clock = ManualClock(pylsl.local_clock())
    p = GrazParadigm(cfg, clock)
    p.subscribe(outlet)
    p.start()
    sent = []
    p.subscribe(lambda e: sent.append(e) if e.code is not None else None)
    while not p.finished:
        clock.advance(0.5)
        p.update()
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 8 and time.monotonic() < deadline:
        sample, ts = inlet.pull_sample(timeout=0.5)
        if sample is not None:
            got.append((sample[0], ts))
    assert [g[0] for g in got] == ["768", p_code(p, 0), "781", "800", "768", p_code(p, 1), "781", "800"]
    assert [g[1] for g in got[1:]] == pytest.approx([e.timestamp for e in sent], abs=1e-6)
    outlet.close()


def p_code(p, k):
    return {"left_hand": "769", "right_hand": "770"}[p.order[k]]
