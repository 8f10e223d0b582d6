"""The resumable state of a neural training run: one dataclass, saved and restored whole.

``FitState`` holds the live objects a run updates (network, optimizer, learning-rate
schedule, the generator of the per-epoch permutation) and its counters (last epoch, best
monitored value and epoch, the best weights kept for early stopping, the divergence
reference, early-stopping counters, the gradient check). ``snapshot`` captures all of it
(with torch's global generators) for ``checkpoint.encode``; ``restore`` puts a
checkpoint's bytes back into it, so a resumed run continues exactly.

The checkpoint layout is ``mlengine.nn.checkpoint``'s (its docstring lists the keys).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import torch

from mlengine.errors import ArtifactError, TrainingError
from mlengine.nn import checkpoint as ckpt
from mlengine.nn.optim import Schedule

Snapshot = tuple[dict[str, torch.Tensor], dict[str, Any]]


@dataclass
class FitState:
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    generator: torch.Generator  # the per-epoch permutation's (on the training device)
    epoch: int = 0  # the last completed epoch
    best_loss: float = math.inf  # the best monitored value (negated when higher is better)
    best_epoch: int = 0
    best_weights: dict[str, torch.Tensor] | None = None  # with early stopping
    ref_loss: float | None = None  # the first batch's loss: divergence is judged against it
    bad_epochs: int = 0  # epochs without improvement (early stopping)
    done: bool = False  # early stopping ended the run
    gradient_check: float | None = None  # backprop against finite differences, if asked

    def snapshot(self, identity: dict[str, Any]) -> Snapshot:
        """Everything, captured on the device (tensor copies, no serialization).

        ``identity``: what a checkpoint must match to be resumed (kind, net config,
        optimizer name); ``restore`` checks it.
        """
        extra = None
        if self.best_weights is not None:
            extra = {f"best.{k}": v for k, v in self.best_weights.items()}
        best_loss = self.best_loss if math.isfinite(self.best_loss) else None
        state = {
            **identity,
            "best": {"loss": best_loss, "epoch": self.best_epoch},
            "ref_loss": self.ref_loss,
            "schedule": dict(self.schedule.state),
            "early_stopping": {"bad_epochs": self.bad_epochs, "done": self.done},
            "gradient_check": self.gradient_check,
        }
        return ckpt.capture(self.net, self.optimizer, self.generator, self.epoch, state, extra)

    def restore(self, data: bytes, identity: dict[str, Any]) -> None:
        """Load a checkpoint made by a run of the same identity; ``TrainingError`` if not."""
        try:
            tensors, meta = ckpt.decode(data)
        except (ArtifactError, ValueError) as exc:
            raise TrainingError("resume", f"cannot resume from this checkpoint: {exc}") from exc
        if any(_as_json(meta.get(key)) != _as_json(value) for key, value in identity.items()):
            raise TrainingError(
                "resume",
                "the checkpoint was made by a different model, data or optimizer than this job's",
            )
        device = self.generator.device
        self.net.load_state_dict(
            {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        )
        self.optimizer.load_state_dict(ckpt.optimizer_state(self.optimizer, tensors, meta))
        torch.set_rng_state(tensors["rng.cpu"])
        if meta.get("device") == device.type:
            self.generator.set_state(tensors["rng.perm"])
            if device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], device)
        best = meta.get("best") or {}
        stopping = meta.get("early_stopping") or {}
        best_weights = {
            k[len("best.") :]: v.to(device) for k, v in tensors.items() if k.startswith("best.")
        }
        self.epoch = int(meta["epoch"])
        self.best_loss = math.inf if best.get("loss") is None else float(best["loss"])
        self.best_epoch = int(best.get("epoch") or 0)
        self.best_weights = best_weights or None
        self.ref_loss = meta.get("ref_loss")
        self.schedule.state = dict(meta.get("schedule") or {"scale": 1.0, "best": None, "bad": 0})
        self.bad_epochs = int(stopping.get("bad_epochs") or 0)
        self.done = bool(stopping.get("done"))
        self.gradient_check = meta.get("gradient_check")


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from a checkpoint's JSON (tuples become lists)."""
    return json.loads(json.dumps(value))
