"""Clustering: ``kmeans`` (k-means++ with restarts) and ``agglomerative`` (hierarchical).

Features only: a ``target``, when given, scores the clusters (adjusted Rand index) and is
never a feature. Prediction returns cluster ids. Agglomerative clustering cannot place new
rows by itself: the model predicts the cluster whose training centroid is nearest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from mlengine.errors import SpecError
from mlengine.kinds.common import at_most_rows, train_rows
from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult

# Agglomerative clustering keeps a distance matrix of the training rows: O(n^2) memory.
MAX_AGGLOMERATIVE_ROWS = 30_000


class KMeansParams(StrictModel):
    n_clusters: int = Field(8, ge=1, le=10_000)
    init: Literal["k-means++", "random"] = "k-means++"
    n_init: int = Field(10, ge=1, le=1000, description="Restarts; the best (lowest inertia) wins.")
    max_iter: int = Field(300, ge=1, le=100_000)
    tol: float = Field(1e-4, ge=0)


class AgglomerativeParams(StrictModel):
    n_clusters: int = Field(2, ge=1, le=10_000)
    linkage: Literal["ward", "complete", "average", "single"] = "ward"
    metric: Literal["euclidean", "manhattan", "cosine"] = Field(
        "euclidean", description="Distance between rows; ward needs euclidean."
    )

    @model_validator(mode="after")
    def _ward(self) -> AgglomerativeParams:
        if self.linkage == "ward" and self.metric != "euclidean":
            raise ValueError(
                f"linkage 'ward' works with metric 'euclidean' only (now '{self.metric}'); "
                "use linkage complete, average or single"
            )
        return self


def check_kmeans(check: DatasetCheck) -> None:
    at_most_rows(check, "n_clusters", check.params.n_clusters, "asks for that many clusters")


def check_agglomerative(check: DatasetCheck) -> None:
    at_most_rows(check, "n_clusters", check.params.n_clusters, "asks for that many clusters")
    n = train_rows(check)
    if n > MAX_AGGLOMERATIVE_ROWS:
        raise SpecError.at(
            ("dataset_id",),
            f"agglomerative clustering keeps all pairwise distances: at most "
            f"{MAX_AGGLOMERATIVE_ROWS:,} training rows (this split has about {n:,}); "
            "use kmeans, a sample of the data, or a larger validation/test split",
        )


def train_kmeans(ctx: TrainContext) -> TrainResult:
    from sklearn.cluster import KMeans

    from mlengine.classical import fit_clusterer

    p = ctx.params
    assert isinstance(p, KMeansParams)
    est = KMeans(
        n_clusters=p.n_clusters,
        init=p.init,
        n_init=p.n_init,
        max_iter=p.max_iter,
        tol=p.tol,
        random_state=ctx.seed,
    )
    return fit_clusterer(ctx, est)


def train_agglomerative(ctx: TrainContext) -> TrainResult:
    from sklearn.cluster import AgglomerativeClustering

    from mlengine.classical import fit_clusterer

    p = ctx.params
    assert isinstance(p, AgglomerativeParams)
    est = AgglomerativeClustering(n_clusters=p.n_clusters, linkage=p.linkage, metric=p.metric)
    return fit_clusterer(ctx, est)


register(
    ModelKind(
        name="kmeans",
        tasks=frozenset({"clustering"}),
        params=KMeansParams,
        training=NoTraining,
        trainer="mlengine.kinds.clustering:train_kmeans",
        description="k-means (k-means++ initialisation, n_init restarts keeping the best).",
        check_dataset=check_kmeans,
    )
)
register(
    ModelKind(
        name="agglomerative",
        tasks=frozenset({"clustering"}),
        params=AgglomerativeParams,
        training=NoTraining,
        trainer="mlengine.kinds.clustering:train_agglomerative",
        description="Agglomerative (hierarchical) clustering: ward, complete, average or "
        "single linkage; new rows go to the nearest training centroid.",
        check_dataset=check_agglomerative,
    )
)
