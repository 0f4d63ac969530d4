"""Operator panel: rejected trials count paradigm-marked ones plus those the calibration quality's
artifact check dropped, with the most frequent reasons; a new calibration starts from zero."""

from __future__ import annotations

import pytest

from bci_app.clocks import ManualClock
from bci_app.config import ParadigmConfig
from bci_app.paradigm.timing import GrazParadigm
from bci_app.signal.quality import CalibrationSummary


@pytest.fixture
def panel(qtbot):
    from bci_app.gui.calibration_view import OperatorPanel

    p = OperatorPanel()
    qtbot.addWidget(p)
    return p


def _summary(n_rejected: int, rejections: dict[str, int]) -> CalibrationSummary:
    erd = {c: {ch: {"mu": -10.0, "beta": -5.0} for ch in ("C3", "C4")} for c in ("left_hand", "right_hand")}
    return CalibrationSummary(erd, {"left_hand": 3, "right_hand": 3}, n_rejected, None, 0.5, False,
                              "advice", rejections)


def test_rejected_trials_add_marked_and_artifacts_with_reasons(panel):
    clock = ManualClock(0.0)
    paradigm = GrazParadigm(ParadigmConfig(trials_per_class=2), clock)
    paradigm.start()
    paradigm.mark_rejected(0)
    panel.render_state(paradigm.state)
    assert panel.rejected_label.text() == "Rejected trials: 1"
    panel.render_summary(_summary(3, {"amplitude at FT8": 2, "flat at C3": 1}))
    assert panel.rejected_label.text() == "Rejected trials: 4 (amplitude at FT8 ×2, flat at C3 ×1)"
    panel.render_state(paradigm.state)  # the frame loop re-renders the state: the count holds
    assert panel.rejected_label.text().startswith("Rejected trials: 4 ")
    panel.reset_rejections()
    assert panel.rejected_label.text() == "Rejected trials: 0"
