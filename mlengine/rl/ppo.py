"""PPO: proximal policy optimization with the clipped objective and GAE.

Per update: collect ``n_steps`` from each of ``n_envs`` copies; compute GAE(lambda)
advantages; then ``n_epochs`` passes over the rollout in shuffled minibatches of
``batch_size`` minimizing

    -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) + vf_coef * (V - R)^2 - ent_coef * H

with ratio = pi(a|s) / pi_old(a|s). Learning rate and clip range decay linearly by
default (the RL Zoo's CartPole settings are the defaults).
"""

from __future__ import annotations

import torch
from torch import nn

from mlengine.context import TrainContext
from mlengine.kinds.rl import PPOParams, PPOTraining
from mlengine.rl import nets
from mlengine.rl.base import run_seeded
from mlengine.rl.onpolicy import ActorCritic, Rollout, advantages, linear, train_on_policy
from mlengine.types import TrainResult


def train(ctx: TrainContext) -> TrainResult:
    p = ctx.params
    assert isinstance(p, PPOParams)
    return run_seeded(ctx, p.hidden_layers, lambda device: _train(ctx, device))


def _train(ctx: TrainContext, device: torch.device) -> TrainResult:
    p, t = ctx.params, ctx.training
    assert isinstance(p, PPOParams) and isinstance(t, PPOTraining)
    ac = ActorCritic.build(ctx, device)
    actor, critic, params = ac.actor, ac.critic, ac.params
    opt = nets.adam(params, p.learning_rate, device, eps=1e-5)
    per_rollout = p.n_steps * t.n_envs

    def update(ro: Rollout, step: int, remaining: float) -> dict[str, float]:
        lr = linear(p.learning_rate, remaining, p.lr_schedule)
        clip = linear(p.clip_range, remaining, p.clip_schedule)
        for g in opt.param_groups:
            g["lr"] = lr
        adv, returns = advantages(ro, p.gamma, p.gae_lambda)

        obs = ro.obs.reshape(per_rollout, -1)
        actions = ro.actions.reshape(per_rollout, *ro.actions.shape[2:])
        old_logp, adv, returns = ro.logp.reshape(-1), adv.reshape(-1), returns.reshape(-1)
        bs = min(p.batch_size, per_rollout)
        pg_sum = v_sum = ent_sum = kl_sum = clip_sum = torch.zeros((), device=device)
        n_mb = 0
        stop_early = False
        for _ in range(p.n_epochs):
            perm = torch.randperm(per_rollout, device=device)
            for i in range(0, per_rollout, bs):
                idx = perm[i : i + bs]
                a_mb = adv[idx]
                if p.normalize_advantage and idx.shape[0] > 1:
                    a_mb = (a_mb - a_mb.mean()) / (a_mb.std() + 1e-8)
                logp, ent = actor.evaluate(obs[idx], actions[idx])
                log_ratio = logp - old_logp[idx]
                ratio = log_ratio.exp()
                pg = -torch.min(ratio * a_mb, ratio.clamp(1 - clip, 1 + clip) * a_mb).mean()
                v_loss = (critic(obs[idx]) - returns[idx]).pow(2).mean()
                ent_mean = ent.mean()
                loss = pg + p.vf_coef * v_loss - p.ent_coef * ent_mean
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, p.max_grad_norm)
                opt.step()
                with torch.no_grad():
                    kl = ((ratio - 1) - log_ratio).mean()
                    pg_sum = pg_sum + pg.detach()
                    v_sum = v_sum + v_loss.detach()
                    ent_sum = ent_sum + ent_mean.detach()
                    kl_sum = kl_sum + kl
                    clip_sum = clip_sum + ((ratio - 1).abs() > clip).float().mean()
                n_mb += 1
                if p.target_kl is not None and float(kl) > 1.5 * p.target_kl:
                    stop_early = True
                    break
            if stop_early:
                break
        values = (torch.stack([pg_sum, v_sum, ent_sum, kl_sum, clip_sum]) / n_mb).tolist()
        return {
            "policy_loss": values[0],
            "value_loss": values[1],
            "entropy": values[2],
            "approx_kl": values[3],
            "clip_fraction": values[4],
            "learning_rate": lr,
        }

    return train_on_policy(ctx, ac, opt, device, update)
