"""Value iteration: dynamic programming on a known model (Bellman optimality backups).

    V(s) <- max_a sum_{s'} P(s'|s,a) [ r + gamma * V(s') * (1 - terminated) ]

until no value moves more than ``theta``. The backup is one vectorized pass over every
transition (``np.bincount`` sums them per state-action). The greedy policy takes
argmax_a Q(s, a); ties go to the lowest action.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlengine.context import TrainContext
from mlengine.kinds.rl import ValueIterationParams
from mlengine.rl.base import RLRun
from mlengine.rl.checkpoint import encode_checkpoint
from mlengine.rl.envs import state_index, transition_model
from mlengine.types import TrainResult

STOP_CHECK_EVERY = 50


def solve(
    P: list[Any], gamma: float, theta: float, max_iterations: int, on_iteration: Any = None
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Q (S, A), V (S,), iterations done, the last Bellman residual."""
    S, A = len(P), len(P[0])
    sa, prob, nxt, rew, live = [], [], [], [], []
    for s in range(S):
        for a in range(A):
            for p, s2, r, done in P[s][a]:
                sa.append(s * A + a)
                prob.append(p)
                nxt.append(s2)
                rew.append(r)
                live.append(0.0 if done else 1.0)
    sa_i = np.asarray(sa, dtype=np.int64)
    prob_a = np.asarray(prob, dtype=np.float64)
    nxt_i = np.asarray(nxt, dtype=np.int64)
    expected_r = np.bincount(sa_i, weights=prob_a * np.asarray(rew), minlength=S * A)
    discount = prob_a * gamma * np.asarray(live)

    V = np.zeros(S)
    residual = np.inf
    it = 0
    for it in range(1, max_iterations + 1):  # noqa: B007 - `it` is the count after the loop
        Q = expected_r + np.bincount(sa_i, weights=discount * V[nxt_i], minlength=S * A)
        new_v = Q.reshape(S, A).max(axis=1)
        residual = float(np.abs(new_v - V).max())
        V = new_v
        if on_iteration is not None:
            on_iteration(it, residual)
        if residual < theta:
            break
    Q = expected_r + np.bincount(sa_i, weights=discount * V[nxt_i], minlength=S * A)
    return Q.reshape(S, A), V, it, residual


def train(ctx: TrainContext) -> TrainResult:
    p = ctx.params
    assert isinstance(p, ValueIterationParams)
    run = RLRun(ctx)
    P = transition_model(run.env_spec)

    def on_iteration(it: int, residual: float) -> None:
        run.log(it, {"bellman_residual": residual})
        if it % STOP_CHECK_EVERY == 0:
            run.stop_check(it)
            run.cb.on_progress(it, p.max_iterations, "iteration")

    run.stop_check(0)
    Q, V, iterations, residual = solve(P, p.gamma, p.theta, p.max_iterations, on_iteration)
    obs_space = run.spaces.observation

    def act(obs: Any) -> np.ndarray:
        return np.asarray(Q[state_index(obs_space, obs)].argmax(axis=1))

    def snapshot() -> bytes:
        return encode_checkpoint({"q": Q, "v": V}, {"kind": ctx.kind.name}, iterations)

    run.total = iterations
    metrics = run.final(iterations, act, snapshot)
    metrics.pop("timesteps", None)
    metrics.update(iterations=float(iterations), bellman_residual=residual)
    metrics["converged"] = float(residual < p.theta)
    return run.result(
        metrics,
        {"type": "table", "values": "q"},
        {"q": Q.astype(np.float64), "v": V.astype(np.float64)},
        "numpy",
        extra={"n_states": len(P), "n_actions": len(P[0]), "gamma": p.gamma},
    )
