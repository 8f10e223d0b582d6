"""``train``: one entry point for every model kind, dispatched through the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from mlengine.callbacks import Callbacks
from mlengine.context import TrainContext
from mlengine.errors import SpecError, TrainingError, TrainingStopped
from mlengine.registry import find_kind, kind_names
from mlengine.spec import JobSpec
from mlengine.types import Limits, TrainResult
from mlengine.validation import check_against_dataset, parse_params, validate_spec

if TYPE_CHECKING:
    import pyarrow as pa

    from mlengine.data import Prepared

# The service enforces its limits when a job is submitted; training does not re-apply them.
_NO_LIMITS = Limits(
    max_epochs=2**62,
    max_parameters=2**62,
    max_timesteps=2**62,
    max_layer_width=2**62,
    max_env_cells=2**62,
    max_env_side=2**62,
    max_table_entries=2**62,
)


def train(
    spec: JobSpec | dict[str, Any],
    table: pa.Table | None,
    callbacks: Callbacks | None = None,
    resume: bytes | None = None,
    init_from: bytes | None = None,
) -> TrainResult:
    """Train the model a spec describes on ``table``; report through ``callbacks``.

    The spec is validated once, where it comes in:

    - a raw ``dict`` (a request body, a notebook's spec) is validated here with
      ``validate_spec`` (without limits: limits are the service's, applied at submit);
    - a ``JobSpec`` is taken as validated and is not validated again. It must be what
      ``validate_spec`` returned (possibly passed through ``check_against_dataset``), or
      such a spec saved with ``model_dump(mode="json")`` and read back with
      ``JobSpec.model_validate``: that JSON holds every default (the kind's params and
      training options included, RL environment defaults applied), so reading it back
      gives an equal spec. ``JobSpec.model_validate`` of a raw body is *not* validated
      (the kind's params are neither checked nor filled in): pass the dict instead.

    Then the spec is checked against the data (``check_against_dataset`` on the table's
    profile; an environment for RL), which fills in features and task when absent, and
    the kind's typed params and training options are parsed from it.

    ``resume`` is a checkpoint's bytes (from ``on_checkpoint``): torch kinds continue
    after its epoch; others start over. ``init_from`` is the model artifact of the job
    named by ``spec.init_from`` (transfer learning): neural kinds start from its weights,
    with ``spec.init_from.freeze`` frozen.

    Raises ``SpecError`` (the spec is invalid or does not fit the data), ``TrainingError``
    (a failure the user can act on: ``.type`` and ``.message``), ``TrainingStopped``
    (should_stop).
    """
    from mlengine.data import prepare
    from mlengine.profiling import profile_table

    callbacks = callbacks or Callbacks()
    checked = spec if isinstance(spec, JobSpec) else validate_spec(spec, _NO_LIMITS)
    kind = find_kind(checked.model.type)
    if kind is None:  # a JobSpec that did not come from validate_spec
        raise SpecError.at(
            ("model", "type"),
            f"unknown model type '{checked.model.type}'; known types: {', '.join(kind_names())}",
        )
    if kind.supervised and table is None:
        raise TrainingError("data", f"model '{kind.name}' needs a dataset")
    if callbacks.should_stop():
        raise TrainingStopped("stopped before training started")
    if "reinforcement" in kind.tasks:  # an environment, no table
        checked = check_against_dataset(checked, None, _NO_LIMITS)
        params, training = parse_params(checked, kind, _NO_LIMITS)
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
    params, training = parse_params(checked, kind, _NO_LIMITS)
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
