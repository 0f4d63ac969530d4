"""Dataset assembly for pretraining, fine-tuning tests and benchmarks (EEGMMIDB on disk).

Every trial goes through the shared preprocessing (:func:`bci_app.signal.preprocess.preprocess_recording`
→ :func:`cut_windows` → the one :func:`final_step`), so training inputs are
exactly what the online decoder computes for the same samples.

Long epochs (band-passed volts, all 64 EEGMMIDB channels) are cut once per file from cue + ``tmin``
to cue + ``tmax`` and cached as ``.npz`` (keyed by the file's sha256 and the preprocessing), so random
time crops and channel subsets cost nothing later. :func:`finalize_crops` turns them into model input.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bci_app.errors import CalibrationError
from bci_app.io.recording import read_recording
from bci_app.signal.channels import match_channels
from bci_app.signal.preprocess import (
    PreprocessingSpec,
    cut_windows,
    final_step,
    fit_euclidean_alignment,
    preprocess_recording,
)
from bci_app.vocabulary import EEGMMIDB_64
from bci_app.vocabulary import EEGMMIDB_IMAGERY_RUNS as ALL_IMAGERY_RUNS
from calibration.epochs import find_cues

LONG_TMIN = 0.0  # s after the cue: start of the cached long epoch
LONG_TMAX = 4.0  # s after the cue: end of the cached long epoch



#: the shared copy of EEGMMIDB that tests and benchmarks read: ``BCI_APP_EEGMMIDB``, else
#: ``../shared/data/eegmmidb`` beside the repository (never downloaded, never copied into it)
EEGMMIDB_DIR = Path(os.environ.get("BCI_APP_EEGMMIDB",
                                   Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "eegmmidb"))


def eegmmidb_missing(data: Path = EEGMMIDB_DIR) -> str | None:
    """Why the recordings at ``data`` cannot be read (its first file, ``S001/S001R04.edf``, is not
    there), or None when they can."""
    if (data / "S001" / "S001R04.edf").is_file():
        return None
    return f"EEGMMIDB recordings not found at {data} (set BCI_APP_EEGMMIDB)"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def eegmmidb_files(data_dirs: list[str | Path], runs: tuple[int, ...] = ALL_IMAGERY_RUNS) -> dict[str, list[Path]]:
    """``{subject: [edf paths]}`` for the given runs, found under each dir (``S001/S001R04.edf``)."""
    out: dict[str, list[Path]] = {}
    pattern = re.compile(r"^(S\d{3})R(\d{2})\.edf$", re.IGNORECASE)
    for d in data_dirs:
        d = Path(d)
        if not d.is_dir():
            raise CalibrationError(f"data folder {d} does not exist; pass the EEGMMIDB folder holding S001/, S002/, ...")
        for path in sorted(d.rglob("*.edf")):
            m = pattern.match(path.name)
            if m and int(m.group(2)) in runs:
                out.setdefault(m.group(1).upper(), []).append(path)
    if not out:
        raise CalibrationError(f"no EEGMMIDB imagery runs {runs} (SxxxRyy.edf) found under {', '.join(map(str, data_dirs))}")
    return out


def run_of(path: Path) -> int:
    """EEGMMIDB run number from a file name like ``S001R04.edf``."""
    return int(Path(path).stem[-2:])


def base_spec(sfreq: float = 160.0, l_freq: float = 4.0, h_freq: float = 40.0, filter_order: int = 4,
              scale: float = 1e6, ch_names: tuple[str, ...] = EEGMMIDB_64) -> PreprocessingSpec:
    """The preprocessing of the shipped models (without alignment)."""
    return PreprocessingSpec(ch_names=ch_names, sfreq=sfreq, l_freq=l_freq, h_freq=h_freq,
                             filter_order=filter_order, scale=scale)


def long_epochs_from_recording(path: str | Path, spec: PreprocessingSpec, tmin: float = LONG_TMIN,
                               tmax: float = LONG_TMAX) -> tuple[np.ndarray, list[str]]:
    """Cue-locked epochs (n, n_chans, round((tmax - tmin) * sfreq)) of band-passed volts and labels.

    Cues come from the dataset preset (:func:`calibration.epochs.find_cues`: EEGMMIDB T1/T2 by run,
    or GDF 769-772); the signal from :func:`preprocess_recording` (the online decoder's class, in chunks).
    """
    rec = read_recording(path)
    onsets, labels, classes, _marked = find_cues(rec, None)
    if not len(onsets):
        raise CalibrationError(
            f"{path} has no cue markers (EEGMMIDB T1/T2 in runs 4/6/8/10/12/14, or GDF 769-772); "
            "record calibration with the app's paradigm or use an EEGMMIDB imagery run."
        )
    data, ts = preprocess_recording(rec, spec)
    n_long = int(round((tmax - tmin) * spec.sfreq))
    windows, ok = cut_windows(data, ts, onsets, tmin, n_long, spec.sfreq)
    return windows.astype(np.float32), [classes[i] for i in labels[ok]]


@dataclass
class LongEpochs:
    """Long cue-locked epochs of many people, for pretraining: random crops and channel subsets are
    taken from them later (a calibration's trials are :class:`calibration.epochs.Epochs`).

    X: (n, 64 or n_chans, n_long) float32 band-passed volts from cue + ``tmin``; y: class names;
    subject, run: per trial; ch_names: channel order of X.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    run: np.ndarray
    ch_names: tuple[str, ...]
    sfreq: float
    tmin: float

    def select(self, mask: np.ndarray) -> LongEpochs:
        return LongEpochs(self.X[mask], self.y[mask], self.subject[mask], self.run[mask], self.ch_names, self.sfreq, self.tmin)

    def pick_channels(self, ch_names: tuple[str, ...]) -> LongEpochs:
        idx = match_channels(self.ch_names, ch_names)
        return LongEpochs(self.X[:, idx], self.y, self.subject, self.run, tuple(ch_names), self.sfreq, self.tmin)


def load_eegmmidb(data_dirs: list[str | Path], *, subjects: list[str] | None = None,
                  runs: tuple[int, ...] = ALL_IMAGERY_RUNS, spec: PreprocessingSpec | None = None,
                  cache_dir: str | Path | None = None) -> tuple[LongEpochs, dict[str, str]]:
    """Long epochs of every selected EEGMMIDB file, plus ``{relative path: sha256}`` of those files.

    With ``cache_dir``, each file's epochs are cached as ``<sha256[:16]>-<spec key>.npz``.
    """
    spec = spec or base_spec()
    files = eegmmidb_files(data_dirs, runs)
    if subjects is not None:
        wanted = {s.upper() for s in subjects}
        files = {s: f for s, f in files.items() if s in wanted}
        if not files:
            raise CalibrationError(f"none of the subjects {sorted(wanted)} found in {data_dirs}")
    key = hashlib.sha256(repr((spec.to_dict(), LONG_TMIN, LONG_TMAX)).encode()).hexdigest()[:12]
    xs, ys, subj, run_ids, hashes = [], [], [], [], {}
    for subject in sorted(files):
        for path in files[subject]:
            sha = file_sha256(path)
            hashes[f"{subject}/{path.name}"] = sha
            cached = Path(cache_dir) / f"{sha[:16]}-{key}.npz" if cache_dir else None
            if cached is not None and cached.is_file():
                with np.load(cached, allow_pickle=False) as z:
                    X, labels = z["X"], list(z["y"])
            else:
                X, labels = long_epochs_from_recording(path, spec)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    # one temporary name per process: ranks under torchrun fill the same cache at once,
                    # and the atomic rename lets the last writer win with identical content
                    tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
                    np.savez(tmp, X=X, y=np.asarray(labels, dtype=str))
                    tmp.replace(cached)
            xs.append(X)
            ys += [str(v) for v in labels]
            subj += [subject] * len(labels)
            run_ids += [run_of(path)] * len(labels)
    ep = LongEpochs(np.concatenate(xs), np.asarray(ys), np.asarray(subj), np.asarray(run_ids), spec.ch_names,
                spec.sfreq, LONG_TMIN)
    return ep, hashes


def finalize_crops(X: np.ndarray, start: int | np.ndarray, n_times: int, scale: float,
                   alignment: np.ndarray | None = None) -> np.ndarray:
    """Model input from long epochs X (n, n_chans, n_long) volts: crop ``n_times`` samples from
    ``start`` (one int or one per trial), then the one :func:`~bci_app.signal.preprocess.final_step`
    (demean, ``* scale``, ``R @ x``) → float32 (n, n_chans, n_times)."""
    X = np.asarray(X)
    n = X.shape[0]
    starts = np.broadcast_to(np.asarray(start, dtype=np.int64), (n,))
    if n and (starts.min() < 0 or starts.max() + n_times > X.shape[2]):
        raise CalibrationError(f"crop [{starts.min()}, {starts.max() + n_times}) outside epochs of {X.shape[2]} samples")
    idx = starts[:, None] + np.arange(n_times)[None, :]
    crops = np.take_along_axis(X, idx[:, None, :], axis=2)
    return final_step(crops, scale, None if alignment is None else np.asarray(alignment, dtype=np.float64))


def alignment_for(X: np.ndarray, start: int, n_times: int, scale: float) -> np.ndarray:
    """Euclidean-alignment matrix from unlabeled long epochs (fixed crop at ``start``)."""
    return fit_euclidean_alignment(finalize_crops(X, start, n_times, scale))
