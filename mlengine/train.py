"""``train``: one entry point for every model kind, dispatched through the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from mlengine.callbacks import Callbacks
from mlengine.context import TrainContext
from mlengine.errors import TrainingError, TrainingStopped
from mlengine.registry import get_kind
from mlengine.spec import JobSpec
from mlengine.types import Limits, TrainResult
from mlengine.validation import check_against_dataset, parse_params, validate_spec

if TYPE_CHECKING:
    import pyarrow as pa

    from mlengine.data import Prepared

# The service enforces its limits when a job is submitted; training does not re-apply them.
_NO_LIMITS = Limits(
    max_epochs=2**62, max_parameters=2**62, max_timesteps=2**62, max_layer_width=2**62
)


def train(
    spec: JobSpec | dict[str, Any],
    table: pa.Table | None,
    callbacks: Callbacks | None = None,
    resume: bytes | None = None,
    init_from: bytes | None = None,
) -> TrainResult:
    """Train the model a spec describes on ``table``; report through ``callbacks``.

    ``spec`` may be a raw dict (validated here) or a validated ``JobSpec``; features and
    task are filled in from the data when absent. ``resume`` is a checkpoint's bytes
    (from ``on_checkpoint``): torch kinds continue after its epoch; others start over.
    ``init_from`` is the model artifact of the job named by ``spec.init_from`` (transfer
    learning): neural kinds start from its weights, with ``spec.init_from.freeze`` frozen.

    Raises ``SpecError`` (the spec does not fit the data), ``TrainingError`` (a failure
    the user can act on: ``.type`` and ``.message``), ``TrainingStopped`` (should_stop).
    """
    from mlengine.data import prepare
    from mlengine.profiling import profile_table

    callbacks = callbacks or Callbacks()
    raw = spec.model_dump(mode="json") if isinstance(spec, JobSpec) else spec
    checked = validate_spec(raw, _NO_LIMITS)
    kind = get_kind(checked.model.type)
    if kind.supervised and table is None:
        raise TrainingError("data", f"model '{kind.name}' needs a dataset")
    if callbacks.should_stop():
        raise TrainingStopped("stopped before training started")
    if "reinforcement" in kind.tasks:  # an environment, no table
        checked = check_against_dataset(checked, None, _NO_LIMITS)
        params, training = parse_params(checked, kind)
        rl_ctx = TrainContext(
            spec=checked,
            kind=kind,
            params=params,
            training=training,
            data=cast("Prepared", None),  # RL kinds read ctx.spec.environment, not data
            callbacks=callbacks,
            resume=resume,
        )
        return kind.load_trainer()(rl_ctx)
    if table is None:
        raise TrainingError("data", f"model '{kind.name}' needs a dataset")
    checked = check_against_dataset(checked, profile_table(table), _NO_LIMITS)
    if checked.init_from is not None and init_from is None and resume is None:
        raise TrainingError(
            "init_from",
            f"the spec starts from job '{checked.init_from.job_id}' but its model was not given",
        )
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
        init_from=init_from,
    )
    return kind.load_trainer()(ctx)
