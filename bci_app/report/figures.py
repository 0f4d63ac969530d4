"""Matplotlib figures of a report, drawn without pyplot: each is a :class:`matplotlib.figure.Figure` on
an Agg canvas, so the core never needs a display, and the GUI can embed the same objects (e.g. in a
``FigureCanvasQTAgg``) or show the PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bci_app.report.erd import ScalpMaps, TimeFrequencyMaps

__all__ = ["new_figure", "figure_png", "confusion_figure", "tf_figure", "scalp_figure"]

#: colour scale limit (percent change) of ERD/ERS maps
ERD_LIMIT_PCT = 100.0
ERD_CMAP = "RdBu_r"  # blue = power decrease (ERD), red = increase (ERS)


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure with its own Agg canvas (no pyplot state)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """Counts heat map: rows = true class, columns = decided class (+ ``undecided`` when any)."""
    cm = np.asarray(confusion)
    k = len(classes)
    cols = [_pretty(c) for c in classes] + (["undecided"] if cm.shape[1] > k and cm[:, k:].any() else [])
    cm = cm[:, : len(cols)]
    fig = new_figure(1.6 + 1.1 * len(cols), 1.4 + 0.9 * k)
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=12)
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(k), [_pretty(c) for c in classes])
    ax.set_xlabel("decided")
    ax.set_ylabel("true (cued)")
    ax.set_title(title, fontsize=10)
    return fig


def tf_figure(tf: TimeFrequencyMaps) -> Figure:
    """One row per class, one column per channel: percent power change from the baseline over time
    (s from the cue) and frequency (Hz); blue ERD, red ERS; dashed line at the cue."""
    classes = list(tf.power)
    fig = new_figure(1.2 + 3.0 * len(tf.channels), 0.6 + 2.2 * len(classes))
    axes = fig.subplots(len(classes), len(tf.channels), squeeze=False, sharex=True, sharey=True)
    image = None
    for r, cls in enumerate(classes):
        for c, ch in enumerate(tf.channels):
            ax = axes[r, c]
            image = ax.pcolormesh(tf.times, tf.freqs, tf.power[cls][c], cmap=ERD_CMAP, vmin=-ERD_LIMIT_PCT,
                                  vmax=ERD_LIMIT_PCT, shading="nearest", rasterized=True)
            ax.axvline(0.0, color="k", ls="--", lw=0.8)
            ax.set_title(f"{_pretty(cls)} — {ch} ({tf.n_trials[cls][ch]} trials)", fontsize=9)
            if r == len(classes) - 1:
                ax.set_xlabel("time from cue (s)")
            if c == 0:
                ax.set_ylabel("frequency (Hz)")
    fig.colorbar(image, ax=axes, shrink=0.8, label="power vs baseline (%)")
    return fig


def scalp_figure(scalp: ScalpMaps) -> Figure:
    """Rows = bands (mu, beta); columns = classes and, with two classes, their difference (second
    minus first), each a topographic map of the percent power change in the imagery window."""
    import mne

    classes = list(next(iter(scalp.values.values())))
    columns = [(c, _pretty(c)) for c in classes]
    if len(classes) == 2:
        columns.append(("__diff__", f"{_pretty(classes[1])} − {_pretty(classes[0])}"))
    bands = list(scalp.values)
    fig = new_figure(0.8 + 2.4 * len(columns), 0.4 + 2.4 * len(bands))
    axes = fig.subplots(len(bands), len(columns), squeeze=False)
    for r, band in enumerate(bands):
        vals = scalp.values[band]
        for c, (key, label) in enumerate(columns):
            data = vals[classes[1]] - vals[classes[0]] if key == "__diff__" else vals[key]
            image, _ = mne.viz.plot_topomap(data, scalp.info, axes=axes[r, c], show=False, cmap=ERD_CMAP,
                                            vlim=(-ERD_LIMIT_PCT / 2, ERD_LIMIT_PCT / 2), contours=0,
                                            sensors=True, extrapolate="local")
            axes[r, c].set_title(f"{band}: {label}", fontsize=9)
        fig.colorbar(image, ax=axes[r, :].tolist(), shrink=0.8, label="power vs baseline (%)")
    return fig
