"""Classical baselines on the same preprocessed calibration trials (sklearn contract).

- :class:`TangentSpaceLR`: pyRiemann covariances (OAS shrinkage) → tangent space at the Riemannian
  mean → logistic regression.
- :class:`CSPLDA`: CSP (log-variance of ``n_components`` filters) → LDA with shrinkage.
- :class:`CrossSubjectTSLR`: the cross-subject Riemannian baseline: covariances of other people,
  each person's re-centred at their own Riemannian mean (Zanini et al. 2018), tangent space at the
  identity, logistic regression; a new person is re-centred on their own (unlabeled) calibration
  trials.

Both take X (n_trials, n_chans, n_times) band-passed windows (the fine-tuning input), ``fit``
returns ``self``, learned state ends in ``_``, ``predict_proba`` rows sum to 1.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["TangentSpaceLR", "CSPLDA", "CrossSubjectTSLR", "BASELINES"]


class _CovariancePipeline(BaseEstimator, ClassifierMixin):
    """Shared sklearn contract: ``fit`` builds :meth:`_pipeline` on float64 trials, predictions follow it."""

    def _pipeline(self):
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray):
        self.pipeline_ = self._pipeline()
        self.pipeline_.fit(np.asarray(X, dtype=np.float64), np.asarray(y))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.pipeline_.predict_proba(np.asarray(X, dtype=np.float64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TangentSpaceLR(_CovariancePipeline):
    """Covariances → tangent space → logistic regression (``C``: inverse regularisation)."""

    def __init__(self, estimator: str = "oas", C: float = 1.0) -> None:
        self.estimator = estimator
        self.C = C

    def _pipeline(self):
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            Covariances(estimator=self.estimator), TangentSpace(metric="riemann"),
            LogisticRegression(C=self.C, max_iter=1000),
        )


class CSPLDA(_CovariancePipeline):
    """pyRiemann CSP (log-variance of ``n_components`` spatial filters) → shrinkage LDA."""

    def __init__(self, n_components: int = 4, estimator: str = "oas") -> None:
        self.n_components = n_components
        self.estimator = estimator

    def _pipeline(self):
        from pyriemann.estimation import Covariances
        from pyriemann.spatialfilters import CSP
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            Covariances(estimator=self.estimator), CSP(nfilter=self.n_components, log=True),
            LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        )


class CrossSubjectTSLR:
    """Trained on other people, re-centred per person (module doc). ``fit(groups)`` takes a list of
    ``(X (n, n_chans, n_times), y (n,))``, one per person; ``predict_proba(X, reference=X_ref)``
    re-centres ``X`` at the Riemannian mean of ``X_ref`` (the new person's calibration trials)."""

    def __init__(self, estimator: str = "oas", C: float = 1.0) -> None:
        self.estimator = estimator
        self.C = C

    def _recentred(self, X: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        from pyriemann.estimation import Covariances
        from pyriemann.utils.base import invsqrtm
        from pyriemann.utils.mean import mean_riemann

        est = Covariances(estimator=self.estimator)
        covs = est.fit_transform(np.asarray(X, dtype=np.float64))
        ref = covs if reference is None else est.fit_transform(np.asarray(reference, dtype=np.float64))
        w = invsqrtm(mean_riemann(ref))
        return w @ covs @ w

    def fit(self, groups: list[tuple[np.ndarray, np.ndarray]]) -> CrossSubjectTSLR:
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression

        covs = np.concatenate([self._recentred(X) for X, _ in groups])
        y = np.concatenate([np.asarray(y) for _, y in groups])
        n = covs.shape[1]
        self.tangent_ = TangentSpace(metric="riemann").fit(np.eye(n)[None].repeat(2, axis=0))
        self.lr_ = LogisticRegression(C=self.C, max_iter=2000).fit(self.tangent_.transform(covs), y)
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, X: np.ndarray, *, reference: np.ndarray) -> np.ndarray:
        return self.lr_.predict_proba(self.tangent_.transform(self._recentred(X, reference)))


BASELINES = {"ts_lr": TangentSpaceLR, "csp_lda": CSPLDA}
