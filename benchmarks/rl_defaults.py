"""Do the defaults learn? Each algorithm on each classic problem, given nothing but the
environment (the kinds' defaults, and ``ENVIRONMENT_DEFAULTS`` where an environment has its
own), seed 0, through the engine (``mlengine.train``, what a job runs).

Printed per run: the budget the defaults chose, wall-clock seconds, the kept policy's greedy
mean return over 20 evaluation episodes, and the return at which the problem counts as
solved (Gymnasium's reward thresholds where it has one; the RL Zoo's reported level else).

    .venv/bin/python benchmarks/rl_defaults.py [--only dqn:Acrobot-v1,ppo:Pendulum-v1]
"""

from __future__ import annotations

import argparse
import time

import mlengine
from mlengine.validation import validate_spec

EVAL_EPISODES = 20

# (algorithm, environment, the return that counts as solved)
RUNS: list[tuple[str, str, float]] = [
    ("q_learning", "FrozenLake-v1", 1.0),
    ("q_learning", "Taxi-v3", 7.0),
    ("q_learning", "CliffWalking-v1", -13.0),
    ("dqn", "CartPole-v1", 475.0),
    ("ppo", "CartPole-v1", 475.0),
    ("a2c", "CartPole-v1", 195.0),
    ("reinforce", "CartPole-v1", 195.0),
    ("dqn", "MountainCar-v0", -110.0),
    ("ppo", "MountainCar-v0", -110.0),
    ("a2c", "MountainCar-v0", -110.0),
    ("dqn", "Acrobot-v1", -100.0),
    ("ppo", "Acrobot-v1", -100.0),
    ("a2c", "Acrobot-v1", -100.0),
    ("ppo", "Pendulum-v1", -200.0),
]


def run(algo: str, env: str, seed: int) -> None:
    environment: dict[str, object] = {"id": env}
    if env == "FrozenLake-v1":
        environment["kwargs"] = {"is_slippery": False}
    spec = {
        "model": {"type": algo},
        "environment": environment,
        "training": {"eval_episodes": EVAL_EPISODES},
        "seed": seed,
        "device": "cpu",
    }
    budget = validate_spec(spec).training["total_timesteps"]
    t0 = time.perf_counter()
    result = mlengine.train(spec, None)
    seconds = time.perf_counter() - t0
    return_ = result.metrics["eval_return_mean"]
    print(f"{algo:11} {env:16} {budget:>9} {seconds:8.1f} {return_:9.1f}", end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="algo:environment pairs, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    wanted = {tuple(pair.split(":", 1)) for pair in args.only.split(",") if pair}
    print(
        f"{'algorithm':11} {'environment':16} {'timesteps':>9} {'seconds':>8} {'return':>9}", end=""
    )
    print(f" {'solved at':>9}")
    for algo, env, solved in RUNS:
        if wanted and (algo, env) not in wanted:
            continue
        run(algo, env, args.seed)
        print(f" {solved:9.1f}", flush=True)


if __name__ == "__main__":
    main()
