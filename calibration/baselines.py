"""Classical baselines on the same preprocessed calibration trials (sklearn contract).

- :class:`TangentSpaceLR`: pyRiemann covariances (OAS shrinkage) → tangent space at the Riemannian
  mean → logistic regression.
- :class:`CSPLDA`: CSP (log-variance of ``n_components`` filters) → LDA with shrinkage.

Both take X (n_trials, n_chans, n_times) band-passed windows (the fine-tuning input), ``fit``
returns ``self``, learned state ends in ``_``, ``predict_proba`` rows sum to 1.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["TangentSpaceLR", "CSPLDA", "BASELINES"]


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


BASELINES = {"ts_lr": TangentSpaceLR, "csp_lda": CSPLDA}
