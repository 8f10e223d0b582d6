"""``decision_tree``: CART trees; pre-pruning (max_depth, min_samples_*) and
cost-complexity post-pruning (``ccp_alpha``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from mlengine.kinds.common import criterion_for_task
from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult

Criterion = Literal[
    "gini", "entropy", "log_loss", "squared_error", "friedman_mse", "absolute_error", "poisson"
]
MaxFeatures = Literal["sqrt", "log2"] | Annotated[float, Field(gt=0, le=1)] | None


class DecisionTreeParams(StrictModel):
    criterion: Criterion | None = Field(
        None,
        description="Split quality: gini, entropy or log_loss (classification); "
        "squared_error, friedman_mse, absolute_error or poisson (regression). "
        "null: gini / squared_error.",
    )
    max_depth: int | None = Field(None, ge=1, le=1000, description="Pre-pruning; null: none.")
    min_samples_split: int = Field(2, ge=2)
    min_samples_leaf: int = Field(1, ge=1)
    max_features: MaxFeatures = Field(
        None, description="Features tried per split: 'sqrt', 'log2', a fraction, or null (all)."
    )
    ccp_alpha: float = Field(
        0.0, ge=0, description="Cost-complexity post-pruning strength; 0: no pruning."
    )
    class_weight: Literal["balanced"] | None = None


def check_tree(check: DatasetCheck) -> None:
    criterion_for_task(check, check.params.criterion)


def train_decision_tree(ctx: TrainContext) -> TrainResult:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, DecisionTreeParams)
    common = {
        "max_depth": p.max_depth,
        "min_samples_split": p.min_samples_split,
        "min_samples_leaf": p.min_samples_leaf,
        "max_features": p.max_features,
        "ccp_alpha": p.ccp_alpha,
        "random_state": ctx.seed,
    }
    if ctx.data.task == "classification":
        est = DecisionTreeClassifier(
            criterion=p.criterion or "gini", class_weight=p.class_weight, **common
        )
        return fit_estimator(ctx, est)
    return fit_estimator(
        ctx, DecisionTreeRegressor(criterion=p.criterion or "squared_error", **common)
    )


register(
    ModelKind(
        name="decision_tree",
        tasks=frozenset({"classification", "regression"}),
        params=DecisionTreeParams,
        training=NoTraining,
        trainer="mlengine.kinds.trees:train_decision_tree",
        description="Decision tree (CART) with pre-pruning and cost-complexity post-pruning.",
        auto_scaling="none",
        check_dataset=check_tree,
    )
)
