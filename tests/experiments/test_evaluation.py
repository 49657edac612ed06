"""Evaluation on common random numbers, its summary, and the execution report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from execgym.baselines import make_baseline
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
from execgym.experiments.lib.evaluation import METRICS, compare_policies, episode_seeds, evaluate_policy, summarize
from execgym.experiments.lib.report import execution_report, execution_trajectory, reference_schedules


def make_env():
    return AlmgrenChrissEnv(n_steps=10, side="buy")


def test_every_policy_meets_the_same_markets():
    # zero-trading-impact policies see the same price path: the arrival-relative market VWAP
    # depends only on the seeded shocks, so it must agree episode by episode
    task = make_env().task
    df = compare_policies({"twap": make_baseline("twap", task), "vwap": make_baseline("vwap", task)},
                          lambda: AlmgrenChrissEnv(n_steps=10, gamma=0.0), 20, seed=3)
    wide = df.pivot(index="episode", columns="policy", values="market_vwap")
    np.testing.assert_allclose(wide["twap"], wide["vwap"], rtol=1e-12)
    assert (df.groupby("policy")["seed"].apply(list).apply(tuple).nunique()) == 1


def test_evaluation_is_reproducible_and_seed_dependent():
    policy = make_baseline("twap", make_env().task)
    a = evaluate_policy(policy, make_env, 5, seed=1)
    b = evaluate_policy(policy, make_env, 5, seed=1)
    c = evaluate_policy(policy, make_env, 5, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["shortfall_bps"], c["shortfall_bps"])
    assert list(episode_seeds(1, 5)) == list(a["seed"])


def test_rows_hold_the_documented_metrics_per_episode():
    df = evaluate_policy(make_baseline("almgren_chriss", make_env().task), make_env, 4, seed=0, policy_name="ac")
    assert list(df.columns) == ["policy", "episode", "seed", "side", *METRICS]
    assert (df["policy"] == "ac").all() and (df["side"] == "buy").all() and len(df) == 4
    np.testing.assert_allclose(df["executed_shares"], 1e6)
    # the rewards of the shortfall reward sum to minus the shortfall
    np.testing.assert_allclose(df["return"], -df["shortfall_bps"], rtol=1e-9)
    np.testing.assert_allclose(df["shortfall_bps"], df["shortfall_usd"] / 5e7 * 1e4, rtol=1e-12)
    # buy: paying above the average price is a positive slippage
    sign = np.sign(df["avg_fill_price"] - df["market_vwap"])
    np.testing.assert_array_equal(sign, np.sign(df["vwap_slippage_bps"]))


def test_summary_gives_mean_std_and_t_interval_per_policy():
    rng = np.random.default_rng(0)
    values = rng.normal(10.0, 2.0, 50)
    df = pd.DataFrame({"policy": "p", **{m: values for m in METRICS}, "shortfall_usd": values * 100})
    s = summarize(df, risk_aversion=0.01).loc["p"]
    half = stats.t.ppf(0.975, 49) * values.std(ddof=1) / np.sqrt(50)
    assert s["shortfall_bps_mean"] == pytest.approx(values.mean())
    assert s["shortfall_bps_std"] == pytest.approx(values.std(ddof=1))
    assert s["shortfall_bps_ci_low"] == pytest.approx(values.mean() - half)
    assert s["shortfall_bps_ci_high"] == pytest.approx(values.mean() + half)
    usd = values * 100
    assert s["mean_variance_usd"] == pytest.approx(usd.mean() + 0.01 * usd.var(ddof=1))
    assert s["n_episodes"] == 50
    assert s["vwap_slippage_bps_rms"] == pytest.approx(np.sqrt(np.mean(values**2)))


def test_evaluation_rejects_non_policies_and_bad_counts():
    with pytest.raises(TypeError, match="predict"):
        evaluate_policy(object(), make_env, 2)
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate_policy(make_baseline("twap", make_env().task), make_env, 0)
    with pytest.raises(ValueError, match="confidence"):
        summarize(pd.DataFrame(), confidence=1.5)


def test_execution_report_writes_trajectory_and_png(tmp_path):
    env = make_env()
    policy = make_baseline("almgren_chriss", env.task)
    traj, png = execution_report(env, policy, seed=4, out_dir=tmp_path, name="ac")
    assert list(traj.columns) == ["step", "time_days", "holdings_before", "child_shares", "holdings",
                                  "fill_price", "mid", "market_volume", "cum_shortfall_bps"]
    assert len(traj) == 10 and traj["holdings"].iloc[-1] == 0.0
    np.testing.assert_allclose(traj["holdings_before"] - traj["child_shares"], traj["holdings"])
    np.testing.assert_allclose(traj["time_days"], np.arange(10) * 0.5)
    assert traj["cum_shortfall_bps"].iloc[-1] == pytest.approx(traj.attrs["execution"]["shortfall_bps"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (tmp_path / "ac_trajectory.csv").exists()
    # the same seed reproduces the trajectory
    pd.testing.assert_frame_equal(traj, execution_trajectory(env, policy, seed=4))


def test_reference_schedules_include_ac_only_when_the_model_allows_it():
    refs = reference_schedules(make_env().task)
    assert set(refs) == {"TWAP", "Almgren-Chriss (lambda=1e-06)"}
    assert set(reference_schedules(AlmgrenChrissEnv(n_steps=5, sigma=0.0).task)) == {"TWAP"}
