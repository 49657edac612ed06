"""The natively vectorised LOB env replays the single env exactly, market by market."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.sb3 import GymnasiumVecEnv, make_sb3_model
from envs.lob_execution import LOBExecutionEnv
from envs.lob_vector import LOBExecutionVectorEnv, default_capacity
from envs.market import _book_kernels as K
from envs.market import flow as F

KW = dict(horizon_s=60.0, decision_interval_s=10.0, total_shares=5_000)


def actions_for(action, rng, m):
    if action == "fraction":
        return (rng.random((m, 1)) * 0.4).astype(np.float32)
    return rng.integers(0, 5, size=m)


@pytest.mark.parametrize("action", ["fraction", "participation"])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_each_market_is_the_single_env_with_seed_plus_index(action, side, mode):
    m = 3
    venv = LOBExecutionVectorEnv(m, autoreset_mode=mode, action=action, side=side, **KW)
    singles = [LOBExecutionEnv(action=action, side=side, **KW) for _ in range(m)]
    vobs, _ = venv.reset(seed=21)
    sobs = [e.reset(seed=21 + i)[0] for i, e in enumerate(singles)]
    np.testing.assert_array_equal(vobs, np.stack(sobs))
    rng = np.random.default_rng(0)
    episodes_done = 0
    for _ in range(16):  # several episodes of 6 decisions, through autoresets
        a = actions_for(action, rng, m)
        vo, vr, vt, _, vinfo = venv.step(a)
        for i, e in enumerate(singles):
            if mode == "NextStep" and (e._step >= e.config.n_steps or e._holdings <= 0):
                o, r, term = e.reset()[0], 0.0, False
            else:
                o, r, term, _, info = e.step(a[i])
                if term:
                    episodes_done += 1
                    assert vinfo["_execution"][i]
                    for key, value in info["execution"].items():
                        np.testing.assert_equal(vinfo["execution"][key][i], value)
                    if mode == "SameStep":
                        np.testing.assert_array_equal(vinfo["final_obs"][i], o)
                        o = e.reset()[0]
            np.testing.assert_array_equal(vo[i], o)
            assert vr[i] == r and vt[i] == term
    assert episodes_done >= 6


def test_make_vec_and_sb3_use_the_native_env():
    venv = gym.make_vec("execgym/LOBExecutionDiscrete-v0", num_envs=4, vectorization_mode="vector_entry_point",
                        autoreset_mode="SameStep", **KW)
    assert isinstance(venv.unwrapped, LOBExecutionVectorEnv)
    model = make_sb3_model("ppo", GymnasiumVecEnv(venv.unwrapped), seed=0, hyperparameters={"n_steps": 8})
    model.learn(64)
    assert model.num_timesteps >= 64


def test_refusals_and_errors_name_the_problem():
    with pytest.raises(ValueError, match="placement"):
        LOBExecutionVectorEnv(2, action="placement", **KW)
    venv = LOBExecutionVectorEnv(2, **KW)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="env 1"):
        venv.step(np.array([[0.1], [np.nan]], np.float32))
    discrete = LOBExecutionVectorEnv(2, action="participation", **KW)
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match="integer indices"):
        discrete.step(np.array([0, 9]))
    # with 0.05 ticks of impact per share, one 5,000-share buy moves the reference ~250 ticks:
    # past a 64-tick grid
    market = {"warmup_s": 60.0, "impact": {"transient_ticks_per_share": 0.05}}
    tiny = LOBExecutionVectorEnv(1, n_levels=64, market=market, **KW)
    with pytest.raises(RuntimeError, match="n_levels"):  # already in the warm-up's background flow
        tiny.reset(seed=0)
        tiny.step(np.array([[1.0]], np.float32))


def test_default_capacity_follows_the_market_and_covers_its_queue():
    """The order records per market follow the background queue (mean at most
    ``lambda_total * tod_max / theta``), and the flow stays well inside them."""
    venv = LOBExecutionVectorEnv(4, horizon_s=120.0, decision_interval_s=1.0)
    fp = venv._fp
    mean = fp[F.P_LAM_TOTAL] * fp[F.P_TOD_MAX] / fp[F.P_THETA]
    assert venv.capacity == default_capacity(fp) >= mean + 10 * np.sqrt(mean)
    assert venv.capacity % 64 == 0 and venv._htab.shape[1] >= 1.25 * venv.capacity
    venv.reset(seed=0)
    most = 0
    for _ in range(120):
        venv.step(np.full((4, 1), 0.01, np.float32))
        most = max(most, int(venv._sc[:, K.S_N_ORDERS].max()))
    assert mean / 2 < most < mean + 6 * np.sqrt(mean)
    deep = LOBExecutionVectorEnv(1, market={"flow": {"depth_shares": [20_000.0] * 10}}, **KW)
    deep_mean = deep._fp[F.P_LAM_TOTAL] * deep._fp[F.P_TOD_MAX] / deep._fp[F.P_THETA]
    assert np.isclose(deep_mean, mean * 200_000 / sum(F.FlowConfig().depth_shares))  # the depth's ratio
    assert deep.capacity >= deep_mean + 10 * np.sqrt(deep_mean) > 5 * venv.capacity
    deep.reset(seed=0)
    deep.step(np.array([[0.1]], np.float32))


def test_prefetching_the_next_market_changes_nothing_but_speed():
    runs = []
    for prefetch in (True, False):
        venv = LOBExecutionVectorEnv(3, prefetch=prefetch, **KW)
        assert venv.prefetch is prefetch
        obs, _ = venv.reset(seed=5)
        out = [obs]
        rng = np.random.default_rng(1)
        for _ in range(14):  # two episodes and a half, through autoresets
            o, r, term, _, _ = venv.step((rng.random((3, 1)) * 0.3).astype(np.float32))
            out += [o, r, term]
        runs.append(out)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="prefetch"):
        LOBExecutionVectorEnv(2, prefetch="yes", **KW)
