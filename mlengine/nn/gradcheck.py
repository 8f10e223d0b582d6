"""Gradient checking: backprop against centred finite differences, in float64.

A copy of the network in float64 and eval mode (dropout off, batch norm on its running
statistics: a fixed, differentiable function) computes the loss on a small batch. For a
seeded sample of coordinates of every parameter tensor, the analytic gradient is compared
with ``(L(w + h) - L(w - h)) / 2h``; the relative error ``|a - n| / max(|a| + |n|, 1e-7)``
of the worst coordinate is returned. Below ~1e-6 the gradients agree; a kink of ReLU
crossed by ``h`` can raise a single coordinate, which is why a small batch is used.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

STEP = 1e-6
TINY = 1e-7  # below this, |a| + |n| is float64 noise of the differences
COORDS_PER_TENSOR = 6


def max_relative_error(
    net: nn.Module,
    loss_of: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    xb: torch.Tensor,
    yb: torch.Tensor,
    seed: int = 0,
) -> float:
    model = copy.deepcopy(net).to("cpu", torch.float64).eval()
    x = xb.detach().to("cpu", torch.float64)
    y = yb.detach().to("cpu")
    if y.is_floating_point():
        y = y.double()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    model.zero_grad(set_to_none=True)
    loss_of(model, x, y).backward()
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    with torch.no_grad():
        for _, p in params:
            if p.grad is None:
                continue
            flat, grad = p.view(-1), p.grad.view(-1)
            k = min(COORDS_PER_TENSOR, flat.numel())
            for i in torch.randperm(flat.numel(), generator=gen)[:k].tolist():
                old = float(flat[i])
                flat[i] = old + STEP
                up = float(loss_of(model, x, y))
                flat[i] = old - STEP
                down = float(loss_of(model, x, y))
                flat[i] = old
                numeric = (up - down) / (2 * STEP)
                analytic = float(grad[i])
                denom = max(abs(analytic) + abs(numeric), TINY)
                worst = max(worst, abs(analytic - numeric) / denom)
    return worst
