"""Final metrics, named ``<split>_<metric>``."""

from __future__ import annotations

import math

import numpy as np


def classification_metrics(
    prefix: str, y: np.ndarray, proba: np.ndarray, n_classes: int
) -> dict[str, float]:
    """``y``: class indices; ``proba``: (n, n_classes) probabilities."""
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
    p = np.clip(proba, 1e-15, 1.0)
    out["log_loss"] = log_loss(y, p / p.sum(axis=1, keepdims=True), labels=labels)
    if n_classes == 2 and len(np.unique(y)) == 2:
        out["roc_auc"] = roc_auc_score(y, proba[:, 1])
    return _named(prefix, out)


def regression_metrics(prefix: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    mse = mean_squared_error(y, pred)
    out = {"mse": mse, "rmse": math.sqrt(mse), "mae": mean_absolute_error(y, pred)}
    if len(y) >= 2:
        out["r2"] = r2_score(y, pred)
    return _named(prefix, out)


def _named(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": float(v) for k, v in values.items() if math.isfinite(float(v))}


def evaluate(
    task: str, outputs: dict[str, tuple[np.ndarray, np.ndarray]], n_classes: int
) -> dict[str, float]:
    """``outputs``: split -> (y, probabilities or predictions); empty splits are skipped."""
    metrics: dict[str, float] = {}
    for split, (y, out) in outputs.items():
        if len(y) == 0:
            continue
        if task == "classification":
            metrics.update(classification_metrics(split, y, out, n_classes))
        else:
            metrics.update(regression_metrics(split, y, out))
    return metrics
