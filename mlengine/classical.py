"""Training for scikit-learn estimators: fit once to convergence, evaluate, package.

Supervised kinds call :func:`fit_estimator` with an unfitted estimator. It runs, in order:
k-fold cross-validation when ``split.kfold`` is set (each fold refits the preprocessing on
its own training rows), the fit on the training split, the metrics of every split, the
learning curve when ``split.learning_curve`` asks for one, the bias/variance diagnosis,
and the artifact (the fitted preprocessing and estimator, with skops).

Clustering kinds call :func:`fit_clusterer`; decomposition kinds :func:`fit_decomposition`.
The fit primitives (one guarded fit, model outputs, progress) are in ``mlengine.fitting``,
beneath this module and ``mlengine.evaluation``; ``model_outputs`` stays importable here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mlengine import evaluation
from mlengine.artifact import MODEL_SKOPS, PREPROCESS, base_meta, info_from_meta, write_artifact
from mlengine.context import TrainContext
from mlengine.errors import TrainingError, TrainingStopped
from mlengine.fitting import Progress, fit_once, is_calibrated, model_outputs
from mlengine.metrics import clustering_metrics, confusion, evaluate, explained_variance
from mlengine.safeio import skops_dumps
from mlengine.types import TrainResult

__all__ = ["fit_clusterer", "fit_decomposition", "fit_estimator", "model_outputs"]


def _package(
    ctx: TrainContext,
    estimator: Any,
    metrics: dict[str, float],
    info_extra: dict[str, Any],
    extra: dict[str, Any],
    notes: set[str],
) -> TrainResult:
    d = ctx.data
    meta = base_meta(ctx, "sklearn")
    meta["extra"].update(info_extra)
    artifact = write_artifact(
        meta, {PREPROCESS: skops_dumps(d.preprocessor), MODEL_SKOPS: skops_dumps(estimator)}
    )
    ctx.callbacks.on_checkpoint(1, "final", artifact)
    extra = {"split": d.split_info, **extra}
    if notes:
        extra["warnings"] = sorted(notes)
    return TrainResult(metrics=metrics, artifact=artifact, info=info_from_meta(meta), extra=extra)


def fit_estimator(ctx: TrainContext, estimator: Any) -> TrainResult:
    """Fit a supervised scikit-learn estimator on the training split and evaluate it."""
    d = ctx.data
    split = ctx.spec.split
    if ctx.callbacks.should_stop():
        raise TrainingStopped("stopped before fitting")
    progress = Progress(ctx, (split.kfold or 0) + split.learning_curve + 1)
    notes: set[str] = set()
    metrics: dict[str, float] = {}
    if split.kfold:
        metrics.update(evaluation.cross_validate(ctx, estimator, progress, notes))

    progress.check()
    fit_once(ctx, estimator, d.X["train"], d.y["train"], notes)
    calibrated = is_calibrated(estimator)
    outputs = {
        s: (d.y[s], model_outputs(estimator, d.task, d.X[s], d.n_classes)) for s in d.splits()
    }
    metrics.update(evaluate(d.task, outputs, d.n_classes, d.n_features, calibrated))
    progress.step()

    if split.learning_curve:
        evaluation.learning_curve(ctx, estimator, progress, notes)

    info_extra: dict[str, Any] = {}
    extra: dict[str, Any] = {"diagnosis": evaluation.diagnose(ctx, metrics)}
    if d.task == "classification":
        assert d.classes is not None
        info_extra["confusion_matrix"] = {
            "labels": list(d.classes),
            "rows": "true class",
            "columns": "predicted class",
            **{s: confusion(y, out, d.n_classes) for s, (y, out) in outputs.items()},
        }
        if not calibrated:
            info_extra["probabilities"] = (
                "scores from the decision function (softmax), not calibrated probabilities"
            )
    return _package(ctx, estimator, metrics, info_extra, extra, notes)


def fit_clusterer(ctx: TrainContext, estimator: Any) -> TrainResult:
    """Fit a clustering estimator on the training features; score every split.

    An estimator without ``predict`` (agglomerative clustering) is replaced in the model by
    a nearest-centroid classifier on its training clusters: new rows join the cluster whose
    training mean is nearest (Euclidean).
    """
    from sklearn.neighbors import NearestCentroid

    d = ctx.data
    if ctx.callbacks.should_stop():
        raise TrainingStopped("stopped before fitting")
    progress = Progress(ctx, 1)
    notes: set[str] = set()
    X = d.X["train"]
    fit_once(ctx, estimator, X, None, notes)
    labels = np.asarray(estimator.labels_, dtype=np.int64)
    model = estimator
    info_extra: dict[str, Any] = {}
    if not hasattr(estimator, "predict"):
        if len(np.unique(labels)) < 2:
            raise TrainingError("fit", "clustering found a single cluster; ask for more clusters")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # zero spread within a cluster
            model = NearestCentroid().fit(X, labels)
        info_extra["predict"] = "nearest centroid of the training clusters"
    metrics: dict[str, float] = {}
    for s in d.splits():
        pred = labels if s == "train" else model_outputs(model, "clustering", d.X[s], 0)
        if s == "train" or len(pred) >= 3:
            metrics.update(clustering_metrics(s, d.X[s], pred, d.y[s], ctx.seed))
    sizes = np.bincount(labels)
    info_extra["cluster_sizes"] = [int(v) for v in sizes]
    progress.step()
    return _package(ctx, model, metrics, info_extra, {}, notes)


def fit_decomposition(ctx: TrainContext, estimator: Any) -> TrainResult:
    """Fit PCA-like estimators; explained variance per split, per-component ratios as points.

    ``<split>_explained_variance``: the share of that split's variance kept by the
    components (the cumulative ratio on the training split). Metric points
    ``explained_variance_ratio`` and ``cumulative_explained_variance`` at step k (component k).
    """
    d = ctx.data
    if ctx.callbacks.should_stop():
        raise TrainingStopped("stopped before fitting")
    progress = Progress(ctx, 1)
    notes: set[str] = set()
    fit_once(ctx, estimator, d.X["train"], None, notes)
    ratios = [float(r) for r in estimator.explained_variance_ratio_]
    cumulative = np.cumsum(ratios).tolist()
    for k, (r, c) in enumerate(zip(ratios, cumulative, strict=True), start=1):
        ctx.callbacks.on_metrics(
            k, {"explained_variance_ratio": r, "cumulative_explained_variance": c}
        )
    metrics: dict[str, float] = {
        "train_explained_variance": float(cumulative[-1]) if cumulative else 0.0,
        "n_components": float(len(ratios)),
    }
    for s in d.splits():
        if s != "train":
            back = estimator.inverse_transform(estimator.transform(d.X[s]))
            metrics.update(explained_variance(s, d.X[s], back))
    info_extra = {
        "n_components": len(ratios),
        "explained_variance_ratio": ratios,
        "cumulative_explained_variance": cumulative,
    }
    progress.step()
    return _package(ctx, estimator, metrics, info_extra, {}, notes)
