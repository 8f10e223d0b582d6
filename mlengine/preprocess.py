"""Feature preprocessing: imputation, scaling, binning, one-hot or ordinal encoding.

The same ``frame_from_*`` functions feed training and prediction, so the preprocessor
sees identical layouts: numeric columns as float64 with NaN for missing values,
string and bool columns as object arrays (bools as "true"/"false") with NaN for missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlengine.spec import PreprocessingSpec

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

NUMERIC = ("int", "float")
CATEGORICAL = ("string", "bool")
MISSING_CATEGORY = "missing"


def _object_column(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object)
    mask = np.fromiter((v is None for v in out), dtype=bool, count=len(out))
    out[mask] = np.nan
    return out


def frame_from_table(table: pa.Table, schema: Sequence[dict[str, str]]) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    data: dict[str, Any] = {}
    for col in schema:
        arr = table.column(col["name"])
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        if col["dtype"] in NUMERIC:
            data[col["name"]] = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            if col["dtype"] == "bool":
                arr = pc.cast(arr, pa.string())  # "true" / "false"
            data[col["name"]] = pd.Series(
                _object_column(arr.to_numpy(zero_copy_only=False)), dtype=object
            )
    return pd.DataFrame(data, index=None)


def frame_from_rows(
    rows: Sequence[dict[str, Any]], schema: Sequence[dict[str, str]]
) -> pd.DataFrame:
    """Rows already checked against the schema (see ``Predictor``)."""
    import pandas as pd

    data: dict[str, Any] = {}
    for col in schema:
        name = col["name"]
        values = [r.get(name) for r in rows]
        if col["dtype"] in NUMERIC:
            data[name] = np.array(
                [np.nan if v is None else float(v) for v in values], dtype=np.float64
            )
        else:
            if col["dtype"] == "bool":
                values = [None if v is None else ("true" if v else "false") for v in values]
            data[name] = pd.Series(_object_column(np.array(values, dtype=object)), dtype=object)
    return pd.DataFrame(data)


def resolve_scaling(prep: PreprocessingSpec, auto: str) -> str:
    return auto if prep.scaling == "auto" else prep.scaling


def build_preprocessor(
    schema: Sequence[dict[str, str]], prep: PreprocessingSpec, scaling: str
) -> Any:
    """An unfitted ColumnTransformer for these input columns.

    Numeric columns: impute (``impute_numeric``, ``fill_value``), then scale; or, when
    binned, impute then cut into ``n_bins`` bins (``uniform`` or ``quantile``) encoded like
    the categorical columns. String/bool columns: impute (``impute_categorical``; constant
    is the category "missing"), then one-hot (unknown values: all zeros) or ordinal codes
    (unknown values: -1).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        KBinsDiscretizer,
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        RobustScaler,
        StandardScaler,
    )

    numeric = [c["name"] for c in schema if c["dtype"] in NUMERIC]
    categorical = [c["name"] for c in schema if c["dtype"] in CATEGORICAL]
    binned: list[str] = []
    if prep.binning != "none":
        wanted = set(prep.bin_columns) if prep.bin_columns is not None else set(numeric)
        binned = [c for c in numeric if c in wanted]
        numeric = [c for c in numeric if c not in wanted]
    onehot = prep.categorical_encoding == "onehot"

    def numeric_imputer() -> Any:
        return SimpleImputer(strategy=prep.impute_numeric, fill_value=prep.fill_value)

    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [("impute", numeric_imputer())]
        scalers = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
        if scaling in scalers:
            steps.append(("scale", scalers[scaling]()))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if binned:
        bins = KBinsDiscretizer(
            n_bins=prep.n_bins,
            encode="onehot-dense" if onehot else "ordinal",
            strategy=prep.binning,
            dtype=np.float64,
            random_state=0,
        )
        transformers.append(
            ("binned", Pipeline([("impute", numeric_imputer()), ("bin", bins)]), binned)
        )
    if categorical:
        encoder: Any
        if onehot:
            encoder = OneHotEncoder(
                handle_unknown="ignore",
                drop="first" if prep.one_hot_drop_first else None,
                sparse_output=False,
                dtype=np.float64,
            )
        else:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float64
            )
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(
                                strategy=prep.impute_categorical, fill_value=MISSING_CATEGORY
                            ),
                        ),
                        ("onehot" if onehot else "ordinal", encoder),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
