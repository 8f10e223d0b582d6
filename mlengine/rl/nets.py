"""The small networks of the RL algorithms, rebuilt from a JSON config for serving.

Config: ``{"kind": "q" | "actor" | "critic", "n_inputs", "hidden", "activation",
"n_outputs", "continuous", "normalize"}``. ``normalize``: the network standardizes its
input with running statistics of the observations (``RunningNorm``, saved with it).
``q``: one value per action. ``actor``: logits (discrete) or a mean with a
state-independent ``log_std`` (continuous). ``critic``: V(s).
Orthogonal initialization as in Stable-Baselines3 (gain sqrt(2) inside, 0.01 for a policy
head, 1 for a value head).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(
    n_in: int, hidden: list[int], n_out: int, activation: str, out_gain: float
) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = [n_in, *hidden]
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        lin = nn.Linear(a, b)
        nn.init.orthogonal_(lin.weight, math.sqrt(2))
        nn.init.zeros_(lin.bias)
        layers += [lin, ACTIVATIONS[activation]()]
    head = nn.Linear(sizes[-1], n_out)
    nn.init.orthogonal_(head.weight, out_gain)
    nn.init.zeros_(head.bias)
    layers.append(head)
    return nn.Sequential(*layers)


class RunningNorm(nn.Module):
    """Running mean and variance of its inputs (the parallel update of Chan et al., as
    Stable-Baselines3's ``VecNormalize`` keeps them); ``forward`` standardizes and clips to
    +-``clip``. Only ``update`` changes the statistics: the trainer calls it on what it
    collects, so evaluation and serving use the statistics as they were saved."""

    def __init__(self, n: int, clip: float = 10.0):
        super().__init__()
        self.clip = clip
        self.mean: torch.Tensor
        self.var: torch.Tensor
        self.count: torch.Tensor
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("var", torch.ones(n))
        self.register_buffer("count", torch.tensor(1e-4))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        b = x.shape[0]
        batch_mean, batch_var = x.mean(0), x.var(0, unbiased=False)
        delta = batch_mean - self.mean
        total = self.count + b
        m2 = self.var * self.count + batch_var * b + delta.square() * self.count * b / total
        self.mean.add_(delta * b / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def scale(self) -> torch.Tensor:
        return torch.sqrt(self.var + 1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.scale()).clamp(-self.clip, self.clip)


def _input_norm(config: dict[str, Any]) -> nn.Module:
    return RunningNorm(config["n_inputs"]) if config.get("normalize") else nn.Identity()


def observe(net: nn.Module, x: torch.Tensor) -> None:
    """Feed collected observations to ``net``'s input statistics, if it keeps them."""
    norm = getattr(net, "norm", None)
    if isinstance(norm, RunningNorm):
        norm.update(x)


class QNet(nn.Module):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.norm = _input_norm(config)
        self.body = mlp(
            config["n_inputs"], config["hidden"], config["n_outputs"], config["activation"], 1.0
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(self.norm(x))
        return out


class Critic(nn.Module):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.norm = _input_norm(config)
        self.body = mlp(config["n_inputs"], config["hidden"], 1, config["activation"], 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(self.norm(x)).squeeze(-1)
        return out


class Actor(nn.Module):
    """``forward`` gives logits (discrete) or the mean (continuous)."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.continuous = bool(config.get("continuous"))
        self.norm = _input_norm(config)
        self.body = mlp(
            config["n_inputs"], config["hidden"], config["n_outputs"], config["activation"], 0.01
        )
        if self.continuous:
            self.log_std = nn.Parameter(torch.zeros(config["n_outputs"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(self.norm(x))
        return out

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions and their log-probabilities (no gradient needed by callers)."""
        out = self.body(self.norm(x))
        if self.continuous:
            std = self.log_std.exp()
            a = out + std * torch.randn_like(out)
            return a, _normal_logp(a, out, self.log_std)
        logp = torch.log_softmax(out, dim=-1)
        a = torch.multinomial(logp.exp(), 1).squeeze(-1)
        return a, logp.gather(-1, a.unsqueeze(-1)).squeeze(-1)

    def evaluate(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of ``a`` and the entropy, with gradients."""
        out = self.body(self.norm(x))
        if self.continuous:
            ent = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(out.shape[0])
            return _normal_logp(a, out, self.log_std), ent
        logp = torch.log_softmax(out, dim=-1)
        ent = -(logp.exp() * logp).sum(-1)
        return logp.gather(-1, a.long().unsqueeze(-1)).squeeze(-1), ent

    def greedy(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(self.norm(x))
        return out if self.continuous else out.argmax(-1)


def _normal_logp(a: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    z = (a - mean) / log_std.exp()
    return (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def actor_critic(
    actor_config: dict[str, Any],
    critic_config: dict[str, Any],
    device: torch.device,
    normalize_rewards: bool = False,
) -> tuple[Actor, Critic, dict[str, nn.Module], RunningNorm | None]:
    """An actor and a critic that share one input normalization (when they keep one), the
    modules a checkpoint keeps, and the reward normalizer when ``normalize_rewards``."""
    actor = Actor(actor_config).to(device)
    critic = Critic(critic_config).to(device)
    critic.norm = actor.norm
    models: dict[str, nn.Module] = {"net": actor, "critic": critic}
    reward_norm = RunningNorm(1).to(device) if normalize_rewards else None
    if reward_norm is not None:
        models["reward_norm"] = reward_norm
    return actor, critic, models, reward_norm


def adam(
    params: Iterable[nn.Parameter], lr: float, device: torch.device, eps: float = 1e-8
) -> torch.optim.Adam:
    """Adam with the fused kernel (one call per step for every tensor, on CPU and CUDA): the
    small networks of RL take thousands of steps, and a per-tensor loop is a fifth of each."""
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=device.type in ("cpu", "cuda"))


def build(config: dict[str, Any]) -> nn.Module:
    kind = config["kind"]
    if kind == "q":
        return QNet(config)
    if kind == "actor":
        return Actor(config)
    if kind == "critic":
        return Critic(config)
    raise ValueError(f"unknown network kind {kind!r}")


SMALL_NET_PARAMETERS = 1_000_000


@contextlib.contextmanager
def seeded(device_type: str, seed: int, hidden: list[int]) -> Iterator[None]:
    """Forks torch's global generators and seeds them (seeding must not leak to the caller).

    On CPU, the small networks of RL run on one intra-op thread for the duration of the run
    (the caller's setting is restored after): their matrices are too small to split, and a
    second thread only adds synchronization, many times over per environment step.
    """
    devices = [torch.cuda.current_device()] if device_type == "cuda" else []
    threads = torch.get_num_threads()
    small = sum(a * b for a, b in zip(hidden[:-1], hidden[1:], strict=False)) < SMALL_NET_PARAMETERS
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if device_type == "cpu" and small:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
