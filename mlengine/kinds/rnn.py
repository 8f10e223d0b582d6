"""``rnn``: a recurrent network (RNN, LSTM or GRU) over rows shaped ``[T, F]``.

Each row's columns (CSV) or an NPZ upload's ``X`` of shape (N, T, F) is reshaped to
``input_shape`` ``[T, F]``: T time steps of F features. The last layer's final hidden
state (both directions when bidirectional) feeds the output layer. Layers: ``rnn``, ``head``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from mlengine.netspec import NetParams, NetTraining, check_input_shape, check_net
from mlengine.registry import ModelKind, check_widths, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


class RNNParams(NetParams):
    input_shape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, description="[T, F]; filled from an NPZ upload's X of shape (N, T, F)."
    )
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    hidden_size: int = Field(64, ge=1)
    num_layers: int = Field(1, ge=1, le=16)
    bidirectional: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Between layers and before head.")

    @field_validator("hidden_size")
    @classmethod
    def _width(cls, v: int, info: ValidationInfo) -> int:
        check_widths([v], info, "hidden_size")
        return v


def rnn_parameter_count(p: RNNParams, n_features: int, n_outputs: int) -> int:
    dirs = 2 if p.bidirectional else 1
    g, h = GATES[p.cell], p.hidden_size
    n = 0
    width = n_features
    for _ in range(p.num_layers):
        n += dirs * g * (width * h + h * h + 2 * h)
        width = h * dirs
    return n + (width + 1) * n_outputs


def check_rnn(check: DatasetCheck) -> None:
    p = check.params
    assert isinstance(p, RNNParams)
    check_input_shape(check, "a sequence", "[T, F]", (2,))
    assert p.input_shape is not None
    n = rnn_parameter_count(p, p.input_shape[1], check.n_outputs)
    check_net(check, n, ["rnn", "head"], ("model", "params", "hidden_size"))


def train_rnn(ctx: TrainContext) -> TrainResult:
    from mlengine.nn.loop import fit_network

    p = ctx.params
    assert isinstance(p, RNNParams) and p.input_shape is not None
    config: dict[str, Any] = {
        "arch": "rnn",
        "input_shape": list(p.input_shape),
        "cell": p.cell,
        "hidden_size": p.hidden_size,
        "num_layers": p.num_layers,
        "bidirectional": p.bidirectional,
        "dropout": p.dropout,
        "loss": p.loss,
    }
    return fit_network(ctx, config, ["rnn", "head"])


register(
    ModelKind(
        name="rnn",
        tasks=frozenset({"classification", "regression"}),
        params=RNNParams,
        training=NetTraining,
        trainer="mlengine.kinds.rnn:train_rnn",
        framework="torch",
        description="Recurrent network (rnn, lstm or gru cells; stacked, optionally "
        "bidirectional) over [T, F] sequences. Layers: rnn, head.",
        check_dataset=check_rnn,
    )
)
