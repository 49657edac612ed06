"""The intraday spread: placement distances scaled by time of day widen the spread where the
profile says, and the fit finds the profile again; flow_params keeps every mechanism's
parameters when several are on."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.spread_profile import fit_spread_profile
from execgym.envs.market.analysis.realism import metric_samples
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DEPTH = (0.0, 0.0, 0.0, 0.0, 1500.0, 2000.0, 2500.0, 2500.0, 2500.0, 2000.0)


def _market(scale=()):
    flow = FlowConfig(market_rate_per_s=0.5, resilience_per_s=0.2, intraday=None, anchor="opposite_best",
                      mean_limit_size_shares=100.0, depth_shares=DEPTH, session_s=3_600.0,
                      placement_scale=scale, placement_scale_bucket_s=1_200.0)
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
