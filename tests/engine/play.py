"""Playing a served policy: greedy episodes of a Gymnasium environment, each copy seeded."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def greedy_return(predictor: Any, seed: int, episodes: int, env_id: str = "CartPole-v1") -> float:
    """Mean return of ``episodes`` episodes (copy i seeded ``seed + i``, as the engine's
    vector environments are), each action from ``predictor.predict``."""
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * episodes)
    obs, _ = envs.reset(seed=seed)
    ret, done = np.zeros(episodes), np.zeros(episodes, dtype=bool)
    while not done.all():
        actions = predictor.predict(obs.tolist())["predictions"]
        obs, r, term, trunc, _ = envs.step(np.asarray(actions))
        ret[~done] += r[~done]
        done |= term | trunc
    envs.close()
    return float(ret.mean())
