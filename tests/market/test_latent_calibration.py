"""Latent liquidity's settings from a recorded day: the offset is half the day's median spread."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.latent import latent_settings, median_spread_ticks
from execgym.envs.market.analysis.calibration.spread_profile import spread_rows
from execgym.envs.market.data.lobster_data import default_lobster_dir, load_lobster, units_per_tick

GOOG = "GOOG_2012-06-21_34200000_57600000_{}_10.csv.xz"


@pytest.fixture(scope="module")
def day():
    folder = default_lobster_dir()
    return load_lobster(folder / GOOG.format("message"), folder / GOOG.format("orderbook"),
                        price_units_per_tick=units_per_tick(0.01), start_s=34200.0, end_s=36000.0)


def test_the_median_spread_splits_the_two_sided_time_in_halves(day):
    _, hold, spread, ok = spread_rows(day)
    m = median_spread_ticks(day)
    time = hold[ok].sum()
    assert m in set(spread[ok].tolist())
    assert hold[ok & (spread <= m)].sum() >= 0.5 * time and hold[ok & (spread >= m)].sum() >= 0.5 * time
    assert hold[ok & (spread < m)].sum() < 0.5 * time  # the smallest such spread


def test_the_offset_defaults_to_half_the_median_spread_and_a_given_one_is_kept(day):
    out = latent_settings(day, 0.35)
    assert out == {"latent_frac": 0.35, "latent_offset_ticks": int(round(median_spread_ticks(day) / 2))}
    assert out["latent_offset_ticks"] >= 5  # GOOG's spreads are tens of ticks
    assert latent_settings(day, 1.0, 4) == {"latent_frac": 1.0, "latent_offset_ticks": 4}
    assert latent_settings(day, 1.0, 4, improve="inside") == {
        "latent_frac": 1.0, "latent_offset_ticks": 4, "latent_improve": "inside"}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"frac": 0.0}, ValueError, "frac"), ({"frac": 1.5}, ValueError, "frac"), ({"frac": np.nan}, ValueError, "frac"),
    ({"frac": 0.3, "offset_ticks": -1}, ValueError, "offset_ticks"),
    ({"frac": 0.3, "offset_ticks": 2.5}, TypeError, "offset_ticks"),
    ({"frac": 0.3, "improve": "half"}, ValueError, "improve"),
])
def test_bad_settings_are_refused(day, kwargs, error, match):
    with pytest.raises(error, match=match):
        latent_settings(day, **kwargs)
