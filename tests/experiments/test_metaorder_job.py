"""The metaorder experiment runs from its Hydra config and writes its outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

from execgym.experiments.metaorder_impact import run


def _cfg(*extra):
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return compose(config_name="metaorder_impact",
                       overrides=["n_runs=4", "post_s=40", "duration_s=20", "n_slices=5", "side=sell",
                                  "market.warmup_s=50", "market.flow.resilience_per_s=0.2", *extra])


def test_metaorder_experiment_writes_path_and_plot(tmp_path):
    path, fit, market = run(_cfg(), tmp_path)
    assert market.flow.resilience_per_s == 0.2
    saved = pd.read_csv(tmp_path / "impact_path.csv")
    assert len(saved) == 61 and saved["executing"].sum() == 20
    assert (tmp_path / "impact_path.png").stat().st_size > 10_000
    assert set(fit) == {"rate_per_s", "permanent_ticks", "transient_ticks"}


def test_the_runs_over_two_processes_write_the_same_path(tmp_path):
    run(_cfg(), tmp_path / "one")
    run(_cfg("n_workers=2"), tmp_path / "two")
    assert (tmp_path / "one" / "impact_path.csv").read_bytes() == (tmp_path / "two" / "impact_path.csv").read_bytes()
