"""The job spec's schema: pydantic models only (validation is in ``mlengine.validation``).

Nothing here imports torch or scikit-learn: the API process validates specs cheaply.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlengine.rl.envspec import EnvironmentSpec
from mlengine.types import Task


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    type: str = Field(description="A model kind of the engine, e.g. 'mlp'.")
    params: dict[str, Any] = Field(default_factory=dict)


class SplitSpec(_Strict):
    validation: float = Field(0.2, ge=0.0, lt=0.9)
    test: float = Field(0.2, ge=0.0, lt=0.9)
    kfold: int | None = Field(
        None,
        ge=2,
        le=50,
        description="k-fold cross-validation (stratified for classification) on the rows "
        "not held out for 'test'; 'validation' is then 0. Final metrics cv_<metric> (mean) "
        "and cv_<metric>_std; one cv_<metric> point per fold.",
    )
    learning_curve: int = Field(
        0,
        ge=0,
        le=20,
        description="Classical kinds: points on the learning curve (train and validation "
        "score against training-set size, stored as metric points); 0: none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _kfold_takes_validation(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kfold") is not None and "validation" not in data:
            return {**data, "validation": 0.0}
        return data

    @model_validator(mode="after")
    def _sum(self) -> SplitSpec:
        if self.kfold is not None and self.validation > 0:
            raise ValueError(
                "with kfold the folds are the validation data; drop 'validation' or set it to 0"
            )
        if self.validation + self.test >= 0.9:
            raise ValueError(
                f"validation + test must be below 0.9 (now {self.validation + self.test:g}); "
                "leave at least 10% of the rows for training"
            )
        return self


class PreprocessingSpec(_Strict):
    scaling: Literal["auto", "standard", "minmax", "robust", "none"] = "auto"
    impute_numeric: Literal["mean", "median", "most_frequent", "constant"] = "mean"
    impute_categorical: Literal["most_frequent", "constant"] = "most_frequent"
    one_hot_drop_first: bool = False
    fill_value: float = Field(0.0, description="The numeric fill of impute_numeric 'constant'.")
    categorical_encoding: Literal["onehot", "ordinal"] = Field(
        "onehot", description="String and bool columns: one-hot, or one integer code per value."
    )
    binning: Literal["none", "uniform", "quantile"] = Field(
        "none", description="Cut numeric columns into bins (encoded as categorical_encoding)."
    )
    n_bins: int = Field(5, ge=2, le=256)
    bin_columns: list[str] | None = Field(
        None, description="Numeric columns to bin; null: every numeric feature."
    )

    @field_validator("fill_value")
    @classmethod
    def _finite_fill(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(
                f"fill_value must be a finite number, not {v}; missing numbers are filled "
                "with it, so give a number such as 0 (or another impute_numeric strategy)"
            )
        return v


class InitFromSpec(_Strict):
    """Transfer learning: start a neural network from another job's trained model."""

    job_id: str = Field(description="A succeeded job of the same owner and model type.")
    freeze: list[str] = Field(
        default_factory=list,
        description="Layers whose weights stay fixed, e.g. ['body.0'] or ['features']: a "
        "name freezes every parameter that starts with it (the model's info lists its layers).",
    )


class JobSpec(_Strict):
    dataset_id: str | None = None
    target: str | None = None
    features: list[str] | None = None
    task: Task | None = None
    model: ModelSpec
    training: dict[str, Any] = Field(default_factory=dict)
    split: SplitSpec = Field(default_factory=lambda: SplitSpec(validation=0.2, test=0.2))
    preprocessing: PreprocessingSpec = Field(default_factory=PreprocessingSpec)
    environment: EnvironmentSpec | None = Field(
        None, description="Reinforcement learning: the environment to learn in (no dataset)."
    )
    seed: int = Field(0, ge=0, le=2**32 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    init_from: InitFromSpec | None = Field(
        None, description="Neural kinds: start from another job's weights (transfer learning)."
    )
