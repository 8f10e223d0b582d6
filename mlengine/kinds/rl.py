"""The reinforcement-learning kinds: declarations only (the algorithms are in mlengine.rl).

An RL job names an ``environment`` instead of a dataset; its task is ``reinforcement``.
The defaults are tuned for the classic problems (RL Baselines3 Zoo's CartPole settings for
the network algorithms), so a spec that gives only the environment learns.
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


class DQNTraining(_Timesteps):
    total_timesteps: int = _timesteps_field(50_000)
    n_envs: int = Field(1, ge=1, le=256, description="Environment copies stepped together.")


class PPOTraining(_Timesteps):
    total_timesteps: int = _timesteps_field(100_000)
    n_envs: int = Field(8, ge=1, le=256, description="Environment copies stepped together.")


class A2CTraining(_Timesteps):
    total_timesteps: int = _timesteps_field(200_000)
    n_envs: int = Field(8, ge=1, le=256, description="Environment copies stepped together.")


class ReinforceTraining(_Timesteps):
    total_timesteps: int = _timesteps_field(200_000)
    n_envs: int = Field(8, ge=1, le=256, description="Environment copies stepped together.")


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

    @field_validator("hidden_layers")
    @classmethod
    def _width(cls, v: list[int], info: ValidationInfo) -> list[int]:
        return check_widths(v, info)


class DQNParams(_NetParams):
    hidden_layers: Hidden = Field(default_factory=lambda: [256, 256], min_length=1, max_length=8)
    activation: Literal["tanh", "relu"] = "relu"
    learning_rate: float = Field(2.3e-3, gt=0)
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


class ReinforceParams(_NetParams):
    learning_rate: float = Field(2e-3, gt=0)
    n_steps: int = Field(
        512, ge=1, le=100_000, description="Steps per copy per update (a batch of episodes)."
    )
    gamma: Gamma = 0.99
    vf_coef: float = Field(0.5, ge=0)
    ent_coef: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    normalize_advantage: bool = True


class A2CParams(_NetParams):
    learning_rate: float = Field(7e-4, gt=0)
    n_steps: int = Field(5, ge=1, le=100_000)
    gamma: Gamma = 0.99
    gae_lambda: float = Field(1.0, ge=0, le=1)
    vf_coef: float = Field(0.5, ge=0)
    ent_coef: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    normalize_advantage: bool = False


class PPOParams(_NetParams):
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
        )
    )
