"""The operator's live ERD table and the report's ERD maps are one computation
(:func:`bci_app.signal.quality.erd_percent` over the same windows, :meth:`ErdWindows.for_paradigm`):
on a simulated calibration whose person desynchronises mu over the hemisphere opposite the cued hand,
they agree in sign and size at C3/C4 and count the same trials per class."""

from __future__ import annotations

import numpy as np
import pytest

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.report.erd import ErdWindows, erd_maps
from bci_app.session import Session
from bci_app.signal.quality import erd_percent
from bci_app.vocabulary import CUE_CODES, SENSORIMOTOR_16


def test_erd_percent_is_the_ratio_of_the_means_not_the_mean_of_ratios():
    base = np.array([[1.0], [0.01]])  # one trial with almost no baseline power
    imag = np.array([[0.5], [0.5]])
    assert erd_percent(base, imag)[0] == np.float64(100.0 * (0.5 / 0.505 - 1.0))  # about -1 %, not +2450 %
    mask = np.array([[True], [False]])
    assert erd_percent(base, imag, mask)[0] == -50.0
    assert np.isnan(erd_percent(base, imag, np.zeros((2, 1), bool))[0])


@pytest.mark.parametrize("timeline", [
    {"cue_at_s": 1.5, "cue_duration_s": 1.0, "imagery_end_s": 5.5, "rest_min_s": 1.5, "rest_max_s": 2.0},
    # the demo's short timeline: 0.5 s fixation, 0.5-1 s rest (the last trial is cut for the report too)
    {"cue_at_s": 0.5, "cue_duration_s": 0.5, "imagery_end_s": 4.5, "rest_min_s": 0.5, "rest_max_s": 1.0},
])
def test_live_table_and_report_agree_in_sign_and_trial_counts(timeline):
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={"trials_per_class": 6, "trials_per_run": 100, "break_s": 0.0,
                                                   **timeline})
    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=120.0, subject_seed=3)
    session = Session(cfg, clock=clock)
    assert session.connect(sim)
    for _ in range(60):  # 3 s of signal before the calibration starts (the first trial's baseline)
        clock.advance(0.05)
        session.update()
    imagery = cfg.paradigm.imagery_end_s - cfg.paradigm.cue_at_s

    def imagine(ev):
        if ev.code in CUE_CODES.values():
            sim.imagine(ev.label, ev.timestamp, imagery)

    assert session.start_calibration(on_event=imagine)
    for _ in range(int((session.paradigm.duration_s + 0.5) / 0.05)):
        clock.advance(0.05)
        session.update()
    live = session.calibration_quality.summary()
    maps = erd_maps([session.calibration_data], cfg.paradigm.classes, windows=ErdWindows.for_paradigm(cfg.paradigm),
                    preset="gdf", preprocessing=cfg.preprocessing)
    for cls in cfg.paradigm.classes:
        assert maps.tf.n_trials[cls]["C3"] == maps.tf.n_trials[cls]["C4"] == live.n_trials[cls] == 6
        scalp = maps.scalp.values["mu"][cls]
        for ch in ("C3", "C4"):
            report_mu = float(scalp[maps.scalp.ch_names.index(ch)])
            live_mu = live.erd[cls][ch]["mu"]
            assert np.sign(report_mu) == np.sign(live_mu), (cls, ch, report_mu, live_mu)
            assert abs(report_mu - live_mu) < 5.0, (cls, ch, report_mu, live_mu)  # percentage points
    # the simulated person desynchronises mu contralaterally: C4 for the left hand, C3 for the right
    assert live.erd["left_hand"]["C4"]["mu"] < 0 and live.erd["right_hand"]["C3"]["mu"] < 0
    session.disconnect()
