"""``train``: one entry point for every model kind, dispatched through the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlengine.callbacks import Callbacks
from mlengine.context import TrainContext
from mlengine.errors import TrainingError, TrainingStopped
from mlengine.registry import get_kind
from mlengine.spec import JobSpec, check_against_dataset, parse_params, validate_spec
from mlengine.types import Limits, TrainResult

if TYPE_CHECKING:
    import pyarrow as pa

# The service enforces its limits when a job is submitted; training does not re-apply them.
_NO_LIMITS = Limits(
    max_epochs=2**62, max_parameters=2**62, max_timesteps=2**62, max_layer_width=2**62
)


def train(
    spec: JobSpec | dict[str, Any],
    table: pa.Table | None,
    callbacks: Callbacks | None = None,
    resume: bytes | None = None,
) -> TrainResult:
    """Train the model a spec describes on ``table``; report through ``callbacks``.

    ``spec`` may be a raw dict (validated here) or a validated ``JobSpec``; features and
    task are filled in from the data when absent. ``resume`` is a checkpoint's bytes
    (from ``on_checkpoint``): torch kinds continue after its epoch; others start over.

    Raises ``SpecError`` (the spec does not fit the data), ``TrainingError`` (a failure
    the user can act on: ``.type`` and ``.message``), ``TrainingStopped`` (should_stop).
    """
    from mlengine.data import prepare, profile_table

    callbacks = callbacks or Callbacks()
    raw = spec.model_dump(mode="json") if isinstance(spec, JobSpec) else spec
    checked = validate_spec(raw, _NO_LIMITS)
    kind = get_kind(checked.model.type)
    if kind.supervised and table is None:
        raise TrainingError("data", f"model '{kind.name}' needs a dataset")
    if callbacks.should_stop():
        raise TrainingStopped("stopped before training started")
    assert table is not None
    checked = check_against_dataset(checked, profile_table(table), _NO_LIMITS)
    params, training = parse_params(checked, kind)
    data = prepare(checked, table, kind.auto_scaling)
    ctx = TrainContext(
        spec=checked,
        kind=kind,
        params=params,
        training=training,
        data=data,
        callbacks=callbacks,
        resume=resume,
    )
    return kind.load_trainer()(ctx)
