"""The natively vectorised LOB env replays the pinned Python env (the single env as it was
before the compiled core, ``tests/envs/reference_lob_env.py``) exactly, market by market."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from execgym.agents.sb3 import GymnasiumVecEnv, make_sb3_model
from execgym.envs.lob_execution import LOBExecutionEnv
from execgym.envs.lob_vector import LOBExecutionVectorEnv, default_capacity
from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.simulator import MarketSimulator
from tests.envs.reference_lob_env import ReferenceLOBEnv
from tests.market.live_lists import check_split_lists

KW = dict(horizon_s=60.0, decision_interval_s=10.0, total_shares=5_000)


#: placement offsets (ticks): crossing, at the touch, passive, and halves (rounded to even)
OFFSETS = np.array([-5.0, -2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0], np.float32)


def actions_for(action, rng, m):
    if action == "fraction":
        return (rng.random((m, 1)) * 0.4).astype(np.float32)
    if action == "placement":
        # fractions of 0 (cancel only), small and large; the same offset often (kept orders)
        frac = rng.choice([0.0, 0.1, 0.3, 0.6], size=m)
        return np.stack([frac, rng.choice(OFFSETS, size=m)], axis=1).astype(np.float32)
    return rng.integers(0, 5, size=m)


def assert_replays_single_envs(venv, singles, action, mode, n_steps, rng):
    """Step ``venv`` and ``singles`` (reset with seeds 21 + i) with the same random actions;
    assert equal observations, rewards, terminations and summaries. Returns the episodes
    compared and the single envs' observations."""
    m = len(singles)
    vobs, _ = venv.reset(seed=21)
    sobs = [e.reset(seed=21 + i)[0] for i, e in enumerate(singles)]
    np.testing.assert_array_equal(vobs, np.stack(sobs))
    episodes_done = 0
    seen = list(sobs)
    for _ in range(n_steps):
        a = actions_for(action, rng, m)
        vo, vr, vt, vtr, vinfo = venv.step(a)
        assert not vtr.any()
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
            seen.append(o)
    return episodes_done, np.stack(seen)


@pytest.mark.parametrize("action", ["fraction", "participation"])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_each_market_is_the_single_env_with_seed_plus_index(action, side, mode):
    m = 3
    venv = LOBExecutionVectorEnv(m, autoreset_mode=mode, action=action, side=side, **KW)
    singles = [ReferenceLOBEnv(action=action, side=side, **KW) for _ in range(m)]
    # several episodes of 6 decisions, through autoresets
    episodes_done, _ = assert_replays_single_envs(venv, singles, action, mode, 16, np.random.default_rng(0))
    assert episodes_done >= 6


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_placement_markets_are_the_single_env_with_seed_plus_index(keep, side, mode):
    """Limit orders: crossing, at-touch and passive, cancelled or kept, filled by the flow
    while they rest, cancelled at the horizon where the remainder walks the book."""
    m = 3
    kw = dict(KW, action="placement", side=side, keep_unfilled=keep)
    venv = LOBExecutionVectorEnv(m, autoreset_mode=mode, **kw)
    singles = [ReferenceLOBEnv(**kw) for _ in range(m)]
    kept, passive = [], []
    original_send, original_advance = ReferenceLOBEnv._send, MarketSimulator.advance

    def send(env, a):  # record the single env's resizes of a kept order
        before = env._child
        out = original_send(env, a)
        kept.append(before is not None and env._child == before and before in env._sim.book)
        return out

    def advance(sim, dt):  # record the flow's fills of the agent's resting orders
        report = original_advance(sim, dt)
        passive.append(report.agent_volume_shares)
        return report

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ReferenceLOBEnv, "_send", send)
        mp.setattr(MarketSimulator, "advance", advance)
        episodes_done, seen = assert_replays_single_envs(venv, singles, "placement", mode, 24,
                                                         np.random.default_rng(3))
    assert episodes_done >= 9
    resting = seen[:, 10] == 1.0
    assert resting.any() and (seen[resting, 9] > 0).any() and (seen[resting, 9] == 0).any()
    assert any(kept) == keep and sum(p > 0 for p in passive) >= 5


def test_make_vec_and_sb3_use_the_native_env():
    venv = gym.make_vec("execgym/LOBExecutionDiscrete-v0", num_envs=4, vectorization_mode="vector_entry_point",
                        autoreset_mode="SameStep", **KW)
    assert isinstance(venv.unwrapped, LOBExecutionVectorEnv)
    model = make_sb3_model("ppo", GymnasiumVecEnv(venv.unwrapped), seed=0, hyperparameters={"n_steps": 8})
    model.learn(64)
    assert model.num_timesteps >= 64


def test_refusals_and_errors_name_the_problem():
    venv = LOBExecutionVectorEnv(2, **KW)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="env 1"):
        venv.step(np.array([[0.1], [np.nan]], np.float32))
    discrete = LOBExecutionVectorEnv(2, action="participation", **KW)
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match="integer index"):
        discrete.step(np.array([0, 9]))
    # with 0.05 ticks of impact per share, one 5,000-share buy moves the reference ~250 ticks:
    # past a 64-tick grid
    market = {"warmup_s": 60.0, "impact": {"transient_ticks_per_share": 0.05}}
    tiny = LOBExecutionVectorEnv(1, n_levels=64, market=market, **KW)
    with pytest.raises(RuntimeError, match="n_levels"):  # already in the warm-up's background flow
        tiny.reset(seed=0)
        tiny.step(np.array([[1.0]], np.float32))
    # more order records than the flow's live list can name (slots above 2**23)
    with pytest.raises(ValueError, match=f"capacity must be at most {F.MAX_LIVE_SLOTS}.*got {F.MAX_LIVE_SLOTS + 1}"):
        LOBExecutionVectorEnv(1, capacity=F.MAX_LIVE_SLOTS + 1, **KW)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_placement_from_a_thin_book_measures_from_the_opposite_touch_or_the_reference(side):
    """Without warm-up the book starts empty: the touch is the opposite touch less a tick,
    or the rounded reference price when both sides are empty, as in the single env."""
    kw = dict(KW, decision_interval_s=0.1, horizon_s=0.6, action="placement", side=side,
              market={"warmup_s": 0.0})
    venv = LOBExecutionVectorEnv(6, **kw)
    singles = [ReferenceLOBEnv(**kw) for _ in range(6)]
    empty = []
    original = ReferenceLOBEnv._send

    def send(env, a):  # which of the touch's fallbacks the single env takes
        b = env._sim.book
        own, opp = (b.best_bid, b.best_ask) if env.sign > 0 else (b.best_ask, b.best_bid)
        empty.append("quoted" if own is not None else "opposite" if opp is not None else "reference")
        return original(env, a)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ReferenceLOBEnv, "_send", send)
        assert_replays_single_envs(venv, singles, "placement", "NextStep", 24, np.random.default_rng(3))
    assert {"quoted", "opposite", "reference"} <= set(empty)


@pytest.mark.parametrize("bad, row, match, single_match", [
    ([[0.1, 0.0], [np.nan, 0.0], [0.2, 1.0]], 1, "fraction.*env 1", r"action\[0\]"),
    ([[0.1, 0.0], [0.2, 1.0], [1.5, 0.0]], 2, "fraction.*env 2", r"action\[0\]"),
    ([[0.1, 0.0], [0.2, 5.5], [0.2, 1.0]], 1, "offset.*env 1", r"action\[1\]"),
    ([[0.1, -6.0], [0.2, 0.0], [0.2, 1.0]], 0, "offset.*env 0", r"action\[1\]"),
    ([[0.1, 0.0], [0.2, np.nan], [0.2, 1.0]], 1, "offset.*env 1", r"action\[1\]"),
    ([[0.1], [0.2], [0.3]], 0, "shape", "shape"),
])
def test_bad_placement_actions_raise_like_the_single_env_and_change_nothing(bad, row, match, single_match):
    venv = LOBExecutionVectorEnv(3, action="placement", **KW)
    single = LOBExecutionEnv(action="placement", **KW)
    single.reset(seed=0)
    venv.reset(seed=0)
    venv.step(np.array([[0.2, 2.0], [0.1, 0.0], [0.3, 1.0]], np.float32))  # orders resting
    state = [a.copy() for a in (venv._es, venv._sc, venv._orders, venv._lvl, venv._fs)]
    a = np.array(bad, np.float32)
    with pytest.raises(ValueError, match=match):
        venv.step(a)
    with pytest.raises(ValueError, match=single_match):
        single.step(a[row])
    for before, after in zip(state, (venv._es, venv._sc, venv._orders, venv._lvl, venv._fs)):
        np.testing.assert_array_equal(before, after)
    venv.step(np.array([[0.2, -5.0], [0.0, 5.0], [1.0, 0.0]], np.float32))  # the bounds are valid


def test_make_vec_gives_the_native_placement_env_within_its_spaces():
    """``gym.make_vec`` finds the vector entry point; observations stay in the batched
    observation space through episodes and autoresets of sampled actions."""
    venv = gym.make_vec("execgym/LOBExecutionPlacement-v0", num_envs=4, vectorization_mode="vector_entry_point",
                        keep_unfilled=True, **KW)
    assert isinstance(venv.unwrapped, LOBExecutionVectorEnv) and venv.unwrapped.config.action == "placement"
    assert venv.single_action_space == LOBExecutionEnv(action="placement", **KW).action_space
    assert venv.action_space.shape == (4, 2)
    venv.action_space.seed(0)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (4, 11) and venv.observation_space.contains(obs)
    resting = 0
    for _ in range(14):
        obs, rewards, term, trunc, _ = venv.step(venv.action_space.sample())
        assert venv.observation_space.contains(obs) and np.isfinite(rewards).all()
        assert term.dtype == bool and trunc.dtype == bool
        resting += int(obs[:, 10].sum())
    assert resting > 0


def test_default_capacity_follows_the_market_and_covers_its_queue():
    """The order records per market follow the background queue (mean at most
    ``lambda_total * tod_max / theta``), and the flow stays well inside them."""
    venv = LOBExecutionVectorEnv(4, horizon_s=120.0, decision_interval_s=1.0)
    fp = venv._fp
    mean = fp[F.P_LAM_TOTAL] * fp[F.P_TOD_MAX] / fp[F.P_THETA]
    assert venv.capacity == default_capacity(fp) >= mean + 10 * np.sqrt(mean)
    assert venv.capacity % 64 == 0
    venv.reset(seed=0)
    most = 0
    for _ in range(120):
        venv.step(np.full((4, 1), 0.01, np.float32))
        most = max(most, int(venv._sc[:, K.S_N_ORDERS].max()))
        # the id map holds the agent's orders only (none rest: market orders), not the flow's
        assert not (venv._htab != K.EMPTY_SLOT).any()
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


@pytest.mark.parametrize("action", ["fraction", "placement"])
def test_the_parallel_step_is_the_serial_one_bit_for_bit(action):
    """``parallel=True`` shares the markets among numba's threads; every market's step is
    the serial one, through episodes, autoresets and placements."""
    kw = dict(KW, action=action, keep_unfilled=action == "placement")
    serial = LOBExecutionVectorEnv(6, autoreset_mode="SameStep", **kw)
    parallel = LOBExecutionVectorEnv(6, autoreset_mode="SameStep", parallel=True, **kw)
    assert parallel.parallel and not serial.parallel
    o1, _ = serial.reset(seed=4)
    o2, _ = parallel.reset(seed=4)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(20):
        a = actions_for(action, rng, 6)
        s, p = serial.step(a), parallel.step(a)
        for x, y in zip(s[:4], p[:4]):
            np.testing.assert_array_equal(x, y)
        ended += int(s[2].sum())
    assert ended >= 6
    with pytest.raises(TypeError, match="parallel"):
        LOBExecutionVectorEnv(2, parallel="yes", **KW)


MECHANISMS = {
    "propagator": ({"flow": {"anchor": "reference", "market_rate_per_s": 2.0},
                    "impact": {"propagator_ticks_per_share": 2e-3, "propagator_exponent": 0.5,
                               "propagator_time_s": 5.0}}, "prop_ticks"),
    "random_clock": ({"flow": {"activity_sigma": 0.8, "activity_time_s": 5.0}}, "act_x"),
    # latent liquidity: a share of the opposite-best flow placed from the centre the propagator moves
    "latent": ({"flow": {"anchor": "opposite_best", "market_rate_per_s": 2.0, "latent_frac": 0.5,
                         "latent_offset_ticks": 1},
                "impact": {"propagator_ticks_per_share": 2e-3, "propagator_exponent": 0.5,
                           "propagator_time_s": 5.0}}, "prop_ticks"),
    # state-dependent: the market orders' rate by the spread, the placement by the minute
    "fleeting": ({"flow": {"anchor": "opposite_best", "cluster_alphas_per_s": [2.0], "cluster_betas_per_s": [4.0],
                           "cluster_join_frac": 0.5, "cluster_cancel_newest_frac": 0.5}}, None),
    # a revision's delayed re-post may wait across a decision step
    "revisions": ({"flow": {"revise_best_per_s": 0.5, "revise_deep_per_s": 0.2, "revise_delay_s": 0.5}}, "rev_t_s"),
    "spread_rate": ({"flow": {"market_spread_ticks": [1, 2, 4], "market_spread_factor": [3.0, 1.0, 0.3]}}, None),
    "opening_spread": ({"flow": {"anchor": "opposite_best", "placement_scale": [3.0, 1.0],
                                 "placement_scale_starts_s": [0.0, 30.0]}}, None),
    # a flickering quote's withdrawal may wait across a decision step; the refill acts on the book
    "inside_spread": ({"flow": {"anchor": "opposite_best", "inside_spread_ticks": [1, 3], "inside_probs": [0.0, 0.5],
                                "inside_improve_fracs": [0.3, 0.6], "inside_fleeting_fracs": [0.0, 0.5], "inside_life_s": 2.0,
                                "refill_empty_side": True}}, "flick_t_s"),
    "opening_burst": ({"flow": {"intraday": {"burst_boost": 30.0, "burst_decay_frac": 0.01}}}, None),
    # the cap reads the opposite queue, which the agent's orders are part of
    "queue_cap": ({"flow": {"market_queue_cap_frac": 0.8, "market_taken_size_shares": 100.0, "market_rate_per_s": 1.0}},
                  None),
    # the side that changed last: the agent's orders change it between calls of the flow
    "quote_follow": ({"flow": {"anchor": "opposite_best", "inside_spread_ticks": [1, 3], "inside_probs": [0.0, 0.5],
                               "inside_improve_fracs": [0.3, 0.6], "inside_follow_gaps_s": [0.0, 0.5],
                               "inside_follow_probs": [0.9, 0.6, 0.9, 0.6, 0.6, 0.5]}}, "chg_t_s"),
    # several flickering quotes wait at once, with lives between quantiles
    "inside_lives": ({"flow": {"anchor": "opposite_best", "inside_spread_ticks": [1, 3], "inside_probs": [0.0, 0.5],
                               "inside_improve_fracs": [0.3, 0.6], "inside_fleeting_fracs": [0.0, 0.8],
                               "inside_life_quantiles_s": [0.05, 0.5, 3.0], "inside_flicker_slots": 8}}, "flick_t_s"),
    # quotes posted inside taken by a market order after a delay that may span a decision step
    "inside_takes": ({"flow": {"anchor": "opposite_best", "inside_spread_ticks": [1, 3], "inside_probs": [0.0, 0.5],
                               "inside_improve_fracs": [0.3, 0.6], "inside_fleeting_fracs": [0.0, 0.4],
                               "inside_life_quantiles_s": [0.05, 0.5, 3.0], "inside_flicker_slots": 8,
                               "inside_take_edges": [0.0, 0.3], "inside_taken_fracs": [0.2, 0.7],
                               "inside_take_quantiles_s": [0.1, 1.0, 4.0, 0.01, 0.1, 0.5]}},
                     "flick_t_s"),
    # the inside orders' probabilities times the liquidity-provision regime (stepped from the diffusion's stream)
    "inside_regimes": ({"flow": {"anchor": "opposite_best", "inside_spread_ticks": [1, 3], "inside_probs": [0.1, 0.5],
                                 "inside_improve_fracs": [0.3, 0.6], "inside_regime_sigma": 1.5,
                                 "inside_regime_time_s": 5.0}}, "inr_y"),
    # trades inside the spread that leave the book alone but count as market volume
    "hidden": ({"flow": {"hidden_rate_per_s": 2.0, "hidden_sizes_shares": [100.0, 300.0],
                         "hidden_size_probs": [3.0, 1.0]}}, None),
    # the clustering within the top levels (which the agent's orders shift) and its excited
    # submissions placed from the best
    "cluster_levels": ({"flow": {"cluster_alphas_per_s": [5.0, 300.0], "cluster_betas_per_s": [20.0, 1000.0],
                                 "cluster_levels": 3, "best_anchor_frac": 0.5, "best_anchor_probs": [2.0, 1.0, 1.0],
                                 "best_anchor_excited": True}}, None),
    # cancellation by size reads the resting order's size and distance from its best, which the agent's orders move
    "cancel_sizes": ({"flow": {"cancel_size_edges_shares": [100.0], "cancel_size_factors": [1.5, 0.9],
                               "cancel_size_behind_ticks": 2}}, None),
    # ... in two streams with the list split: round lots the agent's and the flow's trades leave
    # odd move to the top list at once (the agent's trades between calls of the flow)
    "cancel_sizes_split": ({"flow": {"cancel_size_edges_shares": [100.0], "cancel_size_factors": [1.5, 0.6],
                                     "cancel_size_behind_ticks": 2, "cancel_near_factor": 3.0,
                                     "size_distribution": "empirical", "limit_sizes_shares": [100.0, 300.0],
                                     "limit_size_probs": [1.0, 1.0], "mean_limit_size_shares": 200.0,
                                     "market_sizes_shares": [150.0], "market_size_probs": [1.0],
                                     "mean_market_size_shares": 150.0}}, "n_top"),
    # placement from the side's own best, which the agent's orders may set
    "best_anchor": ({"flow": {"best_anchor_frac": 0.6, "best_anchor_probs": [3.0, 2.0, 1.0, 1.0]}}, None),
    # ... and its distances following the intraday spread (the time of day is the episode's)
    "best_anchor_scaled": ({"flow": {"anchor": "opposite_best", "best_anchor_frac": 0.6,
                                     "best_anchor_probs": [3.0, 2.0, 1.0, 1.0], "best_anchor_scaled": True,
                                     "placement_scale": [3.0, 1.0], "placement_scale_starts_s": [0.0, 30.0]}}, None),
    # the size table by where the order goes, read off the book the agent's orders are part of
    "place_sizes": ({"flow": {"anchor": "opposite_best", "size_distribution": "empirical",
                              "limit_sizes_shares": [100.0, 300.0], "limit_size_probs": [1.0, 1.0],
                              "mean_limit_size_shares": 200.0, "market_sizes_shares": [100.0, 200.0],
                              "market_size_probs": [1.0, 1.0], "mean_market_size_shares": 150.0,
                              "limit_size_place_probs": [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]}}, None),
}


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_optional_mechanisms_in_the_vector_env_are_the_single_env(mechanism, side):
    """The propagator's state (one number per exponential) and the random clock's live in
    the vector env's flow states as in the single env's: the same seeds, the same episodes."""
    market, field = MECHANISMS[mechanism]
    m = 3
    venv = LOBExecutionVectorEnv(m, action="fraction", side=side, market=market, **KW)
    singles = [ReferenceLOBEnv(action="fraction", side=side, market=market, **KW) for _ in range(m)]
    episodes_done, _ = assert_replays_single_envs(venv, singles, "fraction", "NextStep", 12, np.random.default_rng(1))
    assert episodes_done >= 3
    if field is not None:
        assert np.any(venv._fs[field] != 0.0)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_vector_envs_split_lists_hold_every_resting_order(side):
    # the agent's trades (between calls of the flow) regroup the orders they leave partly filled
    market = MECHANISMS["cancel_sizes_split"][0]
    venv = LOBExecutionVectorEnv(3, action="fraction", side=side, market=market, **KW)
    assert venv._fp[F.P_CSZ_SPLIT] == 1.0
    venv.reset(seed=5)
    rng = np.random.default_rng(2)
    for _ in range(15):
        venv.step(actions_for("fraction", rng, 3))
        for m in range(3):
            check_split_lists(venv._fp, venv._fs[m], venv._live[m], venv._orders[m])
    assert (venv._fs["n_top"] > 0).all()
