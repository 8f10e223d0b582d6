"""RL checkpoints: safetensors bytes, never pickle (below ``base``, ``nets`` and the algorithms).

Tensors::

    <module>.<name>        each checkpointed module's state dict (``net.``: the policy network
                           the artifact serves; ``critic.``, ``target.``, ``reward_norm.``, ...)
    optim.<param>.<key>    the optimizer's per-parameter state (as mlengine.nn.checkpoint)
    rng.cpu                torch's global generator
    q / v                  tables (value iteration, Q-learning)

Metadata (safetensors header ``__metadata__``, all strings)::

    format "descent-rl-checkpoint"    version "1"    step "<environment steps>"
    state  JSON: kind, step, param_groups and non-tensor optimizer state, the algorithm's own

Torch is imported only by the functions that handle networks (the tables need none of it).
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from mlengine.errors import TrainingError

if TYPE_CHECKING:
    import torch
    from torch import nn

CHECKPOINT_FORMAT = "descent-rl-checkpoint"
CHECKPOINT_VERSION = "1"


def encode_checkpoint(tensors: dict[str, np.ndarray], state: dict[str, Any], step: int) -> bytes:
    from safetensors.numpy import save

    data: bytes = save(
        {k: np.ascontiguousarray(v) for k, v in tensors.items()},
        metadata={
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": str(step),
            "state": json.dumps(state),
        },
    )
    return data


def decode_checkpoint(data: bytes, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors and state of a checkpoint this kind wrote; ``TrainingError`` otherwise."""
    from safetensors.numpy import load

    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
        tensors = load(data)
    except Exception as exc:  # noqa: BLE001 - any corrupt checkpoint
        raise TrainingError("resume", f"cannot resume from this checkpoint: {exc}") from exc
    if header.get("format") != CHECKPOINT_FORMAT or header.get("version") != CHECKPOINT_VERSION:
        raise TrainingError("resume", "not a reinforcement-learning checkpoint of this engine")
    state = json.loads(header["state"])
    if state.get("kind") != kind:
        raise TrainingError(
            "resume", f"the checkpoint was made by '{state.get('kind')}', not '{kind}'"
        )
    return tensors, state


# ----------------------------------------------------------------------------- networks


def to_numpy(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}{k}": v.detach().cpu().numpy() for k, v in state.items()}


def from_numpy(tensors: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    import torch

    return {
        k[len(prefix) :]: torch.from_numpy(v.copy())
        for k, v in tensors.items()
        if k.startswith(prefix)
    }


def optimizer_to_numpy(
    opt: torch.optim.Optimizer, prefix: str = "optim."
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tensors and JSON scalars of an optimizer's state (as mlengine.nn.checkpoint lays them)."""
    import torch

    sd = opt.state_dict()
    tensors: dict[str, Any] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, pstate in sd["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}{idx}.{key}"] = value.detach().cpu().numpy()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    groups = [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]]
    return tensors, {"optim_scalars": scalars, "param_groups": groups}


def optimizer_from_numpy(
    opt: torch.optim.Optimizer,
    tensors: dict[str, Any],
    state: dict[str, Any],
    prefix: str = "optim.",
) -> None:
    import torch

    from mlengine.nn.checkpoint import optimizer_state

    ts = {
        "optim." + k[len(prefix) :]: torch.from_numpy(v.copy())
        for k, v in tensors.items()
        if k.startswith(prefix)
    }
    opt.load_state_dict(optimizer_state(opt, ts, state))


def snapshot(
    kind: str, step: int, nets: dict[str, nn.Module], opt: torch.optim.Optimizer, **state: Any
) -> bytes:
    """A checkpoint: every network, the optimizer, torch's RNG and the step (safetensors)."""
    import torch

    tensors: dict[str, Any] = {}
    for name, net in nets.items():
        tensors.update(to_numpy(net.state_dict(), f"{name}."))
    opt_tensors, opt_state = optimizer_to_numpy(opt)
    tensors.update(opt_tensors)
    tensors["rng.cpu"] = torch.get_rng_state().numpy()
    return encode_checkpoint(tensors, {"kind": kind, "step": step, **opt_state, **state}, step)


def restore(
    data: bytes, kind: str, nets: dict[str, nn.Module], opt: torch.optim.Optimizer
) -> dict[str, Any]:
    """Load a checkpoint made by ``snapshot`` into ``nets`` and ``opt``; its state dict."""
    import torch

    tensors, state = decode_checkpoint(data, kind)
    try:
        for name, net in nets.items():
            net.load_state_dict(from_numpy(tensors, f"{name}."))
        optimizer_from_numpy(opt, tensors, state)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise TrainingError(
            "resume", f"the checkpoint does not fit this job's networks: {exc}"
        ) from exc
    torch.set_rng_state(torch.from_numpy(tensors["rng.cpu"].copy()))
    return state


def policy_tensors(data: bytes, kind: str) -> dict[str, np.ndarray]:
    """The policy network's weights (``net.*``) in a checkpoint this kind wrote."""
    tensors, _ = decode_checkpoint(data, kind)
    return {k: v for k, v in tensors.items() if k.startswith("net.")}
