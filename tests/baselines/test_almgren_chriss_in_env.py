"""What the foundation must show: the AC baseline in the AC environment is the paper's optimum."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.baselines import make_baseline
from execgym.baselines.almgren_chriss import ac_expected_cost, ac_variance
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
from execgym.experiments.lib.evaluation import compare_policies, evaluate_policy

N_EPISODES = 2000


@pytest.mark.parametrize("risk_aversion", [1e-7, 1e-6, 1e-5])
def test_monte_carlo_mean_and_variance_of_shortfall_match_closed_form(risk_aversion, side):
    make_env = lambda: AlmgrenChrissEnv(side=side, n_steps=10, risk_aversion=risk_aversion)  # noqa: E731
    policy = make_baseline("almgren_chriss", make_env().task)
    df = evaluate_policy(policy, make_env, N_EPISODES, seed=42)
    e, v = ac_expected_cost(policy.params), ac_variance(policy.params)
    shortfall = df["shortfall_usd"].to_numpy()
    # cost is Gaussian with mean E, variance V for a deterministic schedule
    assert abs(shortfall.mean() - e) < 4.0 * np.sqrt(v / N_EPISODES)
    assert abs(shortfall.var(ddof=1) - v) < 4.0 * v * np.sqrt(2.0 / (N_EPISODES - 1))
    # and the realised mean-variance cost averages E + lambda V
    mv = df["mv_cost_bps"].to_numpy() / 1e4 * 5e7
    assert abs(mv.mean() - (e + risk_aversion * v)) < 4.0 * np.sqrt(v / N_EPISODES)


@pytest.mark.parametrize("risk_aversion", [3e-7, 1e-6])
def test_almgren_chriss_scores_best_under_the_mean_variance_reward(risk_aversion, side):
    make_env = lambda: AlmgrenChrissEnv(side=side, n_steps=10, reward="mean_variance",  # noqa: E731
                                        risk_aversion=risk_aversion)
    task = make_env().task
    policies = {
        "almgren_chriss": make_baseline("almgren_chriss", task),
        "twap": make_baseline("twap", task),
        "vwap": make_baseline("vwap", task),
        "pov": make_baseline("pov", task),
        "ac_lambda_x5": make_baseline("almgren_chriss", task, risk_aversion=5 * risk_aversion),
        "ac_lambda_div5": make_baseline("almgren_chriss", task, risk_aversion=risk_aversion / 5),
    }
    df = compare_policies(policies, make_env, 500, seed=7)
    returns = df.pivot(index="episode", columns="policy", values="return")
    assert returns.mean().idxmax() == "almgren_chriss"
    for other in returns.columns.drop("almgren_chriss"):
        diff = returns["almgren_chriss"] - returns[other]  # paired: same episodes
        assert diff.mean() > 3.0 * diff.std(ddof=1) / np.sqrt(len(diff)), other
