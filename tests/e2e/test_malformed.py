"""A corpus of malformed requests: files, specs, predict bodies and queries. Each is a
bounded 4xx whose detail names the problem, and none leaves a dataset, job or model behind.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import wait_for
from tests.data import breast_cancer_csv

MAX_BODY = 4096  # no error answer is longer than this


def _npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _object_npz() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("X.npy", buf.getvalue())
    return out.getvalue()


def _wide_csv(n: int) -> bytes:
    return (",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" for _ in range(n))).encode()


def _nested(depth: int) -> str:
    return '{"model": ' + "[" * depth + "]" * depth + "}"


FILES: dict[str, dict[str, Any]] = {
    "empty file": {"files": {"file": ("a.csv", b"")}},
    "parquet without magic": {"files": {"file": ("a.parquet", b"a,b\n1,2\n")}},
    "npz that is not a zip": {"files": {"file": ("a.npz", b"a,b\n1,2\n")}},
    "csv holding parquet": {"files": {"file": ("a.csv", b"PAR1" + b"\0" * 64)}},
    "unsupported extension": {"files": {"file": ("a.exe", b"MZ\x90\x00")}},
    "binary garbage": {"files": {"file": ("a.csv", bytes(range(256)) * 40)}},
    "gzip as csv": {"files": {"file": ("a.csv", gzip.compress(b"a,b\n" + b"1,2\n" * 1000))}},
    "duplicate header": {"files": {"file": ("a.csv", b"a,a\n1,2\n")}},
    "ragged rows": {"files": {"file": ("a.csv", b"a,b\n1,2\n3\n4,5,6\n")}},
    "header only": {"files": {"file": ("a.csv", b"a,b\n")}},
    "npz with an object array": {"files": {"file": ("a.npz", _object_npz())}},
    "npz of mismatched lengths": {
        "files": {"file": ("a.npz", _npz(X=np.zeros((5, 2)), y=np.zeros(3)))}
    },
    "npz without X": {"files": {"file": ("a.npz", _npz(z=np.zeros(3)))}},
    "too many columns": {"files": {"file": ("a.csv", _wide_csv(6000))}},
    "over the upload limit": {"files": {"file": ("a.csv", b"a\n" + b"1\n" * (4_300_000))}},
    "no file field": {"files": {"name": (None, "x")}},
    "not multipart": {"json": {"file": "a.csv"}},
}


def _spec(**extra: Any) -> dict[str, Any]:
    return {"target": "target", "model": {"type": "logistic_regression"}, **extra}


SPECS: dict[str, dict[str, Any]] = {
    "empty body": {"content": b"", "headers": {"Content-Type": "application/json"}},
    "not json": {"content": b"{model:", "headers": {"Content-Type": "application/json"}},
    "a json array": {"json": [1, 2]},
    "unknown model type": {"json": {"model": {"type": "gpt"}}},
    "unknown dataset": {"json": _spec(dataset_id="ds_nope")},
    "missing target column": {"json": _spec(target="nope")},
    "unknown feature": {"json": _spec(features=["nope"])},
    "huge epochs": {"json": {**_spec(model={"type": "mlp"}), "training": {"epochs": 10**30}}},
    "negative learning rate": {
        "json": {**_spec(model={"type": "mlp"}), "training": {"learning_rate": -1}}
    },
    "huge layer": {"json": _spec(model={"type": "mlp", "params": {"hidden_layers": [10**9]}})},
    "split over one": {"json": _spec(split={"validation": 1.5})},
    "seed as text": {"json": _spec(seed="zero")},
    "400-digit seed": {"json": _spec(seed=10**400)},
    "deeply nested": {
        "content": _nested(5000).encode(),
        "headers": {"Content-Type": "application/json"},
    },
    "NaN param": {
        "content": b'{"target": "target", "model": {"type": "ridge", "params": {"alpha": NaN}}}',
        "headers": {"Content-Type": "application/json"},
    },
    "unknown init_from job": {"json": _spec(model={"type": "mlp"}, init_from={"job_id": "job_no"})},
    "unknown environment": {
        "json": {"model": {"type": "q_learning"}, "environment": {"id": "Nope-v0"}}
    },
    "too many timesteps": {
        "json": {
            "model": {"type": "dqn"},
            "environment": {"id": "CartPole-v1"},
            "training": {"total_timesteps": 10**12},
        }
    },
}

PREDICT: dict[str, dict[str, Any]] = {
    "empty object": {"json": {}},
    "two body forms": {"json": {"records": [], "instances": []}},
    "no rows": {"json": {"records": []}},
    "missing column": {"json": {"records": [{"mean radius": 1.0}]}},
    "unknown column": {"json": {"records": "ROW"}},
    "text in a number column": {"json": {"records": "TEXT"}},
    "records not a list": {"json": {"records": {"a": 1}}},
    "bad dataframe_split": {"json": {"dataframe_split": {"columns": "x", "data": 1}}},
    "too many rows": {"json": {"instances": "MANY"}},
    "an infinite value": {"json": {"records": "INF"}},
    "observations to a table": {"json": {"observations": [[1, 2]]}},
}


@pytest.fixture(scope="module")
def trained(api: httpx.Client) -> dict[str, Any]:
    ds = api.post("/v1/datasets", files={"file": ("bc.csv", breast_cancer_csv())}).json()
    job = api.post("/v1/jobs", json=_spec(dataset_id=ds["id"])).json()
    done = wait_for(api, job["id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    model = api.get(f"/v1/models/{done['model_id']}").json()
    return {"dataset": ds, "model": model}


def _counts(api: httpx.Client) -> tuple[int, int, int]:
    def n(path: str) -> int:
        return len(api.get(path, params={"limit": 1000}).json()["items"])

    return n("/v1/datasets"), n("/v1/jobs"), n("/v1/models")


def _check(api: httpx.Client, send: Callable[[], httpx.Response]) -> None:
    before = _counts(api)
    r = send()
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert len(r.content) <= MAX_BODY, (r.status_code, len(r.content), r.text[:300])
    detail = r.json()["detail"]
    assert detail, r.text
    assert _counts(api) == before


@pytest.mark.parametrize("case", FILES)
def test_malformed_files(api: httpx.Client, trained: dict[str, Any], case: str) -> None:
    _check(api, lambda: api.post("/v1/datasets", **FILES[case]))


@pytest.mark.parametrize("case", SPECS)
def test_malformed_specs(api: httpx.Client, trained: dict[str, Any], case: str) -> None:
    kwargs = (
        json.loads(json.dumps(SPECS[case], default=str)) if "json" in SPECS[case] else SPECS[case]
    )
    if "json" in kwargs and isinstance(kwargs["json"], dict):
        body = dict(SPECS[case]["json"])
        if "target" in body and "dataset_id" not in body:
            body["dataset_id"] = trained["dataset"]["id"]
        kwargs = {
            "content": json.dumps(body).encode(),
            "headers": {"Content-Type": "application/json"},
        }
    _check(api, lambda: api.post("/v1/jobs", **kwargs))


@pytest.mark.parametrize("case", PREDICT)
def test_malformed_predict_bodies(api: httpx.Client, trained: dict[str, Any], case: str) -> None:
    model = trained["model"]
    names = [c["name"] for c in model["inputs"]]
    row = dict.fromkeys(names, 1.0)
    body = dict(PREDICT[case]["json"])
    for key, value in body.items():
        if value == "ROW":
            body[key] = [{**row, "not a column": 1.0}]
        elif value == "TEXT":
            body[key] = [{**row, names[0]: "ninety"}]
        elif value == "MANY":
            body[key] = [[1.0] * len(names)] * 10_001
        elif value == "INF":
            body[key] = "INF"
    content = json.dumps(body).replace(
        '"INF"', "[{" + ", ".join(f'"{n}": 1e999' for n in names) + "}]"
    )
    _check(
        api,
        lambda: api.post(
            f"/v1/models/{model['id']}/predict",
            content=content.encode(),
            headers={"Content-Type": "application/json"},
        ),
    )


QUERIES = {
    "limit zero": ("/v1/jobs", {"limit": 0}),
    "limit huge": ("/v1/jobs", {"limit": 10**6}),
    "garbage cursor": ("/v1/datasets", {"cursor": "%%%"}),
    "long job id": ("/v1/jobs/" + "j" * 10_000, {}),
    "unknown model": ("/v1/models/mdl_nope", {}),
    "long checkpoint id": ("/v1/jobs/JOB/checkpoints/" + "c" * 10_000 + "/data", {}),
    "rows offset negative": ("/v1/datasets/DS/rows", {"offset": -1}),
}


@pytest.mark.parametrize("case", QUERIES)
def test_malformed_queries(api: httpx.Client, trained: dict[str, Any], case: str) -> None:
    path, params = QUERIES[case]
    path = path.replace("DS", trained["dataset"]["id"]).replace("JOB", trained["model"]["job_id"])
    _check(api, lambda: api.get(path, params=params))
