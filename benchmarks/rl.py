"""PPO and DQN on CartPole-v1: Descent's engine against Stable-Baselines3, same machine, same run.

Both sides use the RL Baselines3 Zoo's tuned CartPole-v1 hyperparameters (Descent's
defaults are those settings), 100,000 environment steps, seed 0. Printed per algorithm:
wall-clock seconds to finish the steps, the greedy policy's mean return over 20 episodes,
and the ratios (SB3 time / Descent time: above 1 means Descent is faster).

Stable-Baselines3 is a benchmark-only dependency (``pip install -e '.[bench]'``); the
engine never imports it. SB3 runs with one torch thread, as the engine does for small nets,
so that the comparison is not about thread settings.

    .venv/bin/python benchmarks/rl.py [--steps 100000] [--algos ppo,dqn]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import mlengine

EVAL_EPISODES = 20

ZOO = {
    "ppo": {
        "n_envs": 8,
        "sb3": dict(
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate="lin_0.001",
            clip_range="lin_0.2",
        ),
    },
    "dqn": {
        "n_envs": 1,
        "sb3": dict(
            learning_rate=2.3e-3,
            batch_size=64,
            buffer_size=100_000,
            learning_starts=1000,
            gamma=0.99,
            target_update_interval=10,
            train_freq=256,
            gradient_steps=128,
            exploration_fraction=0.16,
            exploration_final_eps=0.04,
            policy_kwargs=dict(net_arch=[256, 256]),
        ),
    },
}


def _lin(v: object) -> object:
    if isinstance(v, str) and v.startswith("lin_"):
        start = float(v[4:])
        return lambda progress: progress * start
    return v


def run_sb3(algo: str, steps: int, seed: int) -> tuple[float, float]:
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.set_num_threads(1)
    cfg = ZOO[algo]
    kwargs = {k: _lin(v) for k, v in cfg["sb3"].items()}
    env = make_vec_env("CartPole-v1", n_envs=cfg["n_envs"], seed=seed)
    cls = PPO if algo == "ppo" else DQN
    t0 = time.perf_counter()
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - t0
    mean, _ = evaluate_policy(model, gym.make("CartPole-v1"), EVAL_EPISODES, deterministic=True)
    return seconds, float(mean)


def run_descent(algo: str, steps: int, seed: int) -> tuple[float, float]:
    spec = {
        "model": {"type": algo},  # the defaults are the Zoo's CartPole settings
        "environment": {"id": "CartPole-v1"},
        "training": {"total_timesteps": steps, "eval_episodes": EVAL_EPISODES, "eval_every": 0},
        "seed": seed,
        "device": "cpu",
    }
    t0 = time.perf_counter()
    result = mlengine.train(spec, None)
    total = time.perf_counter() - t0
    # the wall clock to finish the steps, without the final evaluation (as on the SB3 side)
    seconds = min(total, result.metrics["train_seconds"])
    return seconds, result.metrics["eval_return_mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--algos", default="ppo,dqn")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"CartPole-v1, {args.steps} steps, seed {args.seed}, greedy return over {EVAL_EPISODES}")
    print(
        f"{'algo':6} {'descent s':>10} {'sb3 s':>8} {'speedup':>8} {'descent ret':>12} "
        f"{'sb3 ret':>8} {'ret ratio':>9}"
    )
    for algo in args.algos.split(","):
        d_s, d_r = run_descent(algo, args.steps, args.seed)
        s_s, s_r = run_sb3(algo, args.steps, args.seed)
        ratio = d_r / s_r if s_r else float(np.inf)
        print(
            f"{algo:6} {d_s:10.1f} {s_s:8.1f} {s_s / d_s:8.2f} {d_r:12.1f} {s_r:8.1f} {ratio:9.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
