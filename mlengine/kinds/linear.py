"""Linear models (scikit-learn): ``linear_regression`` and ``logistic_regression``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import TrainContext
    from mlengine.types import TrainResult


class LinearRegressionParams(StrictModel):
    penalty: Literal["none", "l2", "l1", "elasticnet"] = "none"
    alpha: float = Field(1.0, gt=0, description="Regularization strength (not used for 'none').")
    l1_ratio: float = Field(0.5, ge=0, le=1, description="L1 share for 'elasticnet'.")
    fit_intercept: bool = True
    solver: Literal["normal_equation", "gd", "coordinate_descent"] | None = Field(
        None,
        description="normal_equation: closed-form least squares (penalty none or l2); "
        "gd: stochastic gradient descent (SGDRegressor, any penalty); coordinate_descent: "
        "l1 / elasticnet (no closed form). null: normal_equation for none/l2, "
        "coordinate_descent for l1/elasticnet.",
    )
    max_iter: int = Field(1000, ge=1, le=1_000_000, description="Epochs of gd.")
    eta0: float = Field(0.01, gt=0, description="Initial learning rate of gd.")
    tol: float = Field(1e-4, ge=0, description="Stopping tolerance of gd / coordinate_descent.")

    @model_validator(mode="after")
    def _solver(self) -> LinearRegressionParams:
        closed = self.penalty in ("none", "l2")
        if self.solver is None:
            self.solver = "normal_equation" if closed else "coordinate_descent"
        elif self.solver == "normal_equation" and not closed:
            raise ValueError(
                f"penalty '{self.penalty}' has no closed form: use solver 'coordinate_descent' "
                "or 'gd'"
            )
        elif self.solver == "coordinate_descent" and closed:
            raise ValueError(
                f"solver 'coordinate_descent' is for penalty l1 or elasticnet (now "
                f"'{self.penalty}'): use 'normal_equation' or 'gd'"
            )
        return self


class LogisticRegressionParams(StrictModel):
    penalty: Literal["l2", "l1", "none"] = "l2"
    C: float = Field(1.0, gt=0, description="Inverse regularization strength.")
    max_iter: int = Field(1000, ge=1, le=1_000_000)
    class_weight: Literal["balanced"] | None = None
    multi_class: Literal["multinomial", "ovr"] = Field(
        "multinomial",
        description="More than two classes: one softmax model (multinomial) or one binary "
        "model per class (one-vs-rest).",
    )


def train_linear_regression(ctx: TrainContext) -> TrainResult:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge, SGDRegressor

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, LinearRegressionParams)
    est: Any
    if p.solver == "gd":
        est = SGDRegressor(
            penalty=None if p.penalty == "none" else p.penalty,
            alpha=p.alpha,
            l1_ratio=p.l1_ratio,
            fit_intercept=p.fit_intercept,
            max_iter=p.max_iter,
            tol=p.tol,
            eta0=p.eta0,
            random_state=ctx.seed,
        )
    elif p.penalty == "none":
        est = LinearRegression(fit_intercept=p.fit_intercept)
    elif p.penalty == "l2":
        est = Ridge(alpha=p.alpha, fit_intercept=p.fit_intercept, solver="cholesky")
    elif p.penalty == "l1":
        est = Lasso(alpha=p.alpha, fit_intercept=p.fit_intercept, tol=p.tol, random_state=ctx.seed)
    else:
        est = ElasticNet(
            alpha=p.alpha,
            l1_ratio=p.l1_ratio,
            fit_intercept=p.fit_intercept,
            tol=p.tol,
            random_state=ctx.seed,
        )
    return fit_estimator(ctx, est)


def train_logistic_regression(ctx: TrainContext) -> TrainResult:
    import math

    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, LogisticRegressionParams)
    # scikit-learn >= 1.8 spells the penalty with l1_ratio and C (penalty= is deprecated),
    # and has no multi_class: one-vs-rest is OneVsRestClassifier around a binary model.
    est: Any = LogisticRegression(
        C=math.inf if p.penalty == "none" else p.C,
        l1_ratio=1.0 if p.penalty == "l1" else 0.0,
        solver="saga" if p.penalty == "l1" else "lbfgs",
        max_iter=p.max_iter,
        class_weight=p.class_weight,
        random_state=ctx.seed,
    )
    if p.multi_class == "ovr" and ctx.data.n_classes > 2:
        est = OneVsRestClassifier(est)
    return fit_estimator(ctx, est)


register(
    ModelKind(
        name="linear_regression",
        tasks=frozenset({"regression"}),
        params=LinearRegressionParams,
        training=NoTraining,
        trainer="mlengine.kinds.linear:train_linear_regression",
        description="Least squares (normal equation or gradient descent); optionally l2 (ridge), "
        "l1 (lasso) or elastic-net penalty.",
    )
)
register(
    ModelKind(
        name="logistic_regression",
        tasks=frozenset({"classification"}),
        params=LogisticRegressionParams,
        training=NoTraining,
        trainer="mlengine.kinds.linear:train_logistic_regression",
        description="Logistic regression: binary, multinomial (softmax) or one-vs-rest; l2 or l1.",
    )
)
