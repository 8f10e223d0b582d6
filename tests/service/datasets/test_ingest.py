"""Format detection and CSV checks, on files written here."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlengine.profiling import profile_table
from service.datasets.ingest import detect_format, from_parquet_bytes, ingest, to_parquet_bytes
from service.errors import ApiError, TooLarge
from service.settings import Settings


@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("a.csv", b"x,y\n", "csv"),
        ("a.parquet", b"PAR1\x15", "parquet"),
        ("a.npz", b"PK\x03\x04", "npz"),
        ("noext", b"PAR1\x15", "parquet"),
        ("noext", b"x,y\n", "csv"),
        ("a.txt", b"x,y\n", "csv"),
    ],
)
def test_detect_format(name: str, head: bytes, fmt: str) -> None:
    assert detect_format(name, head) == fmt


def test_csv_named_file_holding_parquet_is_refused() -> None:
    with pytest.raises(ApiError, match="holds parquet"):
        detect_format("a.csv", b"PAR1")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "d.csv"
    path.write_text(text)
    return path


def test_types_and_missing_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "i,f,b,s\n1,1.5,true,x\n2,,false,\n3,NaN,true,z\n")
    got = ingest(path, "d.csv", Settings(data_dir=tmp_path))
    cols = {c["name"]: c for c in got.columns}
    assert {n: c["dtype"] for n, c in cols.items()} == {
        "i": "int",
        "f": "float",
        "b": "bool",
        "s": "string",
    }
    assert cols["f"]["n_missing"] == 2 and cols["s"]["n_missing"] == 1
    assert cols["i"]["n_unique"] == 3


def test_row_and_column_limits(tmp_path: Path) -> None:
    path = _write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(TooLarge, match="DESCENT_MAX_ROWS"):
        ingest(path, "d.csv", Settings(data_dir=tmp_path, max_rows=1))
    with pytest.raises(TooLarge, match="DESCENT_MAX_COLUMNS"):
        ingest(path, "d.csv", Settings(data_dir=tmp_path, max_columns=2))


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(5000))
    path = _write(tmp_path, "a,b\n" + rows + "1,2,3\n")
    with pytest.raises(ApiError, match="line 5002: expected 2 fields"):
        ingest(path, "d.csv", Settings(data_dir=tmp_path))


def test_npz_of_complex_numbers_is_refused(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "c.npz"
    np.savez(path, X=np.ones((4, 2), dtype=np.complex64))
    with pytest.raises(ApiError, match="real numbers"):
        ingest(path, "c.npz", Settings(data_dir=tmp_path))
    np.savez(path, X=np.ones((4, 2)), y=np.ones(4, dtype=np.complex128))
    with pytest.raises(ApiError, match="'y' must hold"):
        ingest(path, "c.npz", Settings(data_dir=tmp_path))


@pytest.mark.parametrize("fmt", ["parquet", "npz"])
def test_upload_profile_is_the_engine_profile(tmp_path: Path, fmt: str) -> None:
    nan = float("nan")
    x = np.array([[1.0, 0.5], [nan, 0.5], [2.0, nan], [nan, 1.5]])
    path = tmp_path / f"d.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({"x0": x[:, 0], "x1": x[:, 1], "y": [1, 0, 1, 1]}), path)
    else:
        np.savez(path, X=x, y=np.array([1, 0, 1, 1]))
    got = ingest(path, path.name, Settings(data_dir=tmp_path))
    cols = {c["name"]: c for c in got.columns}
    assert cols["x0"] == {"name": "x0", "dtype": "float", "n_missing": 2, "n_unique": 2}
    assert cols["x1"] == {"name": "x1", "dtype": "float", "n_missing": 1, "n_unique": 2}
    # what the worker computes from the stored dataset agrees with what the upload stored
    stored = from_parquet_bytes(to_parquet_bytes(got.table))
    assert got.columns == [asdict(c) for c in profile_table(stored).columns]


def _forged_npz(path: Path, shape: tuple[int, ...], dtype: str = "<f8", data: bytes = b"") -> None:
    """An NPZ whose X member declares ``shape`` in its .npy header but holds only ``data``."""
    import io
    import zipfile

    from numpy.lib import format as npy

    buf = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    npy.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", buf.getvalue() + data)


def test_npz_declaring_huge_arrays_is_refused_before_decoding(tmp_path: Path) -> None:
    import time
    import tracemalloc

    path = tmp_path / "bomb.npz"
    settings = Settings(data_dir=tmp_path)
    cases = [
        ((10**12, 20), "DESCENT_MAX_UPLOAD_BYTES"),  # 160 TB declared
        ((settings.max_rows + 1, 1), "DESCENT_MAX_ROWS"),
        ((10, settings.max_columns + 1), "DESCENT_MAX_COLUMNS"),
        ((10, 1000, 1000), "DESCENT_MAX_COLUMNS"),
    ]
    for shape, setting in cases:
        _forged_npz(path, shape, "|u1", b"\0" * 16)
        tracemalloc.start()
        t0 = time.perf_counter()
        with pytest.raises(TooLarge, match=setting):
            ingest(path, "bomb.npz", settings)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{shape}: refused in {elapsed * 1000:.1f} ms, peak {peak / 1024:.0f} KiB")
        assert peak < 16 * 1024 * 1024


def test_npz_header_larger_than_its_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.npz"
    _forged_npz(path, (1000, 10), "<f8", b"\0" * 64)
    with pytest.raises(ApiError, match="declares shape .* holds only 64 bytes") as info:
        ingest(path, "short.npz", Settings(data_dir=tmp_path))
    assert info.value.status_code == 422
    _forged_npz(path, (4, 2), "|O")
    with pytest.raises(ApiError, match="Python objects") as info:
        ingest(path, "short.npz", Settings(data_dir=tmp_path))
    assert info.value.status_code == 422


def test_compressed_npz_bomb_is_refused_by_its_decompressed_size(tmp_path: Path) -> None:
    # 32 MB of zeros compress to a few tens of KB; the limit is on what they decompress to.
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, X=np.zeros((200_000, 20)))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(TooLarge, match="decompress to .*DESCENT_MAX_UPLOAD_BYTES"):
        ingest(path, "zeros.npz", Settings(data_dir=tmp_path, max_upload_bytes=1_000_000))
    got = ingest(path, "zeros.npz", Settings(data_dir=tmp_path))
    assert got.table.num_rows == 200_000 and got.table.num_columns == 20


def test_npz_other_members_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "extra.npz"
    np.savez(path, X=np.ones((3, 2)), y=np.array([0, 1, 0]), junk=np.array([object()]))
    got = ingest(path, "extra.npz", Settings(data_dir=tmp_path))
    assert got.table.column_names == ["x0", "x1", "y"]
    np.savez(path, **{f"a{i}": np.ones(1) for i in range(50)})
    with pytest.raises(ApiError, match=r"needs an array 'X'.*and 40 more \(50 arrays\)"):
        ingest(path, "extra.npz", Settings(data_dir=tmp_path))


def test_wide_csv_header_is_refused_before_parsing(tmp_path: Path) -> None:
    import time

    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(40_000))
    row = ",".join("1" for _ in range(40_000))
    path.write_text(f"{header}\n{row}\n{row}\n")
    t0 = time.perf_counter()
    with pytest.raises(TooLarge, match=r"header names 40000 columns.*DESCENT_MAX_COLUMNS"):
        ingest(path, "wide.csv", Settings(data_dir=tmp_path))
    print(f"40,000-column header refused in {(time.perf_counter() - t0) * 1000:.1f} ms")


def test_csv_header_width_counts_quoted_commas_once(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('"a,1","b,2",c\n1,2,3\n')
    got = ingest(path, "q.csv", Settings(data_dir=tmp_path, max_columns=3))
    assert got.table.column_names == ["a,1", "b,2", "c"]
    with pytest.raises(TooLarge, match="header names 3 columns; the limit is 2"):
        ingest(path, "q.csv", Settings(data_dir=tmp_path, max_columns=2))


def test_csv_header_without_newline_in_the_cap(tmp_path: Path) -> None:
    from service.datasets import ingest as ingest_module

    path = tmp_path / "long.csv"
    path.write_text("a" * (ingest_module.MAX_HEADER_BYTES + 10) + "\n1\n")
    with pytest.raises(ApiError, match="header row is longer than") as info:
        ingest(path, "long.csv", Settings(data_dir=tmp_path))
    assert info.value.status_code == 422
    path.write_text(",".join(["a"] * (ingest_module.MAX_HEADER_BYTES // 2 + 10)) + "\n")
    with pytest.raises(TooLarge, match="header names at least .* DESCENT_MAX_COLUMNS"):
        ingest(path, "long.csv", Settings(data_dir=tmp_path))
