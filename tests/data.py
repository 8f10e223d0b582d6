"""Datasets the tests upload, made from scikit-learn's bundled data or generated."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes


def breast_cancer_csv() -> bytes:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    return frame.to_csv(index=False).encode()


def diabetes_csv() -> bytes:
    return load_diabetes(as_frame=True).frame.to_csv(index=False).encode()


def mixed_csv(n: int = 300, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    income = rng.normal(50, 15, n)
    city = rng.choice(["paris", "lyon", "nice"], n)
    member = rng.random(n) < 0.5
    score = 0.05 * age + 0.1 * income + (city == "paris") * 2 + member * 1.5
    label = np.where(score > np.median(score), "yes", "no")
    frame = pd.DataFrame(
        {"age": age, "income": income, "city": city, "member": member, "label": label}
    )
    frame.loc[rng.choice(n, 15, replace=False), "income"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "city"] = None
    return frame.to_csv(index=False).encode()


def big_regression_csv(n: int = 20000, d: int = 20, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + rng.normal(scale=0.1, size=n)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(d)])
    frame["y"] = y
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()
