"""A table's column profile: the one function the upload and the engine share (pure pyarrow).

A value is missing when it is null or, in a float column, NaN; ``n_unique`` counts the
distinct values that are not missing. The upload stores this profile with the dataset
and ``check_against_dataset`` reads it; training computes it again from the data, and
both see the same numbers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlengine.errors import TrainingError
from mlengine.types import ColumnProfile, DatasetProfile, Dtype

if TYPE_CHECKING:
    import pyarrow as pa

# Schema metadata key of a table made from an NPZ upload whose X had more than 2 dimensions:
# the per-sample shape as JSON, e.g. b"[1, 8, 8]" (columns x0..xN are X flattened row-major).
SAMPLE_SHAPE_KEY = b"descent.sample_shape"


def arrow_dtype(t: pa.DataType, name: str = "?") -> Dtype:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    raise TrainingError("data", f"column '{name}' has type {t}, which the engine cannot use")


def profile_column(name: str, column: pa.ChunkedArray | pa.Array) -> ColumnProfile:
    """One column's dtype, missing values (null, and NaN in a float column) and distinct
    values (among those not missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = arrow_dtype(column.type, name)
    valid = column
    if pa.types.is_floating(column.type):
        # filter drops the nulls too (a null mask entry deselects the row)
        valid = column.filter(pc.invert(pc.is_nan(column)))
    n_missing = len(column) - (len(valid) - valid.null_count)
    n_unique = int(pc.count_distinct(valid, mode="only_valid").as_py())
    return ColumnProfile(name=name, dtype=dtype, n_missing=int(n_missing), n_unique=n_unique)


def profile_table(table: pa.Table) -> DatasetProfile:
    """The profile ``check_against_dataset`` needs, computed from the data itself."""
    columns = [profile_column(name, table.column(name)) for name in table.column_names]
    return DatasetProfile(
        n_rows=table.num_rows, columns=columns, sample_shape=sample_shape_of(table)
    )


def sample_shape_of(table: pa.Table) -> list[int] | None:
    """The per-sample shape a table carries in its schema metadata, if any."""
    raw = (table.schema.metadata or {}).get(SAMPLE_SHAPE_KEY)
    if not raw:
        return None
    try:
        shape = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(shape, list) or not all(isinstance(v, int) and v > 0 for v in shape):
        return None
    return shape


def with_sample_shape(table: pa.Table, shape: list[int] | None) -> pa.Table:
    """``table`` with its per-sample shape recorded in the schema metadata (kept by Parquet)."""
    if not shape:
        return table
    meta = dict(table.schema.metadata or {})
    meta[SAMPLE_SHAPE_KEY] = json.dumps([int(v) for v in shape]).encode()
    return table.replace_schema_metadata(meta)
