"""Small helpers shared by the classical kinds' declarations (cheap to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlengine.errors import SpecError

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck


def train_rows(check: DatasetCheck) -> int:
    """About how many rows the training split will have (missing targets not counted)."""
    n = check.profile.n_rows
    spec = check.spec
    if spec.target and spec.task in ("classification", "regression"):
        col = check.profile.column(spec.target)
        n -= col.n_missing if col is not None else 0
    if spec.split.kfold:
        # each fold trains on (k - 1) / k of the rows outside the test split
        return int(n * (1.0 - spec.split.test) * (spec.split.kfold - 1) / spec.split.kfold)
    return int(n * (1.0 - spec.split.validation - spec.split.test))


def at_most_rows(check: DatasetCheck, name: str, value: int, what: str) -> None:
    """422 when ``value`` (e.g. n_neighbors) exceeds the training rows."""
    n = train_rows(check)
    if value > n:
        raise SpecError.at(
            ("model", "params", name),
            f"{name}={value} {what}, but the training split has only about {n} rows; "
            f"use {name} <= {max(n, 1)} or more data",
        )


def criterion_for_task(check: DatasetCheck, criterion: str | None) -> None:
    """Trees: a classification criterion on a regression task (or the reverse) is a 422."""
    classification = {"gini", "entropy", "log_loss"}
    if criterion is None:
        return
    task = check.spec.task
    if (task == "classification") != (criterion in classification):
        able = (
            "gini, entropy, log_loss"
            if task == "classification"
            else "squared_error, friedman_mse, absolute_error, poisson"
        )
        raise SpecError.at(
            ("model", "params", "criterion"),
            f"criterion '{criterion}' does not fit task {task}; use one of: {able}",
        )
