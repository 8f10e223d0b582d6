"""REINFORCE: Monte-Carlo policy gradient with rewards-to-go and a learned value baseline.

Per update: a batch of episodes, ``n_steps`` from each of ``n_envs`` copies. For each
step the reward-to-go G_t = r_t + gamma r_{t+1} + ... to the end of its episode (an
episode still running when the batch ends, or cut by a time limit, is completed with the
baseline's estimate V of where it stopped); the advantage is G_t - V(s_t). One Adam step on

    -log pi(a_t|s_t) * (G_t - V(s_t)) + vf_coef * (V(s_t) - G_t)^2 - ent_coef * H

That is A2C's update with lambda = 1 (advantages are full returns-to-go minus the
baseline), so it runs :func:`mlengine.rl.a2c.fit_actor_critic`.
"""

from __future__ import annotations

from mlengine.context import TrainContext
from mlengine.kinds.rl import ReinforceParams
from mlengine.rl.a2c import fit_actor_critic
from mlengine.rl.base import run_seeded
from mlengine.types import TrainResult

LOG_EVERY = 1  # updates between loss points


def train(ctx: TrainContext) -> TrainResult:
    p = ctx.params
    assert isinstance(p, ReinforceParams)
    # lambda 1: the advantage is G_t - V(s_t); one Adam step per batch of episodes
    return run_seeded(
        ctx, p.hidden_layers, lambda device: fit_actor_critic(ctx, device, 1.0, "adam", LOG_EVERY)
    )
