"""Ensembles of trees: ``random_forest`` (bagging), ``adaboost`` and ``gradient_boosting``
(boosting; scikit-learn's histogram-based gradient boosting, fast on large data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlengine.kinds.common import criterion_for_task
from mlengine.kinds.trees import Criterion, MaxFeatures
from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult

BOTH = frozenset({"classification", "regression"})


class RandomForestParams(StrictModel):
    n_estimators: int = Field(100, ge=1, le=10_000)
    criterion: Criterion | None = Field(None, description="As decision_tree's; null: default.")
    max_depth: int | None = Field(None, ge=1, le=1000)
    min_samples_split: int = Field(2, ge=2)
    min_samples_leaf: int = Field(1, ge=1)
    max_features: MaxFeatures = Field(
        "sqrt", description="Features tried per split: 'sqrt', 'log2', a fraction, or null (all)."
    )
    bootstrap: bool = True
    ccp_alpha: float = Field(0.0, ge=0)
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    n_jobs: int | None = Field(None, ge=-1, description="Parallel trees; null: 1, -1: all cores.")


class AdaBoostParams(StrictModel):
    n_estimators: int = Field(50, ge=1, le=10_000)
    learning_rate: float = Field(1.0, gt=0)
    max_depth: int | None = Field(
        None, ge=1, le=100, description="Depth of each tree; null: 1 (stumps) / 3 (regression)."
    )
    loss: Literal["linear", "square", "exponential"] = Field(
        "linear", description="Regression (AdaBoost.R2): the loss of each round."
    )


class GradientBoostingParams(StrictModel):
    n_estimators: int = Field(
        100, ge=1, le=10_000, description="Boosting rounds (max_iter of scikit-learn's model)."
    )
    learning_rate: float = Field(0.1, gt=0)
    max_depth: int | None = Field(None, ge=1, le=1000, description="null: limited by leaves.")
    max_leaf_nodes: int | None = Field(31, ge=2)
    min_samples_leaf: int = Field(20, ge=1)
    l2_regularization: float = Field(0.0, ge=0)
    max_bins: int = Field(255, ge=2, le=255)
    early_stopping: bool = Field(
        False, description="Stop when a seeded 10% of the training rows stops improving."
    )
    class_weight: Literal["balanced"] | None = None


def check_forest(check: DatasetCheck) -> None:
    criterion_for_task(check, check.params.criterion)


def train_random_forest(ctx: TrainContext) -> TrainResult:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, RandomForestParams)
    common = {
        "n_estimators": p.n_estimators,
        "max_depth": p.max_depth,
        "min_samples_split": p.min_samples_split,
        "min_samples_leaf": p.min_samples_leaf,
        "max_features": p.max_features,
        "bootstrap": p.bootstrap,
        "ccp_alpha": p.ccp_alpha,
        "n_jobs": p.n_jobs,
        "random_state": ctx.seed,
    }
    if ctx.data.task == "classification":
        est = RandomForestClassifier(
            criterion=p.criterion or "gini", class_weight=p.class_weight, **common
        )
        return fit_estimator(ctx, est)
    reg = RandomForestRegressor(criterion=p.criterion or "squared_error", **common)
    return fit_estimator(ctx, reg)


def train_adaboost(ctx: TrainContext) -> TrainResult:
    from sklearn.ensemble import AdaBoostClassifier, AdaBoostRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, AdaBoostParams)
    if ctx.data.task == "classification":
        est = AdaBoostClassifier(
            estimator=DecisionTreeClassifier(max_depth=p.max_depth or 1, random_state=ctx.seed),
            n_estimators=p.n_estimators,
            learning_rate=p.learning_rate,
            random_state=ctx.seed,
        )
        return fit_estimator(ctx, est)
    reg = AdaBoostRegressor(
        estimator=DecisionTreeRegressor(max_depth=p.max_depth or 3, random_state=ctx.seed),
        n_estimators=p.n_estimators,
        learning_rate=p.learning_rate,
        loss=p.loss,
        random_state=ctx.seed,
    )
    return fit_estimator(ctx, reg)


def train_gradient_boosting(ctx: TrainContext) -> TrainResult:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, GradientBoostingParams)
    common = {
        "max_iter": p.n_estimators,
        "learning_rate": p.learning_rate,
        "max_depth": p.max_depth,
        "max_leaf_nodes": p.max_leaf_nodes,
        "min_samples_leaf": p.min_samples_leaf,
        "l2_regularization": p.l2_regularization,
        "max_bins": p.max_bins,
        "early_stopping": p.early_stopping,
        "random_state": ctx.seed,
    }
    est: Any
    if ctx.data.task == "classification":
        est = HistGradientBoostingClassifier(class_weight=p.class_weight, **common)
    else:
        est = HistGradientBoostingRegressor(**common)
    return fit_estimator(ctx, est)


register(
    ModelKind(
        name="random_forest",
        tasks=BOTH,
        params=RandomForestParams,
        training=NoTraining,
        trainer="mlengine.kinds.ensembles:train_random_forest",
        description="Random forest: bagged decision trees with random feature subsets.",
        auto_scaling="none",
        check_dataset=check_forest,
    )
)
register(
    ModelKind(
        name="adaboost",
        tasks=BOTH,
        params=AdaBoostParams,
        training=NoTraining,
        trainer="mlengine.kinds.ensembles:train_adaboost",
        description="AdaBoost (SAMME; AdaBoost.R2 for regression) over shallow decision trees.",
        auto_scaling="none",
    )
)
register(
    ModelKind(
        name="gradient_boosting",
        tasks=BOTH,
        params=GradientBoostingParams,
        training=NoTraining,
        trainer="mlengine.kinds.ensembles:train_gradient_boosting",
        description="Gradient-boosted trees (histogram-based: fast on large data).",
        auto_scaling="none",
    )
)
