"""``svm``: support vector machines (SVC / SVR) with linear, RBF, polynomial or sigmoid kernels.

Without ``probability`` the classifier's "probabilities" are a softmax of its decision
function (their argmax is the SVM's prediction, ROC AUC uses their ranking; no log loss is
reported). ``probability: true`` fits Platt scaling with an internal 5-fold
cross-validation: calibrated probabilities, about five times the fitting time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    from mlengine.context import TrainContext
    from mlengine.types import TrainResult


class SVMParams(StrictModel):
    kernel: Literal["linear", "rbf", "poly", "sigmoid"] = "rbf"
    C: float = Field(1.0, gt=0, description="Inverse regularization strength.")
    gamma: Literal["scale", "auto"] | float = Field(
        "scale", description="Kernel width of rbf/poly/sigmoid: 'scale', 'auto' or a number > 0."
    )
    degree: int = Field(3, ge=1, le=20, description="poly: the polynomial's degree.")
    coef0: float = Field(0.0, description="poly / sigmoid: the kernel's constant term.")
    epsilon: float = Field(0.1, ge=0, description="Regression: width of the no-penalty tube.")
    probability: bool = Field(False, description="Classification: calibrated probabilities.")
    class_weight: Literal["balanced"] | None = None
    max_iter: int = Field(-1, ge=-1, description="Solver iterations; -1: no limit.")

    @field_validator("gamma")
    @classmethod
    def _gamma(cls, v: str | float) -> str | float:
        if isinstance(v, float) and v <= 0:
            raise ValueError("gamma must be 'scale', 'auto' or a number above 0")
        return v


def train_svm(ctx: TrainContext) -> TrainResult:
    from sklearn.svm import SVC, SVR

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, SVMParams)
    common = {
        "kernel": p.kernel,
        "C": p.C,
        "gamma": p.gamma,
        "degree": p.degree,
        "coef0": p.coef0,
        "max_iter": p.max_iter,
    }
    if ctx.data.task == "classification":
        est = SVC(
            **common,
            probability=p.probability,
            class_weight=p.class_weight,
            random_state=ctx.seed,
        )
        return fit_estimator(ctx, est)
    return fit_estimator(ctx, SVR(**common, epsilon=p.epsilon))


register(
    ModelKind(
        name="svm",
        tasks=frozenset({"classification", "regression"}),
        params=SVMParams,
        training=NoTraining,
        trainer="mlengine.kinds.svm:train_svm",
        description="Support vector machine (SVC / SVR): linear, rbf, poly or sigmoid kernel.",
    )
)
