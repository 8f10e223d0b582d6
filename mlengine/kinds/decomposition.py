"""``pca``: principal component analysis; components by count or by variance kept.

Features only (a ``target``, if given, is not used). Prediction returns the projected
components of each row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from mlengine.errors import SpecError
from mlengine.kinds.common import train_rows
from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult


class PCAParams(StrictModel):
    n_components: int | float | None = Field(
        None,
        description="An integer: that many components; a fraction in (0, 1): as many as keep "
        "that share of the variance (e.g. 0.95); null: all.",
    )
    whiten: bool = Field(False, description="Scale the components to unit variance.")

    @field_validator("n_components")
    @classmethod
    def _n(cls, v: int | float | None) -> int | float | None:
        if isinstance(v, bool):
            raise ValueError("n_components is an integer, a fraction in (0, 1) or null")
        if isinstance(v, int) and v < 1:
            raise ValueError(f"n_components must be at least 1 (now {v})")
        if isinstance(v, float) and not 0.0 < v < 1.0:
            raise ValueError(
                f"a fraction of variance must be between 0 and 1, exclusive (now {v}); "
                "a number of components is an integer"
            )
        return v


def check_pca(check: DatasetCheck) -> None:
    n = check.params.n_components
    if not isinstance(n, int):
        return
    loc = ("model", "params", "n_components")
    if n > check.n_inputs:
        raise SpecError.at(
            loc,
            f"n_components={n} is larger than the number of features ({check.n_inputs} after "
            f"encoding); use at most {check.n_inputs}, or a fraction such as 0.95",
        )
    rows = train_rows(check)
    if n > rows:
        raise SpecError.at(
            loc,
            f"n_components={n} is larger than the training rows (about {rows}); "
            f"use at most {max(rows, 1)}",
        )


def train_pca(ctx: TrainContext) -> TrainResult:
    from sklearn.decomposition import PCA

    from mlengine.classical import fit_decomposition

    p = ctx.params
    assert isinstance(p, PCAParams)
    est = PCA(n_components=p.n_components, whiten=p.whiten, random_state=ctx.seed)
    return fit_decomposition(ctx, est)


register(
    ModelKind(
        name="pca",
        tasks=frozenset({"decomposition"}),
        params=PCAParams,
        training=NoTraining,
        trainer="mlengine.kinds.decomposition:train_pca",
        description="Principal component analysis; n_components a count or a variance share.",
        check_dataset=check_pca,
    )
)
