"""The square-root-law experiment: the propagator market's impact is concave in the size at
every participation rate; a market with only linear permanent impact is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from execgym.envs.market.analysis.impact.law import fit_square_root_runs, impact_vs_participation
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.square_root_law import run, session_blocks, sign_power_law

SMALL = ["n_runs=4", "participations=[0.05,0.2]", "durations_s=[200,800,3200]", "post_s=400", "dt_s=20",
         "slice_every_s=20", "scale_day_s=7200", "market.warmup_s=300"]


def _cfg(extra):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="square_root_law", overrides=SMALL + extra)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_propagator_market_obeys_a_concave_law_at_each_rate(tmp_path, side):
    res = run(_cfg([f"side={side}"]), tmp_path)
    fits = pd.read_csv(tmp_path / "fits.csv")
    per_rate = fits[fits["participation"] != "pooled"]
    assert len(per_rate) == 2 and (per_rate["n_sizes"] == 3).all()
    assert ((per_rate["delta"] > 0.4) & (per_rate["delta"] < 0.7)).all(), per_rate
    sizes = pd.read_csv(tmp_path / "sizes.csv")
    assert len(sizes) == 6 and (sizes["peak_ticks"] > 0).all()
    # the impact decays after the metaorder but part of it is still there
    assert ((sizes["left_after_post"] > 0.1) & (sizes["left_after_post"] < 0.9)).all()
    for name in ("impact_vs_size.png", "decay.png", "signs.csv"):
        assert (tmp_path / name).stat().st_size > 0
    signs = pd.read_csv(tmp_path / "signs.csv").iloc[0]
    assert signs["n_blocks"] == 10 and signs["gamma_ci95_lo"] <= signs["gamma"] <= signs["gamma_ci95_hi"]
    assert res["sigma"] > 0 and res["volume"] > 0


def test_linear_permanent_impact_is_not_concave(tmp_path):
    res = run(_cfg(["market.impact.propagator_ticks_per_share=0.0", "market.impact.permanent_ticks_per_share=0.01",
                    "market.flow.sign_run_share=0.0"]), tmp_path)
    per_rate = res["fits"][res["fits"]["participation"] != "pooled"]
    assert (per_rate["delta"] > 0.85).all(), per_rate


def test_each_rate_takes_its_own_number_of_runs(tmp_path):
    """``n_runs`` as a list: one per rate, in order; a rate's metaorders are those of the same
    rate run alone with that number of runs (the rates share their seeds)."""
    res = run(_cfg(["n_runs=[2,4]"]), tmp_path / "both")
    per_rate = res["fits"][res["fits"]["participation"] != "pooled"]
    assert per_rate["n_runs"].tolist() == [2, 4]
    assert res["sizes"].groupby("participation")["n_runs"].unique().map(list).tolist() == [[2], [4]]
    alone = run(_cfg(["n_runs=4", "participations=[0.2]"]), tmp_path / "alone")["sizes"]
    both = res["sizes"][res["sizes"]["participation"] == 0.2].reset_index(drop=True)
    pd.testing.assert_frame_equal(both, alone)


def test_a_run_pools_its_sizes_with_earlier_runs_in_each_runs_own_scale(tmp_path):
    first = run(_cfg(["seed=0", "participations=[0.2]"]), tmp_path / "seed0")
    second = run(_cfg(["seed=1", "participations=[0.05,0.2]", f"pool_with=[{tmp_path / 'seed0'}]"]), tmp_path / "seed1")
    pooled = pd.read_csv(tmp_path / "seed1" / "fits_pooled.csv")
    assert pooled["participation"].tolist() == [0.2]  # the rate both runs have
    assert pooled["n_experiments"].tolist() == [2] and pooled["n_runs"].tolist() == [8]
    at = second["sizes"][second["sizes"]["participation"] == 0.2]
    want = fit_square_root_runs([(first["sizes"], first["sigma"], first["volume"]), (at, second["sigma"], second["volume"])])
    assert pooled.loc[0, "delta"] == pytest.approx(want.delta, rel=1e-12) and pooled.loc[0, "n_sizes"] == 6
    assert pooled.loc[0, "Y"] == pytest.approx(want.y, rel=1e-12)
    assert not (tmp_path / "seed0" / "fits_pooled.csv").exists()


@pytest.mark.parametrize("pool_with, error, match", [
    ("[/nonexistent/run]", ValueError, "/nonexistent/run has no sizes.csv or signs.csv"),
    ("/nonexistent/run", TypeError, "pool_with must be a list of folders"),
])
def test_pool_with_is_checked_before_anything_runs(tmp_path, pool_with, error, match):
    with pytest.raises(error, match=match):
        run(_cfg([f"pool_with={pool_with}"]), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sign_power_law_recovers_the_decay_of_a_long_memory_sequence():
    rng = np.random.default_rng(0)
    # runs of one sign with Pareto lengths (tail 1.5): C(l) ~ l^-0.5
    lengths = np.minimum(np.floor((1.0 - rng.random(40_000)) ** (-1 / 1.5)).astype(int), 10_000)
    signs = np.repeat(rng.choice([-1.0, 1.0], len(lengths)), lengths)[:400_000]
    fit = sign_power_law(signs, 2, 100)
    assert fit["gamma_ci95_lo"] < 0.5 + 0.1 and fit["gamma_ci95_hi"] > 0.5 - 0.1 and fit["r2"] > 0.9
    iid = sign_power_law(rng.choice([-1.0, 1.0], 50_000), 2, 100)
    assert not iid["r2"] > 0.5  # no power law in independent signs
    # cut into ten sessions: the same exponent, and an interval from resampling the sessions
    # that is wider than the regression's (which takes the lags' estimates as independent)
    blocked = sign_power_law(signs, 2, 100, blocks=np.arange(len(signs)) * 10 // len(signs), n_boot=300, seed=1)
    assert blocked["n_blocks"] == 10 and blocked["gamma"] == pytest.approx(fit["gamma"], abs=0.05)
    assert blocked["gamma_ci95_hi"] - blocked["gamma_ci95_lo"] > 3 * (blocked["gamma_ols_ci95_hi"]
                                                                      - blocked["gamma_ols_ci95_lo"])
    assert blocked == sign_power_law(signs, 2, 100, blocks=np.arange(len(signs)) * 10 // len(signs), n_boot=300, seed=1)


def test_session_blocks_cut_the_day_into_equal_spans():
    t = np.array([100.0, 100.0, 149.9, 150.0, 299.0, 300.0])
    assert session_blocks(t, 100.0, 300.0, 4).tolist() == [0, 0, 0, 1, 3, 3]
    with pytest.raises(ValueError, match="must lie in"):
        session_blocks(np.array([99.0]), 100.0, 300.0, 4)
    with pytest.raises(ValueError, match="end_s must exceed start_s"):
        session_blocks(t, 300.0, 300.0, 4)
    with pytest.raises(ValueError, match="n_blocks must be >= 1"):
        session_blocks(t, 100.0, 300.0, 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(durations_s=[100.0, 200.0]), "at least 3 durations"),
    (dict(participations=[0.0]), "participations"),
    (dict(durations_s=[100.0, -1.0, 300.0]), "durations_s"),
    (dict(volume_per_s=0.0), "volume_per_s"),
    (dict(n_runs=[4, 4]), "n_runs has 2 entries for 1 participation rates"),
    (dict(n_runs=[1]), r"n_runs\[0\] must be"),
    (dict(n_runs=1), r"n_runs must be >= 2"),
])
def test_impact_vs_participation_rejects_bad_arguments(kwargs, match):
    args = dict(participations=[0.1], durations_s=[100.0, 200.0, 400.0], volume_per_s=10.0,
                sigma_ticks_per_sqrt_s=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        impact_vs_participation(SimulatorConfig(), **args)


@pytest.mark.parametrize("n_runs", [2.5, [2.0], "4", {0.1: 4}, None])
def test_impact_vs_participation_refuses_runs_that_are_not_integers(n_runs):
    with pytest.raises(TypeError, match="n_runs"):
        impact_vs_participation(SimulatorConfig(), [0.1], [100.0, 200.0, 400.0], 10.0, 1.0, n_runs=n_runs)
