"""A report as sections of text, tables and figures, written as one self-contained HTML file.

Self-contained: figures are embedded as base64 PNG, the style sheet is inline, there is no script
and no link or resource outside the file, so it opens offline, prints, and can be attached to a
clinical record as is.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from matplotlib.figure import Figure

from bci_app.outputs import atomic_write
from bci_app.report.figures import figure_png

__all__ = ["Section", "Report", "html_table"]

_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 1.5em auto; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { border: 1px solid #bbb; padding: 3px 8px; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0.8em 0; } figcaption { font-size: 0.9em; color: #444; } img { max-width: 100%; }
p.note { color: #7a4b00; } .small { font-size: 0.85em; color: #555; }
@media print { h2 { page-break-after: avoid; } figure { page-break-inside: avoid; } }
"""


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
    """Sections in order; :meth:`to_html` and :meth:`save` (atomic) write them; :attr:`figures` hands
    the matplotlib figures to a GUI."""

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

    def to_html(self) -> str:
        parts = [f"<h1>{html.escape(self.title)}</h1>",
                 f'<p class="small">{html.escape(self.subtitle)} Created {self.created:%Y-%m-%d %H:%M} UTC.</p>']
        for s in self.sections:
            parts.append(f"<h2>{html.escape(s.title)}</h2>")
            parts += [f'<p class="note">{html.escape(n)}</p>' for n in s.notes]
            parts.append(s.html)
            for caption, fig in s.figures:
                if id(fig) not in self._png:
                    self._png[id(fig)] = figure_png(fig)
                png = base64.b64encode(self._png[id(fig)]).decode("ascii")
                parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{png}">'
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        body = "\n".join(parts)
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")

    def figure_pngs(self) -> dict[str, bytes]:
        """``{"section title: caption": PNG bytes}`` in report order, each figure rendered once (call
        it off the UI thread; a window shows the PNGs without touching matplotlib)."""
        out = {}
        for s in self.sections:
            for caption, fig in s.figures:
                if id(fig) not in self._png:
                    self._png[id(fig)] = figure_png(fig)
                out[f"{s.title}: {caption}"] = self._png[id(fig)]
        return out

    def save(self, path: str | Path) -> Path:
        """Write the HTML to ``path`` atomically (temporary file in the same folder, then replace)."""
        return atomic_write(path, self.to_html().encode("utf-8"))
