"""Optimizers and the per-epoch learning-rate schedule.

The schedule is a small pure function of the epoch (plus, for ``plateau``, a state of
three numbers), so a checkpoint stores it as JSON and a resumed run continues exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from mlengine.netspec import LRSchedule, NetTraining


def make_optimizer(t: NetTraining, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    lr, wd = t.learning_rate, t.weight_decay
    params = list(params)
    name = t.optimizer
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(
            params, lr=lr, momentum=t.momentum, nesterov=name == "nesterov", weight_decay=wd
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)
    if name == "lbfgs":
        return torch.optim.LBFGS(
            params, lr=lr, max_iter=10, history_size=20, line_search_fn="strong_wolfe"
        )
    raise ValueError(f"unknown optimizer {name!r}")


class Schedule:
    """``lr(epoch)`` for epochs 1..E: linear warmup, then constant/step/exponential/cosine,
    or ``plateau`` (multiply by ``factor`` after ``patience`` epochs without improvement)."""

    def __init__(self, spec: LRSchedule, base_lr: float, epochs: int):
        self.spec = spec
        self.base = base_lr
        self.epochs = epochs
        self.state: dict[str, Any] = {"scale": 1.0, "best": None, "bad": 0}

    def lr(self, epoch: int) -> float:
        s = self.spec
        w = s.warmup_epochs
        if epoch <= w:
            return self.base * epoch / w
        e = epoch - w  # 1-based epoch after the warmup
        if s.type == "step":
            return self.base * s.gamma ** ((e - 1) // s.step_size)
        if s.type == "exponential":
            return self.base * s.decay ** (e - 1)
        if s.type == "cosine":
            span = max(self.epochs - w - 1, 1)
            floor = min(s.min_lr, self.base)
            return floor + (self.base - floor) * 0.5 * (1.0 + math.cos(math.pi * (e - 1) / span))
        if s.type == "plateau":
            return max(self.base * float(self.state["scale"]), min(s.min_lr, self.base))
        return self.base

    def observe(self, epoch: int, monitor: float) -> None:
        """After an epoch: the monitored loss (lower is better) drives ``plateau``."""
        if self.spec.type != "plateau" or epoch <= self.spec.warmup_epochs:
            return
        best = self.state["best"]
        if best is None or monitor < best:
            self.state["best"], self.state["bad"] = monitor, 0
            return
        self.state["bad"] += 1
        if self.state["bad"] >= self.spec.patience:
            self.state["scale"] *= self.spec.factor
            self.state["bad"] = 0


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
