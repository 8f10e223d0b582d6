"""Errors the engine raises. Each message tells the user what was wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# An error message lists at most this many names (columns, features, classes, choices)
# and says how many there are in all; each name is cut to MAX_NAME characters.
MAX_LISTED = 10
MAX_NAME = 64
# A SpecError keeps at most this many entries; one more says how many were left out.
MAX_ERRORS = 20


def short(name: Any, limit: int = MAX_NAME) -> str:
    """``name`` as text, cut to ``limit`` characters (with how long it was) for quoting."""
    text = str(name)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def listing(names: Iterable[Any], noun: str = "names", limit: int = MAX_LISTED) -> str:
    """At most ``limit`` names, comma-separated, then how many more and how many in all."""
    items = list(names)
    shown = ", ".join(short(n) for n in items[:limit])
    if len(items) > limit:
        shown += f", ... and {len(items) - limit} more ({len(items)} {noun})"
    return shown


def _bounded(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(errors) <= MAX_ERRORS:
        return errors
    kept = errors[: MAX_ERRORS - 1]
    return [
        *kept,
        {
            "loc": [],
            "msg": f"... and {len(errors) - len(kept)} more errors ({len(errors)} in all); "
            "fix those above and submit again",
            "type": "too_many_errors",
        },
    ]


class SpecError(ValueError):
    """A job spec that cannot run: a list of FastAPI-shaped errors ``{loc, msg, type}``.

    ``loc`` is relative to the spec body, e.g. ``("model", "params", "alpha")``. At most
    ``MAX_ERRORS`` entries are kept (the last then says how many more there were).
    """

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors = _bounded(errors)
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
