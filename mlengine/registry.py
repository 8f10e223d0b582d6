"""Model kinds: one name, one params class, one training-options class, one trainer.

Registration is cheap: a kind's module declares its pydantic classes and calls
:func:`register` once; the trainer is named as ``"module:function"`` and imported
only when a job of that kind runs, so declaring a torch model does not import torch.
``ModelKind`` itself is declared in ``mlengine.context`` (beside what its hooks receive)
and importable from here.

Adding a kind (e.g. ``random_forest``) is one module under ``mlengine/kinds/`` that
ends with ``register(ModelKind(...))``, plus its name in ``_BUILTIN_MODULES``.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel, ConfigDict, ValidationInfo

from mlengine.context import Framework, ModelKind
from mlengine.types import Limits

__all__ = [
    "Framework",
    "ModelKind",
    "NoTraining",
    "StrictModel",
    "check_widths",
    "find_kind",
    "get_kind",
    "kind_names",
    "kinds",
    "limits_of",
    "register",
]

# Modules whose import registers the built-in kinds (each one calls ``register``).
_BUILTIN_MODULES = (
    "mlengine.kinds.linear",
    "mlengine.kinds.neighbors",
    "mlengine.kinds.bayes",
    "mlengine.kinds.svm",
    "mlengine.kinds.trees",
    "mlengine.kinds.ensembles",
    "mlengine.kinds.clustering",
    "mlengine.kinds.decomposition",
    "mlengine.kinds.mlp",
    "mlengine.kinds.cnn",
    "mlengine.kinds.rnn",
    "mlengine.kinds.transformer",
    "mlengine.kinds.rl",
)


class StrictModel(BaseModel):
    """Base for params / training classes: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def limits_of(info: ValidationInfo) -> Limits:
    """The limits ``validate_spec`` passes to params validators (defaults when none)."""
    ctx = info.context or {}
    limits = ctx.get("limits") if isinstance(ctx, dict) else None
    return limits if isinstance(limits, Limits) else Limits()


def check_widths(widths: list[int], info: ValidationInfo, what: str = "layer width") -> list[int]:
    limit = limits_of(info).max_layer_width
    too_wide = [w for w in widths if w > limit]
    if too_wide:
        raise ValueError(f"{what} {too_wide[0]} is over the limit of {limit} units")
    return widths


class NoTraining(StrictModel):
    """Training options of a model that fits to convergence: none."""


_KINDS: dict[str, ModelKind] = {}
_loaded = False


def register(kind: ModelKind) -> ModelKind:
    if kind.name in _KINDS and _KINDS[kind.name] != kind:
        raise ValueError(f"model kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def find_kind(name: str) -> ModelKind | None:
    _ensure_loaded()
    return _KINDS.get(name)


def get_kind(name: str) -> ModelKind:
    """The kind called ``name``; ``KeyError`` naming the known kinds if there is none."""
    kind = find_kind(name)
    if kind is None:
        raise KeyError(f"unknown model type {name!r}; known types: {', '.join(kind_names())}")
    return kind


def kinds() -> list[ModelKind]:
    _ensure_loaded()
    return [_KINDS[n] for n in sorted(_KINDS)]


def kind_names() -> list[str]:
    return [k.name for k in kinds()]
