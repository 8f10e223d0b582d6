"""Fit primitives shared by ``mlengine.classical`` and ``mlengine.evaluation``.

One guarded ``estimator.fit`` (errors a user can act on become ``TrainingError``, convergence
warnings are collected), the model's outputs per task, and the fit counter behind
``on_progress``. Nothing here imports scikit-learn at module level.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from mlengine.errors import TrainingError, TrainingStopped

if TYPE_CHECKING:
    from mlengine.context import TrainContext


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def is_calibrated(estimator: Any) -> bool:
    """Whether the estimator gives probabilities (else scores from its decision function)."""
    return hasattr(estimator, "predict_proba")


def class_probabilities(estimator: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_classes) probabilities over all classes, even those absent in training.

    An estimator without ``predict_proba`` (e.g. ``svm`` without ``probability``) gives a
    softmax of its decision function: its argmax is the prediction and its ranking serves
    ROC AUC, but it is not calibrated.
    """
    est_classes = np.asarray(estimator.classes_, dtype=np.int64)
    out = np.zeros((X.shape[0], n_classes), dtype=np.float64)
    if hasattr(estimator, "predict_proba"):
        out[:, est_classes] = estimator.predict_proba(X)
    elif hasattr(estimator, "decision_function") and len(est_classes) >= 2:
        d = np.asarray(estimator.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            d = np.stack([-d, d], axis=1)
        out[:, est_classes] = _softmax(d)
    else:
        out[np.arange(X.shape[0]), estimator.predict(X).astype(np.int64)] = 1.0
    return out


def model_outputs(estimator: Any, task: str, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Classification: (n, n_classes) probabilities; regression: values (n,);
    clustering: cluster ids (n,); decomposition: the projected components (n, k)."""
    if task == "classification":
        return class_probabilities(estimator, X, n_classes)
    if task == "clustering":
        return np.asarray(estimator.predict(X), dtype=np.int64).reshape(-1)
    if task == "decomposition":
        return np.asarray(estimator.transform(X), dtype=np.float64)
    return np.asarray(estimator.predict(X), dtype=np.float64).reshape(-1)


@contextmanager
def collecting_warnings(notes: set[str]) -> Iterator[None]:
    """Collect the first line of scikit-learn's convergence (and similar) warnings."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    notes.update(
        str(w.message).splitlines()[0] for w in caught if issubclass(w.category, ConvergenceWarning)
    )


def fit_once(ctx: TrainContext, estimator: Any, X: np.ndarray, y: Any, notes: set[str]) -> None:
    """``estimator.fit`` with the errors a user can act on turned into ``TrainingError``."""
    with collecting_warnings(notes):
        try:
            if y is None:
                estimator.fit(X)
            else:
                estimator.fit(X, y)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            raise TrainingError("fit", f"{ctx.kind.name} could not be fitted: {exc}") from exc


class Progress:
    """Counts fits (folds, learning-curve points, the final fit) for ``on_progress``."""

    def __init__(self, ctx: TrainContext, total: int):
        self.ctx = ctx
        self.total = max(total, 1)
        self.done = 0
        ctx.callbacks.on_progress(0, self.total, "step")

    def check(self) -> None:
        if self.ctx.callbacks.should_stop():
            raise TrainingStopped(f"stopped after {self.done} of {self.total} fits")

    def step(self) -> None:
        self.done = min(self.done + 1, self.total)
        self.ctx.callbacks.on_progress(self.done, self.total, "step")
