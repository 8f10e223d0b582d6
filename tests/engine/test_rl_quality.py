"""Quality floors of the network algorithms on CartPole-v1, with default hyperparameters
(only the budget is set): the served policy's mean return over 20 fresh episodes (start
states the training never evaluated on), so that keeping the best-evaluated policy (the
default) cannot pass by selecting on the same episodes it is judged on.

DQN and PPO: >= 475 within 100,000 steps (DQN with its default budget, 50,000);
A2C and REINFORCE: >= 195 within 200,000.
These are the heavy tests of the RL engine (tens of seconds each on two CPU cores).
"""

from __future__ import annotations

import pytest

import mlengine
from tests.engine.play import greedy_return

FLOORS = [
    ("dqn", 50_000, 475.0),
    ("ppo", 100_000, 475.0),
    ("a2c", 200_000, 195.0),
    ("reinforce", 200_000, 195.0),
]
FRESH_EPISODES = 20
FRESH_SEED = 424_242


@pytest.mark.parametrize(("algo", "budget", "floor"), FLOORS)
def test_cartpole_quality_floor(algo: str, budget: int, floor: float) -> None:
    raw = {
        "model": {"type": algo},
        "environment": {"id": "CartPole-v1"},
        "training": {"total_timesteps": budget},
        "seed": 0,
    }
    result = mlengine.train(raw, None)
    assert result.metrics["timesteps"] <= budget
    fresh = greedy_return(mlengine.load_predictor(result.artifact), FRESH_SEED, FRESH_EPISODES)
    assert fresh >= floor, (fresh, result.metrics)
