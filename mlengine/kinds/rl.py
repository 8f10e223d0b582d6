"""The reinforcement-learning kinds: declarations only (the algorithms are in mlengine.rl).

An RL job names an ``environment`` instead of a dataset; its task is ``reinforcement``.
The defaults are tuned for the classic problems, so a spec that gives only the environment
learns: the kinds' defaults are RL Baselines3 Zoo's CartPole settings, and
``ENVIRONMENT_DEFAULTS`` holds the Zoo's settings for the other classic-control problems.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from mlengine.registry import ModelKind, StrictModel, check_widths, limits_of, register

TASKS = frozenset({"reinforcement"})
Hidden = list[Annotated[int, Field(ge=1, le=4096)]]


# ----------------------------------------------------------------------------- training


class PlanTraining(StrictModel):
    """Value iteration plans on the model: only the final evaluation is set here."""

    eval_episodes: int = Field(10, ge=0, le=10_000, description="Greedy episodes at the end.")


def _timesteps_field(default: int) -> Any:
    return Field(default, ge=1, description="Environment steps to train for (all copies).")


class _Timesteps(StrictModel):
    total_timesteps: int = 100_000
    eval_episodes: int = Field(
        10, ge=0, le=10_000, description="Greedy episodes per evaluation (periodic and final)."
    )
    eval_every: int | None = Field(
        None, ge=0, description="Timesteps between evaluations; default a tenth of the run; 0: off."
    )
    checkpoint_every: int = Field(
        10_000, ge=0, description="Timesteps between periodic checkpoints; 0: only the final one."
    )

    @field_validator("total_timesteps")
    @classmethod
    def _bounded(cls, v: int, info: ValidationInfo) -> int:
        if v < 1:
            raise ValueError("total_timesteps must be at least 1")
        limit = limits_of(info).max_timesteps
        if v > limit:
            raise ValueError(f"at most {limit} timesteps are allowed (asked for {v})")
        return v


class QLearningTraining(_Timesteps):
    total_timesteps: int = _timesteps_field(200_000)


class _NetTraining(_Timesteps):
    n_envs: int = Field(8, ge=1, le=256, description="Environment copies stepped together.")
    keep_best: bool = Field(
        True,
        description="The model is the policy of the best evaluation (periodic or final); "
        "false: the last policy.",
    )


class DQNTraining(_NetTraining):
    total_timesteps: int = _timesteps_field(50_000)
    n_envs: int = Field(1, ge=1, le=256, description="Environment copies stepped together.")


class PPOTraining(_NetTraining):
    total_timesteps: int = _timesteps_field(100_000)


class A2CTraining(_NetTraining):
    total_timesteps: int = _timesteps_field(200_000)


class ReinforceTraining(_NetTraining):
    total_timesteps: int = _timesteps_field(200_000)


# ----------------------------------------------------------------------------- params

Gamma = Annotated[float, Field(gt=0.0, le=1.0)]


class ValueIterationParams(StrictModel):
    gamma: Gamma = 0.99
    theta: float = Field(1e-8, gt=0, description="Stop when no state value moves more than this.")
    max_iterations: int = Field(100_000, ge=1, le=10_000_000)


class QLearningParams(StrictModel):
    learning_rate: float = Field(0.1, gt=0, le=1)
    gamma: Gamma = 0.99
    exploration_initial_eps: float = Field(1.0, ge=0, le=1)
    exploration_final_eps: float = Field(0.05, ge=0, le=1)
    exploration_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of the run over which epsilon decays linearly."
    )


class _NetParams(StrictModel):
    hidden_layers: Hidden = Field(default_factory=lambda: [64, 64], min_length=1, max_length=8)
    activation: Literal["tanh", "relu"] = "tanh"
    normalize_observations: bool = Field(
        False,
        description="Standardize observations with running statistics (kept with the policy).",
    )

    @field_validator("hidden_layers")
    @classmethod
    def _width(cls, v: list[int], info: ValidationInfo) -> list[int]:
        return check_widths(v, info)


class DQNParams(_NetParams):
    hidden_layers: Hidden = Field(default_factory=lambda: [256, 256], min_length=1, max_length=8)
    activation: Literal["tanh", "relu"] = "relu"
    learning_rate: float = Field(2.3e-3, gt=0)
    lr_schedule: Literal["constant", "linear"] = "constant"
    buffer_size: int = Field(100_000, ge=1, le=10_000_000)
    learning_starts: int = Field(1_000, ge=0)
    batch_size: int = Field(64, ge=1, le=65_536)
    gamma: Gamma = 0.99
    train_freq: int = Field(256, ge=1, description="Environment steps between training rounds.")
    gradient_steps: int = Field(128, ge=1, le=100_000, description="Gradient steps per round.")
    target_update_interval: int = Field(
        10, ge=1, description="Environment steps between target-network updates."
    )
    tau: float = Field(1.0, gt=0, le=1, description="Target update: 1 copies, less is Polyak.")
    exploration_fraction: float = Field(0.16, ge=0, le=1)
    exploration_initial_eps: float = Field(1.0, ge=0, le=1)
    exploration_final_eps: float = Field(0.04, ge=0, le=1)
    max_grad_norm: float = Field(10.0, gt=0)
    double_q: bool = Field(True, description="Double DQN: the online net picks, the target rates.")


class _OnPolicyParams(_NetParams):
    normalize_rewards: bool = Field(
        False, description="Scale rewards by the running spread of the discounted return."
    )


class ReinforceParams(_OnPolicyParams):
    learning_rate: float = Field(2e-3, gt=0)
    n_steps: int = Field(
        512, ge=1, le=100_000, description="Steps per copy per update (a batch of episodes)."
    )
    gamma: Gamma = 0.99
    vf_coef: float = Field(0.5, ge=0)
    ent_coef: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    normalize_advantage: bool = True


class A2CParams(_OnPolicyParams):
    learning_rate: float = Field(7e-4, gt=0)
    n_steps: int = Field(5, ge=1, le=100_000)
    gamma: Gamma = 0.99
    gae_lambda: float = Field(1.0, ge=0, le=1)
    vf_coef: float = Field(0.5, ge=0)
    ent_coef: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    normalize_advantage: bool = False


class PPOParams(_OnPolicyParams):
    learning_rate: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "linear"] = "linear"
    n_steps: int = Field(32, ge=1, le=100_000, description="Steps per copy per rollout.")
    batch_size: int = Field(256, ge=1, le=1_000_000, description="Minibatch size.")
    n_epochs: int = Field(20, ge=1, le=1000)
    gamma: Gamma = 0.98
    gae_lambda: float = Field(0.8, ge=0, le=1)
    clip_range: float = Field(0.2, gt=0)
    clip_schedule: Literal["constant", "linear"] = "linear"
    ent_coef: float = Field(0.0, ge=0)
    vf_coef: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    normalize_advantage: bool = True
    target_kl: float | None = Field(None, gt=0)


_KINDS: list[tuple[str, type[BaseModel], type[BaseModel], str, str]] = [
    (
        "value_iteration",
        ValueIterationParams,
        PlanTraining,
        "numpy",
        "Value iteration: dynamic programming on a known model (an MDP, a grid, toy text).",
    ),
    (
        "q_learning",
        QLearningParams,
        QLearningTraining,
        "numpy",
        "Tabular Q-learning with a linearly decaying epsilon-greedy policy.",
    ),
    (
        "dqn",
        DQNParams,
        DQNTraining,
        "torch",
        "Deep Q-learning: replay buffer, target network, Huber loss, optional double DQN.",
    ),
    (
        "reinforce",
        ReinforceParams,
        ReinforceTraining,
        "torch",
        "REINFORCE: policy gradient with rewards-to-go and a learned value baseline.",
    ),
    (
        "a2c",
        A2CParams,
        A2CTraining,
        "torch",
        "Advantage actor-critic (synchronous, n-step returns).",
    ),
    (
        "ppo",
        PPOParams,
        PPOTraining,
        "torch",
        "Proximal policy optimization: clipped objective with GAE; the default for control.",
    ),
]

# ----------------------------------------------------------------------------- per environment

# Stable-Baselines3's own defaults, which the RL Zoo's per-environment settings start from.
_SB3_PPO: dict[str, Any] = {
    "learning_rate": 3e-4,
    "lr_schedule": "constant",
    "n_steps": 2048,
    "batch_size": 64,
    "n_epochs": 10,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "clip_schedule": "constant",
}
_NORMALIZE = {"normalize_observations": True, "normalize_rewards": True}

# What a spec that names one of these environments gets for the options it leaves out:
# the RL Baselines3 Zoo's tuned settings (``normalize`` there is both normalizations here).
# The kinds' own defaults are the Zoo's CartPole-v1 settings. ``benchmarks/rl_defaults.py``
# trains each entry with nothing but the environment given; docs/benchmarks.md has returns.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "dqn": {
        "MountainCar-v0": {
            "params": {
                "learning_rate": 4e-3,
                "batch_size": 128,
                "buffer_size": 10_000,
                "learning_starts": 1_000,
                "gamma": 0.98,
                "target_update_interval": 600,
                "train_freq": 16,
                "gradient_steps": 8,
                "exploration_fraction": 0.2,
                "exploration_final_eps": 0.07,
            },
            "training": {"total_timesteps": 120_000},
        },
        "Acrobot-v1": {
            "params": {
                "learning_rate": 6.3e-4,
                "batch_size": 128,
                "buffer_size": 50_000,
                "learning_starts": 0,
                "gamma": 0.99,
                "target_update_interval": 250,
                "train_freq": 4,
                "gradient_steps": 4,
                "exploration_fraction": 0.12,
                "exploration_final_eps": 0.1,
            },
            "training": {"total_timesteps": 100_000},
        },
    },
    "ppo": {
        "MountainCar-v0": {
            "params": {
                **_SB3_PPO,
                **_NORMALIZE,
                "n_steps": 16,
                "gae_lambda": 0.98,
                "n_epochs": 4,
            },
            "training": {"total_timesteps": 1_000_000, "n_envs": 16},
        },
        "Acrobot-v1": {
            "params": {
                **_SB3_PPO,
                **_NORMALIZE,
                "n_steps": 256,
                "gae_lambda": 0.94,
                "n_epochs": 4,
            },
            "training": {"total_timesteps": 1_000_000, "n_envs": 16},
        },
        "Pendulum-v1": {
            "params": {
                **_SB3_PPO,
                "n_steps": 1024,
                "gae_lambda": 0.95,
                "gamma": 0.9,
                "n_epochs": 10,
                "learning_rate": 1e-3,
            },
            "training": {"total_timesteps": 100_000, "n_envs": 4},
        },
    },
    "a2c": {
        "MountainCar-v0": {
            "params": {**_NORMALIZE},
            "training": {"total_timesteps": 1_000_000, "n_envs": 16},
        },
        "Acrobot-v1": {
            "params": {**_NORMALIZE},
            "training": {"total_timesteps": 500_000, "n_envs": 16},
        },
    },
}


def _defaults_for(kind: str) -> Any:
    table = ENVIRONMENT_DEFAULTS.get(kind, {})

    def defaults(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        env = raw.get("environment")
        entry = table.get(env.get("id")) if isinstance(env, dict) else None  # type: ignore[arg-type]
        if entry is None:
            return {}, {}
        return dict(entry["params"]), dict(entry["training"])

    return defaults


for _name, _params, _training, _framework, _description in _KINDS:
    register(
        ModelKind(
            name=_name,
            tasks=TASKS,
            params=_params,
            training=_training,
            trainer=f"mlengine.rl.{_name}:train",
            framework=_framework,  # type: ignore[arg-type]
            description=_description,
            auto_scaling="none",
            spec_defaults=_defaults_for(_name) if _name in ENVIRONMENT_DEFAULTS else None,
        )
    )
