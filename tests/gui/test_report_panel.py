"""The report panel shows a real report's numbers and figures (drawn off the UI thread as PNGs), as the
session hands it (drawn) or as built."""

from __future__ import annotations


def test_report_panel_shows_numbers_and_figures(qtbot, tmp_path):
    from bci_app.gui.report_view import ReportPanel
    from bci_app.report import CalibrationReport

    report = CalibrationReport("Calibration report", classes=("left_hand", "right_hand"), trial_seconds=4.0)
    truth = ["left_hand", "right_hand"] * 5
    decided = ["left_hand", "right_hand"] * 4 + ["right_hand", "left_hand"]  # 8 of 10
    result = report.add_online_run(truth, decided)
    path = report.save(tmp_path / "report.html")
    panel = ReportPanel()
    qtbot.addWidget(panel)
    pngs = report.figure_pngs()
    assert len(pngs) == 1 and next(iter(pngs.values())).startswith(b"\x89PNG")
    for shown in (report.rendered(), report):
        panel.show_report(shown, pngs, path)
        assert panel.captions == list(pngs) and panel.open_button.isEnabled()
        assert panel.figures_pending == len(pngs)  # decoded off the UI thread, not in the frame showing the report
        panel.render_figures(wait=True)
        assert panel.figures_pending == 0
        text = panel.summary.text()
        assert "online run 1" in text and "80.0 %" in text and f"{result.kappa:.2f}" in text
    # the pixels Qt's own decoder gives, decoded without holding the interpreter
    from PySide6 import QtGui

    from bci_app.gui.report_view import decode_png

    qt = QtGui.QImage.fromData(next(iter(pngs.values())), "PNG").convertToFormat(
        QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    pixels, width, height = decode_png(next(iter(pngs.values())))
    assert (width, height) == (qt.width(), qt.height()) and pixels == bytes(qt.constBits())[:len(pixels)]
