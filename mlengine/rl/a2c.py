"""A2C: synchronous advantage actor-critic.

Per update: ``n_steps`` from each of ``n_envs`` copies, advantages A = GAE(lambda)
(lambda = 1: n-step returns minus V), then one gradient step on

    -log pi(a|s) * A + vf_coef * (V - R)^2 - ent_coef * H

with RMSprop (Stable-Baselines3's defaults: alpha 0.99, eps 1e-5).

REINFORCE with a learned baseline is the same update with lambda = 1 over whole-episode
rollouts, so ``reinforce`` runs :func:`fit_actor_critic` too.
"""

from __future__ import annotations

import torch
from torch import nn

from mlengine.context import TrainContext
from mlengine.kinds.rl import A2CParams, A2CTraining, ReinforceParams, ReinforceTraining
from mlengine.rl import nets
from mlengine.rl.base import run_seeded
from mlengine.rl.onpolicy import ActorCritic, Rollout, advantages, train_on_policy
from mlengine.types import TrainResult

LOG_EVERY = 100  # updates between loss points


def train(ctx: TrainContext) -> TrainResult:
    p = ctx.params
    assert isinstance(p, A2CParams)
    return run_seeded(
        ctx,
        p.hidden_layers,
        lambda device: fit_actor_critic(ctx, device, p.gae_lambda, p.optimizer, LOG_EVERY),
    )


def fit_actor_critic(
    ctx: TrainContext, device: torch.device, lam: float, optimizer: str, log_every: int
) -> TrainResult:
    p, t = ctx.params, ctx.training
    assert isinstance(p, A2CParams | ReinforceParams)
    assert isinstance(t, A2CTraining | ReinforceTraining)
    ac = ActorCritic.build(ctx, device)
    actor, critic, params = ac.actor, ac.critic, ac.params
    opt: torch.optim.Optimizer
    if optimizer == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=p.learning_rate, alpha=0.99, eps=1e-5)
    else:
        opt = nets.adam(params, p.learning_rate, device)
    total = t.total_timesteps
    updates = 0
    sums = torch.zeros(3, device=device)

    def update(ro: Rollout, step: int, remaining: float) -> dict[str, float] | None:
        nonlocal updates
        adv, returns = advantages(ro, p.gamma, lam)
        n = adv.numel()
        adv, returns = adv.reshape(-1), returns.reshape(-1)
        if p.normalize_advantage and n > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        obs = ro.obs.reshape(n, -1)
        logp, ent = actor.evaluate(obs, ro.actions.reshape(n, *ro.actions.shape[2:]))
        pg = -(logp * adv).mean()
        v_loss = (critic(obs) - returns).pow(2).mean()
        loss = pg + p.vf_coef * v_loss - p.ent_coef * ent.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, p.max_grad_norm)
        opt.step()
        sums.add_(torch.stack([pg.detach(), v_loss.detach(), ent.mean().detach()]))
        updates += 1
        if updates % log_every != 0 and step < total:
            return None
        k = updates % log_every or log_every
        pg_m, v_m, e_m = (sums / k).tolist()
        sums.zero_()
        return {"policy_loss": pg_m, "value_loss": v_m, "entropy": e_m}

    return train_on_policy(ctx, ac, opt, device, update)
