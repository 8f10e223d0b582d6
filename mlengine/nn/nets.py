"""Networks built from a JSON config (stored in the artifact to rebuild the net)."""

from __future__ import annotations

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


def build_mlp(config: dict[str, Any]) -> nn.Module:
    layers: list[nn.Module] = []
    width = int(config["n_inputs"])
    for h in config["hidden_layers"]:
        layers.append(nn.Linear(width, int(h)))
        layers.append(ACTIVATIONS[config["activation"]]())
        if config.get("dropout", 0.0) > 0:
            layers.append(nn.Dropout(float(config["dropout"])))
        width = int(h)
    layers.append(nn.Linear(width, int(config["n_outputs"])))
    return nn.Sequential(*layers)


BUILDERS = {"mlp": build_mlp}


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
