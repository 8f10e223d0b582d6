"""Quality floors of the network algorithms on CartPole-v1, with default hyperparameters
(only the budget is set): the greedy policy's mean return over 20 evaluation episodes.

DQN and PPO: >= 475 within 100,000 steps (DQN with its default budget, 50,000);
A2C and REINFORCE: >= 195 within 200,000.
These are the heavy tests of the RL engine (tens of seconds each on two CPU cores).
"""

from __future__ import annotations

import pytest

import mlengine

FLOORS = [
    ("dqn", 50_000, 475.0),
    ("ppo", 100_000, 475.0),
    ("a2c", 200_000, 195.0),
    ("reinforce", 200_000, 195.0),
]


@pytest.mark.parametrize(("algo", "budget", "floor"), FLOORS)
def test_cartpole_quality_floor(algo: str, budget: int, floor: float) -> None:
    raw = {
        "model": {"type": algo},
        "environment": {"id": "CartPole-v1"},
        "training": {"total_timesteps": budget, "eval_episodes": 20, "eval_every": 0},
        "seed": 0,
    }
    result = mlengine.train(raw, None)
    assert result.metrics["timesteps"] <= budget
    assert result.metrics["eval_return_mean"] >= floor, result.metrics
