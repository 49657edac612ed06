"""Paired differences to a reference policy and the seed aggregate, checked against
independent computations (scipy's paired t-test, a hand-written interquartile mean)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from execgym.experiments.lib.evaluation import summarize
from execgym.experiments.lib.statistics import (
    iqm,
    paired_differences,
    seed_aggregate,
    stratified_bootstrap_ci,
)
from execgym.experiments.lib.tables import comparison_table


def _episodes(rng: np.random.Generator, n: int = 40, shift: dict | None = None) -> pd.DataFrame:
    """Three policies on the same episode seeds, sharing a common market noise per seed."""
    shift = shift or {"twap": 0.0, "vwap": 1.5, "agent": -2.0}
    seeds = rng.permutation(10_000)[:n]
    common = rng.normal(0, 50, n)  # the market both meet: large, and cancelled by pairing
    frames = []
    for name, mu in shift.items():
        order = rng.permutation(n)  # rows of each policy in a different order: pairing is by seed
        value = mu + common + rng.normal(0, 2, n)
        frames.append(pd.DataFrame({
            "policy": name, "episode": order, "seed": seeds[order], "side": "sell",
            "shortfall_bps": value[order], "shortfall_usd": value[order] * 100, "executed_shares": 1000.0,
            "avg_fill_price": 100.0, "market_vwap": 100.0, "vwap_slippage_bps": value[order] / 2,
            "participation": 0.05, "mv_cost_bps": value[order], "return": -value[order]}))
    return pd.concat(frames, ignore_index=True)


def test_paired_difference_equals_scipys_paired_t_interval():
    episodes = _episodes(np.random.default_rng(0))
    paired = paired_differences(episodes, "twap")
    ref = episodes[episodes["policy"] == "twap"].sort_values("seed")["shortfall_bps"].to_numpy()
    for name in ("vwap", "agent"):
        mine = episodes[episodes["policy"] == name].sort_values("seed")["shortfall_bps"].to_numpy()
        ci = stats.ttest_rel(mine, ref).confidence_interval(0.95)
        assert paired.at[name, "diff_mean"] == pytest.approx(np.mean(mine - ref))
        assert paired.at[name, "diff_ci_low"] == pytest.approx(ci.low)
        assert paired.at[name, "diff_ci_high"] == pytest.approx(ci.high)
        assert paired.at[name, "n_pairs"] == 40
    assert paired.at["twap", "diff_mean"] == 0.0


def test_pairing_is_what_separates_policies_whose_own_intervals_overlap():
    episodes = _episodes(np.random.default_rng(1))
    summary = summarize(episodes)
    agent, twap = summary.loc["agent"], summary.loc["twap"]
    assert agent["shortfall_bps_ci_high"] > twap["shortfall_bps_ci_low"]  # the independent CIs overlap
    paired = paired_differences(episodes, "twap").loc["agent"]
    assert paired["diff_ci_high"] < 0  # the paired one excludes zero


def test_table_shows_each_policys_paired_difference_to_the_named_reference():
    episodes = _episodes(np.random.default_rng(2))
    table = comparison_table(summarize(episodes), 1e6, episodes, "vwap")
    column = "vs vwap bps, paired (95% CI)"
    assert table.at["vwap", column] == "reference"
    paired = paired_differences(episodes, "vwap")
    expected = (f"{paired.at['agent', 'diff_mean']:+.2f} [{paired.at['agent', 'diff_ci_low']:+.2f}, "
                f"{paired.at['agent', 'diff_ci_high']:+.2f}]")
    assert table.at["agent", column] == expected
    assert column not in comparison_table(summarize(episodes), 1e6)  # without episodes: no pairs to show


def test_a_missing_reference_or_unpaired_episodes_are_refused_by_name():
    episodes = _episodes(np.random.default_rng(3))
    with pytest.raises(ValueError, match=r"'pov' is not in the evaluation; policies: \['twap', 'vwap', 'agent'\]"):
        paired_differences(episodes, "pov")
    fewer = episodes.drop(episodes[(episodes["policy"] == "agent")].index[:3])
    with pytest.raises(ValueError, match="'agent' did not play the same episode seeds as 'twap'"):
        paired_differences(fewer, "twap")


def test_iqm_is_the_mean_of_the_middle_half():
    x = np.array([100.0, -50.0, 3.0, 1.0, 2.0, 4.0, 5.0, 6.0])
    middle = np.sort(x)[2:6]
    assert iqm(x) == pytest.approx(middle.mean())
    assert iqm(np.array([1.0, 2.0])) == pytest.approx(1.5)


def test_stratified_bootstrap_resamples_within_strata():
    low, high = np.zeros(4), np.full(4, 10.0)
    # every stratified resample holds four 0s and four 10s: the IQM cannot move
    ci = stratified_bootstrap_ci([low, high], iqm)
    assert ci == pytest.approx((iqm(np.r_[low, high]),) * 2)
    # pooled into one stratum, resamples mix them and the interval opens
    pooled = stratified_bootstrap_ci([np.r_[low, high]], iqm)
    assert pooled[0] < 5.0 < pooled[1]
    values = np.random.default_rng(4).normal(3.0, 1.0, 10)
    a = stratified_bootstrap_ci([values], iqm, seed=7)
    assert a == stratified_bootstrap_ci([values], iqm, seed=7) and a[0] < iqm(values) < a[1]
    with pytest.raises(ValueError, match="at least one value"):
        stratified_bootstrap_ci([values, np.array([])])


def test_seed_aggregate_of_a_multirun_matches_a_hand_computation():
    rng = np.random.default_rng(5)
    runs, per_seed, per_seed_paired = [], [], []
    for run_seed in range(5):
        ep = _episodes(rng, n=20, shift={"twap": 0.0, "ppo": float(run_seed) - 1.0})
        ep.insert(0, "run_env", "execgym/LOBExecution-v0")
        ep.insert(0, "run_seed", run_seed)
        ep.insert(0, "run_agent", "ppo")
        runs.append(ep)
        mine = ep[ep["policy"] == "ppo"].sort_values("seed")["shortfall_bps"].to_numpy()
        ref = ep[ep["policy"] == "twap"].sort_values("seed")["shortfall_bps"].to_numpy()
        per_seed.append(mine.mean())
        per_seed_paired.append((mine - ref).mean())
    table = seed_aggregate(pd.concat(runs, ignore_index=True), "twap")
    row = table.loc["ppo"]
    assert row["n_seeds"] == 5
    # trim_mean cuts int(0.25 * 5) = 1 seed at each end
    assert row["shortfall_bps_iqm"] == pytest.approx(np.sort(per_seed)[1:4].mean())
    assert row["shortfall_bps_vs_twap_iqm"] == pytest.approx(np.sort(per_seed_paired)[1:4].mean())
    assert row["shortfall_bps_vs_twap_seed_std"] == pytest.approx(np.std(per_seed_paired, ddof=1))
    assert row["shortfall_bps_vs_twap_iqm_ci_low"] <= row["shortfall_bps_vs_twap_iqm"] \
        <= row["shortfall_bps_vs_twap_iqm_ci_high"]
