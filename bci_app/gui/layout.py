"""Fitting the window on the screens clinics have (1366 x 768, 1280 x 800, 1920 x 1080 at 150 %):
tabs whose pages scroll instead of forcing the window wider or taller than the screen, and a first
size that fits the screen's available area."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

#: the smallest screen the window must fit, in logical pixels: 1920 x 1080 at 150 % scaling is
#: 1280 x 720; 1366 x 768 and 1280 x 800 at 100 % are larger in one direction each
SMALLEST_SCREEN = QtCore.QSize(1280, 720)
#: room left for a window title bar and a task bar on such a screen
DECORATIONS = QtCore.QSize(0, 64)


class ScrollPage(QtWidgets.QScrollArea):
    """A frameless scroll area that sizes its widget to fill the viewport, and never below what the
    widget needs at that width: its minimum size, and the height its wrapped labels need
    (``minimumHeightForWidth``). Unlike ``widgetResizable``, it squeezes tables and plots to their
    minimum before scrolling, so a short screen shows every button; when even that does not fit, it
    scrolls instead of cutting anything off."""

    def __init__(self, widget: QtWidgets.QWidget, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(widget)
        widget.installEventFilter(self)

    def needed_size(self, width: int) -> QtCore.QSize:
        """The smallest size the widget may have at ``width`` (at least its minimum width)."""
        widget = self.widget()
        minimum = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        width = max(width, minimum.width())
        layout = widget.layout()
        height = minimum.height()
        if layout is not None and layout.hasHeightForWidth():
            height = max(height, layout.minimumHeightForWidth(width))
        return QtCore.QSize(width, height)

    def fit(self) -> None:
        """Resize the widget to the viewport, or to what it needs when that is more."""
        widget = self.widget()
        if widget is None:
            return
        bar = self.verticalScrollBar().sizeHint().width()
        full = self.maximumViewportSize()  # the viewport without scroll bars
        need = self.needed_size(full.width())
        if need.height() > full.height():  # a vertical scroll bar will take its width
            need = self.needed_size(full.width() - bar)
        size = need.expandedTo(QtCore.QSize(full.width() - (bar if need.height() > full.height() else 0),
                                            full.height()))
        if widget.size() != size:
            widget.resize(size)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit()

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.widget() and event.type() == QtCore.QEvent.Type.LayoutRequest:
            QtCore.QTimer.singleShot(0, self.fit)  # after the layout has taken the change in
        return super().eventFilter(obj, event)

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        return QtCore.QSize(80, 60)  # scrolls below this


def scrollable(widget: QtWidgets.QWidget) -> ScrollPage:
    """``widget`` in a :class:`ScrollPage`: it fills the area when there is room and scrolls
    (instead of being cut off) when the window is smaller than the widget's minimum."""
    return ScrollPage(widget)


class ScrollTabs(QtWidgets.QTabWidget):
    """A tab widget whose pages scroll (:func:`scrollable`); ``currentWidget``, ``setCurrentWidget``,
    ``indexOf`` and ``widget`` speak of the panels themselves, not of their scroll areas."""

    def add_panel(self, panel: QtWidgets.QWidget, title: str) -> int:
        return self.addTab(scrollable(panel), title)

    def widget(self, index: int) -> QtWidgets.QWidget | None:  # noqa: D102 - Qt's meaning, the panel
        page = super().widget(index)
        return page.widget() if isinstance(page, ScrollPage) else page

    def currentWidget(self) -> QtWidgets.QWidget | None:  # noqa: N802 - Qt's name
        return self.widget(self.currentIndex())

    def indexOf(self, panel: QtWidgets.QWidget) -> int:  # noqa: N802 - Qt's name
        for i in range(self.count()):
            if self.widget(i) is panel:
                return i
        return -1

    def setCurrentWidget(self, panel: QtWidgets.QWidget) -> None:  # noqa: N802 - Qt's name
        index = self.indexOf(panel)
        if index < 0:
            raise ValueError(f"{type(panel).__name__} is not a page of this tab widget")
        self.setCurrentIndex(index)


def fit_to_screen(window: QtWidgets.QWidget, preferred: QtCore.QSize) -> QtCore.QSize:
    """Resize ``window`` to ``preferred``, shrunk to the available area of its screen (never below
    its minimum size). Returns the size set."""
    screen = window.screen() or QtGui.QGuiApplication.primaryScreen()
    size = QtCore.QSize(preferred)
    if screen is not None:
        size = size.boundedTo(screen.availableGeometry().size())
    size = size.expandedTo(window.minimumSizeHint())
    window.resize(size)
    return size
