"""Reinforcement learning through the API: an environment instead of a dataset, a policy
that answers observations."""

from __future__ import annotations

import time

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


def test_network_policy_with_environment_defaults_trains_and_serves(api: httpx.Client) -> None:
    # only the environment and a small budget: the rest comes from Acrobot's own defaults
    r = api.post(
        "/v1/jobs",
        json={
            "model": {"type": "ppo"},
            "environment": {"id": "Acrobot-v1"},
            "training": {"total_timesteps": 8_192, "eval_episodes": 2, "checkpoint_every": 4_096},
            "seed": 2,
        },
    )
    assert r.status_code == 202, r.text
    spec = r.json()["spec"]
    assert spec["model"]["params"]["normalize_observations"] is True
    assert spec["model"]["params"]["n_steps"] == 256 and spec["training"]["n_envs"] == 16
    assert spec["training"]["keep_best"] is True
    job = wait_for(api, r.json()["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert -500.0 <= job["metrics"]["eval_return_mean"] <= 0.0
    assert job["metrics"]["eval_policy_step"] in (4_096.0, 8_192.0)
    assert metric_points(api, job["id"], name="policy_loss")
    kinds = {c["kind"] for c in api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]}
    assert {"periodic", "final"} <= kinds

    model = api.get(f"/v1/models/{job['model_id']}").json()
    assert model["model_type"] == "ppo"
    assert model["info"]["observation_space"]["shape"] == [6]
    assert model["info"]["action_space"] == {"type": "discrete", "n": 3, "start": 0}
    obs = [[1.0, 0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, -1.0, 2.0, -3.0]]
    out = api.post(f"/v1/models/{model['id']}/predict", json={"observations": obs})
    assert out.status_code == 200, out.text
    body = out.json()
    assert all(a in (0, 1, 2) for a in body["predictions"])
    assert all(abs(sum(p) - 1.0) < 1e-6 for p in body["probabilities"])
    bad = api.post(f"/v1/models/{model['id']}/predict", json={"observations": [[0.0, 1.0]]})
    assert bad.status_code == 422 and "Box(shape=[6])" in bad.text, bad.text


def test_running_dqn_job_is_cancelled(api: httpx.Client) -> None:
    r = api.post(
        "/v1/jobs",
        json={"model": {"type": "dqn"}, "environment": {"id": "CartPole-v1"}, "seed": 0},
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    wait_for(api, job_id, ("running",))
    deadline = time.monotonic() + 120
    while not metric_points(api, job_id, name="episode_return") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    t0 = time.monotonic()
    job = wait_for(api, job_id, ("cancelled", "succeeded", "failed"), timeout=60)
    assert job["status"] == "cancelled" and time.monotonic() - t0 < 15, job
    assert job["model_id"] is None
