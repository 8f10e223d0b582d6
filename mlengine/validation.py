"""Job spec validation: structure, model type, the kind's params, and the dataset checks.

``validate_spec`` turns a raw body into a ``JobSpec`` (the schema, in ``mlengine.spec``)
with every default filled in; ``check_against_dataset`` checks it against a dataset's
profile. Nothing here imports torch or scikit-learn: the API process validates cheaply.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from mlengine.context import DatasetCheck, ModelKind
from mlengine.errors import SpecError, listing, short
from mlengine.registry import find_kind, kind_names, kinds
from mlengine.spec import JobSpec, ModelSpec
from mlengine.types import DatasetProfile, Limits, Task

SUPERVISED_TASKS = frozenset({"classification", "regression"})
UNSUPERVISED_TASKS = frozenset({"clustering", "decomposition"})
# An int target with at most this many distinct values is taken for classification.
MAX_CLASSES_INFERRED = 20
MAX_CLASSES = 1000


# --------------------------------------------------------------------------- errors


def _submodel(cls: type[BaseModel] | None, name: Any) -> type[BaseModel] | None:
    if cls is None or not isinstance(name, str) or name not in cls.model_fields:
        return None
    ann = cls.model_fields[name].annotation
    for t in (ann, *get_args(ann)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _extra_msg(key: Any, owner: type[BaseModel] | None, section: str, kind: str | None) -> str:
    accepted = listing(owner.model_fields, "in all") if owner is not None else ""
    key = short(key)
    if section == "params":
        if not accepted:
            return f"unknown parameter '{key}': model '{kind}' takes no parameters"
        return f"unknown parameter '{key}' for model '{kind}'; accepted parameters: {accepted}"
    if section == "training":
        if not accepted:
            return (
                f"model '{kind}' trains to convergence and does not take '{key}'; "
                "leave 'training' empty (set its iterations, if any, in model.params)"
            )
        return f"unknown training option '{key}' for model '{kind}'; accepted options: {accepted}"
    return f"unknown key '{key}'; accepted keys: {accepted}"


def _convert(
    exc: ValidationError,
    prefix: tuple[str | int, ...],
    root: type[BaseModel],
    section: str = "spec",
    kind: str | None = None,
) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors(include_url=False):
        loc = tuple(e["loc"])
        typ = e["type"]
        msg = str(e["msg"])
        if typ == "extra_forbidden":
            owner: type[BaseModel] | None = root
            for part in loc[:-1]:
                owner = _submodel(owner, part)
            msg = _extra_msg(loc[-1] if loc else "?", owner, section, kind)
        elif typ == "missing":
            msg = "field required"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append({"loc": [*prefix, *loc], "msg": msg, "type": typ})
    return out


# --------------------------------------------------------------------------- validation


def validate_spec(raw: dict[str, Any], limits: Limits | None = None) -> JobSpec:
    """Validate a spec body; every default filled in. Raises ``SpecError`` (locs from the body).

    Checks structure, the model type, the kind's params and training options, and the
    limits that need no data (epochs, layer widths). See ``check_against_dataset`` for the rest.
    """
    limits = limits or Limits()
    if not isinstance(raw, dict):
        raise SpecError.at((), "a job spec must be a JSON object", "dict_type")
    errors: list[dict[str, Any]] = []
    spec: JobSpec | None = None
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as exc:
        errors.extend(_convert(exc, (), JobSpec))

    kind: ModelKind | None = None
    params: BaseModel | None = None
    training: BaseModel | None = None
    model_raw = raw.get("model")
    if isinstance(model_raw, dict) and isinstance(model_raw.get("type"), str):
        kind = find_kind(model_raw["type"])
        if kind is None:
            errors.append(
                {
                    "loc": ["model", "type"],
                    "msg": f"unknown model type '{short(model_raw['type'])}'; "
                    f"known types: {', '.join(kind_names())}",
                    "type": "value_error",
                }
            )
        else:
            ctx = {"limits": limits}
            params_raw = model_raw.get("params", {})
            training_raw = raw.get("training", {})
            if kind.spec_defaults is not None:
                base_params, base_training = kind.spec_defaults(raw)
                if isinstance(params_raw, dict):
                    params_raw = {**base_params, **params_raw}
                if isinstance(training_raw, dict):
                    training_raw = {**base_training, **training_raw}
            if isinstance(params_raw, dict):
                try:
                    params = kind.params.model_validate(params_raw, context=ctx)
                except ValidationError as exc:
                    errors.extend(
                        _convert(exc, ("model", "params"), kind.params, "params", kind.name)
                    )
            if isinstance(training_raw, dict):
                try:
                    training = kind.training.model_validate(training_raw, context=ctx)
                except ValidationError as exc:
                    errors.extend(
                        _convert(exc, ("training",), kind.training, "training", kind.name)
                    )
    if spec is not None and kind is not None and spec.task and spec.task not in kind.tasks:
        errors.append(_task_error(kind, spec.task, ("task",)))
    if spec is not None and kind is not None and spec.init_from and kind.framework != "torch":
        errors.append(
            {
                "loc": ["init_from"],
                "msg": f"init_from starts a neural network from another job's weights; "
                f"model '{kind.name}' is not one (use mlp, cnn, rnn or transformer)",
                "type": "value_error",
            }
        )
    if errors or spec is None or params is None or training is None:
        raise SpecError(errors)
    return spec.model_copy(
        update={
            "model": ModelSpec(
                type=kind.name if kind else spec.model.type, params=params.model_dump(mode="json")
            ),
            "training": training.model_dump(mode="json"),
        }
    )


def _task_error(kind: ModelKind, task: str, loc: tuple[str | int, ...]) -> dict[str, Any]:
    able = " or ".join(sorted(kind.tasks))
    return {
        "loc": list(loc),
        "msg": f"model '{kind.name}' does {able}, not {task}",
        "type": "value_error",
    }


def parse_params(
    spec: JobSpec, kind: ModelKind, limits: Limits | None = None
) -> tuple[BaseModel, BaseModel]:
    """The typed params and training options of an already validated spec.

    ``limits``: those the spec was validated under (the validators that check limits see
    them again); training passes no limits, as the service enforced its own at submit.
    """
    ctx = {"limits": limits or Limits()}
    return (
        kind.params.model_validate(spec.model.params, context=ctx),
        kind.training.model_validate(spec.training, context=ctx),
    )


# --------------------------------------------------------------------------- dataset checks


def _columns_msg(profile: DatasetProfile) -> str:
    return listing(profile.names, "columns")


# Per list in a spec (features, bin_columns): at most this many entries name a wrong
# item; one more says how many were wrong in all.
MAX_ITEM_ERRORS = 5


def _item_errors(
    loc: tuple[str | int, ...], wrong: list[tuple[int, str]], what: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"loc": [*loc, i], "msg": msg, "type": "value_error"} for i, msg in wrong[:MAX_ITEM_ERRORS]
    ]
    if len(wrong) > MAX_ITEM_ERRORS:
        out.append(
            {
                "loc": list(loc),
                "msg": f"{len(wrong)} of the {what} are wrong in all (the first "
                f"{MAX_ITEM_ERRORS} are shown); fix them and submit again",
                "type": "value_error",
            }
        )
    return out


def infer_task(dtype: str, n_unique: int) -> Task:
    if dtype in ("string", "bool"):
        return "classification"
    if dtype == "int" and n_unique <= MAX_CLASSES_INFERRED:
        return "classification"
    return "regression"


def estimate_inputs(spec: JobSpec, profile: DatasetProfile, features: list[str]) -> int:
    """Width of the preprocessed feature matrix: numeric columns 1, categorical one-hot."""
    prep = spec.preprocessing
    onehot = prep.categorical_encoding == "onehot"
    binned = set() if prep.binning == "none" else set(prep.bin_columns or features)
    by_name = {c.name: c for c in profile.columns}
    n = 0
    for name in features:
        col = by_name.get(name)
        if col is None:
            continue
        if col.dtype in ("int", "float"):
            n += prep.n_bins if (name in binned and onehot) else 1
            continue
        if not onehot:
            n += 1
            continue
        cats = col.n_unique + (1 if col.n_missing and prep.impute_categorical == "constant" else 0)
        n += max(cats - (1 if prep.one_hot_drop_first else 0), 0)
    return n


def _resolve_features(spec: JobSpec, profile: DatasetProfile) -> list[str]:
    """The feature columns: those given (checked), else every column but the target."""
    errors: list[dict[str, Any]] = []
    if spec.features is None:
        features = [n for n in profile.names if n != spec.target]
        if not features:
            raise SpecError.at(
                ("features",), "the dataset has no column besides the target to learn from"
            )
    else:
        features = list(spec.features)
        if not features:
            errors.append(
                {"loc": ["features"], "msg": "give at least one feature", "type": "value_error"}
            )
        seen: set[str] = set()
        known = set(profile.names)
        wrong: list[tuple[int, str]] = []
        for i, name in enumerate(features):
            if name not in known:
                msg = f"column '{short(name)}' not found; columns are: {_columns_msg(profile)}"
            elif name == spec.target:
                msg = f"the target '{short(name)}' cannot also be a feature"
            elif name in seen:
                msg = f"column '{short(name)}' is listed twice"
            else:
                seen.add(name)
                continue
            wrong.append((i, msg))
        errors.extend(_item_errors(("features",), wrong, f"{len(features)} features"))
    if errors:
        raise SpecError(errors)
    _check_preprocessing(spec, profile, features)
    return features


def _check_preprocessing(spec: JobSpec, profile: DatasetProfile, features: list[str]) -> None:
    prep = spec.preprocessing
    if prep.bin_columns is None:
        return
    errors: list[dict[str, Any]] = []
    wrong: list[tuple[int, str]] = []
    feature_set = set(features)
    for i, name in enumerate(prep.bin_columns):
        col = profile.column(name) if name in feature_set else None
        if col is None:
            msg = (
                f"column '{short(name)}' is not a feature; "
                f"features are: {listing(features, 'features')}"
            )
        elif col.dtype not in ("int", "float"):
            msg = f"column '{short(name)}' is {col.dtype}; only numeric columns can be binned"
        else:
            continue
        wrong.append((i, msg))
    errors.extend(
        _item_errors(
            ("preprocessing", "bin_columns"), wrong, f"{len(prep.bin_columns)} bin_columns"
        )
    )
    if prep.binning == "none" and prep.bin_columns:
        errors.append(
            {
                "loc": ["preprocessing", "binning"],
                "msg": "bin_columns is set but binning is 'none'; set binning to "
                "'uniform' or 'quantile'",
                "type": "value_error",
            }
        )
    if errors:
        raise SpecError(errors)


def _check_rows_for_kfold(spec: JobSpec, n_rows: int) -> None:
    k = spec.split.kfold
    if k is not None and int(n_rows * (1.0 - spec.split.test)) < k:
        raise SpecError.at(
            ("split", "kfold"),
            f"{k}-fold cross-validation needs at least {k} rows outside the test split; "
            f"there are about {int(n_rows * (1.0 - spec.split.test))}: lower kfold",
        )


def _check_unsupervised(
    spec: JobSpec, kind: ModelKind, profile: DatasetProfile | None, limits: Limits
) -> JobSpec:
    """Clustering and decomposition: features only; a target, if any, only scores."""
    if profile is None:
        raise SpecError.at(("dataset_id",), f"model '{kind.name}' needs a dataset; set dataset_id")
    if spec.target is not None and profile.column(spec.target) is None:
        raise SpecError.at(
            ("target",),
            f"column '{short(spec.target)}' not found; columns are: {_columns_msg(profile)}",
        )
    task: Task
    if spec.task is not None:
        task = spec.task
        if task not in kind.tasks:
            e = _task_error(kind, task, ("task",))
            raise SpecError.at(tuple(e["loc"]), e["msg"])
    else:
        task = "clustering" if "clustering" in kind.tasks else "decomposition"
    features = _resolve_features(spec, profile)
    if profile.n_rows < 2:
        raise SpecError.at(("dataset_id",), "the dataset needs at least 2 rows")
    if spec.split.kfold is not None:
        raise SpecError.at(
            ("split", "kfold"),
            f"k-fold cross-validation is for supervised models, not {task}; drop kfold",
        )
    checked = spec.model_copy(update={"features": features, "task": task})
    _kind_check(checked, kind, profile, limits, 1)
    return checked


def _fill_input_shape(spec: JobSpec, kind: ModelKind, profile: DatasetProfile) -> JobSpec:
    """A kind that takes ``input_shape`` gets the dataset's per-sample shape when it has none.

    NPZ uploads with X of shape (N, C, H, W) or (N, T, F) carry it (``sample_shape``).
    """
    if (
        "input_shape" not in kind.params.model_fields
        or spec.model.params.get("input_shape") is not None
        or not profile.sample_shape
        or spec.features != [n for n in profile.names if n != spec.target]
    ):
        return spec
    params = {**spec.model.params, "input_shape": list(profile.sample_shape)}
    return spec.model_copy(update={"model": ModelSpec(type=spec.model.type, params=params)})


def check_against_dataset(
    spec: JobSpec, profile: DatasetProfile | None, limits: Limits | None = None
) -> JobSpec:
    """Check a validated spec against the dataset's profile; a copy with features and task set.

    Raises ``SpecError``: missing/unknown target or features, a task the target or the
    model cannot do, a model too large for the limits.
    """
    limits = limits or Limits()
    kind = find_kind(spec.model.type)
    if kind is None:  # validate_spec was skipped
        raise SpecError.at(
            ("model", "type"),
            f"unknown model type '{spec.model.type}'; known types: {', '.join(kind_names())}",
        )
    if "reinforcement" in kind.tasks:
        return _check_reinforcement(spec, kind, profile, limits)
    if spec.environment is not None:
        raise SpecError.at(
            ("environment",),
            f"model '{kind.name}' learns from a dataset, not an environment; remove "
            f"'environment' and set dataset_id (or use an RL model: {', '.join(_rl_kinds())})",
        )
    if spec.task in UNSUPERVISED_TASKS or (
        spec.task is None and not kind.supervised and kind.tasks & UNSUPERVISED_TASKS
    ):
        return _check_unsupervised(spec, kind, profile, limits)
    supervised = spec.task in SUPERVISED_TASKS or (spec.task is None and kind.supervised)
    if not supervised:
        e = _task_error(kind, str(spec.task), ("task",))
        raise SpecError.at(tuple(e["loc"]), e["msg"])
    if profile is None:
        raise SpecError.at(("dataset_id",), f"model '{kind.name}' needs a dataset; set dataset_id")
    if not spec.target:
        raise SpecError.at(
            ("target",),
            f"a supervised model needs a target column; columns are: {_columns_msg(profile)}",
            "missing",
        )
    target = profile.column(spec.target)
    if target is None:
        raise SpecError.at(
            ("target",),
            f"column '{short(spec.target)}' not found; columns are: {_columns_msg(profile)}",
        )
    tname = short(target.name)

    features = _resolve_features(spec, profile)

    task: Task
    if spec.task is None:
        task = infer_task(target.dtype, target.n_unique)
        if task not in kind.tasks:
            raise SpecError.at(
                ("model", "type"),
                f"model '{kind.name}' does {' or '.join(sorted(kind.tasks))}, but target "
                f"'{tname}' ({target.dtype}, {target.n_unique} distinct values) looks like "
                f"{task}; choose another model or set 'task'",
            )
    else:
        task = spec.task
        if task not in kind.tasks:
            e = _task_error(kind, task, ("task",))
            raise SpecError.at(tuple(e["loc"]), e["msg"])

    if task == "regression" and target.dtype not in ("int", "float"):
        raise SpecError.at(
            ("target",),
            f"regression needs a numeric target; column '{tname}' is {target.dtype}; "
            "use task 'classification' or another target",
        )
    if task == "classification":
        if target.n_unique < 2:
            raise SpecError.at(
                ("target",),
                f"column '{tname}' has {target.n_unique} distinct value(s); "
                "classification needs at least 2",
            )
        if target.n_unique > MAX_CLASSES:
            raise SpecError.at(
                ("target",),
                f"column '{tname}' has {target.n_unique} distinct values; classification "
                f"takes at most {MAX_CLASSES} classes (use task 'regression' for a number)",
            )
    if profile.n_rows - target.n_missing < 2:
        raise SpecError.at(
            ("target",), f"column '{tname}' has fewer than 2 rows with a value to learn from"
        )
    _check_rows_for_kfold(spec, profile.n_rows - target.n_missing)

    checked = spec.model_copy(update={"features": features, "task": task})
    checked = _fill_input_shape(checked, kind, profile)
    n_outputs = target.n_unique if task == "classification" and target.n_unique > 2 else 1
    _kind_check(checked, kind, profile, limits, n_outputs)
    return checked


# --------------------------------------------------------------------------- environment checks


def _rl_kinds() -> list[str]:
    return [k.name for k in kinds() if "reinforcement" in k.tasks]


def _check_reinforcement(
    spec: JobSpec, kind: ModelKind, profile: DatasetProfile | None, limits: Limits
) -> JobSpec:
    """An RL job: an environment and no dataset; the algorithm must fit the env's spaces."""
    for key in ("dataset_id", "target", "features"):
        if getattr(spec, key) is not None:
            raise SpecError.at(
                (key,),
                f"model '{kind.name}' learns in an environment, not from a dataset; remove "
                f"'{key}' and give 'environment' (e.g. {{\"id\": \"CartPole-v1\"}})",
            )
    if spec.task is not None and spec.task != "reinforcement":
        e = _task_error(kind, spec.task, ("task",))
        raise SpecError.at(tuple(e["loc"]), e["msg"])
    if spec.environment is None:
        raise SpecError.at(
            ("environment",),
            f'model \'{kind.name}\' needs an environment: {{"id": "CartPole-v1"}}, '
            '{"mdp": {"transitions": ...}} or {"grid": {"map": [...]}}',
            "missing",
        )
    from mlengine.rl.envs import check_environment  # imports gymnasium, not torch

    check_environment(spec.environment, kind.name, limits)
    return spec.model_copy(update={"task": "reinforcement"})


def _kind_check(
    spec: JobSpec, kind: ModelKind, profile: DatasetProfile, limits: Limits, n_outputs: int
) -> None:
    """The kind's own checks against the data (model size, input shape, ...)."""
    if kind.check_dataset is None:
        return
    params, training = parse_params(spec, kind, limits)
    kind.check_dataset(
        DatasetCheck(
            spec=spec,
            profile=profile,
            limits=limits,
            params=params,
            training=training,
            n_inputs=estimate_inputs(spec, profile, spec.features or []),
            n_outputs=n_outputs,
        )
    )
