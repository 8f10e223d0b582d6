"""Transfer learning: start a network from another job's model, with layers frozen.

The source is a model artifact (the zip ``load_predictor`` reads). Every layer but
``head`` must have the same architecture (same kind, same structural parameters, the
same number of input features); ``head`` is copied when its shape matches (same task and
class count) and otherwise left newly initialized. A parameter is frozen when its name
is a frozen layer name or starts with one followed by a dot.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mlengine.artifact import MODEL_SAFETENSORS, read_artifact
from mlengine.errors import ArtifactError, TrainingError

# Config keys that may differ between source and target: they do not change the shapes
# or the function of the copied layers (only of the head, or only of training).
_FREE_KEYS = {"n_outputs", "head", "target_mean", "target_std", "loss", "dropout", "init"}


def layer_of(name: str, layers: list[str]) -> str:
    best = ""
    for lay in layers:
        if (name == lay or name.startswith(lay + ".")) and len(lay) > len(best):
            best = lay
    return best or name.split(".")[0]


def matches(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def load_source(data: bytes) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    from safetensors.torch import load

    try:
        meta, files = read_artifact(data)
    except ArtifactError as exc:
        raise TrainingError("init_from", f"cannot read the source model: {exc}") from exc
    if meta.get("framework") != "torch" or MODEL_SAFETENSORS not in files or not meta.get("net"):
        raise TrainingError(
            "init_from",
            f"the source model is a '{meta.get('model_type')}', not a neural network; "
            "init_from needs a job of kind mlp, cnn, rnn or transformer",
        )
    return meta, load(files[MODEL_SAFETENSORS])


def init_from_artifact(
    net: nn.Module, config: dict[str, Any], layers: list[str], data: bytes, freeze: list[str]
) -> dict[str, Any]:
    """Copy the source weights into ``net``; what was copied and what was not."""
    meta, weights = load_source(data)
    src = meta["net"]
    if src.get("arch") != config["arch"]:
        raise TrainingError(
            "init_from",
            f"the source model is a '{meta.get('model_type')}' network and this job trains "
            f"a '{config['arch']}'; init_from needs the same model type",
        )
    for key in sorted(set(src) | set(config)):
        if key in _FREE_KEYS or src.get(key) == config.get(key):
            continue
        what = "input features (after preprocessing)" if key == "n_inputs" else f"'{key}'"
        raise TrainingError(
            "init_from",
            f"the source model's {what} is {src.get(key)!r} and this job's is "
            f"{config.get(key)!r}; init_from needs the same architecture for every layer "
            "but head",
        )
    state = net.state_dict()
    copied: set[str] = set()
    fresh: set[str] = set()
    for name, value in state.items():
        layer = layer_of(name, layers)
        other = weights.get(name)
        if other is not None and tuple(other.shape) == tuple(value.shape):
            state[name] = other.to(value.dtype)
            copied.add(layer)
        elif layer == "head":
            fresh.add(layer)
        else:
            raise TrainingError(
                "init_from",
                f"layer '{layer}' of the source model does not fit ('{name}': "
                f"{None if other is None else list(other.shape)} vs {list(value.shape)})",
            )
    if "head" in fresh and matches("head", freeze):
        raise TrainingError(
            "init_from",
            "the source model's head does not fit this task (another task or class count), "
            "so it cannot be frozen; leave 'head' out of freeze",
        )
    net.load_state_dict(state)
    return {
        "source_model_type": meta.get("model_type"),
        "copied": [lay for lay in layers if lay in copied and lay not in fresh],
        "reinitialized": sorted(fresh),
        "frozen": list(freeze),
    }


def freeze_layers(net: nn.Module, freeze: list[str]) -> list[nn.Module]:
    """Freeze parameters; the frozen batch-norm modules (kept in eval mode while training)."""
    if not freeze:
        return []
    for name, p in net.named_parameters():
        if matches(name, freeze):
            p.requires_grad_(False)
    return [
        m
        for name, m in net.named_modules()
        if matches(name, freeze) and isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
