"""``transformer``: a Transformer encoder for sequence classification / regression.

Rows are reshaped to ``input_shape`` ``[T, F]``; each step is embedded to ``d_model``,
a positional encoding is added, ``n_layers`` encoder layers (pre-norm self-attention and a
feed-forward block) follow, the steps are pooled (mean, or a learned [CLS] token) and an
output layer predicts. Layers: ``embed``, ``encoder.layers.0`` .., ``norm``, ``head``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlengine.netspec import NetParams, NetTraining, check_input_shape, check_net
from mlengine.registry import ModelKind, check_widths, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult


class TransformerParams(NetParams):
    input_shape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, description="[T, F]; filled from an NPZ upload's X of shape (N, T, F)."
    )
    d_model: int = Field(64, ge=2)
    n_heads: int = Field(4, ge=1)
    n_layers: int = Field(2, ge=1, le=48)
    dim_feedforward: int = Field(128, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    activation: Literal["relu", "gelu"] = "gelu"
    positional_encoding: Literal["sinusoidal", "learned", "none"] = "sinusoidal"
    pooling: Literal["mean", "cls"] = "mean"

    @field_validator("d_model", "dim_feedforward")
    @classmethod
    def _width(cls, v: int, info: ValidationInfo) -> int:
        check_widths([v], info, "width")
        return v

    @model_validator(mode="after")
    def _heads(self) -> TransformerParams:
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})"
            )
        return self


def transformer_parameter_count(p: TransformerParams, t: int, f: int, n_outputs: int) -> int:
    d, ff = p.d_model, p.dim_feedforward
    n = f * d + d  # embed
    if p.positional_encoding == "learned":
        n += (t + (1 if p.pooling == "cls" else 0)) * d
    if p.pooling == "cls":
        n += d
    per_layer = (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff + ff * d + d) + 4 * d
    return n + p.n_layers * per_layer + 2 * d + (d + 1) * n_outputs


def transformer_layers(p: TransformerParams) -> list[str]:
    extra = (["pos"] if p.positional_encoding == "learned" else []) + (
        ["cls"] if p.pooling == "cls" else []
    )
    return ["embed", *extra, *(f"encoder.layers.{i}" for i in range(p.n_layers)), "norm", "head"]


def check_transformer(check: DatasetCheck) -> None:
    p = check.params
    assert isinstance(p, TransformerParams)
    check_input_shape(check, "a sequence", "[T, F]", (2,))
    assert p.input_shape is not None
    t, f = p.input_shape
    n = transformer_parameter_count(p, t, f, check.n_outputs)
    check_net(check, n, transformer_layers(p), ("model", "params", "d_model"))


def train_transformer(ctx: TrainContext) -> TrainResult:
    from mlengine.nn.loop import fit_network

    p = ctx.params
    assert isinstance(p, TransformerParams) and p.input_shape is not None
    config: dict[str, Any] = {
        "arch": "transformer",
        "input_shape": list(p.input_shape),
        "d_model": p.d_model,
        "n_heads": p.n_heads,
        "n_layers": p.n_layers,
        "dim_feedforward": p.dim_feedforward,
        "dropout": p.dropout,
        "activation": p.activation,
        "positional_encoding": p.positional_encoding,
        "pooling": p.pooling,
        "loss": p.loss,
    }
    return fit_network(ctx, config, transformer_layers(p))


register(
    ModelKind(
        name="transformer",
        tasks=frozenset({"classification", "regression"}),
        params=TransformerParams,
        training=NetTraining,
        trainer="mlengine.kinds.transformer:train_transformer",
        framework="torch",
        description="Transformer encoder over [T, F] sequences (embedding, positional "
        "encoding, pre-norm encoder layers, mean or [CLS] pooling). Layers: embed, "
        "encoder.layers.i, norm, head.",
        check_dataset=check_transformer,
    )
)
