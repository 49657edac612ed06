"""The realism score: distances that are zero for the same data, grow with a known shift,
and separate the recorded GOOG hour from the simulator far more than two simulated hours
of one model from each other."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from execgym.envs.market.analysis.realism import (
    METRICS,
    distribution_distances,
    metric_samples,
    realism_score,
    session_only,
    summarise_scores,
)
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.builders import conf_file

OPEN = 34_200.0
HOUR = 1_800.0


@pytest.fixture(scope="module")
def days():
    d = sample_lobster_dir()
    real = load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                        d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz", start_s=OPEN, end_s=OPEN + HOUR)
    market = OmegaConf.to_container(OmegaConf.load(conf_file("market", "goog_2012_06_21.yaml")))
    market.pop("defaults")
    cfg = SimulatorConfig.from_mapping(market)
    sims = [simulate_day(cfg, np.random.default_rng(seed), HOUR, dt_s=60.0, levels=10, open_time_s=OPEN)
            for seed in (0, 1)]
    return real, sims


def test_identical_samples_are_at_distance_zero_and_a_shift_is_measured():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 5000)
    same = distribution_distances(x, x.copy(), n_boot=20)
    assert same["l1"] == 0.0 and same["w1"] == 0.0
    shifted = distribution_distances(x, x + 1.0, n_boot=50)
    assert shifted["w1"] == pytest.approx(1.0, abs=1e-9)  # W1 of a translation is its size
    assert shifted["w1_ci_low"] <= 1.0 <= shifted["w1_ci_high"] + 1e-9
    assert 0.6 < shifted["l1"] < 1.2  # two unit normals one sd apart: total variation 0.38, L1 = 2 TV = 0.77
    spread = rng.integers(1, 4, 4000).astype(float)  # integer bins: a one-tick shift of 1-3 ticks
    # {1, 2, 3} vs {2, 3, 4}: the mass at 1 moves to 4, L1 = 2 * P(1) (about 2/3)
    one_tick = distribution_distances(spread, spread + 1.0, integer=True, n_boot=20)
    assert one_tick["l1"] == pytest.approx(2.0 * np.mean(spread == 1), abs=1e-9)
    assert one_tick["w1"] == pytest.approx(1.0, abs=1e-9)
    disjoint = distribution_distances(spread, spread + 10.0, integer=True, n_boot=20)
    assert disjoint["l1"] == pytest.approx(2.0)  # no common support: the largest distance
    with pytest.raises(ValueError, match="at least two finite values"):
        distribution_distances(np.array([1.0]), x)


def test_metrics_read_the_session_and_refuse_unknown_names(days):
    real, _ = days
    assert real.messages["time_s"].max() > OPEN + HOUR  # the file holds the whole day
    inside = session_only(real)
    assert inside.messages["time_s"].between(OPEN, OPEN + HOUR).all() and len(inside.orderbook) == len(inside.messages)
    samples = metric_samples(real)
    assert set(samples) == set(METRICS)
    assert len(samples["volume_per_min_shares"]) == 30 and len(samples["ofi_10s_shares"]) == 180
    assert (samples["spread_ticks"] >= 1).all() and np.median(samples["spread_ticks"]) > 5  # GOOG: wide in cents
    assert np.isclose(samples["volume_per_min_shares"].sum(),
                      inside.messages.loc[inside.messages["type"].isin([4, 5, 6]), "size_shares"].sum())
    with pytest.raises(ValueError, match="unknown realism metrics"):
        metric_samples(real, ["spread", "spread_ticks"])


def test_the_real_hour_is_far_from_the_simulator_beyond_the_noise_floor(days):
    real, (sim_a, sim_b) = days
    real_vs_sim = realism_score(real, [sim_a, sim_b], n_boot=30)
    floor = realism_score(sim_a, sim_b, n_boot=30)
    assert list(real_vs_sim.index) == list(METRICS)
    assert ((real_vs_sim["l1"] >= 0) & (real_vs_sim["l1"] <= 2)).all()
    assert (real_vs_sim["l1_ci_low"] <= real_vs_sim["l1_ci_high"]).all()
    # the gaps: spread, touch sizes and timing differ far more than two simulated hours do
    for metric in ("spread_ticks", "touch_shares", "log10_interarrival_s"):
        assert real_vs_sim.at[metric, "l1"] > 2.5 * floor.at[metric, "l1"], metric
    summary = summarise_scores(real_vs_sim)
    assert summary["l1_mean"] == pytest.approx(real_vs_sim["l1"].mean())
    assert min(real_vs_sim["l1"]) <= summary["l1_iqm"] <= max(real_vs_sim["l1"])


def test_the_mid_response_by_event_on_a_hand_made_day():
    """Six messages on a one-level book (bid, ask in ticks after each): a buy market order
    that does not move the mid, a sell limit order inside the spread (moves it down), a bid
    cancellation that does not and a bid deletion that does; signed so that an event pushing
    the mid its own way responds positively."""
    import pandas as pd

    from execgym.envs.market.data.lobster_data import LobsterDay

    rows = [(100, 102), (100, 102), (100, 101), (100, 101), (99, 101), (99, 101)]  # (bid, ask) ticks
    ob = np.array([[a * 100, 10, b * 100, 10] for b, a in rows], dtype=np.int64)
    msgs = pd.DataFrame(
        [(1.0, 1, 1, 10, 100, 1),    # a bid: mid 101 -> 101 (still)
         (2.0, 4, 2, 5, 102, -1),    # execution of an ask: a buy (trade sign +1), mid still 101
         (3.0, 1, 3, 10, 101, -1),   # an ask inside the spread: mid 101 -> 100.5 (moving; eps -1: +0.5)
         (4.0, 2, 1, 5, 100, 1),     # partial cancellation of the bid: still
         (5.0, 3, 1, 5, 100, 1),     # deletion of the bid: best bid 100 -> 99, mid 100.5 -> 100 (moving)
         (6.0, 1, 4, 10, 200, -1)],  # a deep ask: still
        columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    msgs["price"] *= 100
    day = LobsterDay(msgs, ob, start_s=0.0, end_s=10.0)
    s = metric_samples(day, [n for n in METRICS if n.startswith("response_")])
    # the buy (row 1) at lag 1: mid 101 -> 101: 0; lag 10, 100 lie beyond the day
    assert s["response_mo_still_half_ticks"].tolist() == [0.0]
    assert s["response_mo_moving_half_ticks"].size == 0
    # the ask inside the spread (row 2): eps = -1, mid 202 -> 201 half ticks: +1
    assert s["response_lo_moving_half_ticks"].tolist() == [1.0]
    # the deep ask (row 5), eps -1: 0 at lag 1; the first bid has no book before it
    assert s["response_lo_still_half_ticks"].tolist() == [0.0]
    # the bid's partial cancellation (row 3): the mid stays, lag 1: 0
    assert s["response_ca_still_half_ticks"].tolist() == [0.0]
    # the deletion (row 4): eps = -1 x (+1) = -1, mid 201 -> 200 half ticks: (-1)(-1) = +1
    assert s["response_ca_moving_half_ticks"].tolist() == [1.0]
