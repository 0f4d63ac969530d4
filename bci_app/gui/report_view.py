"""The calibration report in the window: accuracy of the installed model vs the unadapted base
(confusion matrices, kappa, ITR) and the ERD/ERS maps, as the PNGs the Qt-free report drew in a
process of its own (:mod:`bci_app.report.process`); "Open report" shows the saved HTML file in the browser; the session's
recordings are exported to BIDS from here (:class:`~bci_app.gui.bids_view.BidsExportBox`)."""

from __future__ import annotations

import html
import io
import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from bci_app.gui.bids_view import BidsExportBox

#: what the Report tab says before a report is shown: none yet, being drawn, or could not be written
NO_REPORT = "No calibration report yet: calibrate and train first."
DRAWING = ("The calibration report is being drawn (accuracy, confusion matrices, ERD maps) in the background: "
           "it appears here in a few seconds.")


def decode_png(png: bytes) -> tuple[bytes, int, int]:
    """``(pixels, width, height)``: a PNG as premultiplied BGRA bytes (a QPixmap's own layout), decoded
    by Pillow, which lets the interpreter go while it decodes; Qt's decoder held it (and the UI
    thread) 10-60 ms per report figure, on any thread."""
    from PIL import Image  # matplotlib's own image library, there with the report

    with Image.open(io.BytesIO(png)) as image:
        rgba = image.convert("RGBA")
        return rgba.tobytes("raw", "BGRa"), rgba.width, rgba.height


def _decode_into(png: bytes, out: list) -> None:
    """:func:`decode_png` on a thread: its result, or why it failed, into ``out``."""
    try:
        out.append(decode_png(png))
    except Exception as exc:  # noqa: BLE001 - said in the figure's place
        out.append(exc)


class ReportPanel(QtWidgets.QWidget):
    """Shows a calibration report (:meth:`show_report`): a :class:`~bci_app.report.RenderedReport`
    as the session hands it, or a :class:`~bci_app.report.CalibrationReport`; until then what is
    true of it (:meth:`set_drawing`, :meth:`show_failed`)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.summary = QtWidgets.QLabel(NO_REPORT)
        self.status = QtWidgets.QLabel()  # an online run being added to the report shown
        self.status.setWordWrap(True)
        self._drawing: bool | None = False
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.open_button = QtWidgets.QPushButton("Open report (HTML)")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open)
        self._figures = QtWidgets.QVBoxLayout()
        self._pending: list[tuple[QtWidgets.QLabel, list]] = []  # (figure's label, its pixels once decoded)
        inner = QtWidgets.QWidget()
        inner_layout = QtWidgets.QVBoxLayout(inner)
        inner_layout.addWidget(self.status)
        inner_layout.addWidget(self.summary)
        inner_layout.addLayout(self._figures)
        inner_layout.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        top = QtWidgets.QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.open_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        self.bids = BidsExportBox()
        layout.addWidget(self.bids)
        self.captions: list[str] = []

    def set_drawing(self, drawing: bool) -> None:
        """The session draws a report now (or an online run into it): say so until it is shown (cheap
        when nothing changed: called every frame)."""
        if drawing == self._drawing:
            return
        self._drawing = drawing
        if not self.captions and (drawing or self.summary.text() == DRAWING):
            self.summary.setText(DRAWING if drawing else NO_REPORT)
        self.status.setText("An online run is being added to the report…" if drawing and self.captions else "")

    def show_failed(self, note: str) -> None:
        """The report could not be written: ``note`` says why (the adapter is saved either way)."""
        if not self.captions:
            self.summary.setText(html.escape(note[:1].upper() + note[1:]))
        self.status.setText("" if not self.captions else html.escape(note))

    def show_report(self, report, pngs: dict[str, bytes], path: Path | None = None) -> None:
        """``report``'s numbers and ``pngs`` (``report.figure_pngs()``, drawn off the UI thread)."""
        self.status.setText("")
        self.path = Path(path) if path is not None else None
        self.open_button.setEnabled(self.path is not None and self.path.is_file())
        rows = []
        installed = getattr(report, "installed", None)
        for name, r in list(report.decoding.items()) + [(f"online run {i + 1}", r) for i, r in enumerate(report.online)]:
            itr = "–" if r.itr_bits_per_min is None else f"{r.itr_bits_per_min:.2f} bits/min"
            decisions = f"{r.n_decisions} ({r.repeats} per trial)" if r.repeats > 1 else f"{r.n_decisions}"
            label = f"{name} (installed)" if name == installed else name
            rows.append(f"<tr><td>{html.escape(label)}</td><td>{100 * r.accuracy:.1f} %</td><td>{r.kappa:.2f}</td>"
                        f"<td>{itr}</td><td>{r.n_trials}</td><td>{decisions}</td></tr>")
        table = ("<table cellpadding='4'><tr><th align='left'>model</th><th>accuracy</th><th>kappa</th><th>ITR</th>"
                 "<th>trials</th><th>decisions</th></tr>" + "".join(rows) + "</table>") if rows \
            else "<p>No cross-validated accuracy.</p>"
        where = f"<p>Saved: {html.escape(str(self.path))}</p>" if self.path is not None else ""
        self.summary.setText(f"<h3>{html.escape(report.title)}</h3><p>{html.escape(report.subtitle)}</p>{table}{where}")
        while self._figures.count():
            item = self._figures.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.captions = []
        self._pending = []
        for caption, png in pngs.items():
            image = QtWidgets.QLabel()
            decoded: list = []  # filled on a thread of its own, shown by render_figures
            threading.Thread(target=_decode_into, args=(png, decoded), name="bci-report-figure", daemon=True).start()
            self._pending.append((image, decoded))
            text = QtWidgets.QLabel(caption)
            text.setWordWrap(True)
            self._figures.addWidget(text)
            self._figures.addWidget(image)
            self.captions.append(caption)

    @property
    def figures_pending(self) -> int:
        """Figures of the shown report not decoded yet."""
        return len(self._pending)

    def render_figures(self, *, wait: bool = False) -> None:
        """Put the next figure of the shown report in its place once decoded (each frame: the report's
        PNGs decoded by Qt in the frame that showed it held the UI thread ~20 ms); ``wait``: all, now."""
        while self._pending and (wait or self._pending[0][1]):
            image, decoded = self._pending.pop(0)
            while not decoded:
                threading.Event().wait(0.005)
            if isinstance(decoded[0], Exception):
                image.setText(f"This figure could not be shown: {decoded[0]}")
            else:
                pixels, width, height = decoded[0]
                frame = QtGui.QImage(pixels, width, height, 4 * width, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
                image.setPixmap(QtGui.QPixmap.fromImage(frame))  # copied: the bytes may go
            if not wait:
                return

    def _open(self) -> None:
        if self.path is not None:
            QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self.path)))
