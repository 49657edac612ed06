"""The intraday spread: placement distances scaled by time of day widen the spread where the
profile says, and the fit finds the profile again; buckets of unequal length (minutes after
the open, hours later) with a warm-up that builds the opening book; the refinement by
simulation moves the multipliers towards the day's spreads; flow_params keeps every
mechanism's parameters when several are on."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.analysis.calibration.spread_profile import bucket_spreads, fit_spread_profile
from execgym.envs.market.analysis.realism import metric_samples
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DEPTH = (0.0, 0.0, 0.0, 0.0, 1500.0, 2000.0, 2500.0, 2500.0, 2500.0, 2000.0)


def _market(scale=(), starts=(), resilience=0.2):
    flow = FlowConfig(market_rate_per_s=0.5, resilience_per_s=resilience, intraday=None, anchor="opposite_best",
                      mean_limit_size_shares=100.0, depth_shares=DEPTH, session_s=3_600.0,
                      placement_scale=scale, placement_scale_bucket_s=1_200.0, placement_scale_starts_s=starts)
    return SimulatorConfig(flow=flow, warmup_s=300.0)


def test_the_profile_widens_the_spread_where_it_says_and_the_fit_finds_it():
    scale = (2.0, 1.0, 0.6)
    day = simulate_day(_market(scale), np.random.default_rng(0), 3_600.0, dt_s=60.0)
    fitted = np.array(fit_spread_profile(day, bucket_s=1_200.0))
    assert len(fitted) == 3 and fitted[0] > fitted[1] > fitted[2]
    np.testing.assert_allclose(fitted / fitted.mean(), np.array(scale) / np.mean(scale), rtol=0.3)
    flat = np.array(fit_spread_profile(simulate_day(_market(), np.random.default_rng(0), 3_600.0, dt_s=60.0),
                                       bucket_s=1_200.0))
    np.testing.assert_allclose(flat, 1.0, atol=0.15)


def test_without_a_profile_the_stream_is_unchanged():
    a = simulate_day(_market(), np.random.default_rng(4), 600.0, dt_s=60.0).messages
    b = simulate_day(_market((1.0,)), np.random.default_rng(4), 600.0, dt_s=60.0).messages
    assert a.equals(b)  # a multiplier of one places every order where it was


@pytest.mark.parametrize("scale, match", [((1.0,) * 17, "at most"), ((1.0, 0.0), r"placement_scale\[1\]")])
def test_bad_profiles_are_rejected(scale, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(placement_scale=scale)


def test_flow_params_keep_every_mechanism_when_all_are_on():
    flow = FlowConfig(cluster_alphas_per_s=(1.0, 10.0), cluster_betas_per_s=(4.0, 40.0), cluster_join_frac=0.2,
                      cluster_improve_frac=0.1, cluster_cancel_newest_frac=0.3, activity_sigma=0.5,
                      activity_time_s=20.0, sign_run_share=0.4, placement_scale=(1.5, 0.8))
    impact = ImpactConfig(propagator_ticks_per_share=1e-3)
    fp, _, _ = F.flow_params(flow, impact, 1)
    assert fp[F.P_CLUSTER_ON] == 1.0
    np.testing.assert_array_equal(fp[F.P_CLUSTER_A0: F.P_CLUSTER_A0 + 4], [1.0, 4.0, 10.0, 40.0])
    assert (fp[F.P_CL_JOIN], fp[F.P_CL_IMPROVE], fp[F.P_CL_NEWEST]) == (0.2, 0.1, 0.3)
    assert fp[F.P_ACT_SIGMA] == 0.5 and fp[F.P_RUN_SHARE] == 0.4 and fp[F.P_PROP_ON] == 1.0
    assert (fp[F.P_SCALE_ON], fp[F.P_SCALE_N], fp[F.P_SCALE0], fp[F.P_SCALE0 + 1]) == (1.0, 2.0, 1.5, 0.8)


def test_fit_rejects_a_bad_bucket():
    day = simulate_day(_market(), np.random.default_rng(1), 600.0, dt_s=60.0)
    with pytest.raises(ValueError, match="bucket_s"):
        fit_spread_profile(day, bucket_s=0.0)
    assert metric_samples(day, ["spread_ticks"])["spread_ticks"].min() >= 1


def test_explicit_starts_at_the_bucket_length_give_the_same_stream():
    # the session's first two buckets (the stream is compared message by message)
    a = simulate_day(_market((2.0, 1.0, 0.6)), np.random.default_rng(5), 1_500.0, dt_s=60.0).messages
    b = simulate_day(_market((2.0, 1.0, 0.6), starts=(0.0, 1_200.0, 2_400.0)), np.random.default_rng(5), 1_500.0,
                     dt_s=60.0).messages
    assert a.equals(b)


def test_unequal_buckets_widen_the_minutes_after_the_open_and_the_fit_finds_them():
    starts = (0.0, 300.0, 900.0)
    day = simulate_day(_market((3.0, 1.5, 1.0), starts=starts), np.random.default_rng(2), 3_600.0, dt_s=60.0)
    spreads = bucket_spreads(day, starts)
    assert spreads[0] > spreads[1] > spreads[2]
    fitted = np.array(fit_spread_profile(day, starts_s=starts))
    np.testing.assert_allclose(fitted / fitted[2], np.array([3.0, 1.5, 1.0]), rtol=0.35)


def test_the_warm_up_builds_the_opening_book():
    # a slow book (resilience 0.02/s: orders rest ~50 s): built at the close's multiplier, the
    # first minute's book would still be the narrow one
    starts = (0.0, 600.0)
    day = simulate_day(_market((3.0, 1.0), starts=starts, resilience=0.02), np.random.default_rng(3), 1_800.0,
                       dt_s=60.0)
    first_minute, rest_of_bucket, later = bucket_spreads(day, (0.0, 60.0, 600.0))
    assert first_minute > 0.75 * rest_of_bucket and first_minute > 1.8 * later


def test_refinement_moves_the_multipliers_towards_the_days_spreads():
    starts = (0.0, 600.0)
    day = simulate_day(_market((2.5, 1.0), starts=starts), np.random.default_rng(6), 1_200.0, dt_s=60.0)
    target = bucket_spreads(day, starts)
    start = _market((1.0, 1.0), starts=starts)
    before = bucket_spreads(simulate_day(start, np.random.default_rng(8), 1_200.0, dt_s=60.0), starts)
    refined, _ = refine_depth(start, day, iterations=3, seed=4, spread_profile=True)
    after = bucket_spreads(simulate_day(refined, np.random.default_rng(8), 1_200.0, dt_s=60.0), starts)
    assert refined.flow.placement_scale[0] > 1.4
    assert refined.flow.placement_scale_starts_s == starts
    ratio = lambda x: x[0] / x[1]  # noqa: E731
    assert abs(ratio(after) - ratio(target)) < 0.5 * abs(ratio(before) - ratio(target))
    with pytest.raises(ValueError, match="no placement_scale"):
        refine_depth(_market(), day, iterations=1, spread_profile=True)


def test_calibration_writes_the_buckets_starts():
    starts = (0.0, 300.0, 900.0)
    day = simulate_day(_market((3.0, 1.5, 1.0), starts=starts), np.random.default_rng(2), 1_800.0, dt_s=60.0)
    cal = calibrate_flow(day, max_distance=10, spread_profile=True, spread_starts_s=starts)
    assert cal.flow.placement_scale_starts_s == starts and len(cal.flow.placement_scale) == 3
    mapping = cal.market_config(0.01, 1000.0, 300.0)
    again = SimulatorConfig.from_mapping(mapping)
    assert again.flow.placement_scale_starts_s == starts
    assert again.flow.placement_scale == tuple(float(f"{x:.4g}") for x in cal.flow.placement_scale)
    # a shorter day keeps the starts within its session
    short = calibrate_flow(day, max_distance=10, spread_profile=True, spread_starts_s=starts + (1_800.0, 7_200.0))
    assert short.flow.placement_scale_starts_s == starts


@pytest.mark.parametrize("starts, match", [
    ((0.0,), "one start per multiplier"),
    ((10.0, 600.0), "start at 0"),
    ((0.0, 0.0), "increase"),
    ((0.0, 4_000.0), "within the session"),
])
def test_bad_bucket_starts_are_rejected(starts, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(placement_scale=(2.0, 1.0), placement_scale_starts_s=starts, session_s=3_600.0)


def test_bucket_spreads_reject_bad_starts():
    day = simulate_day(_market(), np.random.default_rng(1), 600.0, dt_s=60.0)
    for starts in ((), (5.0,), (0.0, 700.0), (0.0, 300.0, 200.0)):
        with pytest.raises(ValueError, match="starts_s"):
            bucket_spreads(day, starts)
