"""A trained policy as a predictor: observations (as the environment gives them) -> actions.

``predict({"observations": [...]})`` (or ``instances`` / ``inputs``), or a plain list of
observations. A body's errors carry ``loc`` ``(key,)`` when they are about its observations.

Tables (value iteration, Q-learning) and Q-networks answer the greedy action and their
Q-values (``extra.q_values``); discrete actors answer the most probable action and the
action probabilities; continuous actors answer the mean action, clipped to the bounds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlengine.artifact import MODEL_SAFETENSORS, info_from_meta
from mlengine.errors import ArtifactError, InputError
from mlengine.predictor import Body, Predictor, check_not_too_many, check_row_count, is_int
from mlengine.rl.envs import encode_obs, state_index
from mlengine.types import ModelInfo

OBSERVATION_KEYS = ("observations", "instances", "inputs")


def _space_text(desc: dict[str, Any]) -> str:
    if desc["type"] == "discrete":
        lo = int(desc["start"])
        return f"Discrete({desc['n']}): an integer in {lo}..{lo + int(desc['n']) - 1}"
    if desc["type"] == "tuple":
        return "Tuple(" + ", ".join(_space_text(s) for s in desc["spaces"]) + "): a list"
    return f"Box(shape={desc['shape']}): a list of numbers of that shape"


def _show(v: Any) -> str:
    """A client's value, short: huge ints by their size (no slow or failing repr)."""
    if is_int(v) and abs(int(v)) >= 10**40:
        return f"a {int(v).bit_length()}-bit integer"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_discrete(desc: dict[str, Any], v: Any, where: str) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not is_int(v):
        raise InputError(f"{where}: expected an integer state, got {_show(v)}")
    lo = int(desc["start"])
    # Python ints: the range check cannot overflow, whatever the size
    if not lo <= int(v) < lo + int(desc["n"]):
        raise InputError(f"{where}: state {_show(v)} is out of range")
    return int(v)


def _too_large_index(v: Any) -> int | None:
    """The flat index of the first int in ``v`` that no float can hold, if any."""
    try:
        flat = np.asarray(v, dtype=object).reshape(-1)
    except (TypeError, ValueError):
        return None
    for i, x in enumerate(flat):
        if is_int(x):
            try:
                float(x)
            except OverflowError:
                return i
    return None


def _check_box(desc: dict[str, Any], v: Any, where: str) -> np.ndarray:
    shape = tuple(desc["shape"])
    try:
        a = np.asarray(v, dtype=np.float64)
    except OverflowError:
        i = _too_large_index(v)
        raise InputError(
            f"{where}: value at index {i} is too large for a float"
            if i is not None
            else f"{where}: a value is too large for a float"
        ) from None
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected numbers, got {_show(v)}") from None
    if isinstance(v, str) or a.dtype == object:
        raise InputError(f"{where}: expected numbers, got {_show(v)}")
    if a.shape != shape:
        raise InputError(f"{where}: shape {list(a.shape)} does not match {list(shape)}")
    if not np.isfinite(a).all():
        raise InputError(f"{where}: values must be finite numbers")
    if any(isinstance(x, bool) for x in np.asarray(v, dtype=object).reshape(-1)):
        raise InputError(f"{where}: expected numbers, got booleans")
    flat = a.reshape(-1)
    for i, (x, lo, hi) in enumerate(zip(flat, desc["low"], desc["high"], strict=True)):
        if (lo is not None and x < lo - 1e-6) or (hi is not None and x > hi + 1e-6):
            raise InputError(f"{where}: value {x:g} at index {i} is outside [{lo}, {hi}]")
    return a


class PolicyPredictor(Predictor):
    def __init__(self, meta: dict[str, Any], tensors: dict[str, np.ndarray], device: str = "cpu"):
        self.meta = meta
        self._info = info_from_meta(meta)
        policy = meta.get("policy")
        extra = meta.get("extra") or {}
        if not isinstance(policy, dict) or "observation_space" not in extra:
            raise ArtifactError("reinforcement-learning artifact without a policy")
        self.policy = policy
        self.obs_space: dict[str, Any] = extra["observation_space"]
        self.action_space: dict[str, Any] = extra["action_space"]
        self.expected = _space_text(self.obs_space)
        self.table: np.ndarray | None = None
        self.net: Any = None
        if policy["type"] == "table":
            self.table = tensors[policy.get("values", "q")]
        elif policy["type"] in ("q_net", "actor"):
            import torch

            from mlengine.rl.checkpoint import from_numpy
            from mlengine.rl.nets import build

            try:
                net = build(policy["net"])
                net.load_state_dict(from_numpy(tensors, "net."))
            except (RuntimeError, ValueError, KeyError) as exc:
                raise ArtifactError(f"cannot rebuild the policy network: {exc}") from exc
            self.device = torch.device(device)
            self.net = net.to(self.device).eval()
        else:
            raise ArtifactError(f"unknown policy type {policy['type']!r}")

    @property
    def info(self) -> ModelInfo:
        return self._info

    def observations(self, body: Body, max_rows: int | None = None) -> tuple[Any, tuple[str, ...]]:
        """The observations of a request body or a plain list, and where they are in it."""
        if isinstance(body, dict):
            key = next((k for k in OBSERVATION_KEYS if k in body), None)
            if key is None or len(body) != 1:
                raise InputError(
                    "a policy takes {'observations': [...]} (or 'instances'): one per row"
                )
            observations = body[key]
            if not isinstance(observations, list):
                raise InputError("send a list of observations, one per row", loc=(key,))
            check_row_count(observations, max_rows)
            return observations, (key,)
        if isinstance(body, list) and any(isinstance(o, dict) for o in body):
            raise InputError(
                f"this {self.info.model_type} policy takes observations, not rows: send "
                f"{{'observations': [...]}}, each {self.expected}"
            )
        if not isinstance(body, list):
            raise InputError(f"expected a list of observations, each {self.expected}")
        check_not_too_many(body, max_rows)
        return body, ()

    def _batch(self, observations: list[Any], loc: tuple[str, ...]) -> Any:
        """Validate every observation; the batch as a vector env would give it."""
        d = self.obs_space
        out: list[Any] = []
        for i, o in enumerate(observations):
            where = f"observation {i}"
            try:
                if d["type"] == "discrete":
                    out.append(_check_discrete(d, o, where))
                elif d["type"] == "tuple":
                    if not isinstance(o, list | tuple) or len(o) != len(d["spaces"]):
                        raise InputError(f"{where}: expected a list of {len(d['spaces'])} integers")
                    out.append(
                        [
                            _check_discrete(s, o[j], f"{where}[{j}]")
                            for j, s in enumerate(d["spaces"])
                        ]
                    )
                else:
                    out.append(_check_box(d, o, where))
            except InputError as exc:
                raise InputError(
                    f"{exc}; the observation space is {self.expected}", loc=loc
                ) from None
        if d["type"] == "discrete":
            return np.asarray(out, dtype=np.int64)
        if d["type"] == "tuple":
            return tuple(np.asarray(c, dtype=np.int64) for c in zip(*out, strict=True))
        return np.stack(out).astype(np.float32)

    def predict(self, body: Body, max_rows: int | None = None) -> dict[str, Any]:
        """Actions (``predictions``), with ``extra.q_values`` or ``probabilities``."""
        observations, loc = self.observations(body, max_rows)
        if not observations:
            return {"predictions": []}
        batch = self._batch(observations, loc)
        if self.table is not None:
            q = self.table[state_index(self.obs_space, batch)]
            return {
                "predictions": q.argmax(axis=1).tolist(),
                "extra": {"q_values": _finite(q)},
            }
        import torch

        x = torch.from_numpy(encode_obs(self.obs_space, batch)).to(self.device)
        with torch.inference_mode():
            out = self.net(x).double().cpu().numpy()
        if self.policy["type"] == "q_net":
            return {"predictions": out.argmax(axis=1).tolist(), "extra": {"q_values": _finite(out)}}
        if self.policy["net"].get("continuous"):
            low = np.asarray(self.action_space["low"], dtype=np.float64)
            high = np.asarray(self.action_space["high"], dtype=np.float64)
            actions = np.clip(out, low, high).reshape(
                len(observations), *self.action_space["shape"]
            )
            return {"predictions": actions.tolist()}
        probs = np.exp(out - out.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return {"predictions": probs.argmax(axis=1).tolist(), "probabilities": probs.tolist()}


def _finite(a: np.ndarray) -> list[list[float | None]]:
    return [[float(v) if math.isfinite(v) else None for v in row] for row in a.tolist()]


def load_policy(
    meta: dict[str, Any], files: dict[str, bytes], device: str = "cpu"
) -> PolicyPredictor:
    from safetensors.numpy import load

    if MODEL_SAFETENSORS not in files:
        raise ArtifactError("reinforcement-learning artifact without model.safetensors")
    try:
        tensors = load(files[MODEL_SAFETENSORS])
    except Exception as exc:  # noqa: BLE001 - a corrupt member
        raise ArtifactError(f"cannot read the policy: {exc}") from exc
    return PolicyPredictor(meta, tensors, device)
