"""``knn``: k-nearest neighbours; majority vote (classification) or mean (regression)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlengine.kinds.common import at_most_rows
from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult


class KNNParams(StrictModel):
    n_neighbors: int = Field(5, ge=1, le=10_000)
    weights: Literal["uniform", "distance"] = Field(
        "uniform", description="uniform: plain vote / mean; distance: closer neighbours count more."
    )
    metric: Literal["euclidean", "manhattan", "chebyshev", "minkowski", "cosine"] = "euclidean"
    p: float = Field(2.0, ge=1.0, description="Power of the 'minkowski' metric.")


def check_knn(check: DatasetCheck) -> None:
    p = check.params
    assert isinstance(p, KNNParams)
    at_most_rows(check, "n_neighbors", p.n_neighbors, "asks for that many neighbours")


def train_knn(ctx: TrainContext) -> TrainResult:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, KNNParams)
    kw: dict[str, Any] = {"n_neighbors": p.n_neighbors, "weights": p.weights, "metric": p.metric}
    if p.metric == "minkowski":
        kw["p"] = p.p
    if p.metric == "cosine":
        kw["algorithm"] = "brute"
    cls = KNeighborsClassifier if ctx.data.task == "classification" else KNeighborsRegressor
    return fit_estimator(ctx, cls(**kw))


register(
    ModelKind(
        name="knn",
        tasks=frozenset({"classification", "regression"}),
        params=KNNParams,
        training=NoTraining,
        trainer="mlengine.kinds.neighbors:train_knn",
        description="k-nearest neighbours: majority vote (classification) or mean (regression).",
        check_dataset=check_knn,
    )
)
