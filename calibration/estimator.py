"""The adapted decoder as a scikit-learn classifier on epochs arrays.

:class:`LoRADecoder` turns epochs ``X`` (n_trials, n_chans, n_times) in volts, cut at cues (the first
sample ``tmin`` seconds after the cue), into what ``bci-app calibrate`` makes of a recording, by the
same code:

- ``fit``: every epoch becomes an in-memory :class:`~bci_app.types.Recording` with its cue marker,
  and :class:`~calibration.job.CalibrationJob` runs on them (base for the channels and classes,
  missing-channel interpolation, bad-channel repair, artifact handling, Euclidean alignment, LoRA
  fine-tuning, the gate). Nothing of the job is copied here.
- ``predict_proba``: the epochs are fed, one after another with a gap between them, to the online
  :class:`~bci_app.online.decoder.Decoder` with the calibrated model (so the streaming filters restart
  at each epoch as after a lost source), and each epoch is decided by the online scoring rule
  (:func:`~bci_app.online.scoring.trial_probabilities`: the mean raw probabilities of the decisions
  whose window lies in [cue + the model's window start, epoch end]).

An epoch has no signal before its first sample, so the filters start cold there, unlike a running
stream: epochs beginning before the cue (``tmin < 0``) give them time to settle. Each epoch must hold
the model's window (by default cue + 0.5 s to cue + 3.5 s) and, for ``predict``, the decoder's warm-up
(window + ``online.settle_s``) before a decision at or after the window's end.

Labels are the app's class names (``left_hand``, ``right_hand``, ``feet``, ``both_hands``,
``tongue``; MOABB uses the same) or any labels with ``class_names`` saying what each means.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

logger = logging.getLogger(__name__)

__all__ = ["LoRADecoder", "epochs_to_recordings"]

#: seconds of clock between two epochs fed to the decoder: above any ``online.gap_threshold_s``
#: (at most 60 s), so each epoch restarts the filters, and no decision of one falls into another
_EPOCH_GAP_S = 61.0


def epochs_to_recordings(X: np.ndarray, cues: Sequence[str], ch_names: Sequence[str], sfreq: float, tmin: float,
                         ch_types: Sequence[str] | None = None) -> list[Any]:
    """One :class:`~bci_app.types.Recording` per epoch of ``X`` (n_trials, n_chans, n_times) volts,
    timestamps from 0 at its first sample, a cue marker ``cues[i]`` at ``-tmin`` s (the cue's time)."""
    from bci_app.types import Marker, Recording

    types = tuple(ch_types) if ch_types is not None else ("eeg",) * len(ch_names)
    ts = np.arange(X.shape[2]) / float(sfreq)
    return [Recording(path=Path(f"epoch{i:04d}"), data=np.asarray(X[i], dtype=np.float64), timestamps=ts,
                      sfreq=float(sfreq), ch_names=tuple(ch_names), ch_types=types,
                      units=tuple("V" for _ in ch_names), markers=(Marker(-float(tmin), str(cues[i])),))
            for i in range(X.shape[0])]


class LoRADecoder(ClassifierMixin, BaseEstimator):
    """The calibration job (``bci-app calibrate``) as a scikit-learn classifier (module doc).

    Parameters
    ----------
    ch_names : names of the epochs' channels (10-10 names; ``C3..`` style is normalised).
    sfreq : sampling rate of the epochs (Hz).
    tmin : seconds from the cue to each epoch's first sample (MNE/MOABB ``tmin``; negative: before it).
    config : an :class:`~bci_app.config.AppConfig`, a YAML path, or None for the packaged default.
    base : base model name or path (None: ``config.model.base``, chosen for the channels as the app does).
    class_names : ``{label: class name}`` when the labels are not the app's class names.
    ch_types : channel types (``eeg``, ``eog``, ``emg``, ``misc``...; None: all EEG). Non-EEG ones never
        reach the model.

    Attributes
    ----------
    classes_ : the labels, sorted (``predict_proba`` columns in this order).
    outcome_ : the job's :class:`~calibration.job.CalibrationOutcome` (gate report, metadata, ``save``).
    decoder_model_ : the :class:`~bci_app.online.decoder.DecoderModel` the online decoder runs.
    """

    def __init__(self, ch_names: Sequence[str] | None = None, sfreq: float | None = None, *, tmin: float = 0.0,
                 config: Any = None, base: str | Path | None = None, class_names: Mapping[Any, str] | None = None,
                 ch_types: Sequence[str] | None = None) -> None:
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.tmin = tmin
        self.config = config
        self.base = base
        self.class_names = class_names
        self.ch_types = ch_types

    # ------------------------------------------------------------------ checks
    def _app_config(self) -> Any:
        from bci_app.config import AppConfig, load_config

        return self.config if isinstance(self.config, AppConfig) else load_config(self.config)

    def _check_X(self, X: Any) -> np.ndarray:
        """Epochs as float64 (n_trials, n_chans, n_times); ValueError naming what is wrong."""
        if self.ch_names is None or self.sfreq is None:
            raise ValueError("LoRADecoder needs ch_names and sfreq (the epochs' channel names and sampling rate)")
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(f"LoRADecoder takes epochs (n_trials, n_chans, n_times); got an array of shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise ValueError(f"epochs must be real numbers (volts); got dtype {X.dtype}")
        X = X.astype(np.float64, copy=False)
        if X.shape[1] != len(self.ch_names):
            raise ValueError(f"epochs have {X.shape[1]} channels but ch_names lists {len(self.ch_names)}")
        if X.shape[0] == 0:
            raise ValueError("no epochs (0 trials)")
        if not np.isfinite(X).all():
            raise ValueError("epochs hold NaN or infinite samples")
        return X

    def _names(self, labels: np.ndarray) -> list[str]:
        """The app class name of each label in ``labels``."""
        from bci_app.vocabulary import CUE_CODES

        known = set(CUE_CODES) | {"both_hands"}
        if self.class_names is not None:
            missing = [lab for lab in labels if lab not in self.class_names]
            if missing:
                raise ValueError(f"class_names has no class for label(s) {missing}")
            names = [str(self.class_names[lab]) for lab in labels]
        else:
            names = [str(lab) for lab in labels]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"labels {unknown} are not class names the app decodes ({', '.join(sorted(known))}); "
                             "give class_names={label: class name}")
        return names

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X: Any, y: Any) -> LoRADecoder:
        """Calibrate on epochs ``X`` (n_trials, n_chans, n_times) volts with labels ``y`` (n_trials,)."""
        from calibration.job import CalibrationJob

        X = self._check_X(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must be one label per epoch: shape ({len(X)},), got {y.shape}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to calibrate; got {list(self.classes_)}")
        names = self._names(self.classes_)
        cue = dict(zip(self.classes_.tolist(), names))
        config = self._app_config()
        recordings = epochs_to_recordings(X, [cue[v] for v in y.tolist()], self.ch_names, self.sfreq, self.tmin,
                                          self.ch_types)
        # the epoch's end is the end of what is known of the imagery: training windows stay inside it
        job = CalibrationJob(recordings, config, base=self.base, preset={n: n for n in names}, classes=names,
                             imagery_s=float(self.tmin) + X.shape[2] / float(self.sfreq))
        self.outcome_ = job.run_to_end()
        self.decoder_model_ = self.outcome_.decoder_model
        model_classes = list(self.decoder_model_.classes)
        lost = [n for n in names if n not in model_classes]
        if lost:
            raise ValueError(f"the calibrated model decodes {model_classes}, not {lost}")
        #: column of the model's output for each of classes_
        self._columns_ = np.array([model_classes.index(n) for n in names])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_trials, n_classes) in ``classes_`` order, rows summing to 1, decided as
        online (module doc). Raises ValueError when an epoch is too short for any online decision."""
        from bci_app.online.decoder import Decoder
        from bci_app.online.scoring import Trial, trial_probabilities
        from bci_app.vocabulary import window_tmin

        check_is_fitted(self, "decoder_model_")
        X = self._check_X(X)
        config = self._app_config()
        model = self.decoder_model_
        dec = Decoder(model, float(self.sfreq), tuple(self.ch_names), config.online,
                      source_ch_types=None if self.ch_types is None else tuple(self.ch_types))
        n_times = X.shape[2]
        period = n_times / float(self.sfreq) + _EPOCH_GAP_S
        ts0 = np.arange(n_times) / float(self.sfreq)
        preds, trials = [], []
        for i in range(len(X)):
            start = i * period
            preds += dec.feed(X[i], start + ts0)
            trials.append(Trial(onset=start - float(self.tmin), end=start + ts0[-1], label=""))
        tmin_w = window_tmin(self.outcome_.data.meta)
        window_s = model.n_times / model.spec.sfreq
        probs, counts = trial_probabilities(preds, trials, len(model.classes), tmin=tmin_w, window_s=window_s,
                                            sfreq=model.spec.sfreq)
        if not counts.all():
            need = max(tmin_w + window_s, float(self.tmin) + window_s + config.online.settle_s)
            raise ValueError(
                f"{int((counts == 0).sum())} of {len(X)} epochs got no online decision: epochs from cue{self.tmin:+g} s "
                f"last {n_times / float(self.sfreq):g} s, and the decoder needs them to reach at least cue+{need:g} s "
                f"(window cue+{tmin_w:g} s to cue+{tmin_w + window_s:g} s after {window_s:g} s + "
                f"online.settle_s {config.online.settle_s:g} s of warm-up)")
        probs = probs[:, self._columns_]
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The label of the most probable class per epoch (n_trials,)."""
        proba = self.predict_proba(X)  # first: NotFittedError before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):  # noqa: D105 - sklearn's tag protocol
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags
