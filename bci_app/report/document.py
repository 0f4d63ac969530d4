"""A report as sections of text, tables and matplotlib figures, drawn into a
:class:`~bci_app.report.rendered.RenderedReport` (HTML and PNG bytes), which writes the one
self-contained HTML file."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from matplotlib.figure import Figure

from bci_app.report.figures import figure_png
from bci_app.report.rendered import RenderedReport, RenderedSection

__all__ = ["Section", "Report", "html_table"]


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table; numbers right-aligned; cells are escaped."""
    def cell(v: object, tag: str) -> str:
        cls = ' class="num"' if isinstance(v, (int, float)) and tag == "td" else ""
        return f"<{tag}{cls}>{html.escape(str(v))}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Section:
    """``html``: the section's body (already escaped); ``figures``: (caption, figure) pairs shown after it."""

    title: str
    html: str = ""
    figures: list[tuple[str, Figure]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Report:
    """Sections in order; :meth:`rendered` draws them (each figure once), :meth:`to_html` and
    :meth:`save` (atomic) write them; :attr:`figures` hands the matplotlib figures to a GUI."""

    def __init__(self, title: str, *, subtitle: str = "") -> None:
        self.title, self.subtitle = title, subtitle
        self.created = datetime.now(timezone.utc)
        self.sections: list[Section] = []
        #: PNG bytes per figure (by id; the sections keep the figures alive), so saving again after an
        #: online run renders only the new figures
        self._png: dict[int, bytes] = {}

    def add_section(self, title: str, html_body: str = "", figures: Sequence[tuple[str, Figure]] = (),
                    notes: Sequence[str] = ()) -> Section:
        section = Section(title, html_body, list(figures), list(notes))
        self.sections.append(section)
        return section

    @property
    def figures(self) -> dict[str, Figure]:
        """``{"section title: caption": figure}`` in report order."""
        return {f"{s.title}: {caption}": fig for s in self.sections for caption, fig in s.figures}

    def _drawn(self, fig: Figure) -> bytes:
        if id(fig) not in self._png:
            self._png[id(fig)] = figure_png(fig)
        return self._png[id(fig)]

    def rendered(self) -> RenderedReport:
        """The report as drawn: sections with PNG bytes (each figure rendered once); subclasses add
        their numbers."""
        return RenderedReport(self.title, self.subtitle, self.created, [
            RenderedSection(s.title, s.html, [(caption, self._drawn(fig)) for caption, fig in s.figures], list(s.notes))
            for s in self.sections])

    def to_html(self) -> str:
        return self.rendered().to_html()

    def figure_pngs(self) -> dict[str, bytes]:
        """``{"section title: caption": PNG bytes}`` in report order, each figure rendered once (call
        it off the UI thread; a window shows the PNGs without touching matplotlib)."""
        return self.rendered().figure_pngs()

    def save(self, path: str | Path) -> Path:
        """Write the HTML to ``path`` atomically (temporary file in the same folder, then replace)."""
        return self.rendered().save(path)
