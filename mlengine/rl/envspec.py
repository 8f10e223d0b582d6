"""The ``environment`` of a reinforcement-learning job spec: pure pydantic, no Gymnasium.

Exactly one of:

- ``{"id": "CartPole-v1", "kwargs": {...}}``: a Gymnasium environment that ships with
  Gymnasium and needs no extra system package (classic control and toy text);
- ``{"mdp": {"transitions": P}}``: a tabular MDP in Gymnasium's toy-text format,
  ``P[s][a] = [[prob, next_state, reward, terminated], ...]`` (a list, or an object keyed
  by the state / action numbers as strings);
- ``{"grid": {"map": ["S..", ".#.", "H.G"]}}``: a grid world drawn as text: ``S`` start,
  ``G`` goal, ``#`` wall, ``H`` hole, ``.`` free. Actions 0 left, 1 down, 2 right, 3 up
  (FrozenLake's order).

``max_episode_steps`` cuts an episode (truncation); it defaults to the environment's own
limit, or 100 for an MDP or a grid, 1000 for a registered environment that has none.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Registered Gymnasium ids a job may name (classic control and toy text).
ENV_IDS = (
    "Acrobot-v1",
    "Blackjack-v1",
    "CartPole-v0",
    "CartPole-v1",
    "CliffWalking-v1",
    "CliffWalkingSlippery-v1",
    "FrozenLake-v1",
    "FrozenLake8x8-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
    "Taxi-v4",
)
# Older names that still mean the same problem in this Gymnasium.
ENV_ALIASES = {"Taxi-v3": "Taxi-v4", "CliffWalking-v0": "CliffWalking-v1"}
# Registered environments whose model (P) is known: value iteration can plan on them.
ENV_WITH_MODEL = frozenset(
    {"FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "CliffWalkingSlippery-v1", "Taxi-v4"}
)
MAX_STATES = 100_000
MAX_TRANSITIONS = 2_000_000
MAX_GRID_CELLS = 10_000
# The size of an environment's kwargs: values, list items and string characters, counted
# with an early stop, so a huge kwargs list is refused without walking it all.
MAX_KWARGS_SIZE = 100_000
GRID_CHARS = frozenset("SGH#.")
DEFAULT_TABULAR_EPISODE_STEPS = 100
DEFAULT_EPISODE_STEPS = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(value: Any, what: str) -> list[Any]:
    """A JSON list, or an object keyed "0".."n-1" (Gymnasium's dict form), as a list."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        try:
            keys = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            raise ValueError(f"{what} keys must be numbers 0..n-1") from None
        if keys != list(range(len(keys))):
            raise ValueError(f"{what} keys must be exactly 0..{len(keys) - 1}")
        return [value[k] if k in value else value[str(k)] for k in keys]
    raise ValueError(f"{what} must be a list (or an object keyed by number)")


def size_over(value: Any, budget: int) -> bool:
    """Whether ``value`` (JSON: dicts, lists, strings, scalars) counts more than ``budget``
    (one per value, plus each string's characters); stops as soon as it does."""
    left = budget
    stack = [value]
    while stack:
        v = stack.pop()
        left -= 1 + (len(v) if isinstance(v, str) else 0)
        if left < 0:
            return True
        if isinstance(v, dict):
            if len(v) > left:
                return True
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            if len(v) > left:
                return True
            stack.extend(v)
    return False


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class MDPSpec(_Strict):
    transitions: list[list[list[tuple[float, int, float, bool]]]] = Field(
        description="P[s][a] = [[prob, next_state, reward, terminated], ...]"
    )
    initial_state: int | None = Field(
        None, ge=0, description="The start state; default 0 (see initial_distribution)."
    )
    initial_distribution: list[float] | None = Field(
        None, description="Probabilities of each start state (instead of initial_state)."
    )

    @field_validator("transitions", mode="before")
    @classmethod
    def _normalize(cls, v: Any) -> Any:
        states = _as_list(v, "transitions")
        out = []
        for s, actions in enumerate(states):
            out.append(_as_list(actions, f"transitions[{s}]"))
        return out

    @model_validator(mode="after")
    def _check(self) -> MDPSpec:
        P = self.transitions
        n = len(P)
        if n == 0:
            raise ValueError("an MDP needs at least one state")
        if n > MAX_STATES:
            raise ValueError(f"at most {MAX_STATES} states are allowed (got {n})")
        n_actions = len(P[0])
        total = 0
        for s, actions in enumerate(P):
            if len(actions) == 0:
                raise ValueError(f"state {s} has no action; every state needs at least one")
            if len(actions) != n_actions:
                raise ValueError(
                    f"state {s} has {len(actions)} actions but state 0 has {n_actions}; "
                    "every state must have the same actions"
                )
            for a, outcomes in enumerate(actions):
                if not outcomes:
                    raise ValueError(f"P[{s}][{a}] is empty; list [prob, next_state, reward, done]")
                psum = 0.0
                for prob, nxt, reward, _ in outcomes:
                    total += 1
                    if not (_is_number(prob) and 0.0 <= prob <= 1.0):
                        raise ValueError(f"P[{s}][{a}]: probability {prob} is not in [0, 1]")
                    if not 0 <= nxt < n:
                        raise ValueError(
                            f"P[{s}][{a}]: next state {nxt} is out of range (states are 0..{n - 1})"
                        )
                    if not _is_number(reward):
                        raise ValueError(f"P[{s}][{a}]: reward {reward} is not a finite number")
                    psum += prob
                if abs(psum - 1.0) > 1e-6:
                    raise ValueError(f"P[{s}][{a}]: probabilities sum to {psum:g}, not 1")
        if total > MAX_TRANSITIONS:
            raise ValueError(f"at most {MAX_TRANSITIONS} transitions are allowed (got {total})")
        if self.initial_state is not None and self.initial_state >= n:
            raise ValueError(f"initial_state {self.initial_state} is out of range (0..{n - 1})")
        if self.initial_distribution is not None:
            d = self.initial_distribution
            if self.initial_state is not None:
                raise ValueError("give initial_state or initial_distribution, not both")
            if len(d) != n:
                raise ValueError(f"initial_distribution has {len(d)} entries; the MDP has {n}")
            if any(not (_is_number(p) and p >= 0) for p in d) or abs(sum(d) - 1.0) > 1e-6:
                raise ValueError("initial_distribution must be non-negative and sum to 1")
        return self

    @property
    def n_states(self) -> int:
        return len(self.transitions)

    @property
    def n_actions(self) -> int:
        return len(self.transitions[0])


class GridSpec(_Strict):
    map: list[str] = Field(
        description="Rows of the grid: S start, G goal, # wall, H hole (ends the episode), . free"
    )
    slip: float = Field(
        0.0, ge=0.0, lt=1.0, description="Probability that a move goes to a random other side."
    )
    goal_reward: float = 1.0
    hole_reward: float = 0.0
    step_reward: float = 0.0

    @field_validator("map", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [row.strip() for row in v.strip().splitlines() if row.strip()]
        return v

    @model_validator(mode="after")
    def _check(self) -> GridSpec:
        rows = self.map
        if not rows:
            raise ValueError("the map is empty; draw rows with S, G, #, H and .")
        width = len(rows[0])
        if width == 0 or any(len(r) != width for r in rows):
            raise ValueError("every row of the map must have the same, non-zero length")
        if len(rows) * width > MAX_GRID_CELLS:
            raise ValueError(f"at most {MAX_GRID_CELLS} cells are allowed")
        for i, r in enumerate(rows):
            bad = set(r) - GRID_CHARS
            if bad:
                raise ValueError(
                    f"row {i} has {''.join(sorted(bad))!r}; use S start, G goal, # wall, H hole, "
                    ". free"
                )
        cells = "".join(rows)
        if cells.count("S") != 1:
            raise ValueError(f"the map needs exactly one S (start); it has {cells.count('S')}")
        if "G" not in cells:
            raise ValueError("the map needs at least one G (goal)")
        return self


class EnvironmentSpec(_Strict):
    id: str | None = Field(None, description="A Gymnasium id, e.g. 'CartPole-v1'.")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for gymnasium.make."
    )
    mdp: MDPSpec | None = None
    grid: GridSpec | None = None
    max_episode_steps: int | None = Field(None, ge=1, le=1_000_000)

    @field_validator("id")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = ENV_ALIASES.get(v, v)
        if v not in ENV_IDS:
            raise ValueError(
                f"unknown environment '{v}'; available: {', '.join(ENV_IDS)} "
                "(or give 'mdp' or 'grid')"
            )
        return v

    @field_validator("kwargs")
    @classmethod
    def _no_render(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "render_mode" in v:
            raise ValueError("render_mode cannot be set: jobs do not render")
        return v

    @model_validator(mode="after")
    def _one(self) -> EnvironmentSpec:
        given = [k for k in ("id", "mdp", "grid") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'id' (a Gymnasium environment), 'mdp' (transitions) "
                f"or 'grid' (a text map); got {', '.join(given) or 'none'}"
            )
        if self.kwargs and self.id is None:
            raise ValueError("'kwargs' goes with 'id' only")
        return self

    @property
    def has_model(self) -> bool:
        """Whether the transition model is known (value iteration can plan)."""
        return self.id is None or self.id in ENV_WITH_MODEL

    def describe(self) -> str:
        if self.id is not None:
            return self.id
        return "the MDP" if self.mdp is not None else "the grid world"
