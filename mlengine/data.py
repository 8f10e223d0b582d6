"""From an Arrow table to split, preprocessed arrays (fitted on the training split only).

A table's profile (``profile_table``) is in ``mlengine.profiling``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlengine.errors import TrainingError
from mlengine.preprocess import build_preprocessor, frame_from_table, resolve_scaling
from mlengine.profiling import arrow_dtype

if TYPE_CHECKING:
    import pyarrow as pa

    from mlengine.spec import JobSpec


@dataclass
class Prepared:
    """Split and preprocessed data. ``y`` holds class indices (int64) or values (float64).

    Clustering and decomposition: ``y`` holds the target's value indices when a target was
    given (-1 where it is missing; used only to score), else -1 everywhere.
    """

    task: str
    target: str | None
    inputs: list[dict[str, str]]  # the features as uploaded: [{"name", "dtype"}]
    classes: list[Any] | None
    preprocessor: Any  # fitted ColumnTransformer
    X: dict[str, np.ndarray]  # "train" / "val" / "test" -> float64 (n, d)
    y: dict[str, np.ndarray]
    split_info: dict[str, Any] = field(default_factory=dict)
    # The training rows as raw columns (before preprocessing): k-fold cross-validation
    # refits the preprocessing inside each fold from these.
    frame_train: Any = None

    @property
    def n_features(self) -> int:
        return int(self.X["train"].shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0

    def splits(self) -> list[str]:
        """The non-empty splits, in order."""
        return [s for s in ("train", "val", "test") if len(self.X.get(s, ())) > 0]


def _split(
    n: int,
    strat: np.ndarray | None,
    val: float,
    test: float,
    seed: int,
    labels: list[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Row indices of train / val / test, stratified on ``strat`` (class indices) if given."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    info: dict[str, Any] = {"stratified": strat is not None}
    if strat is not None:
        values, counts = np.unique(strat, return_counts=True)
        if counts.min() < 2:
            info["stratified"] = False
            small = values[counts.argmin()].item()
            name = labels[small] if labels is not None else small
            info["note"] = (
                f"split not stratified: class {name!r} has only {counts.min()} row "
                "(stratifying needs at least 2 per class)"
            )
            strat = None

    def cut(ids: np.ndarray, frac: float, s: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if frac <= 0:
            return ids, ids[:0]
        try:
            a, b = train_test_split(
                ids, test_size=frac, random_state=seed, stratify=None if s is None else s[ids]
            )
        except ValueError as exc:
            if s is None:
                raise TrainingError(
                    "data", f"cannot split {len(ids)} rows into train/validation/test: {exc}"
                ) from exc
            info["stratified"] = False
            info["note"] = f"split not stratified: {exc}"
            a, b = train_test_split(ids, test_size=frac, random_state=seed)
        return np.sort(a), np.sort(b)

    rest, te = cut(idx, test, strat)
    tr, va = cut(
        rest, val / (1.0 - test) if val > 0 else 0.0, strat if info["stratified"] else None
    )
    if len(tr) == 0:
        raise TrainingError("data", f"no rows left for training out of {n}; use smaller splits")
    info.update(n_train=len(tr), n_val=len(va), n_test=len(te))
    return tr, va, te, info


def prepare(spec: JobSpec, table: pa.Table, auto_scaling: str = "standard") -> Prepared:
    """Select, clean, split, encode and preprocess. ``spec`` is checked (features, task set)."""
    import pyarrow.compute as pc

    assert spec.features is not None and spec.task is not None
    supervised = spec.task in ("classification", "regression")
    target = spec.target
    assert target is not None or not supervised
    n_before = table.num_rows
    table = table.select([*spec.features, *([target] if target is not None else [])])
    if supervised:
        table = table.filter(pc.is_valid(table.column(target)))
    inputs = [
        {"name": name, "dtype": arrow_dtype(table.schema.field(name).type, name)}
        for name in spec.features
    ]

    classes: list[Any] | None = None
    if not supervised:
        # The target, if any, only scores the clusters: value indices, -1 where missing.
        y_all = np.full(table.num_rows, -1, dtype=np.int64)
        if target is not None:
            col = table.column(target)
            valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
            if valid.any():
                values = col.filter(pc.is_valid(col)).to_numpy(zero_copy_only=False)
                y_all[valid] = np.unique(values, return_inverse=True)[1]
        y_raw: Any = None
    else:
        y_raw = table.column(target).to_numpy(zero_copy_only=False)
    if spec.task == "classification":
        uniq, y_all = np.unique(y_raw, return_inverse=True)
        classes = uniq.tolist()
        if len(classes) < 2:
            raise TrainingError(
                "data", f"target '{target}' has {len(classes)} distinct value; need at least 2"
            )
        y_all = y_all.astype(np.int64)
    elif spec.task == "regression":
        y_all = np.asarray(y_raw, dtype=np.float64)

    tr, va, te, info = _split(
        table.num_rows,
        y_all if classes is not None else None,
        spec.split.validation,
        spec.split.test,
        spec.seed,
        classes,
    )
    info["n_dropped_missing_target"] = n_before - table.num_rows

    frame = frame_from_table(table, inputs)
    pre = build_preprocessor(
        inputs, spec.preprocessing, resolve_scaling(spec.preprocessing, auto_scaling)
    )
    X: dict[str, np.ndarray] = {}
    y: dict[str, np.ndarray] = {}
    X["train"] = np.asarray(pre.fit_transform(frame.iloc[tr]), dtype=np.float64)
    for name, ids in (("val", va), ("test", te)):
        X[name] = (
            np.asarray(pre.transform(frame.iloc[ids]), dtype=np.float64)
            if len(ids)
            else np.zeros((0, X["train"].shape[1]))
        )
    for name, ids in (("train", tr), ("val", va), ("test", te)):
        y[name] = y_all[ids]
    return Prepared(
        task=spec.task,
        target=target,
        inputs=inputs,
        classes=classes,
        preprocessor=pre,
        X=X,
        y=y,
        split_info=info,
        frame_train=frame.iloc[tr],
    )
