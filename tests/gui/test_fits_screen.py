"""The window on the screens clinics have: 1366 x 768 and 1280 x 800 at 100 %, 1920 x 1080 at 150 %
(1280 x 720 logical pixels), less a title bar and a task bar. On every tab the window's minimum
size fits, no page needs to scroll sideways, every button shows its whole text, and the Signals
tab's spectrum and band-power labels have their room."""

from __future__ import annotations

import pytest
from PySide6 import QtGui, QtWidgets

from bci_app.config import AppConfig
from bci_app.gui.layout import DECORATIONS, SMALLEST_SCREEN, ScrollPage

#: (width, height) of the window on each screen: the screen less DECORATIONS
SCREENS = {"1366x768": (1366, 768), "1280x800": (1280, 800), "1920x1080 at 150 %": (1280, 720)}


@pytest.fixture
def window(qtbot, tmp_path):
    from bci_app.gui.main_window import MainWindow

    w = MainWindow(AppConfig(), log_dir=tmp_path / "logs")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def _pages(w):
    for tabs in (w.tabs, w.left_tabs):
        for i in range(tabs.count()):
            yield tabs, i


def test_minimum_size_fits_the_smallest_screen_on_every_tab(window, qtbot):
    limit = SMALLEST_SCREEN - DECORATIONS
    for tabs, i in _pages(window):
        tabs.setCurrentIndex(i)
        QtWidgets.QApplication.processEvents()
        hint = window.minimumSizeHint().expandedTo(window.minimumSize())
        assert hint.width() <= limit.width() and hint.height() <= limit.height(), (tabs.tabText(i), hint)


@pytest.mark.parametrize("screen", list(SCREENS))
def test_every_page_fits_without_sideways_scrolling_and_buttons_are_whole(window, qtbot, screen):
    width, height = SCREENS[screen]
    window.resize(width, height - DECORATIONS.height())
    for tabs, i in _pages(window):
        tabs.setCurrentIndex(i)
        qtbot.wait(20)  # the pages fit themselves after the layout settles
        page = QtWidgets.QTabWidget.widget(tabs, i)
        assert isinstance(page, ScrollPage)
        assert page.horizontalScrollBar().maximum() == 0, (screen, tabs.tabText(i), page.widget().minimumSizeHint())
        for button in page.widget().findChildren(QtWidgets.QPushButton):
            if button.isVisibleTo(page.widget()):
                assert button.width() >= button.minimumSizeHint().width(), (screen, button.text())
    assert window.width() <= width and window.height() <= height - DECORATIONS.height()


def test_the_source_panel_shows_connect_without_scrolling_on_1366x768(window, qtbot):
    window.resize(1366, 768 - DECORATIONS.height())
    window.left_tabs.setCurrentWidget(window.source_panel)
    for i in range(window.source_panel.tabs.count()):  # the BrainFlow form is the tallest
        window.source_panel.tabs.setCurrentIndex(i)
        qtbot.wait(20)
        page = QtWidgets.QTabWidget.widget(window.left_tabs, 0)
        assert page.verticalScrollBar().maximum() == 0
        button = window.source_panel.connect_button
        bottom = button.mapTo(page.viewport(), button.rect().bottomLeft()).y()
        assert bottom <= page.viewport().height()


def test_signals_spectrum_title_and_band_names_have_room(window, qtbot):
    from bci_app.gui.signal_view import BANDS

    window.resize(1366, 768 - DECORATIONS.height())
    window.tabs.setCurrentWidget(window.signal_view)
    qtbot.wait(20)
    spectrum, bands = window.signal_view.spectrum, window.signal_view.bands
    title = spectrum.getPlotItem().titleLabel
    assert title.item.boundingRect().width() <= spectrum.width()
    axis = bands.getAxis("bottom")
    metrics = QtGui.QFontMetrics(axis.style.get("tickFont") or bands.font())
    widest = max(metrics.horizontalAdvance(name) for name in BANDS)
    per_bar = (axis.width() or bands.width()) / len(BANDS)
    assert widest < per_bar  # band names do not run into each other


def test_first_size_fits_the_screen(window):
    avail = window.screen().availableGeometry().size()
    assert window.width() <= max(avail.width(), window.minimumSizeHint().width())
    assert window.height() <= max(avail.height(), window.minimumSizeHint().height())
