"""A report as drawn: its sections as HTML with the figures as PNG bytes, and the numbers a window
shows (accuracy per model, online runs). No matplotlib, MNE or torch: this is the form a report
takes to cross from the process that draws it (:mod:`bci_app.report.process`) to the app, and
the one place the self-contained HTML file is written.

Self-contained: figures are embedded as base64 PNG, the style sheet is inline, there is no script
and no link or resource outside the file, so it opens offline, prints, and can be attached to a
clinical record as is.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bci_app.outputs import atomic_write
from bci_app.report.accuracy import Classification

__all__ = ["RenderedSection", "RenderedReport"]

_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 1.5em auto; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { border: 1px solid #bbb; padding: 3px 8px; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0.8em 0; } figcaption { font-size: 0.9em; color: #444; } img { max-width: 100%; }
p.note { color: #7a4b00; } .small { font-size: 0.85em; color: #555; }
@media print { h2 { page-break-after: avoid; } figure { page-break-inside: avoid; } }
"""


@dataclass
class RenderedSection:
    """``html``: the section's body (already escaped); ``figures``: (caption, PNG bytes) shown after it."""

    title: str
    html: str = ""
    figures: list[tuple[str, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RenderedReport:
    """Sections in order and, for a calibration report, its numbers: ``decoding`` (model ->
    :class:`Classification`), ``installed`` (the row of ``decoding`` that is the installed model),
    ``online`` (one per scored online run), ``classes`` and ``trial_seconds`` (s, for bits per minute)."""

    title: str
    subtitle: str
    created: datetime
    sections: list[RenderedSection] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    trial_seconds: float | None = None
    decoding: dict[str, Classification] = field(default_factory=dict)
    installed: str | None = None
    online: list[Classification] = field(default_factory=list)

    def figure_pngs(self) -> dict[str, bytes]:
        """``{"section title: caption": PNG bytes}`` in report order (a window shows them as they are)."""
        return {f"{s.title}: {caption}": png for s in self.sections for caption, png in s.figures}

    def to_html(self) -> str:
        """The report as one self-contained HTML page (module doc)."""
        parts = [f"<h1>{html.escape(self.title)}</h1>",
                 f'<p class="small">{html.escape(self.subtitle)} Created {self.created:%Y-%m-%d %H:%M} UTC.</p>']
        for s in self.sections:
            parts.append(f"<h2>{html.escape(s.title)}</h2>")
            parts += [f'<p class="note">{html.escape(n)}</p>' for n in s.notes]
            parts.append(s.html)
            for caption, png in s.figures:
                data = base64.b64encode(png).decode("ascii")
                parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        body = "\n".join(parts)
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")

    def save(self, path: str | Path) -> Path:
        """Write the HTML to ``path`` atomically (temporary file in the same folder, then replace)."""
        return atomic_write(path, self.to_html().encode("utf-8"))
