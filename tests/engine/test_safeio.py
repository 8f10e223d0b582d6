"""The skops allow-list: exactly the types Descent's artifacts hold, nothing else loads."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Literal, get_args, get_origin

import numpy as np
import pyarrow as pa
import pytest

from mlengine import SpecError, TrainingError, kinds, train
from mlengine.artifact import MODEL_SKOPS, PREPROCESS, read_artifact
from mlengine.errors import ArtifactError
from mlengine.safeio import TRUSTED_TYPES, skops_dumps, skops_loads
from mlengine.safeio import dumped_types as dumped_types_of
from mlengine.spec import PreprocessingSpec

TASKS = ("classification", "regression", "clustering", "decomposition")


def _choices(annotation: Any) -> list[Any]:
    """The values of a Literal or bool option (Optional[...] included); else none."""
    if annotation is bool:
        return [True, False]
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    out: list[Any] = []
    for arg in get_args(annotation):
        out.extend(_choices(arg))
    return out


def option_variants(model: Any) -> Iterator[dict[str, Any]]:
    """The defaults, then each choice option set to each of its other values."""
    yield {}
    for name, field in model.model_fields.items():
        for value in _choices(field.annotation):
            if value != field.default:
                yield {name: value}


def preprocessing_variants() -> Iterator[dict[str, Any]]:
    yield from option_variants(PreprocessingSpec)
    for binning, encoding in itertools.product(("uniform", "quantile"), ("onehot", "ordinal")):
        yield {"binning": binning, "categorical_encoding": encoding}
    yield {"impute_numeric": "constant", "impute_categorical": "constant", "fill_value": -1.0}


def table(n: int = 60, n_classes: int = 3) -> pa.Table:
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    b = rng.uniform(0, 5, size=n)
    b[::7] = np.nan
    city = [None if i % 9 == 0 else ["x", "y", "z"][i % 3] for i in range(n)]
    return pa.table(
        {
            "a": a,
            "b": b,
            "count": rng.integers(0, 30, size=n),
            "city": city,
            "member": [bool(i % 2) for i in range(n)],
            "label": [f"c{i % n_classes}" for i in range(n)],
            "value": a * 2 + rng.normal(size=n) * 0.1,
        }
    )


def _base(kind: Any, task: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"task": task, "model": {"type": kind.name}}
    if task in ("classification", "regression"):
        spec["target"] = "label" if task == "classification" else "value"
    return spec


def classical_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every classical kind for each of its tasks and choice params; every preprocessing
    option once per kind of ``scaling: auto`` (the preprocessing is the same for all kinds)."""
    auto_seen: set[str] = set()
    for kind in kinds():
        if kind.framework != "sklearn":
            continue
        for task in (t for t in TASKS if t in kind.tasks):
            for params in option_variants(kind.params):
                spec = _base(kind, task)
                spec["model"]["params"] = params
                yield f"{kind.name}/{task}/{params}", spec
        if kind.auto_scaling in auto_seen:
            continue
        auto_seen.add(kind.auto_scaling)
        task = sorted(t for t in TASKS if t in kind.tasks)[0]
        for prep in preprocessing_variants():
            yield f"{kind.name}/prep/{prep}", {**_base(kind, task), "preprocessing": prep}


def artifact_types(spec: dict[str, Any], data: pa.Table) -> set[str] | None:
    """Every type in each skops member of the artifact ``spec`` trains; None when
    the combination is not one the engine accepts."""
    try:
        result = train(spec, data)
    except (SpecError, TrainingError):
        return None
    _, files = read_artifact(result.artifact)
    out: set[str] = set()
    for member in (PREPROCESS, MODEL_SKOPS):
        if member in files:
            out |= dumped_types_of(files[member])
    return out


def collect() -> tuple[set[str], list[str]]:
    found: set[str] = set()
    skipped: list[str] = []
    data2 = table(n_classes=2)
    data3 = table(n_classes=3)
    for name, spec in classical_specs():
        binary = "/classification/{}" in name  # the defaults on two classes as well
        for data in (data2, data3) if binary else (data3,):
            types = artifact_types(spec, data)
            if types is None:
                skipped.append(name)
            else:
                found |= types
    return found, skipped


def test_every_dumped_type_is_on_the_allow_list() -> None:
    found, skipped = collect()
    missing = sorted(found - TRUSTED_TYPES)
    assert not missing, (
        "artifacts hold types missing from mlengine.safeio.TRUSTED_TYPES (add them if they "
        f"are Descent's own and safe): {missing}"
    )
    assert found, "no artifact was dumped"
    print(f"{len(found)} types, {len(skipped)} combinations refused by the engine")


def test_a_function_transformer_is_refused() -> None:
    from sklearn.preprocessing import FunctionTransformer

    data = skops_dumps(FunctionTransformer(np.exp))
    with pytest.raises(ArtifactError, match="untrusted types: .*FunctionTransformer"):
        skops_loads(data)


def test_a_type_outside_the_list_is_refused_even_under_sklearn() -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    with pytest.raises(ArtifactError, match="CountVectorizer"):
        skops_loads(skops_dumps(CountVectorizer()))


def test_what_descent_writes_loads() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    assert skops_loads(skops_dumps(model)).predict(np.array([[3.0]])).tolist() == [1]
