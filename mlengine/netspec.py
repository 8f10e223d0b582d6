"""What the four neural kinds (``mlp``, ``cnn``, ``rnn``, ``transformer``) share.

The parameters every network takes (``NetParams``: the regression loss), the training
options (``NetTraining``: optimizer, schedule, early stopping, ...), and the checks every
neural spec gets against the dataset (parameter limit, ``init_from.freeze`` layer names,
the early-stopping metric, ``input_shape``). The kinds in ``mlengine/kinds/`` declare
with these; the loop in ``mlengine/nn/`` trains with them. Nothing here imports torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlengine.errors import SpecError, listing, short
from mlengine.registry import StrictModel, limits_of

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck

Activation = Literal["relu", "leaky_relu", "tanh", "sigmoid", "gelu"]
Init = Literal["auto", "xavier", "he", "normal"]
RegressionLoss = Literal["mse", "sse", "mae", "huber"]
Optimizer = Literal["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "lbfgs"]


class NetParams(StrictModel):
    """Parameters every neural kind takes."""

    loss: RegressionLoss = Field(
        "mse",
        description="Regression loss on the standardized target: mse (mean squared error), "
        "sse (sum over the batch), mae, huber. Classification always uses binary "
        "cross-entropy (2 classes, sigmoid output) or softmax cross-entropy.",
    )


# --------------------------------------------------------------------------- training


class LRSchedule(StrictModel):
    """Learning rate per epoch: a linear warmup, then a decay rule."""

    type: Literal["constant", "step", "exponential", "cosine", "plateau"] = "constant"
    warmup_epochs: int = Field(
        0, ge=0, description="Epochs of linear warmup from learning_rate/warmup to learning_rate."
    )
    step_size: int = Field(10, ge=1, description="step: epochs between decays.")
    gamma: float = Field(0.1, gt=0, le=1, description="step: factor applied every step_size.")
    decay: float = Field(0.95, gt=0, le=1, description="exponential: factor per epoch.")
    factor: float = Field(0.5, gt=0, lt=1, description="plateau: factor when stuck.")
    patience: int = Field(5, ge=1, description="plateau: epochs without improvement.")
    min_lr: float = Field(0.0, ge=0, description="cosine / plateau: the floor.")


class EarlyStopping(StrictModel):
    patience: int = Field(10, ge=1, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="The least change that counts.")
    metric: Literal["val_loss", "train_loss", "val_accuracy"] = "val_loss"


class NetTraining(StrictModel):
    """Training options shared by the neural kinds."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(
        64, ge=1, le=1_000_000, description="1: pure SGD; >= the training rows: full batch."
    )
    optimizer: Optimizer = "adam"
    learning_rate: float = Field(1e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="For optimizer momentum / nesterov.")
    weight_decay: float = Field(
        0.0, ge=0, description="L2 penalty (decoupled weight decay for adamw)."
    )
    l1: float = Field(0.0, ge=0, description="L1 penalty on the weights, added to the loss.")
    lr_schedule: LRSchedule = Field(default_factory=LRSchedule)
    early_stopping: EarlyStopping | None = Field(
        None, description="Stop when the metric stops improving, and keep the best weights."
    )
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm to this.")
    gradient_check: bool = Field(
        False, description="Compare backprop with finite differences before training."
    )
    mixed_precision: Literal["none", "bf16"] = Field(
        "none", description="bf16 autocast on CUDA (ignored on CPU)."
    )
    compile: bool = Field(False, description="torch.compile the network on CUDA (not on CPU).")
    checkpoint_every: int = Field(
        5, ge=0, description="Epochs between periodic checkpoints; 0: only the final one."
    )

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, v: int, info: ValidationInfo) -> int:
        limit = limits_of(info).max_epochs
        if v > limit:
            raise ValueError(f"at most {limit} epochs are allowed (asked for {v})")
        return v

    @model_validator(mode="after")
    def _warmup(self) -> NetTraining:
        if self.lr_schedule.warmup_epochs >= self.epochs and self.lr_schedule.warmup_epochs > 0:
            raise ValueError(
                f"lr_schedule.warmup_epochs ({self.lr_schedule.warmup_epochs}) must be below "
                f"epochs ({self.epochs})"
            )
        return self


# --------------------------------------------------------------------------- checks


def check_net(
    check: DatasetCheck, n_params: int, layers: list[str], loc: tuple[str | int, ...]
) -> None:
    """The checks every neural kind makes once the data is known."""
    limit = check.limits.max_parameters
    if n_params > limit:
        raise SpecError.at(
            loc,
            f"this network would have {n_params:,} parameters ({check.n_inputs} inputs after "
            f"one-hot encoding); the limit is {limit:,}: use smaller layers "
            "or fewer categorical features",
        )
    spec = check.spec
    p = check.params
    t = check.training
    assert isinstance(t, NetTraining)
    if spec.task == "classification" and getattr(p, "loss", "mse") != "mse":
        raise SpecError.at(
            ("model", "params", "loss"),
            f"loss '{p.loss}' is for regression; classification uses cross-entropy "
            "(leave 'loss' out)",
        )
    es = t.early_stopping
    if es is not None:
        if es.metric.startswith("val_") and spec.split.validation <= 0:
            raise SpecError.at(
                ("training", "early_stopping", "metric"),
                f"early stopping on '{es.metric}' needs a validation split; set "
                "split.validation above 0 or use metric 'train_loss'",
            )
        if es.metric == "val_accuracy" and spec.task != "classification":
            raise SpecError.at(
                ("training", "early_stopping", "metric"),
                "'val_accuracy' is for classification; use 'val_loss'",
            )
    if getattr(p, "batch_norm", False) and t.batch_size == 1:
        raise SpecError.at(
            ("training", "batch_size"),
            "batch normalization needs at least 2 rows per batch; raise batch_size "
            "or set batch_norm to false",
        )
    init_from = getattr(spec, "init_from", None)
    if init_from is not None:
        for i, name in enumerate(init_from.freeze):
            if not any(lay == name or lay.startswith(name + ".") for lay in layers):
                raise SpecError.at(
                    ("init_from", "freeze", i),
                    f"no layer '{short(name)}' in this network; "
                    f"its layers are: {listing(layers, 'layers')}",
                )


def check_input_shape(check: DatasetCheck, what: str, dims: str, sizes: tuple[int, ...]) -> None:
    """``input_shape`` (filled from the dataset's sample shape when absent) fits the features.

    ``what``: "an image" / "a sequence"; ``dims``: e.g. "[C, H, W]"; ``sizes``: allowed lengths.
    """
    p = check.params
    shape = getattr(p, "input_shape", None)
    loc = ("model", "params", "input_shape")
    kind = check.spec.model.type
    sample = check.profile.sample_shape
    if shape is None:
        hint = ""
        if sample is not None:
            hint = f" (the dataset's samples have shape {sample}, which is not {dims})"
        raise SpecError.at(
            loc,
            f"model '{kind}' needs {what} per row: set model.params.input_shape to {dims}, "
            f"or upload an NPZ whose X has shape (N, {dims[1:-1]}){hint}",
            "missing",
        )
    if len(shape) not in sizes:
        raise SpecError.at(loc, f"input_shape for model '{kind}' is {dims}; got {shape}")
    features = check.spec.features or []
    for i, name in enumerate(features):
        col = check.profile.column(name)
        if col is not None and col.dtype not in ("int", "float"):
            raise SpecError.at(
                ("features", i),
                f"model '{kind}' reshapes numeric columns into {dims}; column '{name}' is "
                f"{col.dtype}: leave it out of 'features'",
            )
    n = math.prod(shape)
    if n != check.n_inputs:
        raise SpecError.at(
            loc,
            f"input_shape {shape} holds {n} values per row, but there are {check.n_inputs} "
            f"feature columns; the product of input_shape must equal the number of features",
        )
