"""PPO and DQN on CartPole-v1: Descent against Stable-Baselines3, same machine, same run.

Both sides use the RL Baselines3 Zoo's tuned CartPole-v1 hyperparameters (Descent's
defaults are those settings), 100,000 environment steps, seed 0, and the same protocol:
a greedy evaluation of 20 episodes every 10,000 steps, the best policy kept (Descent's
``keep_best``, SB3's ``EvalCallback``). Printed per algorithm: wall-clock seconds to finish
the steps (evaluations included on both sides), the mean return of the kept policy over 20
fresh episodes (seeds neither side evaluated on), and the last policy's (SB3: fresh
episodes; Descent: its own final evaluation, ``eval_last_return_mean``); the ratios are SB3
time / Descent time (above 1: Descent is faster) and Descent return / SB3 return.

Descent runs through the engine (``mlengine.train``, what a job runs), or, with ``--url``
and ``--key``, through a running service: the job is submitted over HTTP, the time is from
the submission to ``succeeded``, and the fresh episodes are played with ``/predict``.

Stable-Baselines3 is a benchmark-only dependency (``pip install -e '.[bench]'``); the
engine never imports it. SB3 runs with one torch thread, as the engine does for small nets,
so that the comparison is not about thread settings.

    .venv/bin/python benchmarks/rl.py [--steps 100000] [--algos ppo,dqn] [--url U --key K]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import mlengine

EVAL_EPISODES = 20
EVAL_EVERY = 10_000
FRESH_SEED = 777_000  # the fresh episodes' seeds: FRESH_SEED + i

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

Act = Callable[[np.ndarray], np.ndarray]


def fresh_return(act: Act) -> float:
    """Mean return of the greedy policy ``act`` over EVAL_EPISODES fresh episodes."""
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * EVAL_EPISODES)
    obs, _ = envs.reset(seed=FRESH_SEED)
    ret = np.zeros(EVAL_EPISODES)
    done = np.zeros(EVAL_EPISODES, dtype=bool)
    while not done.all():
        obs, r, term, trunc, _ = envs.step(act(obs))
        ret[~done] += r[~done]
        done |= term | trunc
    envs.close()
    return float(ret.mean())


def _lin(v: object) -> object:
    if isinstance(v, str) and v.startswith("lin_"):
        start = float(v[4:])
        return lambda progress: progress * start
    return v


def run_sb3(algo: str, steps: int, seed: int) -> tuple[float, float, float]:
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    cfg = ZOO[algo]
    kwargs = {k: _lin(v) for k, v in cfg["sb3"].items()}
    n_envs = int(cfg["n_envs"])  # type: ignore[call-overload]
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
    cls = PPO if algo == "ppo" else DQN
    with tempfile.TemporaryDirectory() as best_dir:
        t0 = time.perf_counter()
        model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
        callback = EvalCallback(
            make_vec_env("CartPole-v1", n_envs=1, seed=seed + 1),
            n_eval_episodes=EVAL_EPISODES,
            eval_freq=max(EVAL_EVERY // n_envs, 1),
            best_model_save_path=best_dir,
            deterministic=True,
            verbose=0,
        )
        model.learn(total_timesteps=steps, callback=callback)
        seconds = time.perf_counter() - t0
        last = fresh_return(lambda obs: model.predict(obs, deterministic=True)[0])
        best = cls.load(f"{best_dir}/best_model", device="cpu")
        kept = fresh_return(lambda obs: best.predict(obs, deterministic=True)[0])
    return seconds, kept, last


def _spec(algo: str, steps: int, seed: int) -> dict[str, Any]:
    return {
        "model": {"type": algo},  # the defaults are the Zoo's CartPole settings
        "environment": {"id": "CartPole-v1"},
        "training": {
            "total_timesteps": steps,
            "eval_episodes": EVAL_EPISODES,
            "eval_every": EVAL_EVERY,
            "keep_best": True,
        },
        "seed": seed,
        "device": "cpu",
    }


def _predictor_act(artifact: bytes) -> Act:
    predictor = mlengine.load_predictor(artifact)

    def act(obs: np.ndarray) -> np.ndarray:
        return np.asarray(predictor.predict(obs.tolist())["predictions"])

    return act


def _last(metrics: dict[str, float], kept: float) -> float:
    """The last policy's return over Descent's own 20 evaluation episodes when an earlier
    policy was kept; else the kept policy is the last one."""
    return float(metrics.get("eval_last_return_mean", kept))


def run_engine(algo: str, steps: int, seed: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    result = mlengine.train(_spec(algo, steps, seed), None)
    seconds = time.perf_counter() - t0
    kept = fresh_return(_predictor_act(result.artifact))
    return seconds, kept, _last(result.metrics, kept)


def run_service(algo: str, steps: int, seed: int, url: str, key: str) -> tuple[float, float, float]:
    import httpx

    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    t0 = time.perf_counter()
    r = client.post("/v1/jobs", json=_spec(algo, steps, seed))
    r.raise_for_status()
    job_id = r.json()["id"]
    while (j := client.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
        time.sleep(0.2)
    if j["status"] != "succeeded":
        raise SystemExit(f"job {job_id} ended {j['status']}: {j['error']}")
    seconds = time.perf_counter() - t0

    def act(obs: np.ndarray) -> np.ndarray:
        r = client.post(f"/v1/models/{j['model_id']}/predict", json={"observations": obs.tolist()})
        r.raise_for_status()
        return np.asarray(r.json()["predictions"])

    kept = fresh_return(act)
    return seconds, kept, _last(j["metrics"], kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--algos", default="ppo,dqn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="a running Descent service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", help="an API key of that service")
    args = parser.parse_args()
    where = f"the service at {args.url}" if args.url else "the engine"
    print(
        f"CartPole-v1, {args.steps} steps, seed {args.seed}, Descent through {where}; "
        f"returns over {EVAL_EPISODES} fresh episodes (kept policy / last policy)"
    )
    print(
        f"{'algo':6} {'descent s':>10} {'sb3 s':>8} {'speedup':>8} {'descent kept/last':>18} "
        f"{'sb3 kept/last':>14} {'kept ratio':>10}"
    )
    for algo in args.algos.split(","):
        if args.url:
            d_s, d_kept, d_last = run_service(algo, args.steps, args.seed, args.url, args.key)
        else:
            d_s, d_kept, d_last = run_engine(algo, args.steps, args.seed)
        s_s, s_kept, s_last = run_sb3(algo, args.steps, args.seed)
        ratio = d_kept / s_kept if s_kept else float(np.inf)
        print(
            f"{algo:6} {d_s:10.1f} {s_s:8.1f} {s_s / d_s:8.2f} "
            f"{f'{d_kept:.1f} / {d_last:.1f}':>18} {f'{s_kept:.1f} / {s_last:.1f}':>14} "
            f"{ratio:10.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
