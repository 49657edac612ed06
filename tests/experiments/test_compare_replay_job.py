"""The baseline comparison job runs in the historical replay from its Hydra config."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

from execgym.experiments.compare_baselines import run
from execgym.experiments.lib.builders import build_baselines, build_env_factory


def compose_replay(*overrides):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="compare_replay", overrides=list(overrides))


def test_replay_comparison_evaluates_four_baselines_on_both_sides(tmp_path):
    cfg = compose_replay("n_episodes=4", "progress=false", "env.params.horizon_s=300",
                         "env.params.total_shares=1000", "report.policies=[]")
    tables = run(cfg, tmp_path)
    assert set(tables) == {"sell", "buy"}
    for side, table in tables.items():
        assert set(table.index) == {"twap", "vwap", "pov", "almgren_chriss"}
        episodes = pd.read_csv(tmp_path / side / "episodes.csv")
        assert len(episodes) == 4 * 4 and (episodes["side"] == side).all()
        # common random numbers: every policy meets the same recorded windows, hence the same market VWAP
        # up to its own marketable trades, and all complete the order
        assert episodes.groupby("episode")["seed"].nunique().eq(1).all()
        assert (episodes["executed_shares"] == 1000).all()


def test_almgren_chriss_is_calibrated_from_the_recorded_day():
    cfg = compose_replay()
    make_env, env_config = build_env_factory(cfg.env)
    policies = build_baselines(cfg.baselines, make_env().unwrapped.task, env_config)
    model = policies["almgren_chriss"]
    assert model.task.side == "sell"
    p = model.params
    assert p.gamma == 0.0 and p.eta > 0 and p.sigma > 0 and p.epsilon > 0
    # the schedule trades faster than TWAP early on (risk aversion > 0 with these parameters)
    assert model.target_holdings[1] < model.target_holdings[0] * (1 - 1 / model.task.n_steps)
