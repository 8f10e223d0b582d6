"""Amplification: a small request must not cost the API much more memory than its own
size. The API's peak resident memory (VmHWM) is read before and after each request."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import lone_api

MARGIN = 64 * 1024 * 1024  # a fixed allowance: imports and caches a first request warms


def _peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _npz_bomb(rows: int, cols: int) -> bytes:
    """An NPZ whose X is ``rows x cols`` float64 zeros, written without making the array."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("X.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f8", "fortran_order": False, "shape": (rows, cols)}
            )
            chunk = bytes(8 * cols * 4096)
            for _ in range(rows // 4096):
                member.write(chunk)
        y = io.BytesIO()
        np.save(y, np.zeros(rows // 4096 * 4096))
        z.writestr("y.npy", y.getvalue())
    return out.getvalue()


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, httpx.Client]]:
    with lone_api(tmp_path_factory.mktemp("amplification")) as api, api.client() as client:
        yield api.proc.pid, client


def test_a_compressed_npz_is_refused_before_it_is_decoded(lone: tuple[int, httpx.Client]) -> None:
    pid, api = lone
    bomb = _npz_bomb(4_000_000 // 4096 * 4096, 20)  # about 640 MB decompressed
    assert len(bomb) < 2 * 1024 * 1024
    api.get("/v1/datasets")  # warm
    before = _peak(pid)
    r = api.post("/v1/datasets", files={"file": ("bomb.npz", bomb)})
    grew = _peak(pid) - before
    print(f"npz of {len(bomb)} bytes: {r.status_code}, API peak +{grew / 2**20:.1f} MiB")
    assert r.status_code == 413 and "DESCENT_MAX_UPLOAD_BYTES" in r.json()["detail"], r.text
    assert grew < 2 * len(bomb) + MARGIN


def test_a_spec_naming_thousands_of_unknown_columns_gets_a_small_answer(
    lone: tuple[int, httpx.Client],
) -> None:
    pid, api = lone
    wide = ",".join(f"column_{i}" for i in range(1001)) + "\n"
    wide += "\n".join(",".join(str(j) for j in range(1001)) for _ in range(20))
    ds = api.post("/v1/datasets", files={"file": ("wide.csv", wide.encode())}).json()
    spec = {
        "dataset_id": ds["id"],
        "target": "column_0",
        "features": [f"unknown_feature_{i}" for i in range(5000)],
        "model": {"type": "ridge"},
    }
    size = len(httpx.Request("POST", "/", json=spec).content)
    before = _peak(pid)
    r = api.post("/v1/jobs", json=spec)
    grew = _peak(pid) - before
    print(f"spec of {size} bytes: answer {len(r.content)} bytes, API peak +{grew / 2**20:.1f} MiB")
    assert r.status_code == 422 and len(r.content) < 8192, len(r.content)
    assert grew < 2 * size + MARGIN
