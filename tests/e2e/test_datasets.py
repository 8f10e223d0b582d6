"""Dataset upload over HTTP: good files profiled, bad files refused with the line, nothing kept."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.data import breast_cancer_csv, mixed_csv


def _ids(api: httpx.Client) -> set[str]:
    return {d["id"] for d in api.get("/v1/datasets", params={"limit": 1000}).json()["items"]}


def test_upload_csv_profile_and_rows(api: httpx.Client) -> None:
    body = mixed_csv()
    r = api.post("/v1/datasets", files={"file": ("people.csv", body)}, data={"name": "people"})
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["name"] == "people" and ds["format"] == "csv"
    assert ds["n_rows"] == 300 and ds["n_columns"] == 5
    assert ds["size_bytes"] == len(body) and len(ds["sha256"]) == 64
    cols = {c["name"]: c for c in ds["columns"]}
    assert cols["age"]["dtype"] == "float" and cols["city"]["dtype"] == "string"
    assert cols["member"]["dtype"] == "bool"
    assert cols["income"]["n_missing"] == 15 and cols["city"]["n_missing"] == 10
    assert cols["city"]["n_unique"] == 3
    assert api.get(f"/v1/datasets/{ds['id']}").json() == ds
    rows = api.get(f"/v1/datasets/{ds['id']}/rows", params={"offset": 2, "limit": 3}).json()
    assert rows["columns"] == ["age", "income", "city", "member", "label"]
    assert len(rows["rows"]) == 3
    expected = pd.read_csv(io.BytesIO(body)).iloc[2]
    assert rows["rows"][0][0] == expected["age"]


def test_upload_parquet_and_npz(api: httpx.Client) -> None:
    frame = pd.read_csv(io.BytesIO(breast_cancer_csv()))
    buf = io.BytesIO()
    frame.to_parquet(buf)
    r = api.post("/v1/datasets", files={"file": ("bc.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "parquet" and r.json()["n_rows"] == 569

    npz = io.BytesIO()
    x = np.random.default_rng(0).normal(size=(40, 1, 4, 4)).astype(np.float32)
    np.savez(npz, X=x, y=np.arange(40) % 2)
    r = api.post("/v1/datasets", files={"file": ("img.npz", npz.getvalue())})
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["format"] == "npz" and ds["n_columns"] == 17 and ds["sample_shape"] == [1, 4, 4]


def test_list_paginates(api: httpx.Client) -> None:
    for i in range(3):
        api.post("/v1/datasets", files={"file": (f"p{i}.csv", b"a,b\n1,2\n")})
    first = api.get("/v1/datasets", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get("/v1/datasets", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert not {d["id"] for d in first["items"]} & {d["id"] for d in second["items"]}
    assert api.get("/v1/datasets", params={"cursor": "garbage!"}).status_code == 422


@pytest.mark.parametrize(
    ("filename", "content", "status", "words"),
    [
        ("empty.csv", b"", 422, "empty"),
        ("header.csv", b"a,b,c\n", 422, "no data rows"),
        ("ragged.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8\n", 422, "line 4"),
        ("junk.csv", b"a,b\n1,2\n\x00\x01\x02\xff\xfe", 422, "binary"),
        (
            "latin1.csv",
            "a,b\n1,2\n3,caf\u00e9\n".encode("latin-1"),
            422,
            "line 3: the file is not valid UTF-8",
        ),
        ("fake.parquet", b"a,b\n1,2\n", 422, "not Parquet"),
        ("fake.npz", b"a,b\n1,2\n", 422, "not NPZ"),
        ("data.xlsx", b"a,b\n1,2\n", 415, "unsupported file type"),
        ("dup.csv", b"a,a\n1,2\n", 422, "appears twice"),
    ],
)
def test_bad_files_are_refused_and_leave_nothing(
    api: httpx.Client, filename: str, content: bytes, status: int, words: str
) -> None:
    before = _ids(api)
    r = api.post("/v1/datasets", files={"file": (filename, content)})
    assert r.status_code == status, r.text
    assert words in str(r.json()["detail"])
    assert _ids(api) == before


def test_too_large_upload_is_413(api: httpx.Client) -> None:
    before = _ids(api)
    big = b"a,b\n" + b"1,2\n" * (3 * 1024 * 1024)  # 12 MiB > the 8 MiB test limit
    r = api.post("/v1/datasets", files={"file": ("big.csv", big)})
    assert r.status_code == 413
    assert "DESCENT_MAX_UPLOAD_BYTES" in r.json()["detail"]
    assert _ids(api) == before


def test_upload_needs_a_file_field(api: httpx.Client) -> None:
    r = api.post("/v1/datasets", files={"other": ("x.csv", b"a\n1\n")})
    assert r.status_code == 422
    assert "file" in r.text
    r = api.post("/v1/datasets", json={"file": "x"})
    assert r.status_code == 400


def test_delete_dataset(api: httpx.Client) -> None:
    ds = api.post("/v1/datasets", files={"file": ("d.csv", b"a,b\n1,2\n")}).json()
    assert api.delete(f"/v1/datasets/{ds['id']}").status_code == 204
    assert api.get(f"/v1/datasets/{ds['id']}").status_code == 404
    assert api.delete(f"/v1/datasets/{ds['id']}").status_code == 404
