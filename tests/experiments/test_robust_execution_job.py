"""The robust-execution experiment: Hydra config to a table of shortfalls with confidence intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from execgym.experiments.robust_execution import run, side_table, worst_case

TINY = ["n_episodes=60", "progress=false", "env.params.n_steps=8"]


def compose_cfg(*overrides):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="robust_execution", overrides=[*TINY, *overrides])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("robust")
    cfg = compose_cfg("truth.impact=[1.0,2.0]", "truth.sigma=[1.0,2.0]", "truth.drift_usd_per_day=[-0.2,0.0,0.2]",
                      "ambiguity.psi=0.0")
    t = run(cfg, out)
    t.attrs["out"] = out
    return t


def test_the_job_tabulates_every_policy_and_true_model_with_confidence_intervals_for_both_sides(table):
    assert len(table) == 2 * 12 * 3 and set(table["side"]) == {"buy", "sell"}
    assert set(table["policy"]) == {"nominal", "robust", "oracle"}
    assert (table["ci low"] < table["shortfall bps"]).all() and (table["shortfall bps"] < table["ci high"]).all()
    assert (table["diff ci low"] < table["robust - nominal bps"]).all()
    assert (table["robust - nominal bps"] < table["diff ci high"]).all()
    assert table["model right"].sum() == 2 * 3  # one nominal point per side and policy
    out = table.attrs["out"]
    assert len(pd.read_csv(out / "robust_execution.csv")) == len(table)
    for side in ("buy", "sell"):
        md = (out / f"table_{side}.md").read_text()
        assert md.count("±") == 12 * 4  # three policies and the paired difference per true model
    assert len(side_table(table, "sell")) == 12 and len(worst_case(table)) == 6


def test_the_monte_carlo_means_agree_with_the_exact_expectations(table):
    """Deterministic schedules: the simulated mean is within 3.5 standard errors of the exact one."""
    se = table["std bps"] / np.sqrt(table["n_episodes"])
    assert (np.abs(table["shortfall bps"] - table["exact shortfall bps"]) < 3.5 * se).all()


def test_the_oracle_is_optimal_for_every_true_model_and_the_nominal_one_when_the_model_is_right(table):
    for _, g in table.groupby(["side", "impact x", "sigma x", "drift usd/day"]):
        exact = g.set_index("policy")["exact E + λV bps"]
        assert exact["oracle"] <= exact.min() + 1e-6
    right = table[table["model right"]].set_index(["side", "policy"])["exact E + λV bps"]
    for side in ("buy", "sell"):
        assert right[side, "nominal"] == pytest.approx(right[side, "oracle"], abs=0.05)  # continuous vs discrete optimum
        assert right[side, "robust"] > right[side, "nominal"]  # robustness costs when the model is right


def test_the_robust_policy_has_the_best_exact_worst_case_over_its_ambiguity_set(table):
    """With psi = 0 and no drift, E + λV grows with impact and sigma for any schedule, so the
    worst case of the ambiguity set is its (2, 2) corner, which the grid contains."""
    driftless = table[table["drift usd/day"] == 0.0]
    worst = driftless.groupby(["side", "policy"])["exact E + λV bps"].max()
    for side in ("buy", "sell"):
        assert worst[side, "robust"] <= worst[side, "nominal"]


def test_buy_and_sell_are_mirror_images_under_opposite_drifts(table):
    exact = table.set_index(["side", "impact x", "sigma x", "drift usd/day", "policy"])["exact shortfall bps"]
    for (side, m_impact, m_sigma, drift, policy), value in exact.items():
        if side == "sell":
            assert exact["buy", m_impact, m_sigma, -drift, policy] == pytest.approx(value, rel=1e-9)
    sell = table[(table["side"] == "sell") & (table["policy"] == "nominal")].set_index("drift usd/day")["exact shortfall bps"]
    low, mid, high = (sell.loc[d].to_numpy() for d in (-0.2, 0.0, 0.2))
    assert (low > mid).all() and (mid > high).all()  # a falling price hurts a seller


@pytest.mark.parametrize("override, match", [
    ("truth.impact=[0.0,1.0]", "truth.impact"),
    ("truth.drift_usd_per_day=[]", "truth.drift_usd_per_day"),
    ("ambiguity.impact_range=[2.0,1.0]", "impact_range"),
    ("ambiguity.sigma_range=[0.0,1.0]", "sigma_range"),
    ("ambiguity.psi=-1.0", "psi"),
    ("env.params.drift_usd_per_day=0.1", "drift_usd_per_day"),
    ("env.params.eta=-1.0", "eta"),
])
def test_bad_config_values_fail_before_any_simulation_naming_the_value(tmp_path, override, match):
    with pytest.raises((ValueError, TypeError), match=match):
        run(compose_cfg(override), tmp_path)
