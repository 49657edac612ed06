"""execgym.experiments.train: outputs, TensorBoard series, checkpoints, resume, multirun aggregation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from execgym.experiments.agents_vs_optimum import part_ac
from execgym.experiments.lib.builders import build_baselines, build_env_factory
from execgym.experiments.lib.evaluation import evaluate_policy
from execgym.experiments.lib.tensorboard_eval import TAGS, eval_metrics
from execgym.experiments.train import run

ROOT = Path(__file__).resolve().parents[2]
TINY = ["total_timesteps=1600", "n_envs=16", "eval.every_steps=800", "eval.n_episodes=6",
        "final_eval.n_episodes=10", "checkpoint_every_steps=800"]


def compose_train(*overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return compose(config_name="train", overrides=[*TINY, *overrides])


def scalars(run_dir: Path) -> dict[str, list]:
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("agent, env", [("actor_critic", "almgren_chriss_discrete"), ("ppo", "almgren_chriss")])
def test_train_writes_table_checkpoints_and_shared_tensorboard_tags(tmp_path, agent, env):
    cfg = compose_train(f"agent={agent}", f"env={env}")
    table, objective = run(cfg, tmp_path)
    assert agent in table.index and {"twap", "vwap", "pov", "almgren_chriss"} <= set(table.index)
    assert objective > 0
    episodes = pd.read_csv(tmp_path / "evaluation.csv")
    assert set(episodes["run_agent"]) == {agent} and len(episodes) == 10 * len(table)
    assert any((tmp_path / "checkpoints").glob(f"{agent}_final.*"))
    periodic = [p for p in (tmp_path / "checkpoints").iterdir() if "final" not in p.name]
    assert periodic and all(p.name.startswith(agent) and p.name.endswith("_steps" + p.suffix) for p in periodic)
    tb = tmp_path / "tensorboard"
    agent_series = scalars(tb / "agent")
    assert set(TAGS) - {"eval/participation"} <= set(agent_series)
    assert len(agent_series["eval/shortfall_bps_mean"]) >= 2  # a learning curve, not a point
    # every baseline is logged under the same tags, with the values of its own evaluation
    make_env, env_config = build_env_factory(cfg.env)
    task = make_env().unwrapped.task
    for name, policy in build_baselines(cfg.baselines, task, env_config).items():
        series = scalars(tb / f"baseline_{name}")
        assert set(series) == {t for t in agent_series if t.startswith("eval/")}
        assert {t for t in agent_series if t.startswith("hparam/")}  # the HParams view
        expected = eval_metrics(evaluate_policy(policy, make_env, 6, 1000, name), task.total_shares)
        for tag, value in expected.items():
            assert series[tag][0][1] == pytest.approx(value, rel=1e-5)
    hparams = list((tb / "agent").glob("**/events.out.tfevents*"))
    assert len(hparams) >= 2  # the scalar log and the HParams summary
    # the learner's own logs: SB3's (through VecMonitor) or the actor-critic's, under SB3's tag names
    (own,) = [p for p in (tb / "train").iterdir() if p.is_dir()]
    learner = scalars(own)
    wanted = {"rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "train/entropy_loss" if agent == "ppo"
              else "train/entropy", "train/value_loss", "train/explained_variance",
              "train/policy_gradient_loss" if agent == "ppo" else "train/policy_loss"}
    assert wanted <= set(learner), sorted(learner)
    assert all(np.isfinite(v) for _, v in learner["rollout/ep_rew_mean"])
    if agent == "actor_critic":
        assert [s for s, _ in learner["train/value_loss"]] == sorted({s for s, _ in learner["train/value_loss"]})
        assert all(v <= 1.0 for _, v in learner["train/explained_variance"])


def _final_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "actor_critic_final.pt", weights_only=True)


def _assert_same_training(a: dict, b: dict) -> None:
    """Bit-for-bit equal weights, optimiser and step count of two actor-critic checkpoints."""
    assert a["num_timesteps"] == b["num_timesteps"]
    for net in ("actor", "critic"):
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key)
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert torch.equal(a["obs_rms"]["mean"], b["obs_rms"]["mean"])


@pytest.mark.parametrize("env", ["almgren_chriss_discrete", "lob_execution_discrete", "lob_replay"])
def test_a_resumed_run_trains_to_the_original_total_and_ends_bit_for_bit_as_the_uninterrupted_one(tmp_path, env):
    extra = ["baselines=lob", "env.params.horizon_s=300", "env.params.total_shares=5000"] if "lob" in env else []
    extra += ["env.params.action=participation"] if env == "lob_replay" else []  # discrete, for the actor-critic
    full = compose_train(f"env={env}", *extra, "total_timesteps=3200", "checkpoint_every_steps=800",
                         "n_envs=8", "eval.every_steps=0")
    table, _ = run(full, tmp_path / "full")
    assert table.attrs["trained_timesteps"] == 3200
    midway = tmp_path / "full" / "checkpoints" / "actor_critic_800_steps.pt"
    assert midway.is_file()
    resumed = compose_train(f"env={env}", *extra, "total_timesteps=3200", "checkpoint_every_steps=800",
                            "n_envs=8", "eval.every_steps=0", f"resume_from={midway}")
    again, _ = run(resumed, tmp_path / "resumed")
    assert again.attrs["trained_timesteps"] == 3200  # the original total, not 800 more
    _assert_same_training(_final_state(tmp_path / "full"), _final_state(tmp_path / "resumed"))
    first = pd.read_csv(tmp_path / "full" / "evaluation.csv")
    pd.testing.assert_frame_equal(first, pd.read_csv(tmp_path / "resumed" / "evaluation.csv"))
    # resuming a finished run trains nothing more
    done, _ = run(compose_train(f"env={env}", *extra, "total_timesteps=3200", "n_envs=8", "eval.every_steps=0",
                                f"resume_from={tmp_path / 'full' / 'checkpoints' / 'actor_critic_final.pt'}"),
                  tmp_path / "done")
    assert done.attrs["trained_timesteps"] == 3200


SB3_RESUME_CASES = {
    "ppo": ["agent=ppo", "agent.n_steps=32", "agent.batch_size=64"],
    # off-policy: the replay buffer, the warm-up actions' RNG and the updates after learning_starts
    "sac": ["agent=sac", "agent.learning_starts=100", "agent.batch_size=32", "agent.buffer_size=2000"],
    # TD3 resumes in its warm-up (random actions from the action space's RNG) at 256 of 300 steps
    "td3": ["agent=td3", "agent.learning_starts=300", "agent.batch_size=32", "agent.buffer_size=2000"],
}


@pytest.mark.parametrize("env,agent", [("almgren_chriss", "ppo"), ("lob_execution", "ppo"),
                                       ("almgren_chriss", "sac"), ("lob_execution", "td3"),
                                       ("lob_replay", "ppo")])  # SyncVectorEnv snapshots
def test_a_resumed_sb3_run_ends_bit_for_bit_as_the_uninterrupted_one(tmp_path, env, agent):
    extra = ["baselines=lob", "env.params.horizon_s=300", "env.params.total_shares=5000"] if "lob" in env else []
    common = [f"env={env}", *extra, *SB3_RESUME_CASES[agent], "n_envs=4",
              "total_timesteps=512", "checkpoint_every_steps=256", "eval.every_steps=0"]
    run(compose_train(*common), tmp_path / "full")
    midway = tmp_path / "full" / "checkpoints" / f"{agent}_256_steps.zip"
    assert midway.is_file()
    run(compose_train(*common, f"resume_from={midway}"), tmp_path / "resumed")
    from execgym.agents.sb3 import SB3_ALGORITHMS

    cls = SB3_ALGORITHMS[agent][0]
    full = cls.load(tmp_path / "full" / "checkpoints" / f"{agent}_final.zip", device="cpu")
    resumed = cls.load(tmp_path / "resumed" / "checkpoints" / f"{agent}_final.zip", device="cpu")
    assert full.num_timesteps == resumed.num_timesteps == 512
    for key, value in full.policy.state_dict().items():
        assert torch.equal(value, resumed.policy.state_dict()[key]), key
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "full" / "evaluation.csv"),
                                  pd.read_csv(tmp_path / "resumed" / "evaluation.csv"))


@pytest.mark.parametrize("override, match", [("seed=1", "seed: checkpoint 0, this run 1"),
                                             ("n_envs=16", "n_envs: checkpoint 8, this run 16"),
                                             ("env=almgren_chriss_rl", "trained on another env.*n_steps")])
def test_resume_refuses_a_checkpoint_of_another_run_naming_both_sides(tmp_path, override, match):
    run(compose_train("env=almgren_chriss_discrete", "n_envs=8", "total_timesteps=512", "eval.every_steps=0"),
        tmp_path / "a")
    ckpt = tmp_path / "a" / "checkpoints" / "actor_critic_final.pt"
    cfg = compose_train("env=almgren_chriss_discrete", "n_envs=8", "total_timesteps=1024", override,
                        f"resume_from={ckpt}")
    with pytest.raises(ValueError, match=match):
        run(cfg, tmp_path / "b")


@pytest.mark.parametrize("override, error", [("seed=1.5", TypeError), ("seed=-1", ValueError),
                                             ("total_timesteps=0", ValueError), ("total_timesteps=true", TypeError),
                                             ("checkpoint_every_steps=-5", ValueError),
                                             ("eval.every_steps=-1", ValueError), ("n_envs=2.0", TypeError),
                                             ("final_eval.n_episodes=0", ValueError)])
def test_bad_budgets_and_intervals_are_refused_before_anything_runs(tmp_path, override, error):
    key, value = override.split("=")
    with pytest.raises(error, match=rf"{key} must be"):
        run(compose_train(override), tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_the_budget_is_rounded_up_to_whole_updates_and_reported(tmp_path, caplog):
    caplog.set_level("INFO")
    cfg = compose_train("total_timesteps=2000", "n_envs=16", "agent.n_steps=7")
    table, _ = run(cfg, tmp_path)
    per_update = 16 * 7
    expected = -(-2000 // per_update) * per_update
    assert table.attrs["trained_timesteps"] == expected
    assert f"total_timesteps=2000 trains {expected} steps" in caplog.text


def test_multirun_over_two_seeds_and_two_agents_writes_one_table(tmp_path):
    cmd = [sys.executable, "-m", "execgym.experiments.train", "-m", "seed=0,1", "agent=actor_critic,ppo",
           *TINY, "final_eval.n_episodes=5", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(tmp_path / "evaluation_all.csv")
    runs = table.groupby(["run_agent", "run_seed"]).size()
    assert set(runs.index) == {("actor_critic", 0), ("actor_critic", 1), ("ppo", 0), ("ppo", 1)}
    assert "ppo" in (tmp_path / "evaluation_all.md").read_text()
    _check_seed_aggregate(tmp_path, table, {"actor_critic", "ppo"})


def _check_seed_aggregate(sweep_dir: Path, episodes: pd.DataFrame, agents: set[str]) -> None:
    """The multirun's aggregate over seeds, recomputed by hand (2 seeds: the IQM is the mean)."""
    seeds = pd.read_csv(sweep_dir / "evaluation_seeds.csv", index_col="agent")
    assert set(seeds.index) == agents and (seeds["n_seeds"] == 2).all()
    for agent in agents:
        runs = episodes[episodes["run_agent"] == agent]
        per_seed = [g[g["policy"] == agent]["shortfall_bps"].mean() for _, g in runs.groupby("run_seed")]
        paired = []
        for _, g in runs.groupby("run_seed"):
            ref = g[g["policy"] == "twap"].set_index("seed")["shortfall_bps"]
            paired.append((g[g["policy"] == agent].set_index("seed")["shortfall_bps"].loc[ref.index] - ref).mean())
        assert seeds.at[agent, "shortfall_bps_iqm"] == pytest.approx(np.mean(per_seed))
        assert seeds.at[agent, "shortfall_bps_vs_twap_iqm"] == pytest.approx(np.mean(paired))
        low, high = seeds.at[agent, "shortfall_bps_vs_twap_iqm_ci_low"], seeds.at[agent, "shortfall_bps_vs_twap_iqm_ci_high"]
        assert min(paired) - 1e-9 <= low <= high <= max(paired) + 1e-9  # a bootstrap of 2 seeds stays between them
    assert "IQM" in (sweep_dir / "evaluation_seeds.md").read_text()
    assert "vs_twap_bps" in (sweep_dir / "evaluation_all.md").read_text()


def test_submitit_local_multirun_over_two_seeds_runs_end_to_end(tmp_path):
    """hydra/launcher=submitit_local: the cluster launcher's code path (pickled jobs in new processes)."""
    cmd = [sys.executable, "-m", "execgym.experiments.train", "-m", "seed=0,1", "hydra/launcher=submitit_local",
           *TINY, "final_eval.n_episodes=5", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Submitit 'local' sweep" in proc.stdout + proc.stderr
    table = pd.read_csv(tmp_path / "evaluation_all.csv")
    assert set(table["run_seed"]) == {0, 1}
    assert any((tmp_path / ".submitit").iterdir())  # submitit's own job records
    _check_seed_aggregate(tmp_path, table, {"actor_critic"})


@pytest.mark.parametrize("launcher, target", [("local", "JoblibLauncher"), ("slurm", "SlurmLauncher"),
                                              ("submitit_local", "LocalLauncher")])
def test_every_launcher_composes_with_the_train_config(launcher, target):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        cfg = compose(config_name="train", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(target)
    if launcher == "local":
        assert cfg.hydra.launcher.n_jobs == 2


def test_the_final_table_shows_the_paired_difference_to_twap(tmp_path):
    table, _ = run(compose_train(), tmp_path)
    episodes = pd.read_csv(tmp_path / "evaluation.csv")
    ref = episodes[episodes["policy"] == "twap"].set_index("seed")["shortfall_bps"]
    mine = episodes[episodes["policy"] == "actor_critic"].set_index("seed")["shortfall_bps"].loc[ref.index]
    assert table.at["actor_critic", "vs twap bps, paired (95% CI)"].startswith(f"{(mine - ref).mean():+.2f} [")
    assert "vs twap bps, paired" in (tmp_path / "evaluation.md").read_text()


def test_agents_vs_optimum_smoke():
    df = part_ac({"ppo": 256, "actor_critic": 640}, episodes=20, seed=0)
    assert list(df["agent"]) == ["ppo", "actor_critic"]
    assert (df["ac_optimum_bps"] > 0).all() and df["gap_stderr_%"].notna().all()


def test_evaluate_compares_checkpoints_with_baselines_on_the_same_seeds(tmp_path):
    from execgym.experiments.evaluate import run as evaluate_run

    run(compose_train(), tmp_path / "train")
    ckpt = tmp_path / "train" / "checkpoints" / "actor_critic_final.pt"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        cfg = compose(config_name="evaluate", overrides=[f"+checkpoints.mine={ckpt}", "n_episodes=8"])
    table = evaluate_run(cfg, tmp_path / "eval")
    assert "mine" in table.index and "almgren_chriss" in table.index
    episodes = pd.read_csv(tmp_path / "eval" / "evaluation.csv")
    assert episodes.groupby("policy")["seed"].apply(tuple).nunique() == 1  # same seeds for all


def test_optuna_sweep_runs_and_reports_a_best_value(tmp_path):
    cmd = [sys.executable, "-m", "execgym.experiments.train", "-m", "hydra/sweeper=optuna_actor_critic",
           "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1", *TINY, "final_eval.n_episodes=4",
           f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best_value" in (tmp_path / "optimization_results.yaml").read_text()


def test_training_on_the_lob_environment_uses_its_native_vector_env(tmp_path):
    from execgym.envs.lob_vector import LOBExecutionVectorEnv
    from execgym.experiments.lib.agents import make_vector_env

    cfg = compose_train("env=lob_execution_discrete", "baselines=lob", "env.params.horizon_s=300",
                        "env.params.total_shares=5000")
    make_env, env_config = build_env_factory(cfg.env)
    assert isinstance(make_vector_env(cfg.env.id, env_config, 2), LOBExecutionVectorEnv)
    table, _ = run(cfg, tmp_path)
    assert {"actor_critic", "twap", "vwap", "pov", "almgren_chriss"} == set(table.index)
