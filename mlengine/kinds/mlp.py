"""``mlp``: a fully connected network in PyTorch (declaration; the loop is in mlengine.nn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from mlengine.errors import SpecError
from mlengine.registry import ModelKind, StrictModel, register
from mlengine.types import Limits

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult


def _limits(info: ValidationInfo) -> Limits:
    ctx = info.context or {}
    limits = ctx.get("limits") if isinstance(ctx, dict) else None
    return limits if isinstance(limits, Limits) else Limits()


class MLPParams(StrictModel):
    hidden_layers: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [64, 32], min_length=1, max_length=32
    )
    activation: Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @field_validator("hidden_layers")
    @classmethod
    def _width(cls, v: list[int], info: ValidationInfo) -> list[int]:
        limit = _limits(info).max_layer_width
        too_wide = [w for w in v if w > limit]
        if too_wide:
            raise ValueError(f"layer width {too_wide[0]} is over the limit of {limit} units")
        return v


class NetTraining(StrictModel):
    """Training options shared by the neural kinds."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1, le=1_000_000)
    optimizer: Literal["sgd", "momentum", "adam"] = "adam"
    learning_rate: float = Field(1e-3, gt=0)
    checkpoint_every: int = Field(
        5, ge=0, description="Epochs between periodic checkpoints; 0: only the final one."
    )

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, v: int, info: ValidationInfo) -> int:
        limit = _limits(info).max_epochs
        if v > limit:
            raise ValueError(f"at most {limit} epochs are allowed (asked for {v})")
        return v


def mlp_parameter_count(n_inputs: int, hidden: list[int], n_outputs: int) -> int:
    sizes = [n_inputs, *hidden, n_outputs]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def check_mlp(check: DatasetCheck) -> None:
    p = check.params
    assert isinstance(p, MLPParams)
    loc = ("model", "params", "hidden_layers")
    limit = check.limits.max_layer_width
    for w in p.hidden_layers:
        if w > limit:
            raise SpecError.at(loc, f"layer width {w} is over the limit of {limit} units")
    n = mlp_parameter_count(check.n_inputs, p.hidden_layers, check.n_outputs)
    if n > check.limits.max_parameters:
        raise SpecError.at(
            loc,
            f"this network would have {n:,} parameters ({check.n_inputs} inputs after one-hot "
            f"encoding); the limit is {check.limits.max_parameters:,}: use smaller layers "
            "or fewer categorical features",
        )


def train_mlp(ctx: TrainContext) -> TrainResult:
    from mlengine.nn.loop import fit_network

    p = ctx.params
    assert isinstance(p, MLPParams)
    config = {
        "arch": "mlp",
        "hidden_layers": list(p.hidden_layers),
        "activation": p.activation,
        "dropout": p.dropout,
    }
    return fit_network(ctx, config)


register(
    ModelKind(
        name="mlp",
        tasks=frozenset({"classification", "regression"}),
        params=MLPParams,
        training=NetTraining,
        trainer="mlengine.kinds.mlp:train_mlp",
        framework="torch",
        description="Multilayer perceptron: linear layers, an activation and optional dropout.",
        check_dataset=check_mlp,
    )
)
