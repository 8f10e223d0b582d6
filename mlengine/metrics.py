"""Final metrics, named ``<split>_<metric>``."""

from __future__ import annotations

import math

import numpy as np


def classification_metrics(
    prefix: str, y: np.ndarray, proba: np.ndarray, n_classes: int, calibrated: bool = True
) -> dict[str, float]:
    """``y``: class indices; ``proba``: (n, n_classes) probabilities.

    ``f1``, ``precision``, ``recall`` are macro averages; ``*_weighted`` weight classes by
    their support; ``*_binary`` (two classes) score the second class as the positive one.
    ``roc_auc``: binary, or one-vs-rest macro average with more classes (when every class
    occurs). ``log_loss`` only when ``calibrated`` (the outputs are probabilities).
    """
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    pred = proba.argmax(axis=1)
    labels = list(range(n_classes))
    out = {
        "accuracy": accuracy_score(y, pred),
        "f1": f1_score(y, pred, labels=labels, average="macro", zero_division=0),
        "precision": precision_score(y, pred, labels=labels, average="macro", zero_division=0),
        "recall": recall_score(y, pred, labels=labels, average="macro", zero_division=0),
    }
    for name, fn in (("f1", f1_score), ("precision", precision_score), ("recall", recall_score)):
        out[f"{name}_weighted"] = fn(y, pred, labels=labels, average="weighted", zero_division=0)
        if n_classes == 2:
            out[f"{name}_binary"] = fn(y, pred, pos_label=1, average="binary", zero_division=0)
    p = np.clip(proba, 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    if calibrated:
        out["log_loss"] = log_loss(y, p, labels=labels)
    present = len(np.unique(y))
    if n_classes == 2 and present == 2:
        out["roc_auc"] = roc_auc_score(y, proba[:, 1])
    elif n_classes > 2 and present == n_classes:
        out["roc_auc"] = roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)
    return _named(prefix, out)


def confusion(y: np.ndarray, proba: np.ndarray, n_classes: int) -> list[list[int]]:
    """Rows: true class; columns: predicted class (both in the order of the model's classes)."""
    from sklearn.metrics import confusion_matrix

    m = confusion_matrix(y, proba.argmax(axis=1), labels=list(range(n_classes)))
    return [[int(v) for v in row] for row in m]


def regression_metrics(
    prefix: str, y: np.ndarray, pred: np.ndarray, n_features: int | None = None
) -> dict[str, float]:
    """MSE, RMSE, MAE, MAPE (a fraction; rows whose target is 0 count with a tiny denominator,
    as in scikit-learn), R² and, given ``n_features`` p, adjusted R²:
    1 - (1 - R²)(n - 1) / (n - p - 1)."""
    from sklearn.metrics import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
        r2_score,
    )

    mse = mean_squared_error(y, pred)
    out = {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": mean_absolute_error(y, pred),
        "mape": mean_absolute_percentage_error(y, pred),
    }
    n = len(y)
    if n >= 2:
        r2 = r2_score(y, pred)
        out["r2"] = r2
        if n_features is not None and n - n_features - 1 > 0:
            out["adjusted_r2"] = 1.0 - (1.0 - r2) * (n - 1) / (n - n_features - 1)
    return _named(prefix, out)


def clustering_metrics(
    prefix: str,
    X: np.ndarray,
    labels: np.ndarray,
    y: np.ndarray | None = None,
    seed: int = 0,
    max_silhouette_rows: int = 2000,
) -> dict[str, float]:
    """Inertia (sum of squared distances to the cluster means), silhouette (on a seeded
    sample of at most ``max_silhouette_rows`` rows), ARI against ``y`` (entries -1 ignored)."""
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    out: dict[str, float] = {"n_clusters": float(len(np.unique(labels)))}
    inertia = 0.0
    for c in np.unique(labels):
        pts = X[labels == c]
        inertia += float(((pts - pts.mean(axis=0)) ** 2).sum())
    out["inertia"] = inertia
    if 2 <= len(np.unique(labels)) <= len(labels) - 1:
        out["silhouette"] = silhouette_score(
            X,
            labels,
            sample_size=min(len(labels), max_silhouette_rows),
            random_state=seed,
        )
    if y is not None and (y >= 0).any():
        known = y >= 0
        out["ari"] = adjusted_rand_score(y[known], labels[known])
    return _named(prefix, out)


def explained_variance(prefix: str, X: np.ndarray, X_back: np.ndarray) -> dict[str, float]:
    """Share of the variance of ``X`` that its reconstruction keeps: 1 - SSE / SST."""
    sst = float(((X - X.mean(axis=0)) ** 2).sum())
    if sst <= 0:
        return {}
    return _named(prefix, {"explained_variance": 1.0 - float(((X - X_back) ** 2).sum()) / sst})


def _named(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": float(v) for k, v in values.items() if math.isfinite(float(v))}


def evaluate(
    task: str,
    outputs: dict[str, tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    n_features: int | None = None,
    calibrated: bool = True,
) -> dict[str, float]:
    """``outputs``: split -> (y, probabilities or predictions); empty splits are skipped.

    ``n_features`` (regression) adds adjusted R²; ``calibrated=False`` (classifier scores
    that are not probabilities) leaves out the log loss.
    """
    metrics: dict[str, float] = {}
    for split, (y, out) in outputs.items():
        if len(y) == 0:
            continue
        if task == "classification":
            metrics.update(classification_metrics(split, y, out, n_classes, calibrated))
        else:
            metrics.update(regression_metrics(split, y, out, n_features))
    return metrics
