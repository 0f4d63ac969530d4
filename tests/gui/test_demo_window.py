"""``bci-app demo`` with the window: simulated headset over LSL → calibration with cues → background
training (real default job, few epochs) → online feedback with cued, scored trials → clean exit."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

pytest.importorskip("bci_app.session")


def _n_points(curve) -> int:
    y = curve.getData()[1]
    return 0 if y is None else len(y)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_demo_window_runs_the_whole_session(qtbot, tmp_path):
    from bci_app.gui.app import build_demo

    cfg = tmp_path / "c.yaml"
    cfg.write_text("finetune:\n  max_epochs: 3\n  patience: 3\n  min_trials_per_class: 2\n")
    args = argparse.Namespace(config=cfg, base="sensorimotor16", seed=1, trials_per_class=3,
                              online_trials_per_class=1, time_scale=3.0, record=None, log_dir=tmp_path / "logs")
    w, driver = build_demo(args)
    qtbot.addWidget(w)
    w.show()
    driver.start()
    qtbot.waitUntil(lambda: w.state_text == "calibrating", timeout=15000)
    qtbot.waitUntil(lambda: w.cue_display.phase == "cue", timeout=15000)
    assert w.cue_display.label in ("left_hand", "right_hand")
    # no participant in the demo: the guide never asks for the ID once the session runs
    qtbot.waitUntil(lambda: "Running: trial" in w.guide_panel.next_label.text(), timeout=3000)
    steps = {s.name: s for s in w.guide_panel.steps}
    assert steps["participant"].status == "skipped" and "participant's ID" not in w.guide_panel.next_label.text()
    assert "demo" in w.session_panel.config_label.text()
    # the source panel shows what is connected: the LSL tab with the demo's stream selected, not "Simulated"
    sp, name = w.source_panel, driver.source["name"]
    assert sp.status_label.text().startswith(f"Connected: {name} (LSL), 16 channels")
    assert sp.tabs.tabText(sp.tabs.currentIndex()) == "LSL"
    rows = sp.lsl_table.selectionModel().selectedRows()
    assert len(rows) == 1 and sp.lsl_table.item(rows[0].row(), 0).text() == name
    assert sp.current_spec()["name"] == name and sp.current_spec()["kind"] == "lsl"
    qtbot.waitUntil(lambda: w.state_text == "training" or w.error_banner.isVisible(), timeout=60000)
    assert not w.error_banner.isVisible(), w.error_banner.text.text()
    qtbot.waitUntil(lambda: driver.stage in ("online", "done", "failed"), timeout=120000)
    assert driver.stage != "failed", w.error_banner.text.text()
    assert len(w.bridge.history) >= 1 and w.training_panel.progress.value() >= 1
    # the default job trains on every calibration trial for fixed epochs: no validation curve, the training loss
    assert all(p.val_loss is None and np.isfinite(p.train_loss) for p in w.bridge.history)
    qtbot.waitUntil(lambda: _n_points(w.training_panel.train_loss_curve) == len(w.bridge.history), timeout=5000)
    qtbot.waitUntil(lambda: driver.stage == "done", timeout=60000)
    assert driver.result["n_trials"] == 2 and driver.result["n_undecided"] == 0
    assert "Running accuracy" in w.online_panel.accuracy_label.text() and "of 2 trials" in w.online_panel.accuracy_label.text()
    assert w.online_panel.n_predictions > 5
    assert w.session.stream.counters.lost_overflow == 0
    w.close()
    assert driver.player._thread is None or not driver.player._thread.is_alive()
