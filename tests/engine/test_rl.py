"""Reinforcement learning: specs, environments, value iteration, Q-learning, the policy
predictor, checkpoints and resume (small budgets). The quality floors of the network
algorithms are in test_rl_quality.py."""

from __future__ import annotations

import numpy as np
import pytest

import mlengine
from mlengine import InputError, InputTooLarge, RecordingCallbacks, SpecError, TrainingStopped
from mlengine.rl.base import EVAL_SEED_OFFSET
from mlengine.rl.envspec import ENV_ALIASES, ENV_IDS
from mlengine.validation import check_against_dataset, validate_spec
from tests.engine.play import greedy_return

# A hand-checked MDP: from state 0, action 1 ("risky") pays 10 with probability 0.5 and
# otherwise nothing; action 0 ("safe") pays 4 for sure. Both end the episode. With
# gamma 0.9 from state 1: action 0 moves to 0 (reward 0), action 1 pays 3 and ends.
# V(0) = max(4, 5) = 5 (risky); V(1) = max(0 + 0.9 * 5, 3) = 4.5 (go to 0).
HAND_MDP = [
    [[[1.0, 0, 4.0, True]], [[0.5, 0, 10.0, True], [0.5, 0, 0.0, True]]],
    [[[1.0, 0, 0.0, False]], [[1.0, 1, 3.0, True]]],
]


def _spec(algo: str, env: dict, **training: object) -> dict:
    return {"model": {"type": algo}, "environment": env, "training": dict(training)}


def _checked(raw: dict) -> mlengine.JobSpec:
    return check_against_dataset(validate_spec(raw), None)


def test_every_listed_environment_is_registered() -> None:
    import gymnasium as gym

    for env_id in ENV_IDS:
        assert env_id in gym.registry, env_id
    for alias, target in ENV_ALIASES.items():
        assert target in ENV_IDS, alias


def test_spec_fills_defaults_and_task() -> None:
    spec = _checked({"model": {"type": "ppo"}, "environment": {"id": "CartPole-v1"}})
    assert spec.task == "reinforcement"
    assert spec.training["total_timesteps"] == 100_000 and spec.training["n_envs"] == 8
    assert spec.model.params["clip_range"] == 0.2
    assert validate_spec({"model": {"type": "q_learning"}, "environment": {"id": "Taxi-v3"}})
    spec = validate_spec({"model": {"type": "q_learning"}, "environment": {"id": "Taxi-v3"}})
    assert spec.environment is not None and spec.environment.id == "Taxi-v4"


@pytest.mark.parametrize(
    ("raw", "loc", "words"),
    [
        (_spec("ppo", {"id": "Pong-v5"}), ["environment", "id"], "available: Acrobot-v1"),
        (_spec("ppo", {}), ["environment"], "exactly one of"),
        (_spec("ppo", {"id": "CartPole-v1", "extra": 1}), ["environment", "extra"], "extra"),
        (
            _spec("value_iteration", {"mdp": {"transitions": [[[[0.5, 0, 1.0, True]]]]}}),
            ["environment", "mdp"],
            "sum to 0.5",
        ),
        (
            _spec("value_iteration", {"mdp": {"transitions": [[[[1.0, 3, 1.0, True]]]]}}),
            ["environment", "mdp"],
            "out of range",
        ),
        (_spec("q_learning", {"grid": {"map": ["S.x", "..G"]}}), ["environment", "grid"], "'x'"),
        (_spec("ppo", {"id": "CartPole-v1"}, total_timesteps=10**9), ["training"], "at most"),
        (_spec("ppo", {"id": "CartPole-v1"}, batch=3), ["training", "batch"], "n_envs"),
    ],
)
def test_bad_environments_and_options_are_spec_errors(raw: dict, loc: list, words: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_spec(raw)
    err = info.value.errors[0]
    assert err["loc"][: len(loc)] == loc, info.value.errors
    assert words in err["msg"] or words in str(info.value), info.value.errors


@pytest.mark.parametrize(
    ("raw", "loc", "words"),
    [
        (_spec("q_learning", {"id": "CartPole-v1"}), ["model", "type"], "discrete observations"),
        (_spec("dqn", {"id": "Pendulum-v1"}), ["model", "type"], "discrete actions"),
        (_spec("value_iteration", {"id": "CartPole-v1"}), ["model", "type"], "known model"),
        (
            _spec("ppo", {"id": "FrozenLake-v1", "kwargs": {"bogus": 1}}),
            ["environment", "kwargs"],
            "bogus",
        ),
        ({"model": {"type": "ppo"}}, ["environment"], "needs an environment"),
        ({**_spec("ppo", {"id": "CartPole-v1"}), "target": "y"}, ["target"], "not from a dataset"),
        ({"model": {"type": "logistic_regression"}}, ["dataset_id"], "needs a dataset"),
        (
            {"model": {"type": "logistic_regression"}, "environment": {"id": "CartPole-v1"}},
            ["environment"],
            "not an environment",
        ),
    ],
)
def test_spec_checks_without_a_dataset(raw: dict, loc: list, words: str) -> None:
    with pytest.raises(SpecError) as info:
        _checked(raw)
    err = info.value.errors[0]
    assert err["loc"] == loc and words in err["msg"], info.value.errors


def test_value_iteration_finds_the_hand_checked_optimum() -> None:
    cb = RecordingCallbacks()
    raw = {
        "model": {"type": "value_iteration", "params": {"gamma": 0.9, "theta": 1e-12}},
        "environment": {"mdp": {"transitions": HAND_MDP, "initial_state": 1}},
        "training": {"eval_episodes": 200},
    }
    result = mlengine.train(raw, None, cb)
    assert result.metrics["converged"] == 1.0
    pred = mlengine.load_predictor(result.artifact)
    out = pred.predict([0, 1])
    assert out["predictions"] == [1, 0]
    q = np.array(out["extra"]["q_values"])
    np.testing.assert_allclose(q, [[4.0, 5.0], [4.5, 3.0]], atol=1e-9)
    # From state 1 the optimal return is 0 + 5 in expectation; 200 episodes average near it.
    assert 3.5 < result.metrics["eval_return_mean"] < 6.5
    assert cb.series("bellman_residual")[-1] < 1e-12
    # the model's info shows the spaces
    assert result.info.extra["observation_space"] == {"type": "discrete", "n": 2, "start": 0}
    assert result.info.task == "reinforcement" and result.info.inputs == []
    with pytest.raises(InputError, match="Discrete\\(2\\)"):
        pred.predict([2])
    with pytest.raises(InputError, match="integer"):
        pred.predict([[0.5, 1.0]])


@pytest.mark.parametrize(
    ("body", "message", "loc"),
    [
        ({"records": [{"a": 1}]}, "a policy takes {'observations'", ()),
        ({"observations": [0], "params": {}}, "a policy takes {'observations'", ()),
        ({"observations": 0}, "send a list of observations", ("observations",)),
        ({"instances": [7]}, "observation 0: state 7 is out of range", ("instances",)),
        ({"observations": []}, "no rows to predict", ()),
        ([{"x": 1.0}], "this value_iteration policy takes observations, not rows", ()),
        ([0, 7], "observation 1: state 7 is out of range; the observation space is", ()),
    ],
)
def test_policy_body_errors_name_where(body: object, message: str, loc: tuple) -> None:
    raw = {"model": {"type": "value_iteration"}, "environment": {"mdp": {"transitions": HAND_MDP}}}
    pred = mlengine.load_predictor(mlengine.train(raw, None).artifact)
    with pytest.raises(InputError) as info:
        pred.predict(body, max_rows=5)  # type: ignore[arg-type]
    assert info.value.message.startswith(message) and info.value.loc == loc


def test_policy_bodies_and_list_agree() -> None:
    raw = {"model": {"type": "value_iteration"}, "environment": {"mdp": {"transitions": HAND_MDP}}}
    pred = mlengine.load_predictor(mlengine.train(raw, None).artifact)
    want = pred.predict([0, 1])
    for key in ("observations", "instances", "inputs"):
        assert pred.predict({key: [0, 1]}, max_rows=2) == want
    assert pred.predict([]) == {"predictions": []}
    with pytest.raises(InputTooLarge, match="DESCENT_MAX_PREDICT_ROWS"):
        pred.predict({"observations": [0, 1, 0]}, max_rows=2)
    with pytest.raises(InputTooLarge):
        pred.predict([0, 1, 0], max_rows=2)


def test_value_iteration_solves_a_drawn_grid_and_frozenlake() -> None:
    grid = {"grid": {"map": ["S..#", ".#..", "...G", "H..."], "step_reward": -0.01}}
    result = mlengine.train(_spec("value_iteration", grid), None)
    assert result.metrics["eval_length_mean"] == 5.0  # the shortest path
    assert result.metrics["eval_return_mean"] == pytest.approx(1.0 - 0.05)
    lake = mlengine.train(
        _spec("value_iteration", {"id": "FrozenLake-v1"}, eval_episodes=500), None
    )
    assert lake.metrics["eval_return_mean"] >= 0.65  # the optimum of slippery 4x4 is about 0.74


def test_q_learning_solves_non_slippery_frozenlake_and_serves() -> None:
    env = {"id": "FrozenLake-v1", "kwargs": {"is_slippery": False}}
    cb = RecordingCallbacks()
    result = mlengine.train(_spec("q_learning", env, total_timesteps=20_000), None, cb)
    assert result.metrics["eval_return_mean"] == 1.0
    assert result.metrics["eval_length_mean"] == 6.0
    assert cb.series("episode_return") and cb.series("epsilon")[-1] == pytest.approx(0.05)
    steps = [s for s, n, _ in cb.metrics if n == "episode_return"]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert cb.progress[-1] == (20_000, 20_000)
    kinds = [k for _, k, _ in cb.checkpoints]
    assert kinds.count("final") == 1 and "periodic" in kinds
    pred = mlengine.load_predictor(result.artifact)
    out = pred.predict([0, 14])
    assert out["predictions"][1] == 2  # next to the goal: go right
    with pytest.raises(InputError, match="out of range"):
        pred.predict([16])


def test_q_learning_reaches_7_on_taxi() -> None:
    result = mlengine.train(
        _spec("q_learning", {"id": "Taxi-v3"}, eval_episodes=100, eval_every=0), None
    )
    assert result.metrics["eval_return_mean"] >= 7.0


def test_q_learning_is_seeded_and_tuple_observations_work() -> None:
    raw = _spec("q_learning", {"id": "Blackjack-v1"}, total_timesteps=3_000, eval_episodes=20)
    a, b = mlengine.train(raw, None), mlengine.train(raw, None)
    assert a.metrics["eval_return_mean"] == b.metrics["eval_return_mean"]
    pred = mlengine.load_predictor(a.artifact)
    out = pred.predict([[20, 10, 0], [5, 3, 1]])
    assert len(out["predictions"]) == 2 and len(out["extra"]["q_values"][0]) == 2
    with pytest.raises(InputError, match="Tuple"):
        pred.predict([[20, 10]])


def test_cancel_and_resume_q_learning() -> None:
    raw = _spec(
        "q_learning", {"id": "FrozenLake-v1"}, total_timesteps=20_000, checkpoint_every=1_000
    )
    cb = RecordingCallbacks()
    cb.stop_after_metrics = 1_500
    with pytest.raises(TrainingStopped):
        mlengine.train(raw, None, cb)
    periodic = [c for c in cb.checkpoints if c[1] == "periodic"]
    assert periodic
    step, _, data = periodic[-1]
    resumed = RecordingCallbacks()
    mlengine.train(raw, None, resumed, resume=data)
    assert min(s for s, n, _ in resumed.metrics if n == "episode_return") > step


def test_ppo_small_budget_continuous_actions_predict_and_resume() -> None:
    raw = _spec(
        "ppo",
        {"id": "Pendulum-v1"},
        total_timesteps=2_048,
        n_envs=4,
        checkpoint_every=1_024,
        eval_episodes=2,
    )
    raw["model"]["params"] = {"n_steps": 256}  # Pendulum's own default is 1024 per copy
    cb = RecordingCallbacks()
    result = mlengine.train(raw, None, cb)
    assert np.isfinite(result.metrics["eval_return_mean"])
    assert cb.series("policy_loss") and cb.series("value_loss")
    pred = mlengine.load_predictor(result.artifact)
    out = pred.predict([[1.0, 0.0, 0.0]])
    assert len(out["predictions"][0]) == 1 and -2.0 <= out["predictions"][0][0] <= 2.0
    with pytest.raises(InputError, match="shape"):
        pred.predict([[1.0, 0.0]])
    with pytest.raises(InputError, match="outside"):
        pred.predict([[5.0, 0.0, 0.0]])
    periodic = [c for c in cb.checkpoints if c[1] == "periodic"]
    again = RecordingCallbacks()
    mlengine.train(raw, None, again, resume=periodic[0][2])
    assert again.progress[-1][0] >= 2_048
    assert min(s for s, n, _ in again.metrics if n == "policy_loss") > periodic[0][0]


@pytest.mark.parametrize("algo", ["dqn", "a2c", "reinforce", "ppo"])
def test_network_algorithms_run_seeded_and_serve(algo: str) -> None:
    training = {"total_timesteps": 1_500, "eval_episodes": 3, "eval_every": 500}
    if algo == "dqn":
        params = {"learning_starts": 200, "train_freq": 50, "gradient_steps": 5, "double_q": True}
    else:
        params = {"n_steps": 16}
    raw = {
        "model": {"type": algo, "params": params},
        "environment": {"id": "CartPole-v1"},
        "training": training,
        "seed": 3,
    }
    cb1, cb2 = RecordingCallbacks(), RecordingCallbacks()
    r1, r2 = mlengine.train(raw, None, cb1), mlengine.train(raw, None, cb2)
    assert r1.metrics["eval_return_mean"] == r2.metrics["eval_return_mean"]
    assert cb1.series("episode_return") == cb2.series("episode_return")
    assert len(cb1.series("eval_return_mean")) >= 3  # periodic and final
    pred = mlengine.load_predictor(r1.artifact)
    out = pred.predict([[0.0, 0.1, 0.0, -0.1], [0.1, 0.0, 0.0, 0.0]])
    assert all(a in (0, 1) for a in out["predictions"])
    assert ("probabilities" in out) != ("extra" in out)
    with pytest.raises(InputError, match="Box\\(shape=\\[4\\]\\)"):
        pred.predict([[0.0, 0.0]])
    with pytest.raises(InputError):
        pred.predict(["left"])
    with pytest.raises(InputError, match="observations, not rows"):
        pred.predict([{"x": 1.0}])


def test_environment_defaults_fill_what_the_spec_leaves_out() -> None:
    from mlengine.kinds.rl import ENVIRONMENT_DEFAULTS

    spec = validate_spec(_spec("ppo", {"id": "Acrobot-v1"}))
    expected = ENVIRONMENT_DEFAULTS["ppo"]["Acrobot-v1"]
    for key, value in expected["params"].items():
        assert spec.model.params[key] == value, key
    assert spec.training["n_envs"] == 16 and spec.training["total_timesteps"] == 1_000_000
    # the spec's own values win; other environments keep the kind's defaults
    mine = {
        **_spec("ppo", {"id": "Acrobot-v1"}, n_envs=2),
        "model": {"type": "ppo", "params": {"n_epochs": 3}},
    }
    spec = validate_spec(mine)
    assert spec.model.params["n_epochs"] == 3 and spec.training["n_envs"] == 2
    assert spec.model.params["normalize_observations"] is True
    cartpole = validate_spec(_spec("ppo", {"id": "CartPole-v1"}))
    assert cartpole.model.params["normalize_observations"] is False
    assert cartpole.training["n_envs"] == 8
    # every entry is a valid spec for its kind and environment
    for algo, table in ENVIRONMENT_DEFAULTS.items():
        for env_id in table:
            assert env_id in ENV_IDS
            _checked(_spec(algo, {"id": env_id}))


def _dqn_run(seed: int, keep_best: bool) -> tuple[mlengine.TrainResult, RecordingCallbacks]:
    raw = {
        "model": {
            "type": "dqn",
            "params": {"learning_starts": 200, "train_freq": 50, "gradient_steps": 20},
        },
        "environment": {"id": "CartPole-v1"},
        "training": {
            "total_timesteps": 4_000,
            "eval_episodes": 4,
            "eval_every": 500,
            "keep_best": keep_best,
        },
        "seed": seed,
    }
    cb = RecordingCallbacks()
    return mlengine.train(raw, None, cb), cb


def _evaluations(cb: RecordingCallbacks) -> list[tuple[int, float]]:
    return [(s, v) for s, n, v in cb.metrics if n == "eval_return_mean"]  # periodic, final


def test_keep_best_serves_the_best_evaluated_policy() -> None:
    # a short DQN run whose final evaluation is not its best (DQN on CartPole swings)
    for seed in range(8):
        last_run, last_cb = _dqn_run(seed, keep_best=False)
        evals = _evaluations(last_cb)
        if max(v for _, v in evals) > evals[-1][1]:
            break
    else:
        pytest.fail("no seed gave a run whose final evaluation was below an earlier one")
    final = evals[-1][1]
    assert last_run.metrics["eval_return_mean"] == final
    assert last_run.metrics["eval_policy_step"] == 4_000
    assert "eval_last_return_mean" not in last_run.metrics

    kept_run, kept_cb = _dqn_run(seed, keep_best=True)
    assert _evaluations(kept_cb) == evals  # keeping changes what is served, not the training
    best = max(v for _, v in evals)
    best_step = max(s for s, v in evals if v == best)
    assert kept_run.metrics["eval_return_mean"] == best
    assert kept_run.metrics["eval_policy_step"] == best_step
    assert kept_run.metrics["eval_last_return_mean"] == final
    assert [c[0] for c in kept_cb.checkpoints if c[1] == "best"][-1] == best_step
    # each served policy is the one whose evaluation its metrics report
    for run in (last_run, kept_run):
        pred = mlengine.load_predictor(run.artifact)
        # the engine's evaluation episodes (same seeds), played by the served policy
        assert greedy_return(pred, seed + EVAL_SEED_OFFSET, 4) == run.metrics["eval_return_mean"]


def test_normalized_observations_and_rewards_train_serve_and_resume() -> None:
    raw = {
        "model": {
            "type": "ppo",
            "params": {"n_steps": 64, "normalize_observations": True, "normalize_rewards": True},
        },
        "environment": {"id": "MountainCar-v0"},
        "training": {
            "total_timesteps": 2_048,
            "n_envs": 4,
            "checkpoint_every": 1_024,
            "eval_episodes": 1,
        },
        "seed": 0,
    }
    cb = RecordingCallbacks()
    result = mlengine.train(raw, None, cb)
    pred = mlengine.load_predictor(result.artifact)
    norm = pred.net.norm  # type: ignore[attr-defined]
    assert float(norm.count) >= 2_048  # every collected observation was seen
    # MountainCar's position lives around -0.5 and its speed within +-0.07
    assert -1.2 < float(norm.mean[0]) < 0.6 and float(norm.var[1]) < 0.01
    import torch

    obs = [[-0.5, 0.0], [0.3, 0.05]]
    x = torch.tensor(obs)
    with torch.no_grad():
        logits = pred.net.body((x - norm.mean) / torch.sqrt(norm.var + 1e-8))  # type: ignore[attr-defined]
    assert pred.predict(obs)["predictions"] == logits.argmax(-1).tolist()
    # the reward statistics are part of the checkpoint: a resumed run continues them
    periodic = [c for c in cb.checkpoints if c[1] == "periodic"]
    again = mlengine.train(raw, None, RecordingCallbacks(), resume=periodic[0][2])
    resumed_norm = mlengine.load_predictor(again.artifact).net.norm  # type: ignore[attr-defined]
    assert float(resumed_norm.count) == pytest.approx(float(norm.count))


def _fake_policy(obs_space: dict) -> mlengine.Predictor:
    from mlengine.rl.policy import PolicyPredictor

    meta = {
        "task": "reinforcement",
        "model_type": "q_learning",
        "inputs": [],
        "policy": {"type": "table", "values": "q"},
        "extra": {
            "observation_space": obs_space,
            "action_space": {"type": "discrete", "n": 2, "start": 0},
        },
    }
    return PolicyPredictor(meta, {"q": np.zeros((4, 2))})


def test_huge_integers_in_observations_are_input_errors() -> None:
    discrete = _fake_policy({"type": "discrete", "n": 4, "start": 0})
    for v in (10**400, -(10**400), 10**5000, 2**63):
        with pytest.raises(InputError, match="observation 1: state .* is out of range") as info:
            discrete.predict([0, v])
        assert len(str(info.value)) < 300
    assert discrete.predict([3])["predictions"] == [0]
    tup = _fake_policy(
        {
            "type": "tuple",
            "spaces": [
                {"type": "discrete", "n": 2, "start": 0},
                {"type": "discrete", "n": 2, "start": 0},
            ],
        }
    )
    with pytest.raises(InputError, match=r"observation 0\[1\]: state .* is out of range"):
        tup.predict([[0, 10**400]])
    box = _fake_policy({"type": "box", "shape": [2], "low": [None, None], "high": [None, None]})
    for obs in ([1.0, 10**400], [10**400, 1], [-(10**400), 0.0]):
        with pytest.raises(InputError, match="observation 0: value at index .* too large") as info:
            box.predict({"observations": [obs]})
        assert info.value.loc == ("observations",)


def test_a_huge_frozen_lake_map_is_refused_before_it_is_built() -> None:
    import time

    desc = ["S" + "F" * 998 + "F"] * 999 + ["F" * 999 + "G"]
    raw = _spec("q_learning", {"id": "FrozenLake-v1", "kwargs": {"desc": desc}})
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        _checked(raw)
    assert time.perf_counter() - start < 1.0
    err = info.value.errors[0]
    assert err["loc"] == ["environment", "kwargs", "desc"], info.value.errors
    assert "1000 x 1000" in err["msg"] and "256" in err["msg"] and "10000" in err["msg"]
    # a long thin map is past the side limit even under the cell limit
    with pytest.raises(SpecError, match="at most 256 rows"):
        _checked(_spec("dqn", {"id": "FrozenLake-v1", "kwargs": {"desc": ["S" + "F" * 299 + "G"]}}))
    # the limits are settings
    small = mlengine.Limits(max_env_cells=32)
    from gymnasium.envs.toy_text.frozen_lake import MAPS

    env = {"id": "FrozenLake-v1", "kwargs": {"desc": MAPS["8x8"]}}
    with pytest.raises(SpecError, match="8 x 8; .* 32 cells"):
        check_against_dataset(validate_spec(_spec("q_learning", env)), None, small)


def test_normal_maps_still_validate() -> None:
    from gymnasium.envs.toy_text.frozen_lake import MAPS

    for env in (
        {"id": "FrozenLake-v1", "kwargs": {"desc": MAPS["8x8"]}},
        {"id": "FrozenLake-v1", "kwargs": {"map_name": "8x8", "is_slippery": False}},
        {"id": "FrozenLake8x8-v1"},
        {"id": "CliffWalking-v1"},
        {"id": "Taxi-v3"},
        {"grid": {"map": ["S..", ".#.", "H.G"]}},
    ):
        _checked(_spec("q_learning", env))
        _checked(_spec("value_iteration", env))


def test_grid_worlds_and_tables_have_size_limits() -> None:
    limits = mlengine.Limits(max_env_side=4)
    with pytest.raises(SpecError) as info:
        check_against_dataset(
            validate_spec(_spec("q_learning", {"grid": {"map": ["S....G"]}})), None, limits
        )
    assert info.value.errors[0]["loc"] == ["environment", "grid", "map"]
    # Taxi: 500 states x 6 actions = 3000 table entries
    limits = mlengine.Limits(max_table_entries=2_999)
    for algo in ("q_learning", "value_iteration"):
        with pytest.raises(SpecError, match="500 x 6 = 3000 entries; at most 2999"):
            check_against_dataset(validate_spec(_spec(algo, {"id": "Taxi-v4"})), None, limits)
    # a user MDP: 3 states x 2 actions past a limit of 5
    mdp = {"transitions": [[[[1.0, 0, 0.0, True]]] * 2] * 3}
    with pytest.raises(SpecError, match="3 x 2 = 6 entries"):
        check_against_dataset(
            validate_spec(_spec("q_learning", {"mdp": mdp})),
            None,
            mlengine.Limits(max_table_entries=5),
        )
    # networks do not keep a table
    check_against_dataset(validate_spec(_spec("dqn", {"id": "Taxi-v4"})), None, limits)


def test_huge_kwargs_are_refused_without_walking_them() -> None:
    import time

    big = {"id": "FrozenLake-v1", "kwargs": {"reward_schedule": [[1, 0]] * 5_000_000}}
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        _checked(_spec("q_learning", big))
    assert time.perf_counter() - start < 1.0
    err = info.value.errors[0]
    assert err["loc"] == ["environment", "kwargs"] and "too large" in err["msg"], err
    # a long map is refused for its size, quickly, whatever it is made of
    with pytest.raises(SpecError, match="5000000 x 4"):
        _checked(
            _spec("q_learning", {"id": "FrozenLake-v1", "kwargs": {"desc": ["SFFG"] * 5_000_000}})
        )
    with pytest.raises(SpecError, match="too large"):
        _checked(_spec("ppo", {"id": "CartPole-v1", "kwargs": {"x": "y" * 200_000}}))


class _StopAt(RecordingCallbacks):
    """Asks to stop from its ``at``-th question on (trainers ask between rollouts, or every
    thousand steps)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.asked = at, 0

    def should_stop(self) -> bool:
        self.asked += 1
        return self.asked >= self.at


@pytest.mark.parametrize(
    ("algo", "env", "params", "total", "at"),
    [
        ("dqn", {"id": "CartPole-v1"}, {"learning_starts": 1_500}, 3_000, 2),
        ("ppo", {"id": "CartPole-v1"}, {"n_steps": 64}, 640, 3),
        ("a2c", {"id": "CartPole-v1"}, {"n_steps": 16}, 256, 4),
        ("reinforce", {"id": "CartPole-v1"}, {"n_steps": 32}, 320, 3),
        ("q_learning", {"id": "FrozenLake-v1"}, {}, 5_000, 2),
    ],
)
def test_a_stopped_run_keeps_a_final_checkpoint_and_resumes_from_it(
    algo: str, env: dict, params: dict, total: int, at: int
) -> None:
    raw = _spec(algo, env, total_timesteps=total, n_envs=1, eval_episodes=1)
    if algo == "q_learning":
        raw["training"].pop("n_envs")
    raw["model"]["params"] = params
    cb = _StopAt(at)
    with pytest.raises(TrainingStopped) as info:
        mlengine.train(raw, None, cb)
    stopped = int(str(info.value).rsplit(" ", 1)[-1])
    assert 0 < stopped < total
    finals = [c for c in cb.checkpoints if c[1] == "final"]
    assert [c[0] for c in finals] == [stopped], cb.checkpoints
    assert not [c for c in cb.checkpoints if c[1] == "periodic"]  # none at this cadence
    resumed = RecordingCallbacks()
    mlengine.train(raw, None, resumed, resume=finals[0][2])
    assert min(s for s, _, _ in resumed.metrics) > stopped
    assert resumed.progress[0][0] > stopped and resumed.progress[-1][0] == total
