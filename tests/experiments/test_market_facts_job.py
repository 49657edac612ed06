"""The market-facts job: many simulated sessions of a preset, their facts summarised beside the day's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from scipy import stats

from execgym.envs.market.analysis.stylized_facts import summary_facts
from execgym.envs.market.data.lobster_data import default_lobster_dir
from execgym.experiments.lib.builders import facts_kwargs
from execgym.experiments.lib.market_calibration import load_day
from execgym.experiments.market_facts import VOLATILITY_FACTS, run, summarise

CONF = Path(__file__).resolve().parents[2] / "conf"
#: half an hour of the day, short sessions (speed)
SHORT = [f"data.dir={default_lobster_dir()}", "data.end_s=36000", "progress=false", "facts.bucket_s=600",
         "facts.sign_lags=30", "facts.horizons_s=[1,10,60]"]


def compose_cfg(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(config_name="market_facts", overrides=list(overrides))


def test_sessions_are_summarised_beside_the_day_and_do_not_depend_on_the_workers(tmp_path):
    cfg = compose_cfg(*SHORT, "n_sessions=3", "seed=5")
    res = run(cfg, tmp_path / "one")
    sessions = pd.read_csv(tmp_path / "one" / "sessions.csv", index_col="session")
    summary = pd.read_csv(tmp_path / "one" / "summary.csv", index_col="fact")
    assert len(sessions) == 3 and set(VOLATILITY_FACTS) <= set(sessions.columns)
    assert sessions.notna().all().all() and sessions[VOLATILITY_FACTS[0]].nunique() == 3  # three different sessions
    real = summary_facts(load_day(cfg.data), **facts_kwargs(cfg))["scalars"]  # the same half hour of GOOG
    assert np.allclose(summary["real"], [real[k] for k in summary.index], rtol=1e-12, equal_nan=True)
    assert np.allclose(summary["mean"], sessions.mean().loc[summary.index], rtol=1e-12)
    assert ((summary["ci_low"] <= summary["mean"]) & (summary["mean"] <= summary["ci_high"])).all()
    assert (summary["min"] <= summary["max"]).all()
    assert (summary["within"] == ((summary["ratio"] >= 0.5) & (summary["ratio"] <= 2.0))).all()
    # the same seed in two processes: the same sessions to the bit; another seed: others
    two = run(compose_cfg(*SHORT, "n_sessions=3", "seed=5", "n_workers=2"), tmp_path / "two")
    pd.testing.assert_frame_equal(two["sessions"], res["sessions"], check_exact=True)
    other = run(compose_cfg(*SHORT, "n_sessions=3", "seed=6"), tmp_path / "other")
    assert not other["sessions"].equals(res["sessions"])


def test_summary_is_the_t_interval_over_the_sessions():
    rng = np.random.default_rng(0)
    sessions = pd.DataFrame({"a": rng.normal(10.0, 2.0, 24), "b": rng.normal(-1.0, 0.5, 24)})
    out = summarise({"a": 12.0, "b": 1.0, "unused": 3.0}, sessions, factor=2.0)
    lo, hi = stats.t.interval(0.95, 23, loc=sessions["a"].mean(), scale=stats.sem(sessions["a"]))
    assert out.loc["a", "ci_low"] == pytest.approx(lo) and out.loc["a", "ci_high"] == pytest.approx(hi)
    assert out.loc["a", "ratio"] == pytest.approx(sessions["a"].mean() / 12.0) and out.loc["a", "within"]
    assert not out.loc["b", "within"]  # the opposite sign is not within any factor
    assert list(out.index) == ["a", "b"]
    with pytest.raises(ValueError, match="at least 2 sessions"):
        summarise({"a": 1.0}, sessions[["a"]].iloc[:1], factor=2.0)
    with pytest.raises(ValueError, match="factor must be a finite number >= 1, got 0.5"):
        summarise({"a": 1.0}, sessions[["a"]], factor=0.5)


@pytest.mark.parametrize("override, error, match", [
    ("n_sessions=1", ValueError, "n_sessions"),
    ("n_sessions=2.5", TypeError, "n_sessions"),
    ("n_workers=0", ValueError, "n_workers"),
    ("factor=0.5", ValueError, "factor must be a finite number >= 1, got 0.5"),
    ("factor=abc", TypeError, "factor must be a real number, got 'abc'"),
])
def test_bad_settings_are_refused_before_anything_is_simulated_or_written(tmp_path, override, error, match):
    with pytest.raises(error, match=match):
        run(compose_cfg(*SHORT, override, "data.dir=/nonexistent"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
