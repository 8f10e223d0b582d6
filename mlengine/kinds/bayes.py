"""``naive_bayes``: Gaussian, multinomial, Bernoulli and categorical naive Bayes.

Each variant needs its own kind of input, prepared automatically inside the saved model
(after the job's preprocessing, which scales numeric columns to mean 0 and variance 1 by
default and one-hot encodes string columns):

- ``gaussian``: the features as they are (a per-class normal per feature).
- ``multinomial``: counts-like, non-negative inputs: every feature is min-max scaled to
  [0, 1] on the training split (values outside it are clipped).
- ``bernoulli``: binary inputs: a feature is 1 above ``binarize`` (0.0: above the training
  mean of a scaled column; one-hot columns are already 0/1).
- ``categorical``: discrete inputs: a feature with at most ``n_bins`` distinct training
  values is taken as categories (a value unseen in training becomes one extra category);
  any other feature is cut into ``n_bins`` quantile bins.

``alpha`` is the additive (Laplace) smoothing of the discrete variants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlengine.registry import ModelKind, NoTraining, StrictModel, register

if TYPE_CHECKING:
    import numpy as np

    from mlengine.context import TrainContext
    from mlengine.types import TrainResult


class NaiveBayesParams(StrictModel):
    variant: Literal["gaussian", "multinomial", "bernoulli", "categorical"] = "gaussian"
    alpha: float = Field(
        1.0, ge=0, description="Additive (Laplace) smoothing; 1.0 is Laplace's rule."
    )
    var_smoothing: float = Field(1e-9, ge=0, description="gaussian: variance floor (fraction).")
    binarize: float = Field(0.0, description="bernoulli: threshold of a feature's 1.")
    n_bins: int = Field(5, ge=2, le=256, description="categorical: bins per numeric feature.")


def categorical_inputs(X: np.ndarray, n_bins: int, seed: int) -> tuple[Any, list[int]]:
    """A transformer making every column a small category index, and each one's count."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import KBinsDiscretizer, OrdinalEncoder

    discrete = [j for j in range(X.shape[1]) if len(np.unique(X[:, j])) <= n_bins]
    binned = [j for j in range(X.shape[1]) if j not in set(discrete)]
    transformers: list[tuple[str, Any, list[int]]] = []
    sizes: list[int] = []
    if discrete:
        unknown = max(len(np.unique(X[:, j])) for j in discrete)
        transformers.append(
            (
                "discrete",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=unknown),
                discrete,
            )
        )
        sizes += [unknown + 1] * len(discrete)
    if binned:
        transformers.append(
            (
                "binned",
                KBinsDiscretizer(
                    n_bins=n_bins, encode="ordinal", strategy="quantile", random_state=seed
                ),
                binned,
            )
        )
        sizes += [n_bins] * len(binned)
    return ColumnTransformer(transformers, sparse_threshold=0.0), sizes


def train_naive_bayes(ctx: TrainContext) -> TrainResult:
    from sklearn.naive_bayes import BernoulliNB, CategoricalNB, GaussianNB, MultinomialNB
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    from mlengine.classical import fit_estimator

    p = ctx.params
    assert isinstance(p, NaiveBayesParams)
    est: Any
    if p.variant == "gaussian":
        est = GaussianNB(var_smoothing=p.var_smoothing)
    elif p.variant == "multinomial":
        est = Pipeline([("minmax", MinMaxScaler(clip=True)), ("nb", MultinomialNB(alpha=p.alpha))])
    elif p.variant == "bernoulli":
        est = BernoulliNB(alpha=p.alpha, binarize=p.binarize)
    else:
        discretize, sizes = categorical_inputs(ctx.data.X["train"], p.n_bins, ctx.seed)
        est = Pipeline(
            [
                ("discretize", discretize),
                ("nb", CategoricalNB(alpha=p.alpha, min_categories=sizes)),
            ]
        )
    return fit_estimator(ctx, est)


register(
    ModelKind(
        name="naive_bayes",
        tasks=frozenset({"classification"}),
        params=NaiveBayesParams,
        training=NoTraining,
        trainer="mlengine.kinds.bayes:train_naive_bayes",
        description="Naive Bayes (gaussian, multinomial, bernoulli, categorical) with Laplace "
        "smoothing; each variant's inputs are prepared automatically.",
    )
)
