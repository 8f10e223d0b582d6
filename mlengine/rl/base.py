"""What every RL algorithm shares (the small base): an ``RLRun`` per job.

It owns the environment spec, the spaces, the seed and the callbacks, and gives the
algorithms: vector environments (``gymnasium.vector.SyncVectorEnv``, same-step autoreset,
seeded), an ``Episodes`` tracker that reports ``episode_return`` / ``episode_length`` at the
environment step where each episode ended, greedy ``evaluate``, the checkpoint cadence
(periodic, best, final; the bytes are ``mlengine.rl.checkpoint``'s), ``keep_best``,
``should_stop`` / progress, and the model artifact. PPO and A2C share one outer loop
(``mlengine.rl.onpolicy``); the other algorithms keep their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from mlengine.artifact import (
    FORMAT,
    FORMAT_VERSION,
    MODEL_SAFETENSORS,
    info_from_meta,
    write_artifact,
)
from mlengine.context import TrainContext
from mlengine.errors import TrainingError, TrainingStopped
from mlengine.rl.checkpoint import policy_tensors, to_numpy
from mlengine.rl.envs import Spaces, env_factory, make_env, spaces_of
from mlengine.rl.envspec import EnvironmentSpec
from mlengine.types import TrainResult

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share seeds with training ones
MAX_EVAL_ENVS = 32


class RLRun:
    def __init__(self, ctx: TrainContext):
        self.ctx = ctx
        self.cb = ctx.callbacks
        self.seed = ctx.seed
        env = ctx.spec.environment
        if env is None:  # check_against_dataset refuses this before a job is queued
            raise TrainingError("environment", "a reinforcement-learning job needs 'environment'")
        self.env_spec: EnvironmentSpec = env
        probe = make_env(env)
        self.spaces: Spaces = spaces_of(probe)
        probe.close()
        self.training = ctx.training
        self.total = int(getattr(self.training, "total_timesteps", 0))
        self.eval_episodes = int(getattr(self.training, "eval_episodes", 10))
        every = getattr(self.training, "eval_every", None)
        self.eval_every = int(every) if every is not None else max(self.total // 10, 1)
        self.checkpoint_every = int(getattr(self.training, "checkpoint_every", 0) or 0)
        self.rng = np.random.default_rng(self.seed)
        self.t0 = time.perf_counter()
        self.best_eval = -math.inf
        self.best_step = 0
        self._best_data: bytes | None = None
        self._best_emitted = 0
        self.keep_best = bool(getattr(self.training, "keep_best", False))
        self._kept: tuple[dict[str, float], bytes] | None = None  # best evaluation, snapshot
        self.kept_snapshot: bytes | None = None
        self._eval_env: gym.vector.VectorEnv[Any, Any, Any] | None = None

    # ------------------------------------------------------------------ environments

    def vec_env(self, n: int, seed_offset: int = 0) -> gym.vector.SyncVectorEnv:
        """``n`` copies; ``reset`` seeds copy i with seed + offset + i."""
        return gym.vector.SyncVectorEnv(
            [env_factory(self.env_spec) for _ in range(n)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )

    def reset(self, envs: gym.vector.VectorEnv[Any, Any, Any], offset: int = 0) -> Any:
        obs, _ = envs.reset(seed=self.seed + offset)
        envs.action_space.seed(self.seed + offset)
        return obs

    # ------------------------------------------------------------------ reporting

    def stop_check(self, step: int, snapshot: Callable[[], bytes] | None = None) -> None:
        """Raise ``TrainingStopped`` when asked to stop. With ``snapshot`` (a run that has
        done work since it started or resumed), first emit the state at the stop as a "final"
        checkpoint (and a pending "best"), so a resume continues from this step."""
        if self.cb.should_stop():
            if snapshot is not None:
                self._emit_best()
                self.cb.on_checkpoint(step, "final", snapshot())
            raise TrainingStopped(f"stopped at timestep {step}")

    def progress(self, step: int) -> None:
        self.cb.on_progress(min(step, self.total), self.total, "timestep")

    def log(self, step: int, values: dict[str, float]) -> None:
        self.cb.on_metrics(step, values)

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self, act: Callable[[Any], np.ndarray], episodes: int | None = None
    ) -> dict[str, float]:
        """Greedy / deterministic episodes, the same start states every time."""
        n = episodes if episodes is not None else self.eval_episodes
        returns: list[float] = []
        lengths: list[int] = []
        if n <= 0:
            return {}
        width = min(n, MAX_EVAL_ENVS)
        if self._eval_env is None or self._eval_env.num_envs != width:
            self._eval_env = self.vec_env(width)
        envs = self._eval_env
        batch = 0
        while len(returns) < n:
            k = min(width, n - len(returns))
            obs, _ = envs.reset(seed=self.seed + EVAL_SEED_OFFSET + batch * width)
            ret = np.zeros(width)
            length = np.zeros(width, dtype=np.int64)
            done = np.zeros(width, dtype=bool)
            done[k:] = True
            while not done.all():
                actions = act(obs)
                obs, r, term, trunc, _ = envs.step(actions)
                live = ~done
                ret[live] += r[live]
                length[live] += 1
                done |= term | trunc
            returns.extend(ret[:k].tolist())
            lengths.extend(length[:k].tolist())
            batch += 1
        return {
            "eval_return_mean": float(np.mean(returns)),
            "eval_return_std": float(np.std(returns)),
            "eval_length_mean": float(np.mean(lengths)),
        }

    def periodic_eval(
        self,
        step: int,
        last_step: int,
        act: Callable[[Any], np.ndarray],
        snapshot: Callable[[], bytes],
    ) -> None:
        """Evaluate every ``eval_every`` steps (the point is ``eval_return_mean`` at ``step``);
        remember the best policy's checkpoint to emit as "best"."""
        if self.eval_every <= 0 or step // self.eval_every == last_step // self.eval_every:
            return
        if step >= self.total:
            return  # the final evaluation covers it
        result = self.evaluate(act)
        self.log(step, result)
        if result["eval_return_mean"] > self.best_eval:
            self.best_eval, self.best_step = result["eval_return_mean"], step
            self._best_data = snapshot()
            if self.keep_best:
                self._kept = (result, self._best_data)

    def periodic_checkpoint(self, step: int, last_step: int, snapshot: Callable[[], bytes]) -> None:
        every = self.checkpoint_every
        if every > 0 and step < self.total and step // every != last_step // every:
            self.cb.on_checkpoint(step, "periodic", snapshot())
            self._emit_best()

    def _emit_best(self) -> None:
        if self._best_data is not None and self.best_step > self._best_emitted:
            self.cb.on_checkpoint(self.best_step, "best", self._best_data)
            self._best_emitted, self._best_data = self.best_step, None

    def final(
        self, step: int, act: Callable[[Any], np.ndarray], snapshot: Callable[[], bytes]
    ) -> dict[str, float]:
        """Final evaluation, the "best" and "final" checkpoints; the job's final metrics.

        With ``keep_best`` and an earlier evaluation that beat the final one, the metrics are
        that evaluation's (``eval_policy_step`` says when; ``eval_last_return_mean`` is the final
        policy's) and ``kept_snapshot`` is its checkpoint."""
        result = self.evaluate(act)
        if result:
            self.log(step, result)
        data = snapshot()
        last = dict(result)
        if result and result["eval_return_mean"] >= self.best_eval:  # ties: the later policy
            self.best_eval, self.best_step, self._best_data = result["eval_return_mean"], step, data
            self._kept = None
        self._emit_best()
        self.cb.on_checkpoint(step, "final", data)
        self.progress(step)
        if self._kept is not None and result:
            kept_metrics, self.kept_snapshot = self._kept
            result = {**kept_metrics, "eval_last_return_mean": last["eval_return_mean"]}
        if result:
            result["eval_policy_step"] = float(self.best_step if self.kept_snapshot else step)
        result["train_seconds"] = time.perf_counter() - self.t0
        result["timesteps"] = float(step)
        return result

    # ------------------------------------------------------------------ artifact

    def finish(
        self,
        envs: Any,
        step: int,
        act: Callable[[Any], np.ndarray],
        snapshot: Callable[[], bytes],
        policy_type: str,
        config: dict[str, Any],
        net: Any,
        device: Any,
    ) -> TrainResult:
        """Network algorithms' last act: close the environments, evaluate and checkpoint one
        last time, and package the policy network's weights (the kept policy's, when
        ``keep_best`` found a better one earlier)."""
        envs.close()
        metrics = self.final(step, act, snapshot)
        tensors = to_numpy(net.state_dict(), "net.")
        if self.kept_snapshot is not None:  # the best evaluation's policy network
            tensors = policy_tensors(self.kept_snapshot, self.ctx.kind.name)
        return self.result(
            metrics,
            {"type": policy_type, "net": config},
            tensors,
            "torch",
            extra={"device": str(device)},
        )

    def result(
        self,
        metrics: dict[str, float],
        policy: dict[str, Any],
        tensors: dict[str, np.ndarray],
        framework: str,
        extra: dict[str, Any] | None = None,
    ) -> TrainResult:
        """The model artifact: meta.json (spaces, policy config) and model.safetensors."""
        from safetensors.numpy import save

        versions = {"gymnasium": gym.__version__, "numpy": np.__version__}
        if framework == "torch":
            import torch

            versions["torch"] = torch.__version__
        kind = self.ctx.kind.name
        info_extra = {
            "algorithm": kind,
            "environment": self.env_spec.model_dump(mode="json", exclude_none=True)
            if self.env_spec.id is not None
            else {"type": "mdp" if self.env_spec.mdp is not None else "grid"},
            "observation_space": self.spaces.observation,
            "action_space": self.spaces.action,
            **(extra or {}),
        }
        meta: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "framework": framework,
            "task": "reinforcement",
            "model_type": kind,
            "inputs": [],
            "classes": None,
            "target": None,
            "preprocessing": None,
            "n_features": self.spaces.obs_features,
            "net": None,
            "policy": policy,
            "extra": info_extra,
            "versions": versions,
        }
        weights = save({k: np.ascontiguousarray(v) for k, v in tensors.items()})
        artifact = write_artifact(meta, {MODEL_SAFETENSORS: weights})
        return TrainResult(
            metrics=metrics, artifact=artifact, info=info_from_meta(meta), extra={"rl": True}
        )


class Episodes:
    """Running return and length of each copy of a vector env; reports finished episodes."""

    def __init__(self, run: RLRun, n_envs: int):
        self.run = run
        self.n = n_envs
        self.ret = np.zeros(n_envs)
        self.len = np.zeros(n_envs, dtype=np.int64)
        self.recent: list[float] = []

    def update(self, step0: int, rewards: np.ndarray, done: np.ndarray) -> None:
        """``step0``: environment steps before this vector step; copy i's step is step0+i+1."""
        self.ret += rewards
        self.len += 1
        if done.any():
            for i in np.flatnonzero(done):
                r = float(self.ret[i])
                self.run.log(
                    step0 + int(i) + 1, {"episode_return": r, "episode_length": float(self.len[i])}
                )
                self.recent.append(r)
            self.recent = self.recent[-100:]
            self.ret[done] = 0.0
            self.len[done] = 0


def final_observations(next_obs: np.ndarray, infos: dict[str, Any], done: np.ndarray) -> np.ndarray:
    """With same-step autoreset, the observation an episode ended on (for bootstrapping)."""
    if not done.any() or "final_obs" not in infos:
        return next_obs
    out = np.array(next_obs, copy=True)
    for i in np.flatnonzero(done):
        out[i] = infos["final_obs"][i]
    return out


def run_seeded(
    ctx: TrainContext, hidden: list[int], body: Callable[[Any], TrainResult]
) -> TrainResult:
    """Network algorithms: pick the device, seed torch (and size its threads), run
    ``body(device)``."""
    from mlengine.nn.nets import resolve_device
    from mlengine.rl import nets

    device = resolve_device(ctx.device)
    with nets.seeded(device.type, ctx.seed, hidden):
        return body(device)
