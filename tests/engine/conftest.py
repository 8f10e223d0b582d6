"""Datasets for the engine tests: scikit-learn's bundled data and a generated mixed table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest


@pytest.fixture(scope="session")
def breast_cancer() -> pa.Table:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return pa.Table.from_pandas(frame, preserve_index=False)


@pytest.fixture(scope="session")
def diabetes() -> pa.Table:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    return pa.Table.from_pandas(frame, preserve_index=False)


def make_mixed(n: int = 400, seed: int = 0) -> pa.Table:
    """Strings, ints, floats and bools, each with nulls; a string label that depends on them."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = rng.normal(50_000, 15_000, n)
    city = rng.choice(["paris", "lyon", "nice"], n)
    member = rng.random(n) < 0.5
    score = (age - 45) / 15 + (income - 50_000) / 15_000 + np.where(city == "nice", 1.5, 0.0)
    score += np.where(member, 1.0, -1.0) + rng.normal(0, 0.3, n)
    label = np.where(score > 0, "yes", "no")

    def with_nulls(values: list, p: float = 0.1) -> list:
        mask = rng.random(n) < p
        return [None if m else v for v, m in zip(values, mask, strict=True)]

    return pa.table(
        {
            "age": pa.array(with_nulls(age.tolist()), pa.int64()),
            "income": pa.array(with_nulls(income.tolist()), pa.float64()),
            "city": pa.array(with_nulls(city.tolist()), pa.string()),
            "member": pa.array(with_nulls(member.tolist()), pa.bool_()),
            "label": pa.array(with_nulls(label.tolist(), 0.02), pa.string()),
        }
    )


@pytest.fixture(scope="session")
def mixed() -> pa.Table:
    return make_mixed()
