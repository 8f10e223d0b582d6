"""Errors the engine raises. Each message tells the user what was wrong and what to do."""

from __future__ import annotations

from typing import Any


class SpecError(ValueError):
    """A job spec that cannot run: a list of FastAPI-shaped errors ``{loc, msg, type}``.

    ``loc`` is relative to the spec body, e.g. ``("model", "params", "alpha")``.
    """

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))

    @classmethod
    def at(cls, loc: tuple[str | int, ...], msg: str, type_: str = "value_error") -> SpecError:
        return cls([{"loc": list(loc), "msg": msg, "type": type_}])


class TrainingError(RuntimeError):
    """Training failed for a reason the user can act on (divergence, bad data, ...)."""

    def __init__(self, type_: str, message: str):
        self.type = type_
        self.message = message
        super().__init__(message)


class TrainingStopped(Exception):
    """Raised inside a trainer when ``Callbacks.should_stop()`` answered True."""


class InputError(ValueError):
    """A prediction body, rows or observations that do not fit a predictor's inputs.

    ``loc`` is where in the body the problem is, e.g. ``("records", 3, "age")``.
    """

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()):
        self.message = message
        self.loc = loc
        super().__init__(message)


class InputTooLarge(InputError):
    """More rows in one prediction request than the caller allows."""


class ArtifactError(ValueError):
    """A model artifact or checkpoint that cannot be read (corrupt, foreign or unsafe)."""
