"""Environments: registered Gymnasium ids, a user MDP, a text-map grid world; their spaces.

Every environment is a plain ``gymnasium.Env``: the algorithms do not care where it came
from. ``Spaces`` describes what an algorithm may need of the observation and action spaces
(and what the served policy checks observations against).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mlengine.errors import SpecError
from mlengine.rl.envspec import (
    DEFAULT_EPISODE_STEPS,
    DEFAULT_TABULAR_EPISODE_STEPS,
    MAX_KWARGS_SIZE,
    EnvironmentSpec,
    GridSpec,
    MDPSpec,
    size_over,
)
from mlengine.types import Limits

Transitions = list[list[list[tuple[float, int, float, bool]]]]

# ----------------------------------------------------------------------------- the MDP env


class MDPEnv(gym.Env[np.int64, np.int64]):
    """A tabular MDP in Gymnasium's toy-text format, as a Gymnasium env (exposes ``P``)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, transitions: Transitions, initial: np.ndarray | None = None):
        self.P = {
            s: {a: [tuple(t) for t in outs] for a, outs in enumerate(acts)}
            for s, acts in enumerate(transitions)
        }
        n, m = len(transitions), len(transitions[0])
        self.observation_space = spaces.Discrete(n)
        self.action_space = spaces.Discrete(m)
        if initial is None:
            initial = np.zeros(n)
            initial[0] = 1.0
        self.initial = initial / initial.sum()
        # Sampling tables: per (s, a) cumulative probabilities and outcomes.
        self._cum = [[np.cumsum([t[0] for t in outs]) for outs in acts] for acts in transitions]
        self._outs = transitions
        self.s = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.int64, dict[str, Any]]:
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(len(self.initial), p=self.initial))
        return np.int64(self.s), {}

    def step(self, action: Any) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        a = int(action)
        cum = self._cum[self.s][a]
        i = min(
            int(np.searchsorted(cum, self.np_random.random() * cum[-1], side="right")), len(cum) - 1
        )
        _, nxt, reward, done = self._outs[self.s][a][i]
        self.s = int(nxt)
        return np.int64(self.s), float(reward), bool(done), False, {}


def grid_transitions(grid: GridSpec) -> tuple[Transitions, int]:
    """The grid's MDP (FrozenLake's dynamics: a slip goes to one of the other sides)."""
    rows = grid.map
    h, w = len(rows), len(rows[0])
    moves = [(0, -1), (1, 0), (0, 1), (-1, 0)]  # left, down, right, up

    def target(r: int, c: int, a: int) -> int:
        dr, dc = moves[a]
        nr, nc = r + dr, c + dc
        if not (0 <= nr < h and 0 <= nc < w) or rows[nr][nc] == "#":
            nr, nc = r, c
        return nr * w + nc

    P: Transitions = []
    start = 0
    for r in range(h):
        for c in range(w):
            s = r * w + c
            ch = rows[r][c]
            if ch == "S":
                start = s
            if ch in "GH#":  # absorbing (walls cannot be reached)
                P.append([[(1.0, s, 0.0, True)] for _ in moves])
                continue
            acts = []
            for a in range(4):
                outcomes: dict[int, float] = {}
                if grid.slip > 0:
                    for b in range(4):
                        if b == a:
                            continue
                        nxt = target(r, c, b)
                        outcomes[nxt] = outcomes.get(nxt, 0.0) + grid.slip / 3
                nxt = target(r, c, a)
                outcomes[nxt] = outcomes.get(nxt, 0.0) + 1.0 - grid.slip
                row = []
                for nxt, p in outcomes.items():
                    cell = rows[nxt // w][nxt % w]
                    reward = grid.step_reward
                    if cell == "G":
                        reward += grid.goal_reward
                    elif cell == "H":
                        reward += grid.hole_reward
                    row.append((p, nxt, reward, cell in "GH"))
                acts.append(row)
            P.append(acts)
    return P, start


def _mdp_initial(mdp: MDPSpec) -> np.ndarray:
    if mdp.initial_distribution is not None:
        return np.asarray(mdp.initial_distribution, dtype=np.float64)
    d = np.zeros(mdp.n_states)
    d[mdp.initial_state or 0] = 1.0
    return d


def make_env(env: EnvironmentSpec) -> gym.Env[Any, Any]:
    """A fresh, unseeded environment with its time limit."""
    if env.id is not None:
        e = gym.make(env.id, disable_env_checker=True, **env.kwargs)
        limit = env.max_episode_steps
        if limit is None and (e.spec is None or e.spec.max_episode_steps is None):
            limit = DEFAULT_EPISODE_STEPS
        if limit is not None:
            if isinstance(e, gym.wrappers.TimeLimit):
                e = e.env  # replace the registered limit
            e = gym.wrappers.TimeLimit(e, max_episode_steps=limit)
        return e
    if env.mdp is not None:
        base = MDPEnv(env.mdp.transitions, _mdp_initial(env.mdp))
    else:
        assert env.grid is not None
        P, start = grid_transitions(env.grid)
        init = np.zeros(len(P))
        init[start] = 1.0
        base = MDPEnv(P, init)
    limit = env.max_episode_steps or DEFAULT_TABULAR_EPISODE_STEPS
    return gym.wrappers.TimeLimit(base, max_episode_steps=limit)


def env_factory(env: EnvironmentSpec) -> Callable[[], gym.Env[Any, Any]]:
    return lambda: make_env(env)


def transition_model(env: EnvironmentSpec) -> Transitions:
    """``P[s][a]`` as lists, for planning (value iteration)."""
    if env.mdp is not None:
        return env.mdp.transitions
    if env.grid is not None:
        return grid_transitions(env.grid)[0]
    e = make_env(env)
    P = e.unwrapped.P  # type: ignore[attr-defined]
    e.close()
    n = len(P)
    return [[[tuple(t) for t in P[s][a]] for a in range(len(P[s]))] for s in range(n)]  # type: ignore[misc]


# ----------------------------------------------------------------------------- spaces


def describe_space(space: spaces.Space[Any]) -> dict[str, Any]:
    """A JSON description of a space (shown as the model's info, checked by predictions)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):

        def bound(a: np.ndarray) -> list[Any]:
            return [None if not np.isfinite(v) else float(v) for v in a.reshape(-1)]

        return {
            "type": "box",
            "shape": list(space.shape),
            "low": bound(space.low),
            "high": bound(space.high),
        }
    if isinstance(space, spaces.Tuple) and all(
        isinstance(s, spaces.Discrete) for s in space.spaces
    ):
        return {"type": "tuple", "spaces": [describe_space(s) for s in space.spaces]}
    raise TypeError(f"unsupported space {space}")


@dataclass(frozen=True)
class Spaces:
    observation: dict[str, Any]
    action: dict[str, Any]

    @property
    def discrete_obs(self) -> bool:
        """Observations that index a table: a Discrete, or a Tuple of Discretes."""
        return self.observation["type"] in ("discrete", "tuple")

    @property
    def discrete_actions(self) -> bool:
        return self.action["type"] == "discrete"

    @property
    def n_states(self) -> int:
        return n_states(self.observation)

    @property
    def n_actions(self) -> int:
        return int(self.action["n"])

    @property
    def obs_features(self) -> int:
        """Width of an observation encoded for a network (one-hot for discrete parts)."""
        o = self.observation
        if o["type"] == "discrete":
            return int(o["n"])
        if o["type"] == "tuple":
            return sum(int(s["n"]) for s in o["spaces"])
        return int(np.prod(o["shape"]))

    @property
    def action_dim(self) -> int:
        return int(np.prod(self.action["shape"]))


def n_states(desc: dict[str, Any]) -> int:
    if desc["type"] == "discrete":
        return int(desc["n"])
    return int(np.prod([s["n"] for s in desc["spaces"]]))


def spaces_of(env: gym.Env[Any, Any]) -> Spaces:
    return Spaces(describe_space(env.observation_space), describe_space(env.action_space))


def encode_obs(desc: dict[str, Any], obs: Any) -> np.ndarray:
    """A batch of observations (as a vector env gives them) -> float32 (n, features)."""
    if desc["type"] == "discrete":
        idx = np.asarray(obs, dtype=np.int64).reshape(-1) - int(desc["start"])
        out = np.zeros((idx.shape[0], int(desc["n"])), dtype=np.float32)
        out[np.arange(idx.shape[0]), idx] = 1.0
        return out
    if desc["type"] == "tuple":
        parts = [encode_obs(s, o) for s, o in zip(desc["spaces"], obs, strict=True)]
        return np.concatenate(parts, axis=1)
    a = np.asarray(obs, dtype=np.float32)
    return a.reshape(a.shape[0], -1)


def state_index(desc: dict[str, Any], obs: Any) -> np.ndarray:
    """A batch of discrete observations -> table rows (n,) int64 (tuples: mixed radix)."""
    if desc["type"] == "discrete":
        return np.asarray(obs, dtype=np.int64).reshape(-1) - int(desc["start"])
    idx: np.ndarray | None = None
    for s, o in zip(desc["spaces"], obs, strict=True):
        part = np.asarray(o, dtype=np.int64).reshape(-1) - int(s["start"])
        idx = part if idx is None else idx * int(s["n"]) + part
    assert idx is not None
    return idx


# ----------------------------------------------------------------------------- spec checks

TABULAR = frozenset({"value_iteration", "q_learning"})
DISCRETE_ACTIONS = frozenset({"value_iteration", "q_learning", "dqn"})


def _map_size(value: Any) -> tuple[int, int] | None:
    """(rows, longest row) of a map given as a list of strings / lists, or as one string;
    ``None`` if it is neither. Reads each row's length only (rows are bounded first)."""
    if isinstance(value, str):
        lines = value.splitlines() or [value]
        return len(lines), max(len(r) for r in lines)
    if isinstance(value, list | tuple):
        widths = [len(r) if isinstance(r, str | list | tuple) else 1 for r in value]
        return len(value), max(widths, default=0)
    return None


def check_env_size(env: EnvironmentSpec, limits: Limits) -> None:
    """Refuse a map past the limits from the spec itself, before anything is built:
    FrozenLake's ``desc`` (or any ``shape`` kwarg) and a grid world's map."""
    side, cells = limits.max_env_side, limits.max_env_cells

    def check(rows: int, cols: int, loc: tuple[str | int, ...], what: str) -> None:
        if rows > side or cols > side or rows * cols > cells:
            raise SpecError.at(
                loc,
                f"{what} is {rows} x {cols}; at most {side} rows and {side} columns and "
                f"{cells} cells in all are allowed (settings DESCENT_MAX_ENV_SIDE, "
                "DESCENT_MAX_ENV_CELLS)",
            )

    if env.grid is not None:
        rows = env.grid.map
        check(
            len(rows),
            max((len(r) for r in rows), default=0),
            ("environment", "grid", "map"),
            "the map",
        )
    desc = env.kwargs.get("desc")
    if desc is not None:
        loc = ("environment", "kwargs", "desc")
        if isinstance(desc, list | tuple) and len(desc) > side:  # too many rows: stop here
            first = desc[0]
            check(
                len(desc), len(first) if isinstance(first, str | list) else 1, loc, "the map (desc)"
            )
        size = _map_size(desc)
        if size is not None:
            check(*size, loc, "the map (desc)")
    shape = env.kwargs.get("shape")
    if isinstance(shape, list | tuple) and len(shape) == 2 and all(type(v) is int for v in shape):
        check(int(shape[0]), int(shape[1]), ("environment", "kwargs", "shape"), "the shape")
    if size_over(env.kwargs, MAX_KWARGS_SIZE):
        raise SpecError.at(
            ("environment", "kwargs"),
            f"kwargs are too large: at most {MAX_KWARGS_SIZE} values and characters in all",
        )


def check_environment(env: EnvironmentSpec, algorithm: str, limits: Limits | None = None) -> Spaces:
    """Build the environment once to check its kwargs and that the algorithm fits its spaces.

    Its size is checked first, from the spec (``check_env_size``). Raises ``SpecError``
    (locs from the spec body).
    """
    limits = limits or Limits()
    check_env_size(env, limits)
    if algorithm == "value_iteration" and not env.has_model:
        raise SpecError.at(
            ("model", "type"),
            f"value_iteration plans on a known model; {env.describe()} does not expose one. "
            "Use an 'mdp' or 'grid' environment, a toy-text one (FrozenLake, Taxi, "
            "CliffWalking), or a learning algorithm (q_learning, dqn, ppo, ...)",
        )
    try:
        e = make_env(env)
    except (TypeError, ValueError, AssertionError, KeyError, IndexError) as exc:
        raise SpecError.at(
            ("environment", "kwargs"), f"cannot make {env.describe()} with these kwargs: {exc}"
        ) from None
    try:
        sp = spaces_of(e)
    except TypeError as exc:
        raise SpecError.at(("environment",), str(exc)) from None
    finally:
        e.close()
    if algorithm in TABULAR:
        if not sp.discrete_obs:
            raise SpecError.at(
                ("model", "type"),
                f"{algorithm} needs discrete observations; {env.describe()} observes a "
                f"{sp.observation['type']} {sp.observation.get('shape', '')}: use dqn or ppo",
            )
        n_actions = max(sp.n_actions if sp.discrete_actions else 1, 1)
        if sp.n_states * n_actions > limits.max_table_entries:
            raise SpecError.at(
                ("environment",),
                f"{algorithm} keeps a table of states x actions: {sp.n_states} x {n_actions} "
                f"= {sp.n_states * n_actions} entries; at most {limits.max_table_entries} are "
                "allowed (setting DESCENT_MAX_TABLE_ENTRIES): use dqn or ppo",
            )
    if algorithm in DISCRETE_ACTIONS and not sp.discrete_actions:
        raise SpecError.at(
            ("model", "type"),
            f"{algorithm} needs discrete actions; {env.describe()} takes continuous actions "
            f"(a box of shape {sp.action['shape']}): use ppo, a2c or reinforce",
        )
    return sp
