"""Linear models (scikit-learn): ``linear_regression`` and ``logistic_regression``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import TrainContext
    from mlengine.types import TrainResult


class LinearRegressionParams(StrictModel):
    penalty: Literal["none", "l2", "l1", "elasticnet"] = "none"
    alpha: float = Field(1.0, gt=0, description="Regularization strength (not used for 'none').")
    l1_ratio: float = Field(0.5, ge=0, le=1, description="L1 share for 'elasticnet'.")
    fit_intercept: bool = True


class LogisticRegressionParams(StrictModel):
    penalty: Literal["l2", "l1", "none"] = "l2"
    C: float = Field(1.0, gt=0, description="Inverse regularization strength.")
    max_iter: int = Field(1000, ge=1, le=1_000_000)
    class_weight: Literal["balanced"] | None = None


def train_linear_regression(ctx: TrainContext) -> TrainResult:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, LinearRegressionParams)
    est: Any
    if p.penalty == "none":
        est = LinearRegression(fit_intercept=p.fit_intercept)
    elif p.penalty == "l2":
        est = Ridge(alpha=p.alpha, fit_intercept=p.fit_intercept)
    elif p.penalty == "l1":
        est = Lasso(alpha=p.alpha, fit_intercept=p.fit_intercept, random_state=ctx.seed)
    else:
        est = ElasticNet(
            alpha=p.alpha, l1_ratio=p.l1_ratio, fit_intercept=p.fit_intercept, random_state=ctx.seed
        )
    return fit_estimator(ctx, est)


def train_logistic_regression(ctx: TrainContext) -> TrainResult:
    import math

    from sklearn.linear_model import LogisticRegression

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, LogisticRegressionParams)
    # scikit-learn >= 1.8 spells the penalty with l1_ratio and C (penalty= is deprecated).
    est = LogisticRegression(
        C=math.inf if p.penalty == "none" else p.C,
        l1_ratio=1.0 if p.penalty == "l1" else 0.0,
        solver="saga" if p.penalty == "l1" else "lbfgs",
        max_iter=p.max_iter,
        class_weight=p.class_weight,
        random_state=ctx.seed,
    )
    return fit_estimator(ctx, est)


register(
    ModelKind(
        name="linear_regression",
        tasks=frozenset({"regression"}),
        params=LinearRegressionParams,
        training=NoTraining,
        trainer="mlengine.kinds.linear:train_linear_regression",
        description="Least squares; optionally l2 (ridge), l1 (lasso) or elastic-net penalty.",
    )
)
register(
    ModelKind(
        name="logistic_regression",
        tasks=frozenset({"classification"}),
        params=LogisticRegressionParams,
        training=NoTraining,
        trainer="mlengine.kinds.linear:train_logistic_regression",
        description="Multinomial logistic regression (lbfgs; saga for l1).",
    )
)
