"""The microstructure report runs from its Hydra config (tiny sizes) and writes its tables and plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from execgym.envs.market.data.lobster_data import default_lobster_dir
from execgym.experiments.microstructure_report import build_configs, run

ROOT = Path(__file__).resolve().parents[2]
DATA = default_lobster_dir()
TINY = ["sim.duration_s=900", "square_root.sizes_shares=[500,2000,8000]", "square_root.n_runs=3",
        "square_root.post_s=30", "fill.every_s=20", "manipulation.duration_s=600",
        "manipulation.inject.n_stuffing_bursts=2", "manipulation.inject.n_layering_episodes=2",
        "manipulation.inject.max_wait_s=30"]


def _cfg(overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return compose(config_name="microstructure_report", overrides=overrides)


def test_report_writes_every_table_and_plot(tmp_path):
    tickers = "tickers=[AMZN]"
    tables = run(_cfg([*TINY, tickers, f"data_dir={DATA}"]), tmp_path)
    days = set(tables["signing"]["day"])
    assert "simulated" in days
    for name in ("signing", "kyle_lambda", "square_root_fit", "metaorder_impact", "impact_models", "fill_models",
                 "fill_rates", "stuffing_scores", "layering_scores"):
        assert (tmp_path / f"{name}.csv").exists(), name
        assert len(pd.read_csv(tmp_path / f"{name}.csv")) > 0, name
    assert set(tables["square_root_fit"]["side"]) == {"buy", "sell"}
    assert tables["stuffing_scores"]["recall"].iloc[0] == 1.0
    for png in ("calibration.png", "impact_paths.png"):
        assert (tmp_path / png).stat().st_size > 10_000


def test_bad_config_values_fail_before_anything_runs():
    with pytest.raises(ValueError, match="layering_side"):
        build_configs(_cfg(["manipulation.inject.layering_side=up"]))
    with pytest.raises(ValueError, match="reaction_s"):
        build_configs(_cfg(["manipulation.layering.reaction_s=0"]))
