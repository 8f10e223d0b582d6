"""Training for scikit-learn estimators: fit once to convergence, evaluate, package."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mlengine.artifact import MODEL_SKOPS, PREPROCESS, base_meta, info_from_meta, write_artifact
from mlengine.context import TrainContext
from mlengine.errors import TrainingError, TrainingStopped
from mlengine.metrics import evaluate
from mlengine.safeio import skops_dumps
from mlengine.types import TrainResult


def class_probabilities(estimator: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_classes) probabilities over all classes, even those absent in training."""
    est_classes = np.asarray(estimator.classes_, dtype=np.int64)
    out = np.zeros((X.shape[0], n_classes), dtype=np.float64)
    if hasattr(estimator, "predict_proba"):
        out[:, est_classes] = estimator.predict_proba(X)
    else:
        out[np.arange(X.shape[0]), estimator.predict(X).astype(np.int64)] = 1.0
    return out


def model_outputs(estimator: Any, task: str, X: np.ndarray, n_classes: int) -> np.ndarray:
    if task == "classification":
        return class_probabilities(estimator, X, n_classes)
    return np.asarray(estimator.predict(X), dtype=np.float64).reshape(-1)


def fit_estimator(ctx: TrainContext, estimator: Any) -> TrainResult:
    from sklearn.exceptions import ConvergenceWarning

    cb = ctx.callbacks
    d = ctx.data
    if cb.should_stop():
        raise TrainingStopped("stopped before fitting")
    cb.on_progress(0, 1, "step")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            estimator.fit(d.X["train"], d.y["train"])
        except (ValueError, FloatingPointError) as exc:
            raise TrainingError("fit", f"{ctx.kind.name} could not be fitted: {exc}") from exc
    notes = sorted(
        {
            str(w.message).splitlines()[0]
            for w in caught
            if issubclass(w.category, ConvergenceWarning)
        }
    )

    outputs = {
        s: (d.y[s], model_outputs(estimator, d.task, d.X[s], d.n_classes)) for s in d.splits()
    }
    metrics = evaluate(d.task, outputs, d.n_classes)
    meta = base_meta(ctx, "sklearn")
    artifact = write_artifact(
        meta, {PREPROCESS: skops_dumps(d.preprocessor), MODEL_SKOPS: skops_dumps(estimator)}
    )
    cb.on_progress(1, 1, "step")
    cb.on_checkpoint(1, "final", artifact)
    extra: dict[str, Any] = {"split": d.split_info}
    if notes:
        extra["warnings"] = notes
    return TrainResult(metrics=metrics, artifact=artifact, info=info_from_meta(meta), extra=extra)
