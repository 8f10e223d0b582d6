"""``mlp``: a fully connected network in PyTorch (declaration; the loop is in mlengine.nn).

What the four neural kinds share (``NetParams``, ``NetTraining``, the checks against the
dataset) is in ``mlengine.netspec``. Nothing here imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from mlengine.errors import SpecError
from mlengine.netspec import Activation, Init, NetParams, NetTraining, check_net
from mlengine.registry import ModelKind, check_widths, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult


class MLPParams(NetParams):
    hidden_layers: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [64, 32], min_length=1, max_length=32
    )
    activation: Activation = "relu"
    init: Init = Field(
        "auto",
        description="Weight initialization: xavier (Glorot), he (Kaiming), normal (N(0, 0.01^2)) "
        "or auto (PyTorch's default, uniform in +-1/sqrt(fan_in)).",
    )
    batch_norm: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @field_validator("hidden_layers")
    @classmethod
    def _width(cls, v: list[int], info: ValidationInfo) -> list[int]:
        return check_widths(v, info)


# --------------------------------------------------------------------------- checks


def mlp_parameter_count(
    n_inputs: int, hidden: list[int], n_outputs: int, batch_norm: bool = False
) -> int:
    sizes = [n_inputs, *hidden, n_outputs]
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return n + (2 * sum(hidden) if batch_norm else 0)


def mlp_layers(p: MLPParams) -> list[str]:
    return [f"body.{i}" for i in range(len(p.hidden_layers))] + ["head"]


def check_mlp(check: DatasetCheck) -> None:
    p = check.params
    assert isinstance(p, MLPParams)
    loc = ("model", "params", "hidden_layers")
    limit = check.limits.max_layer_width
    for w in p.hidden_layers:
        if w > limit:
            raise SpecError.at(loc, f"layer width {w} is over the limit of {limit} units")
    n = mlp_parameter_count(check.n_inputs, p.hidden_layers, check.n_outputs, p.batch_norm)
    check_net(check, n, mlp_layers(p), loc)


def train_mlp(ctx: TrainContext) -> TrainResult:
    from mlengine.nn.loop import fit_network

    p = ctx.params
    assert isinstance(p, MLPParams)
    config: dict[str, Any] = {
        "arch": "mlp",
        "hidden_layers": list(p.hidden_layers),
        "activation": p.activation,
        "init": p.init,
        "batch_norm": p.batch_norm,
        "dropout": p.dropout,
        "loss": p.loss,
    }
    return fit_network(ctx, config, mlp_layers(p))


register(
    ModelKind(
        name="mlp",
        tasks=frozenset({"classification", "regression"}),
        params=MLPParams,
        training=NetTraining,
        trainer="mlengine.kinds.mlp:train_mlp",
        framework="torch",
        description="Multilayer perceptron: linear layers, an activation, optional batch "
        "normalization and dropout. Layers: body.0 .. body.N-1 (hidden), head (output).",
        check_dataset=check_mlp,
    )
)
