"""LoRADecoder: the calibration job as a scikit-learn classifier, on real EEGMMIDB epochs."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.utils.estimator_checks as sk_checks
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from bci_app.config import AppConfig
from bci_app.io.recording import read_recording
from bci_app.models.pretrained import fold_base_for
from calibration.epochs import extract_epochs
from calibration.estimator import LoRADecoder, epochs_to_recordings
from calibration.job import CalibrationJob

#: sklearn's checks that hold for an estimator of 3-D epochs (they need no data, or none that is 2-D)
APPLICABLE_CHECKS = (
    "check_estimator_cloneable", "check_estimator_repr", "check_no_attributes_set_in_init",
    "check_get_params_invariance", "check_set_params", "check_parameters_default_constructible",
    "check_do_not_raise_errors_in_init_or_set_params", "check_estimators_unfitted", "check_mixin_order",
    "check_valid_tag_types", "check_estimator_tags_renamed",
)
# Every other check of check_estimator fits on tabular 2-D data (n_samples, n_features) from
# make_blobs and the like: an EEG decoder needs epochs (n_trials, n_chans, n_times) of named channels
# at a known rate, so they cannot apply (the tags say three_d_array, and check_estimator then skips
# them). What they verify on 2-D data is checked on real epochs below: fit returns self and leaves the
# parameters alone, classes_, probabilities summing to 1, predict = argmax, clone, determinism, errors.


def _config() -> AppConfig:
    cfg = AppConfig()
    return cfg.model_copy(update={"finetune": cfg.finetune.model_copy(
        update={"max_epochs": 8, "patience": 8, "gate_folds": 3, "gate_repeats": 1})})


@pytest.fixture(scope="module")
def s001(eegmmidb_dir):
    """S001's imagery runs 4/8/12 as epochs from 1 s before the cue to 4 s after (volts), labels."""
    xs, ys = [], []
    for run in (4, 8, 12):
        rec = read_recording(eegmmidb_dir / "S001" / f"S001R{run:02d}.edf")
        ep = extract_epochs(rec, "eegmmidb", -1.0, 4.0)
        xs.append(ep.data)
        ys += [ep.classes[i] for i in ep.labels]
    return np.concatenate(xs), np.array(ys), list(rec.ch_names), rec.sfreq


def _decoder(s001, **kw) -> LoRADecoder:
    _, _, ch_names, sfreq = s001
    return LoRADecoder(ch_names, sfreq, tmin=-1.0, config=_config(), base=fold_base_for("S001", "sensorimotor16"), **kw)


@pytest.mark.parametrize("check", APPLICABLE_CHECKS)
def test_sklearn_checks_that_apply(check):
    getattr(sk_checks, check)("LoRADecoder", LoRADecoder())


def test_check_estimator_skips_only_for_the_3d_input():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sk_checks.check_estimator(LoRADecoder(), on_fail=None, on_skip=None)
    assert {r["status"] for r in results} <= {"passed", "skipped"}
    assert all("three_d_array=True" in str(r["exception"]) for r in results if r["status"] == "skipped")


def test_fit_is_the_calibration_job_and_predict_proba_follows_the_contract(s001):
    X, y, ch_names, sfreq = s001
    est = _decoder(s001)
    params = est.get_params()
    with pytest.raises(NotFittedError):
        est.predict_proba(X[:2])
    assert est.fit(X[:30], y[:30]) is est
    assert est.get_params() == params  # fit leaves the parameters alone
    assert list(est.classes_) == ["left_hand", "right_hand"]
    proba = est.predict_proba(X[30:])
    assert proba.shape == (15, 2) and np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    assert (est.predict(X[30:]) == est.classes_[proba.argmax(1)]).all()
    # the same job on the same epochs as recordings: same trials, same gate figures (nothing copied)
    recs = epochs_to_recordings(X[:30], y[:30], ch_names, sfreq, -1.0)
    direct = CalibrationJob(recs, _config(), base=fold_base_for("S001", "sensorimotor16"),
                            preset={"left_hand": "left_hand", "right_hand": "right_hand"},
                            classes=["left_hand", "right_hand"], imagery_s=4.0).run_to_end()
    assert np.array_equal(direct.data.X, est.outcome_.data.X)
    assert direct.gate.as_dict() | {"seconds": 0} == est.outcome_.gate.as_dict() | {"seconds": 0}
    # clone + fit reproduces the decisions (seeded)
    assert np.allclose(clone(est).fit(X[:30], y[:30]).predict_proba(X[30:]), proba, atol=1e-6)


def test_cross_val_score_and_pipeline(s001):
    X, y, _, _ = s001
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(_decoder(s001), X, y, cv=folds)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    assert scores.mean() > 0.5  # S001 is decodable (the fold base alone is ~0.7 on these trials)
    # a pipeline: epochs stored in microvolts, converted to volts before the decoder
    pipe = make_pipeline(FunctionTransformer(lambda v: v * 1e-6), _decoder(s001))
    piped = cross_val_score(pipe, X * 1e6, y, cv=folds)
    assert np.allclose(piped, scores)


def test_bad_input_is_named(s001):
    X, y, _, _ = s001
    with pytest.raises(ValueError, match="epochs \\(n_trials, n_chans, n_times\\)"):
        _decoder(s001).fit(X[:, :, 0], y)
    with pytest.raises(ValueError, match="not class names"):
        _decoder(s001).fit(X, (y == "left_hand").astype(int))
    with pytest.raises(ValueError, match="channels but ch_names"):
        _decoder(s001).fit(X[:, :10], y)
    est = _decoder(s001, class_names={0: "right_hand", 1: "left_hand"}).fit(X[:30], (y[:30] == "left_hand").astype(int))
    assert list(est.classes_) == [0, 1]
    with pytest.raises(ValueError, match="no online decision"):
        est.predict(X[30:, :, :400])  # cue-1 s to cue+1.5 s: no window ends inside it
