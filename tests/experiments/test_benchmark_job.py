"""The benchmark command runs end to end on tiny budgets, writes every artefact, its
leaderboard is what the evaluation files say, and the same seed gives the same tables."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from scipy import stats

from execgym import envs  # noqa: F401  (registers the ids)
from execgym.experiments.benchmark import run, tasks_to_run
from execgym.experiments.lib.agents import build_agent, load_policy
from execgym.experiments.lib.builders import build_env_factory
from execgym.experiments.lib.hydra_callbacks import merge_leaderboards
from execgym.experiments.lib.leaderboard import seed_bootstrap, task_leaderboard

CONF = Path(__file__).resolve().parents[2] / "conf"
# two tasks: an agent trained in the simulator, and the replay with the sim-to-real row (it
# trains goog_sell's agents, which it evaluates); two training seeds, 8 episodes
TINY = ("benchmark.select=[sell_volatile,goog_replay]", "benchmark.train_seeds=2", "benchmark.budget_scale=0.002",
        "benchmark.eval.n_episodes=8", "benchmark.bootstrap_resamples=200")


def compose_cfg(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(config_name="benchmark", overrides=list(overrides))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same tiny benchmark twice with the same seed."""
    out = []
    for name in ("a", "b"):
        path = tmp_path_factory.mktemp(name)
        out.append((run(compose_cfg(*TINY), path), path))
    return out


def test_benchmark_writes_every_artefact(two_runs):
    board, out = two_runs[0]
    for name in ("leaderboard.md", "leaderboard.csv", "training.csv", "benchmark_config.yaml"):
        assert (out / name).stat().st_size > 0, name
    for task in ("sell_volatile", "goog_replay"):
        assert (out / "episodes" / f"{task}.csv").is_file()
        assert (out / "plots" / f"{task}.png").read_bytes()[:4] == b"\x89PNG"
    training = pd.read_csv(out / "training.csv")
    # each agent trained once per seed: sell_volatile's and goog_sell's (for the replay's transfer row)
    assert sorted(zip(training["task"], training["train_seed"])) == [("goog_sell", 0), ("goog_sell", 1),
                                                                     ("sell_volatile", 0), ("sell_volatile", 1)]
    assert (training["timesteps"] >= 1200).all()
    for task, agent, k in (("sell_volatile", "actor_critic_residual", 0), ("goog_sell", "actor_critic", 1)):
        logs = list((out / "tensorboard" / task / f"{agent}_seed{k}").rglob("events.out.tfevents.*"))
        assert logs, f"no TensorBoard events for {task} seed {k}"
        assert (out / "checkpoints" / task / f"{agent}_seed{k}.pt").is_file()
    md = (out / "leaderboard.md").read_text()
    assert "### sell_volatile" in md and "### goog_replay" in md and "actor_critic@goog_sell" in md
    baselines = {"twap", "twap_random", "vwap", "pov", "almgren_chriss", "stochastic_control", "robust"}
    assert set(board.loc["sell_volatile"].index) == baselines | {"actor_critic_residual"}
    assert "Scored by `risk_adjusted_cost_bps`" in md.split("### goog_replay")[0]
    assert set(board.loc["goog_replay"].index) == baselines | {"actor_critic@goog_sell"}


def test_leaderboard_is_recomputed_from_the_evaluation_files(two_runs):
    _, out = two_runs[0]
    board = pd.read_csv(out / "leaderboard.csv").set_index(["task", "policy"])
    for task in ("sell_volatile", "goog_replay"):
        ep = pd.read_csv(out / "episodes" / f"{task}.csv")
        assert ep.groupby(["policy", "train_seed"])["seed"].apply(lambda s: tuple(sorted(s))).nunique() == 1, \
            "every policy and training seed must play the same episode seeds"
        # sell_volatile is scored by the reward's cost (risk penalty included): minus the return
        ep["score"] = -ep["return"] if task == "sell_volatile" else ep["shortfall_bps"]
        wide = ep.pivot_table(index="seed", columns=["policy", "train_seed"], values="score")
        kinds = ep.groupby("policy")["kind"].first()
        base = [p for p in kinds.index if kinds[p] == "baseline"]
        means = {p: wide[p].to_numpy().mean() for p in base}
        best = min(means, key=means.get)
        for policy, kind in kinds.items():
            row = board.loc[(task, policy)]
            assert row["best_baseline"] == best
            x = wide[policy].to_numpy().T  # (training seeds, episodes)
            d_ref = x - wide["twap"].to_numpy().T
            d_best = x - wide[best].to_numpy().T
            if kind == "baseline":
                n = x.shape[1]
                for col, values in (("shortfall_bps", x[0]), ("vs_reference_bps", d_ref[0]), ("vs_best_bps", d_best[0])):
                    assert row[col] == pytest.approx(values.mean(), abs=1e-9)
                    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n)
                    prefix = col[: -len("_bps")] if col != "shortfall_bps" else col
                    if values.std() > 0:
                        assert row[f"{prefix}_ci_high"] - row[f"{prefix}_ci_low"] == pytest.approx(2 * half, rel=1e-9)
            else:
                assert x.shape[0] == 2 and row["n_seeds"] == 2
                # the IQM of two seeds' means is their mean
                assert row["shortfall_bps"] == pytest.approx(x.mean(axis=1).mean(), abs=1e-9)
                assert row["vs_reference_bps"] == pytest.approx(d_ref.mean(axis=1).mean(), abs=1e-9)
                assert row["vs_best_bps"] == pytest.approx(d_best.mean(axis=1).mean(), abs=1e-9)
                assert row["vs_best_ci_low"] <= row["vs_best_bps"] <= row["vs_best_ci_high"]
            assert bool(row["beats_best"]) == (row["vs_best_ci_high"] < 0)
    # the sim-to-real row: the replay's agents are goog_sell's, evaluated on the replay's episodes
    replay = pd.read_csv(out / "episodes" / "goog_replay.csv")
    assert set(replay.loc[replay["kind"] == "agent", "policy"]) == {"actor_critic@goog_sell"}


def test_same_seed_same_tables(two_runs):
    (board_a, out_a), (board_b, out_b) = two_runs
    pd.testing.assert_frame_equal(board_a, board_b)
    assert (out_a / "leaderboard.md").read_text() == (out_b / "leaderboard.md").read_text()
    for task in ("sell_volatile", "goog_replay"):
        assert (out_a / "episodes" / f"{task}.csv").read_bytes() == (out_b / "episodes" / f"{task}.csv").read_bytes()


def test_unknown_task_and_bad_protocol_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark task.*nope"):
        tasks_to_run(compose_cfg("only=nope"))
    with pytest.raises(ValueError, match="budget_scale"):
        run(compose_cfg("only=sell_volatile", "benchmark.budget_scale=2.0"), tmp_path)
    with pytest.raises(ValueError, match="reference policy 'nope' is not a baseline"):
        task_leaderboard(pd.DataFrame({"policy": ["twap"], "kind": ["baseline"], "train_seed": [-1], "seed": [1],
                                       "shortfall_bps": [1.0]}), reference="nope")


def test_seed_bootstrap():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 1.0, size=(5, 400))
    point, low, high = seed_bootstrap(x, n_resamples=500, seed=1)
    assert point == pytest.approx(stats.trim_mean(x.mean(axis=1), 0.25))
    assert low < point < high and high - low < 0.5
    assert seed_bootstrap(x, n_resamples=500, seed=1) == (point, low, high)  # seeded
    assert seed_bootstrap(np.full((3, 10), 1.5), n_resamples=200) == (1.5, 1.5, 1.5)
    with pytest.raises(ValueError, match=r"\(seeds, episodes\)"):
        seed_bootstrap(np.ones(4))


def test_a_resumed_sb3_agent_creates_no_log_folder(tmp_path, monkeypatch):
    # a model loaded to resume gets the quiet logger too (SB3's would create <tempdir>/SB3-<time>)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    env_cfg = {"id": "execgym/AlmgrenChriss-v0", "params": {"n_steps": 5}}
    _, config = build_env_factory(env_cfg)
    spec = {"kind": "ppo", "n_steps": 8, "batch_size": 32, "n_epochs": 1}
    agent = build_agent(spec, env_cfg["id"], config, seed=0, n_envs=4)
    agent.learn(32, lambda n: True)
    path = agent.save(tmp_path / "ppo")
    resumed = build_agent(spec, env_cfg["id"], config, seed=0, n_envs=4, resume_from=str(path))
    resumed.learn(64, lambda n: True)
    assert resumed.num_timesteps > agent.num_timesteps and not list(tmp_path.glob("SB3-*"))


def test_a_residual_agent_saves_and_loads_acting_in_the_env_actions(tmp_path):
    env_cfg = {"id": "execgym/LOBExecutionPlacement-v0", "params": {"total_shares": 5000, "horizon_s": 300.0}}
    make_env, config = build_env_factory(env_cfg)
    agent = build_agent({"kind": "ppo", "n_steps": 8, "batch_size": 32, "n_epochs": 1, "residual": {}},
                        env_cfg["id"], config, seed=0, n_envs=4)
    agent.learn(64, lambda n: True)
    path = agent.save(tmp_path / "ppo_residual")
    env = make_env()
    loaded = load_policy(path, env_cfg["id"], env)
    obs, _ = env.reset(seed=5)
    for _ in range(5):
        a, _ = agent.policy.predict(obs, deterministic=True)
        b, _ = loaded.predict(obs, deterministic=True)
        np.testing.assert_array_equal(a, b)
        assert env.action_space.contains(a)
        obs, *_ = env.step(a)
    with pytest.raises(ValueError, match="residual actions around TWAP"):
        load_policy(path)
    with pytest.raises(ValueError, match="unknown keys"):
        build_agent({"kind": "ppo", "residual": {"multiplier": 2}}, env_cfg["id"], config, seed=0, n_envs=2)


def test_a_multirun_over_tasks_gets_one_leaderboard(two_runs, tmp_path):
    board, out = two_runs[0]
    csv = pd.read_csv(out / "leaderboard.csv")
    for k, task in enumerate(("goog_replay", "sell_volatile")):  # one job per task, as -m only=... runs them
        job = tmp_path / str(k)
        job.mkdir()
        csv[csv["task"] == task].to_csv(job / "leaderboard.csv", index=False)
        (job / "benchmark_config.yaml").write_bytes((out / "benchmark_config.yaml").read_bytes())
    merged = merge_leaderboards(tmp_path, "twap")
    pd.testing.assert_frame_equal(merged.sort_index(), pd.read_csv(out / "leaderboard.csv",
                                                                   index_col=["task", "policy"]).sort_index())
    md = (tmp_path / "leaderboard.md").read_text()
    assert "### goog_replay" in md and "### sell_volatile" in md and "Scored by `risk_adjusted_cost_bps`" in md
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "leaderboard.csv").write_bytes((tmp_path / "0" / "leaderboard.csv").read_bytes())
    (tmp_path / "2" / "benchmark_config.yaml").write_bytes((out / "benchmark_config.yaml").read_bytes())
    with pytest.raises(ValueError, match="'goog_replay' ran in more than one job"):
        merge_leaderboards(tmp_path, "twap")
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="benchmark", return_hydra_config=True)
    assert cfg.hydra.callbacks.merge_leaderboards._target_.endswith("MergeLeaderboards")
