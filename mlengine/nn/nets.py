"""Networks built from a JSON config (stored in the artifact to rebuild the net).

Every network takes rows of flat features ``(N, D)`` and reshapes them itself (to
``[C, H, W]`` images or ``[T, F]`` sequences), so data handling, evaluation and
prediction are the same for all kinds. Parameter names start with a layer name
(``body.0``, ``features.1``, ``rnn``, ``encoder.layers.0``, ``head``, ...): the unit that
``init_from.freeze`` names.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}


def init_weights(net: nn.Module, scheme: str, activation: str) -> None:
    """Xavier (Glorot), He (Kaiming) or N(0, 0.01^2) for linear and conv weights, zero biases;
    ``auto`` keeps PyTorch's default (uniform in +-1/sqrt(fan_in), weights and biases)."""
    if scheme == "auto":
        return
    gains: dict[str, Any] = {"leaky_relu": "leaky_relu", "tanh": "tanh", "relu": "relu"}
    gain_name = gains.get(activation)
    nonlin: Any = "leaky_relu" if activation == "leaky_relu" else "relu"
    for m in net.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            if scheme == "xavier":
                gain = nn.init.calculate_gain(gain_name) if gain_name else 1.0
                nn.init.xavier_uniform_(m.weight, gain=gain)
            elif scheme == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity=nonlin)
            else:
                nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _dense_block(
    n_in: int, n_out: int, activation: str, batch_norm: bool, dropout: float
) -> nn.Sequential:
    parts: list[nn.Module] = [nn.Linear(n_in, n_out)]
    if batch_norm:
        parts.append(nn.BatchNorm1d(n_out))
    parts.append(ACTIVATIONS[activation]())
    if dropout > 0:
        parts.append(nn.Dropout(dropout))
    return nn.Sequential(*parts)


class MLP(nn.Module):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        width = int(config["n_inputs"])
        blocks = []
        for h in config["hidden_layers"]:
            blocks.append(
                _dense_block(
                    width,
                    int(h),
                    config["activation"],
                    bool(config.get("batch_norm")),
                    float(config.get("dropout", 0.0)),
                )
            )
            width = int(h)
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, int(config["n_outputs"]))
        init_weights(self, config.get("init", "auto"), config["activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class CNN(nn.Module):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        c, h, w = (int(v) for v in config["input_shape"])
        self.shape = (c, h, w)
        k = int(config["kernel_size"])
        act, bn, drop = config["activation"], bool(config["batch_norm"]), float(config["dropout"])
        blocks = []
        for out in config["channels"]:
            parts: list[nn.Module] = [nn.Conv2d(c, int(out), k, padding=k // 2)]
            if bn:
                parts.append(nn.BatchNorm2d(int(out)))
            parts.append(ACTIVATIONS[act]())
            h, w = h + 2 * (k // 2) - k + 1, w + 2 * (k // 2) - k + 1
            if config["pool"] != "none" and h >= 2 and w >= 2:
                parts.append(nn.MaxPool2d(2) if config["pool"] == "max" else nn.AvgPool2d(2))
                h, w = h // 2, w // 2
            if drop > 0:
                parts.append(nn.Dropout(drop))
            blocks.append(nn.Sequential(*parts))
            c = int(out)
        self.features = nn.Sequential(*blocks)
        width = c * h * w
        dense = []
        for d in config["dense_layers"]:
            dense.append(_dense_block(width, int(d), act, bn, drop))
            width = int(d)
        self.dense = nn.Sequential(*dense)
        self.head = nn.Linear(width, int(config["n_outputs"]))
        init_weights(self, config.get("init", "auto"), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x.reshape(x.shape[0], *self.shape))
        return self.head(self.dense(x.flatten(1)))


class RNN(nn.Module):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        t, f = (int(v) for v in config["input_shape"])
        self.shape = (t, f)
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config["cell"]]
        layers = int(config["num_layers"])
        drop = float(config["dropout"])
        self.rnn = cls(
            f,
            int(config["hidden_size"]),
            num_layers=layers,
            batch_first=True,
            bidirectional=bool(config["bidirectional"]),
            dropout=drop if layers > 1 else 0.0,
        )
        self.dirs = 2 if config["bidirectional"] else 1
        self.drop = nn.Dropout(drop)
        self.head = nn.Linear(int(config["hidden_size"]) * self.dirs, int(config["n_outputs"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(x.reshape(x.shape[0], *self.shape))
        h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, N, H)
        last = h[-self.dirs :].transpose(0, 1).reshape(x.shape[0], -1)
        return self.head(self.drop(last))


def sinusoidal(t: int, d: int) -> torch.Tensor:
    pos = torch.arange(t, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10_000.0) / d))
    pe = torch.zeros(t, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe


class Transformer(nn.Module):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        t, f = (int(v) for v in config["input_shape"])
        self.shape = (t, f)
        d = int(config["d_model"])
        self.use_cls = config["pooling"] == "cls"
        steps = t + (1 if self.use_cls else 0)
        self.embed = nn.Linear(f, d)
        self.pos: nn.Parameter | None = None
        kind = config["positional_encoding"]
        if kind == "learned":
            self.pos = nn.Parameter(torch.randn(steps, d) * 0.02)
        self.register_buffer(
            "fixed_pos",
            sinusoidal(steps, d) if kind == "sinusoidal" else torch.zeros(0),
            persistent=False,
        )
        self.has_fixed_pos = kind == "sinusoidal"
        if self.use_cls:
            self.cls = nn.Parameter(torch.zeros(1, 1, d))
        layer = nn.TransformerEncoderLayer(
            d,
            int(config["n_heads"]),
            int(config["dim_feedforward"]),
            float(config["dropout"]),
            activation=config["activation"],
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, int(config["n_layers"]), enable_nested_tensor=False
        )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, int(config["n_outputs"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embed(x.reshape(x.shape[0], *self.shape))
        if self.use_cls:
            z = torch.cat([self.cls.expand(z.shape[0], -1, -1), z], dim=1)
        if self.pos is not None:
            z = z + self.pos
        elif self.has_fixed_pos:
            z = z + self.fixed_pos
        z = self.norm(self.encoder(z))
        pooled = z[:, 0] if self.use_cls else z.mean(dim=1)
        return self.head(pooled)


BUILDERS: dict[str, type[nn.Module]] = {
    "mlp": MLP,
    "cnn": CNN,
    "rnn": RNN,
    "transformer": Transformer,
}


def build_net(config: dict[str, Any]) -> nn.Module:
    try:
        builder = BUILDERS[config["arch"]]
    except KeyError:
        raise ValueError(f"unknown network architecture {config.get('arch')!r}") from None
    return builder(config)


def resolve_device(requested: str) -> torch.device:
    from mlengine.errors import TrainingError

    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError(
                "device",
                "device 'cuda' was asked for but no CUDA GPU is available here; "
                "use 'auto' or 'cpu'",
            )
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
