"""Tabular Q-learning (off-policy TD control), epsilon-greedy with a linear decay.

    Q(s, a) <- Q(s, a) + alpha [ r + gamma * max_a' Q(s', a') * (1 - terminated) - Q(s, a) ]

One environment, one step at a time: a table update is a few array reads, so a vector
env would only add overhead. A time-limit truncation still bootstraps from s'.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlengine.context import TrainContext
from mlengine.kinds.rl import QLearningParams, QLearningTraining
from mlengine.rl.base import RLRun
from mlengine.rl.checkpoint import decode_checkpoint, encode_checkpoint
from mlengine.rl.envs import make_env, state_index
from mlengine.types import TrainResult

REPORT_EVERY = 1_000  # steps between epsilon points, stop checks and progress


def train(ctx: TrainContext) -> TrainResult:
    p, t = ctx.params, ctx.training
    assert isinstance(p, QLearningParams) and isinstance(t, QLearningTraining)
    run = RLRun(ctx)
    obs_space = run.spaces.observation
    S, A = run.spaces.n_states, run.spaces.n_actions
    total = t.total_timesteps
    decay_steps = max(int(p.exploration_fraction * total), 1)

    def index(obs: Any) -> int:
        if obs_space["type"] == "discrete":
            return int(obs) - int(obs_space["start"])
        return int(state_index(obs_space, [[o] for o in obs])[0])

    def epsilon(step: int) -> float:
        frac = min(step / decay_steps, 1.0)
        eps0, eps1 = p.exploration_initial_eps, p.exploration_final_eps
        return eps0 + frac * (eps1 - eps0)

    Q = np.zeros((S, A))
    start = 0
    if ctx.resume is not None:
        tensors, state = decode_checkpoint(ctx.resume, ctx.kind.name)
        if tensors["q"].shape != Q.shape:
            raise_mismatch()
        Q, start = tensors["q"].astype(np.float64), int(state["step"])
        run.rng = np.random.default_rng([ctx.seed, start])

    def snapshot_at(step: int) -> Any:
        return lambda: encode_checkpoint({"q": Q}, {"kind": ctx.kind.name, "step": step}, step)

    def act(obs: Any) -> np.ndarray:
        return np.asarray(Q[state_index(obs_space, obs)].argmax(axis=1))

    env = make_env(run.env_spec)
    obs, _ = env.reset(seed=ctx.seed + start)
    s = index(obs)
    rng = run.rng
    ep_return, ep_len = 0.0, 0
    gamma, alpha = p.gamma, p.learning_rate
    for step in range(start + 1, total + 1):
        if rng.random() < epsilon(step - 1):
            a = int(rng.integers(A))
        else:  # greedy, ties broken at random (an untried table is all ties)
            q = Q[s]
            best = np.flatnonzero(q == q.max())
            a = int(best[0] if best.shape[0] == 1 else best[rng.integers(best.shape[0])])
        obs, r, terminated, truncated, _ = env.step(a)
        s2 = index(obs)
        target = r if terminated else r + gamma * Q[s2].max()
        Q[s, a] += alpha * (target - Q[s, a])
        ep_return += float(r)
        ep_len += 1
        s = s2
        if terminated or truncated:
            run.log(step, {"episode_return": ep_return, "episode_length": float(ep_len)})
            ep_return, ep_len = 0.0, 0
            obs, _ = env.reset()
            s = index(obs)
        if step % REPORT_EVERY == 0 or step == total:
            run.log(step, {"epsilon": epsilon(step)})
            run.stop_check(step, snapshot_at(step))
            run.progress(step)
        run.periodic_eval(step, step - 1, act, snapshot_at(step))
        run.periodic_checkpoint(step, step - 1, snapshot_at(step))
    env.close()
    metrics = run.final(total, act, snapshot_at(total))
    return run.result(
        metrics,
        {"type": "table", "values": "q"},
        {"q": Q},
        "numpy",
        extra={"n_states": S, "n_actions": A},
    )


def raise_mismatch() -> None:
    from mlengine.errors import TrainingError

    raise TrainingError("resume", "the checkpoint's Q-table does not fit this environment")
