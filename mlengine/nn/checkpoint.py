"""Training checkpoints: safetensors bytes, never pickle.

Tensors::

    model.<name>             the network's state dict
    optim.<param>.<key>      the optimizer's per-parameter state (e.g. exp_avg, step)
    optlist.<param>.<key>.<j>  lists of tensors in that state (L-BFGS history)
    rng.cpu / rng.cuda       torch's global generator states (dropout)
    rng.perm                 the generator of the per-epoch permutation
    best.<name>              with early stopping: the best epoch's weights (restored at the end)

Metadata (safetensors header ``__metadata__``, all strings)::

    format  "descent-checkpoint"    version "1"    epoch "<last completed epoch>"
    state   JSON: kind, net config, optimizer name, param_groups (without params),
            non-tensor optimizer state, best {loss, epoch}, ref_loss, device,
            schedule (plateau state), early_stopping {bad_epochs, done}, gradient_check
"""

from __future__ import annotations

import json
import struct
from typing import Any

import torch

from mlengine.errors import ArtifactError

FORMAT = "descent-checkpoint"
VERSION = "1"


def capture(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    perm_generator: torch.Generator,
    epoch: int,
    state: dict[str, Any],
    extra: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A snapshot (tensors cloned on their device, cheap) to encode now or later.

    ``extra``: more tensors stored as they are (e.g. ``best.<name>``, the best weights kept
    for early stopping); the caller must not change them in place afterwards.
    """
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().clone() for k, v in net.state_dict().items()
    }
    tensors.update(extra or {})
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, pstate in opt["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value.detach().clone()
            elif isinstance(value, list | tuple) and value and isinstance(value[0], torch.Tensor):
                # L-BFGS keeps lists of tensors (its curvature history)
                for j, item in enumerate(value):
                    tensors[f"optlist.{idx}.{key}.{j}"] = item.detach().clone()
                scalars.setdefault(str(idx), {}).setdefault("__lists__", {})[key] = len(value)
            else:
                scalars.setdefault(str(idx), {})[key] = value
    tensors["rng.cpu"] = torch.get_rng_state()
    tensors["rng.perm"] = perm_generator.get_state()
    device = perm_generator.device
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt["param_groups"]]
    meta = {
        **state,
        "epoch": epoch,
        "param_groups": groups,
        "optim_scalars": scalars,
        "device": device.type,
    }
    return tensors, meta


def encode(snapshot: tuple[dict[str, torch.Tensor], dict[str, Any]]) -> bytes:
    from safetensors.torch import save

    tensors, meta = snapshot
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data: bytes = save(
        cpu,
        metadata={
            "format": FORMAT,
            "version": VERSION,
            "epoch": str(meta["epoch"]),
            "state": json.dumps(meta, default=_json_default),
        },
    )
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def read_metadata(data: bytes) -> dict[str, str]:
    if len(data) < 8:
        raise ArtifactError("not a checkpoint (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ArtifactError("not a checkpoint (bad header)")
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError as exc:
        raise ArtifactError("not a checkpoint (bad header)") from exc
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def decode(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (on CPU) and the state metadata of a checkpoint."""
    from safetensors.torch import load

    header = read_metadata(data)
    if header.get("format") != FORMAT:
        raise ArtifactError("not a Descent training checkpoint")
    if header.get("version") != VERSION:
        raise ArtifactError(f"checkpoint version {header.get('version')} is not supported")
    return load(data), json.loads(header["state"])


def optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> dict[str, Any]:
    """The optimizer state dict to load, from a decoded checkpoint."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, values in meta.get("optim_scalars", {}).items():
        values = dict(values)
        lists = values.pop("__lists__", {})
        state.setdefault(int(idx), {}).update(values)
        for key, count in lists.items():
            state[int(idx)][key] = [tensors[f"optlist.{idx}.{key}.{j}"] for j in range(count)]
    groups = optimizer.state_dict()["param_groups"]
    for group, saved in zip(groups, meta.get("param_groups", []), strict=False):
        if "lr" in saved:
            group["lr"] = saved["lr"]
    return {"state": state, "param_groups": groups}
