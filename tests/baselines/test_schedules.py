"""Each baseline's schedule, for buys and sells, in both action spaces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execgym.baselines import BASELINES, make_baseline
from execgym.baselines.almgren_chriss import ac_holdings
from execgym.baselines.pov import POVPolicy
from execgym.baselines.twap import TWAPPolicy
from execgym.baselines.vwap import VWAPPolicy
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
from tests.helpers import run_episode


def holdings_path(env, policy, seed=0):
    _, infos = run_episode(env, policy, seed)
    return np.array([env.config.total_shares] + [i["holdings"] for i in infos]), infos


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("action", ["fraction", "participation"])
def test_every_baseline_completes_and_never_reverses(name, action, side):
    env = AlmgrenChrissEnv(side=side, n_steps=10, action=action)
    x, infos = holdings_path(env, make_baseline(name, env.task))
    assert x[-1] == 0.0
    assert np.all(np.diff(x) <= 1e-9)  # holdings never rise, buy or sell
    assert np.isclose(sum(i["shares"] for i in infos), 1e6, rtol=1e-12)


def test_twap_trades_equal_slices(side):
    env = AlmgrenChrissEnv(side=side, n_steps=8)
    _, infos = holdings_path(env, TWAPPolicy(env.task))
    np.testing.assert_allclose([i["shares"] for i in infos], np.full(8, 1e6 / 8), rtol=1e-6)


def test_randomised_twap_stays_within_its_band_completes_and_is_seeded(side):
    env = AlmgrenChrissEnv(side=side, n_steps=20)

    def slices(seed):
        _, infos = holdings_path(env, TWAPPolicy(env.task, randomise_frac=0.2, seed=seed))
        return np.array([i["shares"] for i in infos])

    a = slices(1)
    remaining = 1e6 - np.concatenate([[0.0], np.cumsum(a)[:-1]])
    even = remaining / (20 - np.arange(20))
    ratio = a[:-1] / even[:-1]
    assert np.all((ratio >= 0.8 - 1e-6) & (ratio <= 1.2 + 1e-6))
    assert ratio.std() > 0.05  # actually randomised
    assert np.isclose(a.sum(), 1e6)
    np.testing.assert_array_equal(a, slices(1))
    assert not np.array_equal(a, slices(2))


def test_vwap_follows_the_expected_volume_profile(side):
    env = AlmgrenChrissEnv(side=side, n_steps=10, total_shares=1e5)
    _, infos = holdings_path(env, VWAPPolicy(env.task, max_participation=1.0))
    vol = env.task.expected_volume_shares
    np.testing.assert_allclose([i["shares"] for i in infos], 1e5 * vol / vol.sum(), rtol=1e-5)


def test_vwap_respects_its_participation_cap_and_catches_up(side):
    # the order is large against volume: the cap binds, the shortfall rolls forward
    env = AlmgrenChrissEnv(side=side, n_steps=10, total_shares=2e6, daily_volume_shares=4e6,
                           horizon_days=1.0)
    policy = VWAPPolicy(env.task, max_participation=0.45)
    _, infos = holdings_path(env, policy)
    shares = np.array([i["shares"] for i in infos])
    cap = 0.45 * env.task.expected_volume_shares
    assert np.all(shares[:-1] <= cap[:-1] * (1 + 1e-6))
    assert np.any(np.isclose(shares[:-1], cap[:-1], rtol=1e-6))  # the cap did bind
    assert np.isclose(shares.sum(), 2e6)


def test_pov_participation_adapts_within_bounds(side):
    env = AlmgrenChrissEnv(side=side, n_steps=20, total_shares=1.5e6)
    policy = POVPolicy(env.task, target_participation=0.1, min_participation=0.05, max_participation=0.2)
    _, infos = holdings_path(env, policy, seed=3)
    expected = env.task.expected_volume_shares
    ratio = 1.0
    for k, info in enumerate(infos[:-1]):
        # shares / forecast volume is the participation used, within [min, max]
        p = info["shares"] / (expected[k] * ratio)
        assert 0.05 - 1e-6 <= p <= 0.2 + 1e-6
        ratio = info["market_volume"] / expected[k]


def test_adaptive_pov_follows_realised_volume_where_vwap_does_not():
    """POV scales its child order with how the market's volume came in; VWAP keeps to the
    expected profile. Within the bounds, twice the expected volume means twice the shares."""
    env = AlmgrenChrissEnv(n_steps=20, total_shares=1.5e6)
    pov = POVPolicy(env.task, target_participation=0.1, min_participation=0.01, max_participation=0.5)
    vwap = make_baseline("vwap", env.task)
    step, remaining = np.array([3, 3, 3]), np.full(3, 1.4e6)
    ratio = np.array([0.5, 1.0, 2.0])
    p = pov.shares_to_trade(step, remaining, ratio)
    np.testing.assert_allclose(p / p[1], ratio, rtol=1e-12)
    v = vwap.shares_to_trade(step, remaining, ratio)
    assert v[1] > 0
    np.testing.assert_allclose(v, v[1], rtol=1e-12)
    assert not np.allclose(p, v)


def test_pov_non_adaptive_trades_its_target_of_forecast_volume():
    env = AlmgrenChrissEnv(n_steps=20, total_shares=1e7)
    policy = POVPolicy(env.task, target_participation=0.1, adaptive=False)
    _, infos = holdings_path(env, policy, seed=3)
    expected = env.task.expected_volume_shares
    assert infos[0]["shares"] == pytest.approx(0.1 * expected[0], rel=1e-6)
    ratio = infos[0]["market_volume"] / expected[0]
    assert infos[1]["shares"] == pytest.approx(0.1 * expected[1] * ratio, rel=1e-5)


def test_almgren_chriss_policy_follows_the_closed_form_holdings(side):
    env = AlmgrenChrissEnv(side=side, n_steps=12)
    policy = make_baseline("almgren_chriss", env.task)
    x, _ = holdings_path(env, policy)
    np.testing.assert_allclose(x, ac_holdings(policy.params), rtol=1e-5, atol=1.0)


def test_predict_handles_batches_and_rejects_reset_tuples():
    env = AlmgrenChrissEnv(n_steps=5)
    policy = TWAPPolicy(env.task)
    obs, info = env.reset(seed=0)
    single, state = policy.predict(obs)
    batch, _ = policy.predict(np.stack([obs, obs]))
    assert single.shape == (1,) and batch.shape == (2, 1) and state is None
    np.testing.assert_array_equal(batch[0], single)
    with pytest.raises(TypeError, match="obs, info"):
        policy.predict((obs, info))
    with pytest.raises(ValueError, match="shape"):
        policy.predict(np.zeros(2))


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "twap", "randomise_frac": 1.5}, "randomise_frac"),
    ({"name": "vwap", "max_participation": 0.0}, "max_participation"),
    ({"name": "pov", "target_participation": 0.3, "max_participation": 0.2}, "target_participation"),
    ({"name": "pov", "min_participation": float("nan")}, "min_participation"),
    ({"name": "almgren_chriss", "risk_aversion": -1.0}, "risk_aversion"),
    ({"name": "nope"}, "unknown baseline"),
])
def test_invalid_baseline_parameters_raise_naming_them(kwargs, match):
    env = AlmgrenChrissEnv(n_steps=5)
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=match):
        make_baseline(name, env.task, **kwargs)


@settings(max_examples=30, deadline=None)
@given(
    n_steps=st.integers(2, 30),
    total=st.floats(1e3, 1e7),
    frac=st.floats(0.0, 1.0),
    name=st.sampled_from(sorted(BASELINES)),
    side=st.sampled_from(["buy", "sell"]),
)
def test_property_schedules_complete_and_conserve_shares(n_steps, total, frac, name, side):
    env = AlmgrenChrissEnv(side=side, n_steps=n_steps, total_shares=total)
    kwargs = {"randomise_frac": frac} if name == "twap" else {}
    x, infos = holdings_path(env, make_baseline(name, env.task, **kwargs), seed=n_steps)
    assert x[-1] == 0.0 and np.all(np.diff(x) <= 1e-9 * total)
    executed = sum(i["shares"] for i in infos)
    assert np.isclose(executed + x[-1], total, rtol=1e-12)
