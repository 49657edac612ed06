"""The routing comparison runs from its Hydra config: routers and PPO on the same episodes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from execgym.experiments.compare_routers import run
from execgym.experiments.lib.builders import build_env_factory, build_routers

ROUTERS = {"best_price", "liquidity_proportional", "score", "cont_kukanov"}


def compose_cfg(*overrides):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="compare_routers", overrides=list(overrides))


def test_routing_job_trains_ppo_and_compares_it_with_every_router_on_the_same_episodes(tmp_path):
    cfg = compose_cfg("n_episodes=4", "progress=false", "sides=[buy]", "env.params.horizon_s=120",
                      "env.params.decision_interval_s=20", "env.params.total_shares=6000",
                      "ppo.total_timesteps=128", "ppo.n_envs=2", "agent.n_steps=32", "agent.batch_size=32",
                      "eval.every_steps=64", "eval.n_episodes=2")
    table = run(cfg, tmp_path)["buy"]
    assert set(table.index) == ROUTERS | {"ppo"}
    assert table.loc["cont_kukanov", "vs cont_kukanov bps (paired, ± 95% CI)"] == "+0.000 ± 0.000"
    episodes = pd.read_csv(tmp_path / "buy" / "episodes.csv")
    assert len(episodes) == 5 * 4 and (episodes["side"] == "buy").all()
    # common random numbers: every policy met the same episode seeds
    assert episodes.groupby("policy")["seed"].apply(tuple).nunique() == 1
    assert {"fees_bps", "fill_rate", "latency_slippage_bps"} <= set(episodes.columns)
    assert (tmp_path / "buy" / "summary.md").read_text().count("|") > 30
    assert (tmp_path / "buy" / "ppo_final.zip").exists()
    tb = tmp_path / "tensorboard" / "buy"
    for run_dir in ["agent", "final", *(f"baseline_{r}" for r in ROUTERS)]:
        assert any((tb / run_dir).glob("events.out.tfevents.*")), run_dir


def test_routers_come_from_the_config_with_their_weights():
    cfg = compose_cfg("routers.score.w_latency=20.0", "routers.score.temperature_bps=0")
    _, env_config = build_env_factory(cfg.env)
    routers = build_routers(cfg.routers, env_config)
    assert set(routers) == ROUTERS
    assert routers["score"].w_latency == 20.0 and routers["score"].temperature_bps == 0.0
    with pytest.raises(ValueError, match="w_depth"):
        build_routers({"score": {"kind": "score", "w_depth": -1.0}}, env_config)
    with pytest.raises(ValueError, match="latency"):
        build_env_factory(compose_cfg("env.params.decision_interval_s=1.0", "env.params.horizon_s=10.0").env)
