"""The calibration report runs from its Hydra config; the calibrated market builds the LOB env."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.latent import median_spread_ticks
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.data.lobster_data import default_lobster_dir
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib import market_calibration
from execgym.experiments.lib.builders import build_env_factory
from execgym.experiments.lib.market_calibration import calibrated_market, flow_arguments, load_day
from execgym.experiments.stylized_facts import differences, run, selected_models

CONF = Path(__file__).resolve().parents[2] / "conf"
DATA = default_lobster_dir()


def compose_cfg(config_name, *overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


def test_report_on_half_an_hour_of_goog_writes_table_config_and_plots(tmp_path):
    cfg = compose_cfg("stylized_facts", f"data.dir={DATA}", "data.end_s=36000", "calibration.max_distance=60",
                      "facts.horizons_s=[1,10,60]", "facts.bucket_s=600", "facts.sign_lags=30", "warmup_s=100", "n_days=2",
                      "progress=false", f"write_market_config={tmp_path / 'copy.yaml'}",
                      # a few of the configured models, in another order than the file's; the
                      # fleeting one refined once (speed)
                      "realism.select=[cst,fleeting,clustered,spread_rate,propagator]",
                      "realism.models.fleeting.refine_depth=1",
                      "realism.models.spread_rate.refine_depth=1", "realism.n_boot=20")
    res = run(cfg, tmp_path)
    table = pd.read_csv(tmp_path / "facts.csv", index_col="fact")
    assert {"spread mean (ticks)", "depth level 1 (shares)", "return excess kurtosis 1s", "trade-sign ACF lag 1",
            "volume share first 10 min"} <= set(table.index)
    assert table["real"].notna().all() and table["simulated"].notna().all()
    assert (table["differs"] == res["table"]["differs"]).all()
    assert len(differences(res["table"])) == int(res["table"]["differs"].sum())
    # the real column is the real day's: 30 minutes of GOOG from the open
    assert table.loc["visible volume (shares)", "real"] == res["day"].messages.query(
        "type == 4 and time_s < 36000")["size_shares"].sum()
    written = yaml.safe_load((tmp_path / "market.yaml").read_text())
    assert written.pop("defaults") == [{"/schema@_here_": "market"}, "_self_"]  # a Hydra market group file
    market = SimulatorConfig.from_mapping(written)
    assert market.flow.anchor == "opposite_best" and len(market.flow.depth_shares) == 60
    assert 57_000 < market.initial_mid_ticks < 59_000  # GOOG near $580 in one-cent ticks
    assert (tmp_path / "copy.yaml").read_text() == (tmp_path / "market.yaml").read_text()
    for name in ["spread", "depth", "return_tails", "return_acf", "abs_return_acf", "sign_acf", "intraday_volume",
                 "calibration", "stylized_facts"]:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    realism = pd.read_csv(tmp_path / "realism.csv", index_col="metric")
    assert realism["l1"].between(0, 2).all() and realism["l1_sim_vs_sim"].notna().all()
    assert "L1 mean" in (tmp_path / "realism.md").read_text()
    models = pd.read_csv(tmp_path / "realism_models.csv", index_col="metric")
    assert list(models.columns) == ["calibrated", "cst", "fleeting", "clustered", "spread_rate", "propagator"]
    assert models.notna().all().all() and (models["calibrated"] == realism["l1"]).all()
    for name in models.columns[1:]:  # each further model's whole score beside its L1 column
        whole = pd.read_csv(tmp_path / f"realism_{name}.csv", index_col="metric")
        assert list(whole.columns) == list(realism.columns)
        assert np.allclose(whole["l1"], models[name], rtol=0, atol=1e-12)
        assert (whole["l1_ci_low"] <= whole["l1_ci_high"]).all()
    # clustered submissions and cancellations: the real inter-arrival times' bursts (ms) appear
    assert models.loc["log10_interarrival_s", "clustered"] < 0.6 * models.loc["log10_interarrival_s", "cst"]


def test_realism_select_narrows_the_models_in_its_order_and_refuses_bad_names(tmp_path):
    every = compose_cfg("stylized_facts")
    assert list(selected_models(every)) == list(every.realism.models)  # null: all, in the file's order
    cfg = compose_cfg("stylized_facts", "realism.select=[latent,cst]")
    chosen = selected_models(cfg)
    assert list(chosen) == ["latent", "cst"]
    assert chosen["latent"] == OmegaConf.to_container(every.realism.models.latent, resolve=True)
    assert selected_models(compose_cfg("stylized_facts", "realism.select=[]")) == {}
    # a model the day turns off (null) stays selected; run() skips it
    assert selected_models(compose_cfg("stylized_facts", "day=amzn_2012_06_21", "realism.select=[latent]")) == {
        "latent": None}
    with pytest.raises(ValueError, match=r"realism.select names \['latnt'\].*'latent'"):
        selected_models(compose_cfg("stylized_facts", "realism.select=[cst,latnt]"))
    with pytest.raises(ValueError, match=r"names \['cst'\] more than once"):
        selected_models(compose_cfg("stylized_facts", "realism.select=[cst,latent,cst]"))
    for reserved in ("calibrated", "models"):  # the report's own column and file
        with pytest.raises(ValueError, match=f"may not name a model \\['{reserved}'\\]"):
            selected_models(compose_cfg("stylized_facts", f"+realism.models.{reserved}={{sizes: empirical}}"))
    with pytest.raises(TypeError, match="list of model names"):
        selected_models(compose_cfg("stylized_facts", "realism.select=cst"))
    with pytest.raises(TypeError, match="list of model names"):
        selected_models(compose_cfg("stylized_facts", "realism.select=[cst,1]"))
    # refused before the day is read or anything is written
    with pytest.raises(ValueError, match="latnt"):
        run(compose_cfg("stylized_facts", "data.dir=/nonexistent", "realism.select=[latnt]"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_calibrated_goog_market_builds_the_lob_env_through_its_env_group():
    cfg = compose_cfg("compare_lob", "env=lob_goog_2012_06_21")
    make_env, config = build_env_factory(cfg.env)
    assert config.market.flow.anchor == "opposite_best" and config.total_shares == 2000
    assert config.market.impact.sigma_ticks_per_sqrt_s == 0.0  # the calibrated market's, not the env default
    env = make_env()
    obs, _ = env.reset(seed=0)
    obs2, reward, _, _, info = env.step(np.array([0.1], dtype=np.float32))
    assert np.isfinite(obs2).all() and np.isfinite(reward)
    assert 570.0 < info["mid"] < 590.0  # GOOG near $580


def test_any_lob_env_group_takes_the_calibrated_market():
    cfg = compose_cfg("compare_lob", "env=lob_execution_discrete", "+market@env.params.market=goog_2012_06_21")
    _, config = build_env_factory(cfg.env)
    assert config.action == "participation" and config.market.flow.anchor == "opposite_best"


def test_the_amzn_day_runs_the_report_with_its_own_depth_range(tmp_path):
    cfg = compose_cfg("stylized_facts", "day=amzn_2012_06_21", f"data.dir={DATA}", "data.end_s=36000",
                      "facts.horizons_s=[1,10,60]", "facts.bucket_s=600", "facts.sign_lags=30", "warmup_s=100",
                      "n_days=1", "progress=false", "~realism.models",
                      "+realism.models={cst: {hawkes: false, sizes: geometric}}")
    assert cfg.calibration.max_distance == 40
    res = run(cfg, tmp_path)
    assert res["day"].levels == 1 and res["day"].name.startswith("AMZN")
    assert len(res["market"].flow.depth_shares) == 40
    models = pd.read_csv(tmp_path / "realism_models.csv", index_col=0)
    assert list(models.columns) == ["calibrated", "cst"] and models.notna().all().all()


def test_the_cst_model_turns_off_every_option_of_the_calibration():
    """CST sits beside any calibration: every option the calibration turns on, it turns off
    (an option left on would need another it turns off, e.g. the reach the clustering)."""
    options = ["sizes=empirical", "place_sizes=true", "hidden=true", "clustering=3", "cluster_levels=true",
               "best_anchor=0.5", "best_anchor_excited=true", "inside=true", "inside_lives=true", "inside_takes=true",
               "fleeting=true", "sign_memory=true", "activity=true", "spread_rate=true", "spread_rate_low=[0.01]",
               "refill=true", "follow=true", "queue_sizes=true", "revisions=true", "cancel_redraw=true",
               "cancel_sizes=true", "spread_profile=true", "best_anchor_scaled=true"]
    cfg = compose_cfg("stylized_facts", f"data.dir={DATA}", "data.end_s=36000", "calibration.max_distance=60",
                      *(f"calibration.{o}" for o in options))
    day = load_day(cfg.data)
    flow = calibrate_flow(day, **flow_arguments(cfg, OmegaConf.to_container(cfg.realism.models.cst))).flow
    assert flow.size_distribution == "geometric" and flow.limit_size_place_probs == ()
    assert flow.cluster_alphas_per_s == () and flow.cluster_levels == 0 and not flow.best_anchor_excited
    assert flow.best_anchor_frac == 0.0 and flow.hidden_rate_per_s == 0.0 and flow.inside_probs == ()
    assert flow.market_spread_factor == () and flow.inside_follow_probs == () and flow.sign_run_share == 0.0
    assert flow.revise_best_per_s == 0.0 and flow.market_queue_cap_frac == 0.0 and not flow.refill_empty_side
    assert flow.cancel_size_factors == () and flow.placement_scale == () and not flow.best_anchor_scaled


def test_the_amzn_day_turns_off_the_model_its_one_level_file_cannot_fit():
    cfg = compose_cfg("stylized_facts", "day=amzn_2012_06_21")
    assert cfg.realism.models.inside_follow_patient is None and cfg.realism.models.inside_follow_reach is not None
    assert cfg.realism.models.inside_follow_patient_scaled is None and cfg.realism.models.inside_follow_regimes is None
    assert cfg.realism.models.latent is None
    assert compose_cfg("stylized_facts").realism.models.inside_follow_patient.cancel_sizes


def test_latent_liquidity_is_calibrated_with_its_propagator_or_refused():
    """``latent`` needs ``propagator`` (its orders sit around the centre only the propagator
    moves): refused before any fit; with it, the flow gets the share and half the day's median
    spread as its offset (and the improvement mode if given), the impact the propagator (the
    preset ``goog_2012_06_21_latent`` reproduces the whole calibration); an ``inside``
    improvement needs the inside orders' table."""
    cfg = compose_cfg("stylized_facts", f"data.dir={DATA}", "data.end_s=36000", "calibration.max_distance=60")
    day = load_day(cfg.data)
    prop = {"square_root_y": 0.5, "participation": 0.1}
    with pytest.MonkeyPatch.context() as mp:  # every bad setting is refused before the flow is fitted
        mp.setattr(market_calibration, "calibrate_flow", lambda *a, **k: pytest.fail("fitted before refusing"))
        for bad, error, match in [({"latent": {"frac": 0.3}}, ValueError, "latent=.*needs a propagator"),
                                  ({"latent": 0.35, "propagator": prop}, TypeError, "calibration.latent must be a mapping"),
                                  ({"latent": {"frac": 1.5}, "propagator": prop}, ValueError, "frac must be in"),
                                  ({"latent": {"frac": 0.3, "offset_ticks": -2}, "propagator": prop}, ValueError,
                                   "offset_ticks"),
                                  ({"latent": {"frac": 0.3}, "propagator": prop, "anchor": "reference"}, ValueError,
                                   "needs anchor='opposite_best', got anchor='reference'"),
                                  ({"latent": {"frac": 0.3, "improve": "half"}, "propagator": prop}, ValueError,
                                   "improve must be one of"),
                                  ({"latent": {"frac": 0.3, "improve": "inside"}, "propagator": prop, "inside": False},
                                   ValueError, "needs inside: true, got inside=False"),
                                  ({"propagator": {"square_root_y": -1.0}}, ValueError, "square_root_y")]:
            with pytest.raises(error, match=match):
                calibrated_market(cfg, day, bad)
    _, market, values = calibrated_market(cfg, day, {"latent": {"frac": 0.3},
                                                     "propagator": {"square_root_y": 0.5, "participation": 0.1}})
    assert market.flow.anchor == "opposite_best" and market.flow.latent_frac == 0.3
    assert market.flow.latent_offset_ticks == round(median_spread_ticks(day) / 2) > 0
    assert market.impact.propagator_ticks_per_share > 0.0 and values["flow"]["latent_frac"] == 0.3
    _, market, _ = calibrated_market(cfg, day, {"latent": {"frac": 1.0, "offset_ticks": 3, "improve": "join"},
                                                "propagator": {"square_root_y": 0.5, "participation": 0.1}})
    assert market.flow.latent_frac == 1.0 and market.flow.latent_offset_ticks == 3
    assert market.flow.latent_improve == "join" and values["flow"].get("latent_improve") is None


def test_models_that_differ_only_in_the_last_settings_share_one_fitted_flow(monkeypatch):
    """A simulated fit (here one refinement day) is kept by its settings, seed and day: a model
    that adds only the propagator and latent orders reuses it (and gets them on top), a copy
    each time; another seed or a changed day fits again."""
    from collections import OrderedDict

    M = market_calibration
    fits = []
    monkeypatch.setattr(M, "_FITS", OrderedDict())
    monkeypatch.setattr(M, "refine_depth", lambda *a, **k: fits.append(1) or refine_depth(*a, **k))
    cfg = compose_cfg("stylized_facts", f"data.dir={DATA}", "data.end_s=36000", "calibration.max_distance=60")
    day = load_day(cfg.data)
    _, plain, values = calibrated_market(cfg, day, {"refine_depth": 1})
    values["flow"]["depth_shares"][0] = -1.0  # the caller's copy
    _, latent, _ = calibrated_market(cfg, day, {"refine_depth": 1, "latent": {"frac": 0.3},
                                                "propagator": {"square_root_y": 0.5, "participation": 0.1}})
    assert len(fits) == 1 and latent.flow.depth_shares == plain.flow.depth_shares
    assert latent.flow.latent_frac == 0.3 and plain.flow.latent_frac == 0.0
    assert latent.impact.propagator_ticks_per_share > 0.0 == plain.impact.propagator_ticks_per_share
    assert calibrated_market(cfg, day, {"refine_depth": 1})[1] == plain and len(fits) == 1
    cfg.seed = 1
    calibrated_market(cfg, day, {"refine_depth": 1})
    assert len(fits) == 2
    day.messages.loc[day.messages.index[5], "size_shares"] += 1
    calibrated_market(cfg, day, {"refine_depth": 1})
    assert len(fits) == 3


def test_the_propagator_is_fitted_with_a_reference_book_and_after_an_opposite_best_one(monkeypatch):
    """With the reference anchor the propagator moves the whole book, so the depth is refined
    with it; an opposite-best book's is refined without it (it acts only through latent orders)."""
    from collections import OrderedDict
    seen = []
    monkeypatch.setattr(market_calibration, "_FITS", OrderedDict())
    monkeypatch.setattr(market_calibration, "refine_depth",
                        lambda market, *a, **k: (seen.append(market.impact.propagator_ticks_per_share), (market, None))[1])
    cfg = compose_cfg("stylized_facts", f"data.dir={DATA}", "data.end_s=36000", "calibration.max_distance=60")
    day = load_day(cfg.data)
    prop = {"square_root_y": 0.5, "participation": 0.1}
    markets = [calibrated_market(cfg, day, {"anchor": anchor, "refine_depth": 1, "propagator": prop})[1]
               for anchor in ("reference", "opposite_best")]
    assert seen[0] > 0.0 and seen[1] == 0.0
    assert all(m.impact.propagator_ticks_per_share == seen[0] for m in markets)


@pytest.mark.parametrize("models", [["~realism.models"], ["~realism.models", "+realism.models={cst: null}"]])
def test_the_report_runs_without_other_models(tmp_path, models):
    """No other model, or only models set to null (off for the day)."""
    cfg = compose_cfg("stylized_facts", f"data.dir={DATA}", "data.end_s=36000", "calibration.max_distance=60",
                      "facts.horizons_s=[1,10,60]", "facts.bucket_s=600", "facts.sign_lags=30", "warmup_s=100",
                      "n_days=1", "progress=false", *models, f"write_market_config={tmp_path / 'm.yaml'}")
    run(cfg, tmp_path)
    models = pd.read_csv(tmp_path / "realism_models.csv", index_col=0)
    assert list(models.columns) == ["calibrated"]
    assert SimulatorConfig.from_mapping({k: v for k, v in yaml.safe_load((tmp_path / "m.yaml").read_text()).items()
                                         if k != "defaults"}).flow.anchor == "opposite_best"
