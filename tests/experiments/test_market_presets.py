"""Every market preset in conf/market composes into an env's config through Hydra (its
schema checks every field) and runs: the book stays uncrossed and both sides trade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from execgym.envs.market.simulation.simulator import MarketSimulator
from execgym.experiments.lib.builders import build_env_factory

CONF = Path(__file__).resolve().parents[2] / "conf"
PRESETS = sorted(p.stem for p in (CONF / "market").glob("*.yaml"))


def test_the_presets_are_found():
    assert {"default", "goog_2012_06_21", "goog_2012_06_21_inside", "goog_2012_06_21_revisions"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_builds_an_env_and_simulates(name):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="compare_lob", overrides=["env=lob_execution", f"+market@env.params.market={name}"])
    _, config = build_env_factory(cfg.env)
    market = config.market
    sim = MarketSimulator(market, np.random.default_rng(0))
    sides = set()
    for _ in range(12):
        report = sim.advance(30.0)
        assert report.best_bid is None or report.best_ask is None or report.best_bid < report.best_ask
        sides |= set(report.trades["aggressor_side"].tolist())
    sim.book.check_invariants()
    assert sim.book.best_bid is not None and sim.book.best_ask is not None
    assert sides == {1, -1}  # buyers and sellers both cross


def test_an_env_group_passes_make_kwargs_to_the_env_and_refuses_bad_ones():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="compare_lob", overrides=["env=lob_goog_2012_06_21_patient"])
    make_env, config = build_env_factory(cfg.env)
    assert config.market.flow.cancel_size_factors and config.total_shares == 2000
    env = make_env()
    assert env.unwrapped._markets._lvl.shape[-1] == 4096  # the grid its price needs
    env.close()
    plain, _ = build_env_factory({k: v for k, v in cfg.env.items() if k != "make_kwargs"})
    assert plain().unwrapped._markets._lvl.shape[-1] == 2048
    for bad in ([4096], {"config": None}):
        with pytest.raises(ValueError, match="env.make_kwargs must be a mapping"):
            build_env_factory({**cfg.env, "make_kwargs": bad})


def test_the_most_realistic_market_runs_an_episode_in_its_env_group():
    # its near orders are cancelled at 4.5 times rho and its large deep ones at 0.38 times: the
    # order records must hold the patient ones (sized by the smallest factor, not the proposals')
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="compare_lob", overrides=["env=lob_goog_2012_06_21_scaled"])
    make_env, config = build_env_factory(cfg.env)
    flow = config.market.flow
    assert flow.best_anchor_scaled and flow.cancel_near_factor > 2 * max(flow.cancel_size_factors)
    env = make_env()
    env.action_space.seed(0)
    for seed in range(8):  # sized by the proposals' rate, the records ran out in the warm-up of seed 7
        env.reset(seed=seed)
    done, steps, shares = False, 0, 0.0
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done, steps, shares = terminated or truncated, steps + 1, shares + info["shares"]
    assert steps > 10 and "execution" in info
    assert shares + info.get("unfilled_at_horizon", 0.0) == pytest.approx(2000.0)
    env.close()


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_one_market_runs_an_episode_with_its_latent_orders_and_propagator(side):
    """``lob_goog_2012_06_21_latent``: the regimes market with latent liquidity and the
    propagator (both on in the env's market), an episode on each side executes its shares."""
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="compare_lob", overrides=["env=lob_goog_2012_06_21_latent", f"env.params.side={side}"])
    make_env, config = build_env_factory(cfg.env)
    assert config.market.flow.latent_frac > 0.0 and config.market.impact.propagator_ticks_per_share > 0.0
    assert config.market.flow.inside_regime_sigma > 0.0 and config.side == side
    env = make_env()
    env.action_space.seed(1)
    env.reset(seed=1)
    done, shares = False, 0.0
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done, shares = terminated or truncated, shares + info["shares"]
    assert shares + info.get("unfilled_at_horizon", 0.0) == pytest.approx(config.total_shares)
    env.close()
