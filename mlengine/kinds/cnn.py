"""``cnn``: a convolutional network for image-shaped rows (declaration; loop in mlengine.nn).

Each row's pixel columns (CSV) or an NPZ upload's ``X`` of shape (N, C, H, W) is reshaped to
``input_shape`` ``[C, H, W]`` (``[H, W]`` means one channel). Layers: ``features.0`` ..
(conv blocks: conv, batch norm, activation, pool, dropout), ``dense.0`` .. (dense blocks),
``head``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from mlengine.errors import SpecError
from mlengine.netspec import (
    Activation,
    Init,
    NetParams,
    NetTraining,
    check_input_shape,
    check_net,
)
from mlengine.registry import ModelKind, check_widths, register

if TYPE_CHECKING:
    from mlengine.context import DatasetCheck, TrainContext
    from mlengine.types import TrainResult


class CNNParams(NetParams):
    input_shape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        description="[C, H, W] (or [H, W]); filled from an NPZ upload's X when left out.",
    )
    channels: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [16, 32],
        min_length=1,
        max_length=16,
        description="Output channels of each conv block.",
    )
    kernel_size: int = Field(3, ge=1, le=15, description="Odd sizes keep H and W ('same').")
    pool: Literal["max", "avg", "none"] = Field("max", description="2x2 pooling per block.")
    activation: Activation = "relu"
    init: Init = "auto"
    batch_norm: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    dense_layers: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [64], max_length=8, description="Hidden widths of the head."
    )

    @field_validator("channels", "dense_layers")
    @classmethod
    def _width(cls, v: list[int], info: ValidationInfo) -> list[int]:
        return check_widths(v, info, "width")


def cnn_shape(shape: list[int]) -> tuple[int, int, int]:
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    c, h, w = shape
    return c, h, w


def cnn_plan(p: CNNParams, shape: list[int], n_outputs: int) -> tuple[int, list[tuple[int, int]]]:
    """Parameter count, and the (H, W) after each block; raises ValueError if it shrinks to 0."""
    c, h, w = cnn_shape(shape)
    k = p.kernel_size
    n = 0
    sizes = []
    for out in p.channels:
        n += (c * k * k + 1) * out + (2 * out if p.batch_norm else 0)
        h, w = h + 2 * (k // 2) - k + 1, w + 2 * (k // 2) - k + 1
        if p.pool != "none" and h >= 2 and w >= 2:
            h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError("the image shrinks to nothing")
        sizes.append((h, w))
        c = out
    width = c * h * w
    for d in p.dense_layers:
        n += (width + 1) * d + (2 * d if p.batch_norm else 0)
        width = d
    return n + (width + 1) * n_outputs, sizes


def cnn_layers(p: CNNParams) -> list[str]:
    return (
        [f"features.{i}" for i in range(len(p.channels))]
        + [f"dense.{i}" for i in range(len(p.dense_layers))]
        + ["head"]
    )


def check_cnn(check: DatasetCheck) -> None:
    p = check.params
    assert isinstance(p, CNNParams)
    check_input_shape(check, "an image", "[C, H, W]", (2, 3))
    assert p.input_shape is not None
    try:
        n, _ = cnn_plan(p, p.input_shape, check.n_outputs)
    except ValueError:
        raise SpecError.at(
            ("model", "params", "kernel_size"),
            f"a {p.kernel_size}x{p.kernel_size} kernel does not fit images of "
            f"{cnn_shape(p.input_shape)[1:]}; use a smaller kernel_size",
        ) from None
    check_net(check, n, cnn_layers(p), ("model", "params", "channels"))


def train_cnn(ctx: TrainContext) -> TrainResult:
    from mlengine.nn.loop import fit_network

    p = ctx.params
    assert isinstance(p, CNNParams) and p.input_shape is not None
    config: dict[str, Any] = {
        "arch": "cnn",
        "input_shape": list(cnn_shape(p.input_shape)),
        "channels": list(p.channels),
        "kernel_size": p.kernel_size,
        "pool": p.pool,
        "activation": p.activation,
        "init": p.init,
        "batch_norm": p.batch_norm,
        "dropout": p.dropout,
        "dense_layers": list(p.dense_layers),
        "loss": p.loss,
    }
    return fit_network(ctx, config, cnn_layers(p))


register(
    ModelKind(
        name="cnn",
        tasks=frozenset({"classification", "regression"}),
        params=CNNParams,
        training=NetTraining,
        trainer="mlengine.kinds.cnn:train_cnn",
        framework="torch",
        description="Convolutional network on image-shaped rows: conv blocks (conv, batch "
        "norm, activation, 2x2 pool, dropout) then a dense head. Layers: features.i, dense.i, "
        "head.",
        check_dataset=check_cnn,
    )
)
