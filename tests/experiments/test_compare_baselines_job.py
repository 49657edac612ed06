"""The README's main job runs from its Hydra config and writes its outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from scipy import stats

from execgym.experiments.compare_baselines import run
from execgym.experiments.lib.builders import build_env_factory


def compose_cfg(*overrides):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="compare_baselines", overrides=list(overrides))


@pytest.mark.parametrize("env", ["almgren_chriss", "almgren_chriss_discrete"])
def test_main_job_compares_all_baselines_and_writes_outputs(tmp_path, env):
    cfg = compose_cfg(f"env={env}", "n_episodes=30", "progress=false", "env.params.n_steps=10")
    table = run(cfg, tmp_path)["sell"]  # `sides` (default [sell]) overrides env.params.side
    assert set(table.index) == {"twap", "twap_random", "vwap", "pov", "almgren_chriss"}
    episodes = pd.read_csv(tmp_path / "sell" / "episodes.csv")
    assert len(episodes) == 5 * 30 and (episodes["side"] == "sell").all()
    assert (tmp_path / "sell" / "summary.md").read_text().count("|") > 20
    for name in ["almgren_chriss", "twap", "vwap", "pov"]:
        assert (tmp_path / "sell" / "reports" / f"{name}_execution.png").exists()
    # the paired difference to TWAP, recomputed from the episodes with scipy's paired t-test
    column = "vs twap bps, paired (95% CI)"
    assert table.at["twap", column] == "reference"
    ref = episodes[episodes["policy"] == "twap"].set_index("seed")["shortfall_bps"]
    mine = episodes[episodes["policy"] == "almgren_chriss"].set_index("seed")["shortfall_bps"].loc[ref.index]
    ci = stats.ttest_rel(mine, ref).confidence_interval(0.95)
    assert table.at["almgren_chriss", column] == f"{(mine - ref).mean():+.2f} [{ci.low:+.2f}, {ci.high:+.2f}]"
    assert column in (tmp_path / "sell" / "summary.md").read_text()


def test_a_reference_policy_that_was_not_evaluated_is_refused_by_name(tmp_path):
    cfg = compose_cfg("n_episodes=4", "progress=false", "env.params.n_steps=10", "reference_policy=twapp",
                      "report.policies=[]")
    with pytest.raises(ValueError, match="'twapp' is not in the evaluation"):
        run(cfg, tmp_path)


def test_a_bad_env_value_fails_before_any_simulation_with_its_name():
    cfg = compose_cfg("env.params.eta=-1.0")
    with pytest.raises(ValueError, match="eta"):
        build_env_factory(cfg.env)
    with pytest.raises(ValueError, match="env.id"):
        build_env_factory(OmegaConf.create({"id": "CartPole-v1", "params": {}}))


def test_lob_comparison_evaluates_four_baselines_on_both_sides(tmp_path):
    cfg = compose_lob("n_episodes=8", "progress=false", "env.params.horizon_s=300",
                      "env.params.total_shares=5000", "report.policies=[vwap]")
    tables = run(cfg, tmp_path)
    assert set(tables) == {"sell", "buy"}
    for side, table in tables.items():
        assert set(table.index) == {"twap", "vwap", "pov", "almgren_chriss"}
        assert {"shortfall bps (mean ± 95% CI)", "shortfall std bps", "vs market VWAP bps",
                "VWAP tracking RMS bps", "participation %"} <= set(table.columns)
        episodes = pd.read_csv(tmp_path / side / "episodes.csv")
        assert len(episodes) == 4 * 8 and (episodes["side"] == side).all()
        assert (tmp_path / side / "reports" / "vwap_execution.png").exists()


def compose_lob(*overrides):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="compare_lob", overrides=list(overrides))


def test_the_advanced_baselines_run_through_the_same_evaluation_for_both_sides(tmp_path):
    cfg = compose_cfg("baselines=advanced", "n_episodes=8", "progress=false", "env.params.n_steps=10",
                      "sides=[buy,sell]", "report.policies=[robust]")
    tables = run(cfg, tmp_path)
    names = {"twap", "almgren_chriss", "stochastic_control", "stochastic_control_hjb", "stochastic_control_concave",
             "robust"}
    for side in ("buy", "sell"):
        assert set(tables[side].index) == names
        episodes = pd.read_csv(tmp_path / side / "episodes.csv")
        assert len(episodes) == 6 * 8 and np.allclose(episodes["executed_shares"], 1e6)
        assert (tmp_path / side / "reports" / "robust_execution.png").exists()
        # the closed form and its dynamic program (discrete time, 10 steps) trade nearly alike on the same episodes
        mean = episodes.groupby("policy")["shortfall_bps"].mean()
        assert mean["stochastic_control_hjb"] == pytest.approx(mean["stochastic_control"], rel=0.02)
