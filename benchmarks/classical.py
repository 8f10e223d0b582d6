"""Classical kinds: the service's engine against a direct scikit-learn call, side by side.

For each kind, on the same generated data and the same train split:

- ``direct``: what a user would write by hand: scale (for the scale-sensitive kinds), fit
  the same estimator with the same parameters, predict the test rows;
- ``service``: ``mlengine.train`` on the Arrow table (what a worker runs): select, split,
  preprocess, fit, predict and score every split, diagnose, serialize the artifact.

It prints both times, the overhead (service - direct) and their ratio. Run it with
``python -m benchmarks.classical`` (``--rows N`` to change the size). Not a test: nothing
is asserted; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn import (
    cluster,
    decomposition,
    ensemble,
    linear_model,
    naive_bayes,
    neighbors,
    svm,
    tree,
)
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from mlengine import train

# (kind, task, params, direct estimator factory, scaled, max rows)
CASES: list[tuple[str, str, dict[str, Any], Callable[[], Any], bool, int | None]] = [
    ("linear_regression", "regression", {}, linear_model.LinearRegression, True, None),
    (
        "linear_regression",
        "regression",
        {"solver": "gd"},
        lambda: linear_model.SGDRegressor(penalty=None, tol=1e-4, random_state=0),
        True,
        None,
    ),
    (
        "logistic_regression",
        "classification",
        {},
        lambda: linear_model.LogisticRegression(max_iter=1000, random_state=0),
        True,
        None,
    ),
    ("knn", "classification", {}, neighbors.KNeighborsClassifier, True, None),
    ("naive_bayes", "classification", {}, naive_bayes.GaussianNB, True, None),
    ("svm", "classification", {}, lambda: svm.SVC(random_state=0), True, 5000),
    (
        "decision_tree",
        "classification",
        {},
        lambda: tree.DecisionTreeClassifier(random_state=0),
        False,
        None,
    ),
    (
        "random_forest",
        "classification",
        {},
        lambda: ensemble.RandomForestClassifier(random_state=0),
        False,
        None,
    ),
    (
        "adaboost",
        "classification",
        {},
        lambda: ensemble.AdaBoostClassifier(
            tree.DecisionTreeClassifier(max_depth=1, random_state=0), random_state=0
        ),
        False,
        None,
    ),
    (
        "gradient_boosting",
        "classification",
        {},
        lambda: ensemble.HistGradientBoostingClassifier(early_stopping=False, random_state=0),
        False,
        None,
    ),
    (
        "kmeans",
        "clustering",
        {"n_clusters": 3},
        lambda: cluster.KMeans(3, n_init=10, random_state=0),
        True,
        None,
    ),
    (
        "agglomerative",
        "clustering",
        {"n_clusters": 3},
        lambda: cluster.AgglomerativeClustering(3),
        True,
        5000,
    ),
    ("pca", "decomposition", {"n_components": 5}, lambda: decomposition.PCA(5), True, None),
]


def _data(task: str, n: int, d: int = 20) -> tuple[np.ndarray, np.ndarray]:
    if task == "regression":
        X, y = make_regression(n, d, n_informative=10, noise=10.0, random_state=0)
    else:
        X, y = make_classification(
            n, d, n_informative=8, n_classes=3, n_clusters_per_class=1, random_state=0
        )
    return X, y


def _direct(
    factory: Callable[[], Any], task: str, scaled: bool, X: np.ndarray, y: np.ndarray
) -> float:
    # the same 60/20/20 split the service makes (stratified for classification)
    strat = y if task == "classification" else None
    rest, test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=strat)
    tr, _ = train_test_split(
        rest, test_size=0.25, random_state=0, stratify=None if strat is None else strat[rest]
    )
    start = time.perf_counter()
    X_tr, X_te = X[tr], X[test]
    if scaled:
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    est = factory()
    if task in ("classification", "regression"):
        est.fit(X_tr, y[tr])
        est.predict(X_te)
    elif task == "clustering":
        est.fit(X_tr)
    else:
        est.fit(X_tr)
        est.transform(X_te)
    return time.perf_counter() - start


def _service(kind: str, task: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray) -> float:
    cols = {f"x{i}": X[:, i] for i in range(X.shape[1])}
    if task in ("classification", "regression"):
        cols["y"] = y
    table = pa.table(cols)
    spec: dict[str, Any] = {"model": {"type": kind, "params": params}, "seed": 0}
    if task in ("classification", "regression"):
        spec.update(target="y", task=task)
    start = time.perf_counter()
    train(spec, table)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; rows={args.rows}")
    # warm imports (sklearn, skops, pandas) so that the first row does not pay them
    _service("linear_regression", "regression", {}, *_data("regression", 200))
    print(
        f"{'kind':<20} {'params':<18} {'rows':>6} {'direct s':>9} {'service s':>10} "
        f"{'overhead s':>11} {'ratio':>6}"
    )
    for kind, task, params, factory, scaled, cap in CASES:
        n = min(args.rows, cap) if cap else args.rows
        X, y = _data("regression" if task == "regression" else "classification", n)
        direct = min(_direct(factory, task, scaled, X, y) for _ in range(args.repeats))
        service = min(_service(kind, task, params, X, y) for _ in range(args.repeats))
        label = ",".join(f"{k}={v}" for k, v in params.items()) or "-"
        print(
            f"{kind:<20} {label:<18} {n:>6} {direct:>9.3f} {service:>10.3f} "
            f"{service - direct:>11.3f} {service / direct:>6.2f}"
        )


if __name__ == "__main__":
    main()
