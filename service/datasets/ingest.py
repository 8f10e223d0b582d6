"""Turn an uploaded file (CSV, Parquet or NPZ) into a typed Arrow table and its profile.

Every refusal names the problem and, for text files, the line where it was found.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import math
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlengine.errors import listing, short
from mlengine.profiling import profile_table
from service.errors import TooLarge, Unprocessable, UnsupportedMedia
from service.settings import Settings

FORMATS = ("csv", "parquet", "npz")
NULL_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
_CHUNK = 1 << 20
NEWLINE = b"\n"
# The header row is read (for its width) up to this many bytes.
MAX_HEADER_BYTES = 4 << 20


@dataclass
class Ingested:
    table: pa.Table
    format: str
    columns: list[dict[str, Any]]
    sample_shape: list[int] | None = None


def detect_format(filename: str, head: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    claimed = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}.get(suffix)
    sniffed = "parquet" if head.startswith(b"PAR1") else "npz" if head.startswith(b"PK") else None
    if claimed == "parquet" and sniffed != "parquet":
        raise Unprocessable(f"file '{filename}' is not Parquet (it lacks the PAR1 magic bytes)")
    if claimed == "npz" and sniffed != "npz":
        raise Unprocessable(f"file '{filename}' is not NPZ (it is not a zip archive of arrays)")
    if claimed == "csv" and sniffed is not None:
        raise Unprocessable(f"file '{filename}' is named .csv but holds {sniffed} data")
    if claimed is None and suffix not in ("", ".txt", ".tsv", ".data") and sniffed is None:
        raise UnsupportedMedia(
            f"unsupported file type '{suffix}'; upload CSV (with a header row), Parquet or NPZ"
        )
    return claimed or sniffed or "csv"


def ingest(path: Path, filename: str, settings: Settings) -> Ingested:
    size = path.stat().st_size
    if size == 0:
        raise Unprocessable(f"file '{filename}' is empty; upload a CSV with a header row")
    with path.open("rb") as f:
        head = f.read(8)
    fmt = detect_format(filename, head)
    sample_shape: list[int] | None = None
    if fmt == "csv":
        table = _read_csv(path, settings)
    elif fmt == "parquet":
        table = _read_parquet(path)
    else:
        table, sample_shape = _read_npz(path, settings)
    table = _normalize(table)
    if table.num_rows == 0:
        raise Unprocessable(
            "no data rows: the file has a header but no rows below it; add rows and upload again"
        )
    if table.num_columns > settings.max_columns:
        raise TooLarge(
            f"the dataset has {table.num_columns} columns; the limit is {settings.max_columns} "
            "(setting DESCENT_MAX_COLUMNS)"
        )
    if table.num_rows > settings.max_rows:
        raise TooLarge(
            f"the dataset has {table.num_rows} rows; the limit is {settings.max_rows} "
            "(setting DESCENT_MAX_ROWS)"
        )
    return Ingested(table=table, format=fmt, columns=profile(table), sample_shape=sample_shape)


def _check_text(path: Path) -> None:
    """UTF-8 text without NUL bytes; names the line of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                at = line + chunk.count(NEWLINE, 0, nul)
                raise Unprocessable(
                    f"line {at}: binary data (a NUL byte); "
                    "this is not a CSV text file. Upload CSV (UTF-8, with a header row), "
                    "Parquet or NPZ"
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = line + chunk.count(NEWLINE, 0, exc.start)
                raise Unprocessable(
                    f"line {at}: the file is not valid UTF-8; save it as UTF-8 and upload again"
                ) from None
            line += chunk.count(NEWLINE)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Unprocessable(
                f"line {line}: the file ends inside a multi-byte character; it is not valid UTF-8"
            ) from None


def _check_header(path: Path, settings: Settings) -> None:
    """The header row's width against DESCENT_MAX_COLUMNS, before any parsing.

    Reads at most MAX_HEADER_BYTES up to the first newline and counts its fields in linear
    time (quoted commas are not separators), so a very wide header is refused at once.
    """
    with path.open("rb") as f:
        head = f.readline(MAX_HEADER_BYTES + 1)
    complete = head.endswith(NEWLINE) or len(head) <= MAX_HEADER_BYTES
    line = head[:MAX_HEADER_BYTES].decode("utf-8", errors="replace").rstrip("\r\n")
    if not line.strip():
        raise Unprocessable("line 1: the header row is empty; the first line must name the columns")
    if '"' in line:
        try:
            fields = len(next(csv.reader([line]), []))
        except csv.Error:
            fields = line.count(",") + 1
    else:
        fields = line.count(",") + 1
    if fields > settings.max_columns:
        more = "" if complete else "at least "
        raise TooLarge(
            f"line 1: the header names {more}{fields} columns; the limit is "
            f"{settings.max_columns} (setting DESCENT_MAX_COLUMNS)"
        )
    if not complete:
        raise Unprocessable(
            f"line 1: the header row is longer than {MAX_HEADER_BYTES} bytes; "
            "shorten the column names"
        )


def _read_csv(path: Path, settings: Settings) -> pa.Table:
    _check_header(path, settings)
    _check_text(path)
    bad: list[str] = []

    def on_invalid(row: Any) -> str:
        where = f"line {row.number}" if row.number is not None else "a row"
        bad.append(
            f"{where}: expected {row.expected_columns} fields (as in the header), "
            f"found {row.actual_columns}; fix the row or quote fields that contain commas"
        )
        return "error"

    try:
        table = _parse_csv(path, on_invalid, use_threads=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        if bad and bad[0].startswith("a row"):
            # Threaded parsing cannot number rows; parse again on one thread to find the line.
            bad.clear()
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):
                _parse_csv(path, on_invalid, use_threads=False)
        if bad:
            raise Unprocessable(bad[0]) from None
        raise Unprocessable(f"could not parse the CSV: {exc}") from None
    seen: set[str] = set()
    for i, name in enumerate(table.column_names):
        if not name.strip():
            raise Unprocessable(f"line 1: column {i + 1} of the header has no name; name it")
        if name in seen:
            raise Unprocessable(
                f"line 1: column name '{short(name)}' appears twice; names must differ"
            )
        seen.add(name)
    return table


def _parse_csv(path: Path, on_invalid: Any, use_threads: bool) -> pa.Table:
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=use_threads),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True),
    )


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise Unprocessable(f"could not read the Parquet file: {exc}") from None


_NPZ_HINT = "save arrays with numpy.savez (no pickled objects)"


@dataclass
class _NpyMember:
    """One ``.npy`` member of an NPZ archive, as its header declares it (nothing decoded)."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool
    header_end: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _npz_member(zf: zipfile.ZipFile, key: str) -> zipfile.ZipInfo | None:
    names = set(zf.namelist())
    for name in (f"{key}.npy", key):
        if name in names:
            return zf.getinfo(name)
    return None


def _npy_header(zf: zipfile.ZipFile, key: str, info: zipfile.ZipInfo) -> _NpyMember:
    """The shape, dtype and order from a member's ``.npy`` header; reads only the header."""
    from numpy.lib import format as npy

    try:
        with zf.open(info) as f:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
            header_end = f.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise Unprocessable(f"could not read NPZ array '{key}': {exc}; {_NPZ_HINT}") from None
    if dtype.hasobject:
        raise Unprocessable(f"NPZ array '{key}' holds Python objects (dtype {dtype}); {_NPZ_HINT}")
    if any(d < 0 for d in shape):
        raise Unprocessable(f"NPZ array '{key}' declares a negative shape {shape}; {_NPZ_HINT}")
    return _NpyMember(
        info=info, shape=tuple(shape), dtype=dtype, fortran=fortran, header_end=header_end
    )


def _check_npz_limits(members: dict[str, _NpyMember], settings: Settings) -> None:
    """Rows, columns and decompressed bytes, from the headers alone (before any decoding)."""
    stored = sum(m.info.file_size for m in members.values())
    declared = sum(m.nbytes for m in members.values())
    size = max(stored, declared)
    if size > settings.max_upload_bytes:
        raise TooLarge(
            f"the NPZ arrays decompress to {size} bytes; the limit is "
            f"{settings.max_upload_bytes} (setting DESCENT_MAX_UPLOAD_BYTES)"
        )
    x = members["X"]
    if x.shape and x.shape[0] > settings.max_rows:
        raise TooLarge(
            f"NPZ 'X' has {x.shape[0]} rows; the limit is {settings.max_rows} "
            "(setting DESCENT_MAX_ROWS)"
        )
    columns = math.prod(x.shape[1:]) + (1 if "y" in members else 0)
    if len(x.shape) >= 2 and columns > settings.max_columns:
        raise TooLarge(
            f"NPZ 'X' of shape {x.shape} makes {columns} columns; the limit is "
            f"{settings.max_columns} (setting DESCENT_MAX_COLUMNS)"
        )
    for key, m in members.items():
        if m.nbytes > m.info.file_size - m.header_end:
            raise Unprocessable(
                f"NPZ array '{key}' declares shape {m.shape} of {m.dtype} ({m.nbytes} bytes) "
                f"but holds only {m.info.file_size - m.header_end} bytes; the file is damaged: "
                f"{_NPZ_HINT}"
            )


def _read_npz(path: Path, settings: Settings) -> tuple[pa.Table, list[int] | None]:
    """X (and y) of an NPZ file; their headers are checked against the limits before
    anything is decompressed, and no other member is read."""
    from numpy.lib import format as npy

    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise Unprocessable(f"could not read the NPZ file: {exc}; {_NPZ_HINT}") from None
    with zf:
        members: dict[str, _NpyMember] = {}
        for key in ("X", "y"):
            info = _npz_member(zf, key)
            if info is not None:
                members[key] = _npy_header(zf, key, info)
        if "X" not in members:
            names = [n.removesuffix(".npy") for n in zf.namelist()]
            raise Unprocessable(
                f"the NPZ file needs an array 'X'; it has: {listing(names, 'arrays') or 'none'}"
            )
        mx = members["X"]
        if len(mx.shape) < 2 or mx.shape[0] == 0:
            raise Unprocessable(
                f"NPZ 'X' must have shape (n_samples, ...); it has shape {mx.shape}"
            )
        if mx.dtype.kind not in "biuf":
            raise Unprocessable(
                f"NPZ 'X' must hold real numbers or booleans; its dtype is {mx.dtype}"
            )
        my = members.get("y")
        if my is not None:
            if len(my.shape) != 1 or my.shape[0] != mx.shape[0]:
                raise Unprocessable(
                    f"NPZ 'y' must be one-dimensional with {mx.shape[0]} values (one per row "
                    f"of X); it has shape {my.shape}"
                )
            if my.dtype.kind not in "biufUS":
                raise Unprocessable(
                    f"NPZ 'y' must hold numbers, booleans or strings; its dtype is {my.dtype}"
                )
        _check_npz_limits(members, settings)
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        for key, m in members.items():
            try:
                with zf.open(m.info) as f:
                    arrays[key] = npy.read_array(f, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise Unprocessable(
                    f"could not read NPZ array '{key}': {exc}; {_NPZ_HINT}"
                ) from None
    x = arrays["X"]
    flat = x.reshape(x.shape[0], -1)
    width = len(str(flat.shape[1] - 1))
    columns = {f"x{i:0{width}d}": pa.array(flat[:, i]) for i in range(flat.shape[1])}
    if "y" in arrays:
        y = arrays["y"]
        columns["y"] = pa.array(y.tolist() if y.dtype.kind in "US" else y)
    sample_shape = list(x.shape[1:]) if x.ndim > 2 else None
    return pa.table(columns), sample_shape


def _normalize(table: pa.Table) -> pa.Table:
    """Every column becomes int64, float64, bool or string."""
    fields = []
    arrays = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        t = col.type
        if pa.types.is_integer(t):
            target: pa.DataType = pa.int64()
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            target = pa.float64()
        elif pa.types.is_boolean(t):
            target = pa.bool_()
        elif (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_temporal(t)
            or pa.types.is_null(t)
            or pa.types.is_dictionary(t)
        ):
            target = pa.string()
        else:
            raise Unprocessable(
                f"column '{name}' has type {t}, which cannot be trained on; "
                "use numbers, booleans or strings"
            )
        try:
            arrays.append(col.cast(target) if col.type != target else col)
        except pa.ArrowException as exc:
            raise Unprocessable(f"column '{name}': {exc}") from None
        fields.append(pa.field(str(name), target))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def profile(table: pa.Table) -> list[dict[str, Any]]:
    """The engine's column profile (``mlengine.profiling``), as stored with the dataset."""
    return [asdict(c) for c in profile_table(table).columns]


def to_parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def from_parquet_bytes(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data))


def json_rows(table: pa.Table) -> list[list[Any]]:
    """Rows as JSON-safe lists (NaN and infinities become null)."""
    rows = []
    for record in table.to_pylist():
        rows.append(
            [None if isinstance(v, float) and not np.isfinite(v) else v for v in record.values()]
        )
    return rows
