"""What REINFORCE, A2C and PPO share: the outer loop, a rollout of ``n_steps`` from
``n_envs`` copies and its advantages (as Stable-Baselines3's ``OnPolicyAlgorithm`` and
``RolloutBuffer`` do). Each algorithm's own file holds its update.

``ActorCritic.build`` makes the run, the actor and the critic (one input normalization) and
the reward normalizer. ``train_on_policy`` resumes from a checkpoint, then repeats: stop
check, collect a rollout, the algorithm's update (its loss point, if any, and progress),
periodic evaluation (remembering the best policy for ``keep_best``) and periodic
checkpoints; whole rollouts only, never past the budget (at least one). Then the final
evaluation, checkpoints and the artifact.

``collect`` steps the vector env with the actor, keeping observations (encoded), actions,
log-probabilities, rewards, values and episode ends as tensors. A time-limit truncation
adds ``gamma * V(final observation)`` to the reward (the episode did not really end).
Observations feed the actor's input statistics when it keeps them; with a reward
normalizer, rewards are divided by the running spread of the discounted return (as
Stable-Baselines3's ``VecNormalize``); episode metrics always report the raw rewards.
``advantages`` is GAE(lambda): lambda = 1 gives rewards-to-go minus the baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from mlengine.context import TrainContext
from mlengine.kinds.rl import (
    A2CParams,
    A2CTraining,
    PPOParams,
    PPOTraining,
    ReinforceParams,
    ReinforceTraining,
)
from mlengine.rl import checkpoint, nets
from mlengine.rl.base import Episodes, RLRun
from mlengine.rl.envs import encode_obs
from mlengine.rl.nets import Actor, Critic, RunningNorm, observe
from mlengine.types import TrainResult

OnPolicyParams = PPOParams | A2CParams | ReinforceParams
OnPolicyTraining = PPOTraining | A2CTraining | ReinforceTraining

# An algorithm's update: (rollout, environment steps after it, progress remaining before it
# (1 at the start, 0 at the end: for schedules)) -> the loss point to log, or None.
Update = Callable[["Rollout", int, float], dict[str, float] | None]


@dataclass
class Rollout:
    obs: torch.Tensor  # (T, N, F)
    actions: torch.Tensor  # (T, N) or (T, N, D)
    logp: torch.Tensor  # (T, N)
    rewards: torch.Tensor  # (T, N)
    values: torch.Tensor  # (T, N)
    starts: torch.Tensor  # (T, N): 1 where the observation starts an episode
    last_values: torch.Tensor  # (N,) V of the observation after the rollout
    last_starts: torch.Tensor  # (N,)


class Collector:
    """Steps ``envs`` with ``actor``; remembers the current observations between rollouts."""

    def __init__(
        self,
        run: RLRun,
        envs: gym.vector.VectorEnv[Any, Any, Any],
        gamma: float,
        device: torch.device,
        reward_norm: RunningNorm | None = None,
    ):
        self.run = run
        self.reward_norm = reward_norm
        self.discounted = np.zeros(envs.num_envs, dtype=np.float32)
        self.envs = envs
        self.n = envs.num_envs
        self.gamma = gamma
        self.device = device
        self.obs_space = run.spaces.observation
        self.continuous = not run.spaces.discrete_actions
        if self.continuous:
            self.low = np.asarray(run.spaces.action["low"], dtype=np.float32)
            self.high = np.asarray(run.spaces.action["high"], dtype=np.float32)
            self.action_shape = tuple(run.spaces.action["shape"])
        self.obs = run.reset(envs)
        self.starts = np.ones(self.n, dtype=np.float32)
        self.episodes = Episodes(run, self.n)

    def tensor(self, obs: Any) -> torch.Tensor:
        return torch.from_numpy(encode_obs(self.obs_space, obs)).to(self.device)

    def collect(self, actor: Actor, critic: Critic, n_steps: int, step: int) -> tuple[Rollout, int]:
        """A rollout from environment step ``step``; returns it and the new step count."""
        F = self.run.spaces.obs_features
        dev = self.device
        obs_b = torch.zeros((n_steps, self.n, F), device=dev)
        act_shape = (n_steps, self.n, *self.action_shape) if self.continuous else (n_steps, self.n)
        act_b = torch.zeros(
            act_shape, device=dev, dtype=torch.float32 if self.continuous else torch.long
        )
        logp_b = torch.zeros((n_steps, self.n), device=dev)
        val_b = torch.zeros((n_steps, self.n), device=dev)
        rew_b = np.zeros((n_steps, self.n), dtype=np.float32)
        start_b = np.zeros((n_steps, self.n), dtype=np.float32)
        for t in range(n_steps):
            x = self.tensor(self.obs)
            observe(actor, x)
            with torch.no_grad():
                a, logp = actor.sample(x)
                v = critic(x)
            obs_b[t], act_b[t], logp_b[t], val_b[t] = x, a, logp, v
            start_b[t] = self.starts
            a_np = a.cpu().numpy()
            if self.continuous:
                a_np = np.clip(a_np.reshape(self.n, *self.action_shape), self.low, self.high)
            next_obs, r, term, trunc, infos = self.envs.step(a_np)
            r = np.asarray(r, dtype=np.float32)
            done = term | trunc
            self.episodes.update(step, r, done)
            r = self.scale_rewards(r, done)
            cut = trunc & ~term
            if cut.any():  # bootstrap a time-limit cut from the state it was cut in
                final = [infos["final_obs"][i] for i in np.flatnonzero(cut)]
                if self.obs_space["type"] == "tuple":
                    final_batch: Any = tuple(np.asarray(c) for c in zip(*final, strict=True))
                else:
                    final_batch = np.stack(final)
                with torch.no_grad():
                    fv = critic(self.tensor(final_batch)).cpu().numpy()
                r = r.copy()
                r[cut] += self.gamma * fv
            rew_b[t] = r
            step += self.n
            self.obs = next_obs
            self.starts = done.astype(np.float32)
        x = self.tensor(self.obs)
        with torch.no_grad():
            last_v = critic(x)
        rollout = Rollout(
            obs=obs_b,
            actions=act_b,
            logp=logp_b,
            rewards=torch.from_numpy(rew_b).to(dev),
            values=val_b,
            starts=torch.from_numpy(start_b).to(dev),
            last_values=last_v,
            last_starts=torch.from_numpy(self.starts).to(dev),
        )
        return rollout, step

    def scale_rewards(self, r: np.ndarray, done: np.ndarray) -> np.ndarray:
        if self.reward_norm is None:
            return r
        self.discounted = self.discounted * self.gamma + r
        self.reward_norm.update(torch.from_numpy(self.discounted).to(self.device).unsqueeze(-1))
        scale = float(self.reward_norm.scale())
        self.discounted[done] = 0.0
        clip = self.reward_norm.clip
        return np.clip(r / scale, -clip, clip).astype(np.float32)


def advantages(ro: Rollout, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(lambda) advantages and the value targets (returns), both (T, N)."""
    T = ro.rewards.shape[0]
    adv = torch.zeros_like(ro.rewards)
    last = torch.zeros_like(ro.last_values)
    for t in reversed(range(T)):
        if t == T - 1:
            next_live = 1.0 - ro.last_starts
            next_v = ro.last_values
        else:
            next_live = 1.0 - ro.starts[t + 1]
            next_v = ro.values[t + 1]
        delta = ro.rewards[t] + gamma * next_v * next_live - ro.values[t]
        last = delta + gamma * lam * next_live * last
        adv[t] = last
    return adv, adv + ro.values


def linear(start: float, progress_remaining: float, schedule: str) -> float:
    return start * progress_remaining if schedule == "linear" else start


def actor_critic_configs(run: RLRun, p: OnPolicyParams) -> tuple[dict[str, Any], dict[str, Any]]:
    sp = run.spaces
    actor = {
        "kind": "actor",
        "n_inputs": sp.obs_features,
        "hidden": list(p.hidden_layers),
        "activation": p.activation,
        "continuous": not sp.discrete_actions,
        "n_outputs": sp.n_actions if sp.discrete_actions else sp.action_dim,
        "normalize": p.normalize_observations,
    }
    return actor, {**actor, "kind": "critic", "n_outputs": 1, "continuous": False}


@dataclass
class ActorCritic:
    """What an on-policy algorithm trains: its run, the actor (the served policy) and the
    critic, the modules a checkpoint keeps, the reward normalizer, the parameters to
    optimize."""

    run: RLRun
    actor_config: dict[str, Any]
    actor: Actor
    critic: Critic
    models: dict[str, nn.Module]
    reward_norm: RunningNorm | None
    params: list[nn.Parameter]

    @classmethod
    def build(cls, ctx: TrainContext, device: torch.device) -> ActorCritic:
        p = ctx.params
        assert isinstance(p, OnPolicyParams)
        run = RLRun(ctx)
        actor_cfg, critic_cfg = actor_critic_configs(run, p)
        actor, critic, models, reward_norm = nets.actor_critic(
            actor_cfg, critic_cfg, device, p.normalize_rewards
        )
        params = [*actor.parameters(), *critic.parameters()]
        return cls(run, actor_cfg, actor, critic, models, reward_norm, params)


def train_on_policy(
    ctx: TrainContext,
    ac: ActorCritic,
    opt: torch.optim.Optimizer,
    device: torch.device,
    update: Update,
) -> TrainResult:
    """The outer loop of PPO, A2C and REINFORCE (see the module's docstring)."""
    p, t = ctx.params, ctx.training
    assert isinstance(p, OnPolicyParams) and isinstance(t, OnPolicyTraining)
    run, actor, critic = ac.run, ac.actor, ac.critic
    step = 0
    if ctx.resume is not None:
        step = int(checkpoint.restore(ctx.resume, ctx.kind.name, ac.models, opt)["step"])
    start = step
    envs = run.vec_env(t.n_envs)
    collector = Collector(run, envs, p.gamma, device, ac.reward_norm)
    total = t.total_timesteps

    def act(obs: Any) -> np.ndarray:
        with torch.no_grad():
            a = actor.greedy(collector.tensor(obs)).cpu().numpy()
        return a if actor.continuous else a.astype(np.int64)

    def snap() -> bytes:
        return checkpoint.snapshot(ctx.kind.name, step, ac.models, opt)

    # whole rollouts only, never past the budget (at least one)
    while step + p.n_steps * t.n_envs <= total or step == 0:
        run.stop_check(step, snap if step > start else None)
        remaining = 1.0 - step / total
        last = step
        ro, step = collector.collect(actor, critic, p.n_steps, step)
        point = update(ro, step, remaining)
        if point is not None:
            run.log(step, point)
            run.progress(step)
        run.periodic_eval(step, last, act, snap)
        run.periodic_checkpoint(step, last, snap)

    return run.finish(envs, step, act, snap, "actor", ac.actor_config, actor, device)
