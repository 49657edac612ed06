"""Empirical order sizes: the flow draws each order's size from a table (round lots and all),
the table is fitted from a recorded day, and bad tables are refused naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from execgym.envs.market.analysis.calibration.flow import calibrate_flow, empirical_sizes
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig

LIMIT = ((100.0, 37.0, 300.0), (0.5, 0.3, 0.2))  # shares, probabilities
MARKET = ((100.0, 5.0), (0.6, 0.4))


def _mean(table):
    sizes, probs = (np.asarray(x) for x in table)
    return float((sizes * probs).sum() / probs.sum())


def empirical_flow(**kw):
    return FlowConfig(size_distribution="empirical", limit_sizes_shares=LIMIT[0], limit_size_probs=LIMIT[1],
                      market_sizes_shares=MARKET[0], market_size_probs=MARKET[1],
                      mean_limit_size_shares=_mean(LIMIT), mean_market_size_shares=_mean(MARKET), **kw)


def test_the_flow_draws_limit_and_market_sizes_from_their_tables():
    cfg = SimulatorConfig(flow=empirical_flow(), warmup_s=60.0)
    day = simulate_day(cfg, np.random.default_rng(0), 900.0, dt_s=60.0, levels=5, open_time_s=0.0)
    m = day.messages
    submitted = m.loc[m["type"] == 1, "size_shares"].to_numpy()
    assert len(submitted) > 5000
    for size, p in zip(*LIMIT):
        share = np.mean(submitted == size)
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / len(submitted)) + 0.01, (size, share, p)
    assert set(np.unique(submitted)) <= set(LIMIT[0])  # every agent-free submission is a table size
    executed = m.loc[m["type"] == 4, "size_shares"].to_numpy()
    assert executed.max() <= 100  # market orders of 100 or 5 shares fill at most 100 shares per message


@pytest.mark.parametrize("probs", [(0.5, 0.3, 0.2), (1.0,), (0.0, 0.999, 0.0, 0.001), tuple(np.arange(1.0, 130.0))])
def test_the_alias_table_draws_each_entry_with_its_probability(probs):
    """Vose's alias table: the exact probability of each entry (integrated over u) is its
    share, zeros included, and draws through the kernel match it (chi-square)."""
    from scipy import stats

    from execgym.envs.market.simulation import rng as R
    from execgym.envs.market.simulation.flow import alias_table

    p = np.asarray(probs) / np.sum(probs)
    keep, alias = alias_table(np.asarray(probs))
    n = len(p)
    exact = keep / n
    np.add.at(exact, alias, (1.0 - keep) / n)
    np.testing.assert_allclose(exact, p, atol=1e-12)
    assert np.all((keep >= 0.0) & (keep <= 1.0 + 1e-12)) and np.all(p[alias[keep < 1.0]] > 0.0)
    # through the flow's size draw: the table's rows as flow_params lays them out, sizes 1..n lots
    from execgym.envs.market.simulation import flow as F

    fp, _, _ = F.flow_params(empirical_flow(), F.ImpactConfig(), 1)
    sizes = np.ones((6, n))
    sizes[F.SZ_LIMIT], sizes[F.SZ_LIMIT + 1], sizes[F.SZ_LIMIT + 2] = keep, alias, np.arange(1, n + 1)
    rs = R.new_state(np.random.default_rng(4))
    draws = [F._size_lots(rs, fp, sizes, F.SZ_LIMIT, F.P_P_LIMIT, F.P_LIMIT_LOTS, 0.0) - 1 for _ in range(40_000)]
    counts = np.bincount(draws, minlength=n)
    assert np.all(counts[p == 0.0] == 0)
    seen = p > 0.0
    if seen.sum() > 1:
        assert stats.chisquare(counts[seen], 40_000 * p[seen]).pvalue > 0.001


@pytest.mark.parametrize("kw, match", [
    (dict(limit_size_probs=(0.5, 0.5)), "one length"),
    (dict(limit_sizes_shares=(100.0, -1.0, 300.0)), "finite and > 0"),
    (dict(limit_size_probs=(0.0, 0.0, 0.0)), "not all 0"),
    (dict(mean_limit_size_shares=90.0), r"must be the empirical table's mean 121\.1"),
])
def test_bad_tables_are_refused_naming_the_problem(kw, match):
    base = dict(size_distribution="empirical", limit_sizes_shares=LIMIT[0], limit_size_probs=LIMIT[1],
                market_sizes_shares=MARKET[0], market_size_probs=MARKET[1], mean_limit_size_shares=_mean(LIMIT),
                mean_market_size_shares=_mean(MARKET))
    with pytest.raises(ValueError, match=match):
        FlowConfig(**{**base, **kw})
    with pytest.raises(ValueError, match="need size_distribution='empirical'"):
        FlowConfig(limit_sizes_shares=(100.0,), limit_size_probs=(1.0,))
    with pytest.raises(ValueError, match="whole multiples of the lot"):
        MarketSimulator(SimulatorConfig(flow=empirical_flow(), lot_size=3), np.random.default_rng(0))


def test_a_table_keeps_the_most_frequent_sizes_and_lumps_the_rest():
    sample = np.r_[np.full(500, 100), np.full(200, 200), np.arange(1, 301)]  # two round lots and a tail
    sizes, counts = empirical_sizes(sample, max_values=10)
    assert len(sizes) == 10 and sum(counts) == len(sample)
    assert dict(zip(sizes, counts))[100.0] == 501 and dict(zip(sizes, counts))[200.0] == 201
    assert _mean((sizes, counts)) == pytest.approx(sample.mean(), rel=0.01)
    assert empirical_sizes(np.array([5, 5, 7])) == ((5.0, 7.0), (2.0, 1.0))
    with pytest.raises(ValueError, match=">= 1 share"):
        empirical_sizes(np.array([0, 5]))


def test_calibrating_empirical_sizes_to_goog_reproduces_its_round_lots():
    d = sample_lobster_dir()
    real = load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                        d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz", start_s=34_200.0,
                        end_s=36_000.0)
    cal = calibrate_flow(real, 60, match="depth", bucket_s=300.0, sizes="empirical")
    assert cal.flow.size_distribution == "empirical" and 100.0 in cal.flow.limit_sizes_shares
    written = yaml.safe_load(yaml.safe_dump(cal.market_config(0.01, 58_000.5, 120.0)))  # a YAML round trip
    cfg = SimulatorConfig.from_mapping(written)
    assert cfg.flow.limit_sizes_shares == cal.flow.limit_sizes_shares
    sim = simulate_day(cfg, np.random.default_rng(1), 900.0, dt_s=60.0, levels=10, open_time_s=34_200.0)
    m, r = sim.messages, real.messages
    real_round = np.mean(r.loc[(r["type"] == 1) & (r["time_s"] < 36_000.0), "size_shares"] == 100)
    sim_round = np.mean(m.loc[m["type"] == 1, "size_shares"] == 100)
    assert real_round > 0.4 and abs(sim_round - real_round) < 0.12  # geometric sizes give about 0.3%
