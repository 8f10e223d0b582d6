"""Reinforcement learning through the API: an environment instead of a dataset, a policy
that answers observations."""

from __future__ import annotations

import httpx

from tests.conftest import metric_points, wait_for


def test_q_learning_job_trains_and_serves_a_policy(api: httpx.Client) -> None:
    r = api.post(
        "/v1/jobs",
        json={
            "model": {"type": "q_learning"},
            "environment": {"id": "FrozenLake-v1", "kwargs": {"is_slippery": False}},
            "training": {"total_timesteps": 20_000, "checkpoint_every": 5_000},
            "seed": 1,
        },
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["spec"]["task"] == "reinforcement"
    assert job["spec"]["model"]["params"]["learning_rate"] == 0.1
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["eval_return_mean"] == 1.0
    assert job["progress"]["timesteps"] == 20_000
    returns = metric_points(api, job["id"], name="episode_return")
    assert returns and all(p["step"] <= 20_000 for p in returns)
    kinds = {c["kind"] for c in api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]}
    assert {"periodic", "final"} <= kinds

    model = api.get(f"/v1/models/{job['model_id']}").json()
    assert model["task"] == "reinforcement" and model["model_type"] == "q_learning"
    assert model["info"]["observation_space"] == {"type": "discrete", "n": 16, "start": 0}
    assert model["info"]["action_space"]["n"] == 4

    out = api.post(f"/v1/models/{model['id']}/predict", json={"observations": [0, 14]})
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["predictions"][1] == 2 and len(body["extra"]["q_values"][0]) == 4
    bad = api.post(f"/v1/models/{model['id']}/predict", json={"observations": [99]})
    assert bad.status_code == 422 and "Discrete(16)" in bad.text, bad.text
    rows = api.post(f"/v1/models/{model['id']}/predict", json={"records": [{"a": 1}]})
    assert rows.status_code == 422


def test_rl_spec_errors_are_422(api: httpx.Client) -> None:
    r = api.post("/v1/jobs", json={"model": {"type": "ppo"}, "environment": {"id": "Nope-v0"}})
    assert r.status_code == 422 and "CartPole-v1" in r.text, r.text
    r = api.post(
        "/v1/jobs", json={"model": {"type": "q_learning"}, "environment": {"id": "CartPole-v1"}}
    )
    assert r.status_code == 422 and "discrete observations" in r.text, r.text
    mdp = {"transitions": [[[[0.7, 0, 1.0, True]]]]}
    r = api.post(
        "/v1/jobs", json={"model": {"type": "value_iteration"}, "environment": {"mdp": mdp}}
    )
    assert r.status_code == 422 and "sum to 0.7" in r.text, r.text
