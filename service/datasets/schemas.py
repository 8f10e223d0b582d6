from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ColumnOut(BaseModel):
    name: str
    dtype: Literal["int", "float", "bool", "string"]
    n_missing: int
    n_unique: int


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    format: Literal["csv", "parquet", "npz"]
    n_rows: int
    n_columns: int
    columns: list[ColumnOut]
    sample_shape: list[int] | None = None
    size_bytes: int
    sha256: str
    created_at: datetime


class RowsOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    offset: int
    n_rows: int
