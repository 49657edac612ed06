"""The clustering's reach (``FlowConfig.cluster_levels``): only submissions and cancellations
within the top ``L`` levels of their side excite the clustering and its excited events land
there, so the bursts stay in the stream a LOBSTER file of ``L`` levels records and the flow
beyond it is Poisson; ``_read_top`` reads the ``L``-th level off the book on both sides (and the
flow keeps that view through the events that leave it so); an
excited cancellation's draw skips stale and far entries; ``best_anchor_excited`` places the
excited submissions only from the best; the calibration sets the day's levels; bad input is
refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.data.lobster_data import price_vs_best
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation import rng as R
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

CLUSTER = {"cluster_alphas_per_s": (2.0, 1200.0), "cluster_betas_per_s": (20.0, 2000.0)}  # n = 0.7
LEVELS = 5
DURATION_S = 1_800.0
LC = (int(EventType.SUBMISSION), int(EventType.CANCELLATION), int(EventType.DELETION))


def _market(**flow):
    base = dict(anchor="opposite_best", intraday=None, market_rate_per_s=0.2, depth_shares=(300.0,) * 30, **CLUSTER)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _streams(seed, **flow):
    """The recorded (top LEVELS levels) and the unrecorded submissions and cancellations of one
    simulated day (the same events: simulate_day draws the day whatever it records)."""
    days = [simulate_day(_market(**flow), np.random.default_rng(seed), DURATION_S, dt_s=60.0, levels=LEVELS,
                         all_messages=every, open_time_s=0.0) for every in (False, True)]
    recorded, every = (d.messages[d.messages["type"].isin(LC)] for d in days)
    key = ["time_s", "type", "order_id"]
    both = every.merge(recorded[key].drop_duplicates(), on=key, how="left", indicator=True)
    beyond = both[both["_merge"] == "left_only"]
    assert len(recorded) + len(beyond) == len(every)
    return recorded["time_s"].to_numpy(), beyond["time_s"].to_numpy()


def _fast_gap_share(times):
    gaps = np.diff(np.unique(times))
    return float(np.mean(gaps < 1e-3))  # the fast kernel's scale: 0.5 ms


def _cv(times):
    gaps = np.diff(np.unique(times))
    return float(gaps.std() / gaps.mean())


@pytest.fixture(scope="module")
def streams():
    return {levels: _streams(4, cluster_levels=levels) for levels in (0, LEVELS)}


def test_the_bursts_stay_in_the_recorded_levels_and_the_flow_beyond_them_is_poisson(streams):
    (rec_all, beyond_all), (rec_near, beyond_near) = streams[0], streams[LEVELS]
    assert len(rec_near) > 3_000 and len(beyond_near) > 1_500
    # everywhere: a burst's points land beyond the recorded levels too, and the recorded ones
    # lose them (seed 4: 37% of the recorded gaps under a millisecond, 55% within the levels)
    assert _fast_gap_share(rec_near) > 1.3 * _fast_gap_share(rec_all)
    # within the levels: beyond them, base events only, Poisson (at about 1.2/s, 0.1% of the
    # gaps under a millisecond; exponential gaps have cv 1, the varying depth and its cancellations add some)
    assert _fast_gap_share(beyond_near) < 0.01 and _cv(beyond_near) < 1.5
    assert _fast_gap_share(beyond_all) > 0.3 and _cv(beyond_all) > 1.8


def test_the_recorded_levels_hold_the_bursts_on_both_sides():
    day = simulate_day(_market(cluster_levels=LEVELS), np.random.default_rng(6), DURATION_S, dt_s=60.0,
                       levels=LEVELS, open_time_s=0.0)
    m = day.messages
    lc = m[m["type"].isin(LC)]
    for side in (1, -1):
        times = lc["time_s"].to_numpy()[lc["direction"].to_numpy() == side]
        assert len(times) > 2_000
        assert _fast_gap_share(times) > 0.2, side  # bursts of the fast kernel (mean gap 0.5 ms) on each side


def _book(bids, asks):
    """A book with one 100-share order at each price (ticks); its arrays."""
    book = OrderBook(lot_size=1)
    oid = 1
    for side, prices in ((1, bids), (-1, asks)):
        for p in prices:
            book.limit(side, int(p), 100, order_id=oid)
            oid += 1
    return book


def _fresh_read(sc, lvl, side, n):
    """The view's reach, top orders and listed levels of a side read afresh off the book."""
    fs = F.new_flow_state(0.0, 1_000.0, 1.0)[0]
    r = F._view_top(fs, sc, lvl, side, float(n))
    listed = list(fs["view_lv"][r][:fs["view_nlv"][r]]) if fs["view_nlv"][r] >= 0 else None
    return int(fs["view_reach"][r]), int(fs["view_top"][r]), listed


def _scan_top(sc, lvl, side, n):
    return _fresh_read(sc, lvl, side, n)[:2]


def _reference_reach(prices, side, n):
    occupied = sorted(set(prices), reverse=side > 0)
    if len(occupied) < n:
        return F.NO_REACH
    return abs(occupied[n - 1] - occupied[0])


def _random_book(seed, first_ask):
    """Up to 14 bids within 40 ticks below 1000 and asks within 40 from ``first_ask``: the
    prices and the book's ``sc``, ``lvl`` arrays."""
    rng = np.random.default_rng(seed)
    bids = 1_000 - rng.choice(40, size=rng.integers(1, 15), replace=False)
    asks = first_ask + rng.choice(40, size=rng.integers(1, 15), replace=False)
    book = _book(bids, asks)
    return bids, asks, book.arrays[0], book.arrays[1]


@pytest.mark.parametrize("seed", range(6))
def test_reach_is_the_distance_to_the_nth_occupied_level_on_both_sides(seed):
    bids, asks, sc, lvl = _random_book(seed, 1_010)
    for n in (1, 2, 5, 10):
        # one order at each price: the top n levels hold n of them (all, with fewer levels)
        assert _scan_top(sc, lvl, 1, float(n)) == (_reference_reach(bids, 1, n), min(n, len(bids)))
        assert _scan_top(sc, lvl, -1, float(n)) == (_reference_reach(asks, -1, n), min(n, len(asks)))
    # a second level MAX_REACH_TICKS or more behind: no reach (a LOBSTER file's levels need
    # not reach so far), but its orders are among the top two levels'
    deep = _book([1_000, 1_000 - F.MAX_REACH_TICKS], [1_010, 1_010 + F.MAX_REACH_TICKS - 1])
    assert _scan_top(*deep.arrays[:2], 1, 2.0) == (F.NO_REACH, 2)
    assert _scan_top(*deep.arrays[:2], -1, 2.0) == (F.MAX_REACH_TICKS - 1, 2)


@pytest.mark.parametrize("seed", range(6))
def test_far_is_beyond_the_nth_level_with_or_without_the_scan(seed):
    # _far skips the scan for prices fewer than n ticks behind the best (the n-th level is at
    # least n - 1 behind it): it must agree with the scan everywhere, inside the spread too
    bids, asks, sc, lvl = _random_book(seed, 1_050)
    fs = F.new_flow_state(0.0, 1_025.0, 1.0)[0]
    for n in (1, 2, 5, 10):
        F._forget_view(fs)  # the view holds one reach (the flow's levels)
        for side, prices, best in ((1, bids, bids.max()), (-1, asks, asks.min())):
            for price in range(950, 1_100):
                behind = (best - price) if side > 0 else (price - best)
                expected = behind > _reference_reach(prices, side, n)
                assert F._far(fs, sc, lvl, side, price, float(n)) == expected, (side, price, n)


def test_an_excited_cancellation_takes_a_uniform_flow_order_within_the_levels():
    # bids at 1000..991, asks at 1010..1019, one more bid at 999 behind the first (time
    # priority) and an agent's at 1000: the top 3 levels are 1000..998 and 1010..1012
    bids, asks = list(range(1_000, 990, -1)), list(range(1_010, 1_020))
    book = _book(bids, asks)
    book.limit(1, 999, 100, order_id=21)
    book.limit(1, 1_000, 100, order_id=22, owner=1)  # the agent's: never the flow's to cancel
    sc, lvl, orders = book.arrays[0], book.arrays[1], book.arrays[2]
    price = {i + 1: p for i, p in enumerate(bids + asks)} | {21: 999}
    near = sorted(oid for oid, p in price.items() if 998 <= p <= 1_012)  # no price between the sides
    assert len(near) == 7
    fp = np.zeros(F.N_P)
    fp[F.P_CL_LEVELS] = 3.0
    rs = R.new_state(np.random.default_rng(0))
    fs = F.new_flow_state(0.0, 1_005.0, 1.0)[0]
    taken = [int(orders[F._near_order(rs, fp, fs, sc, lvl, orders)]["id"]) for _ in range(1_400)]
    counts = np.array([taken.count(oid) for oid in near])
    assert counts.sum() == len(taken)  # only the flow's orders in the top 3 levels, on both sides
    # uniform over the seven (the agent's draws are drawn again): 200 each, sd about 13
    assert counts.min() > 150 and counts.max() < 250
    book.cancel(21)
    F._forget_view(fs)  # the book changed outside the flow (as the agent's orders do)
    assert orders[F._near_order(rs, fp, fs, sc, lvl, orders)]["id"] != 21
    agent_only = OrderBook(lot_size=1)
    agent_only.limit(1, 1_000, 100, order_id=1, owner=1)
    F._forget_view(fs)
    assert F._near_order(rs, fp, fs, *agent_only.arrays[:3]) == -1  # four draws of the agent's: lost
    F._forget_view(fs)
    assert F._near_order(rs, fp, fs, *OrderBook(lot_size=1).arrays[:3]) == -1  # an empty book


@pytest.mark.parametrize("side", [1, -1])
def test_an_excited_submission_beyond_the_levels_draws_from_the_profile_truncated_at_them(side):
    # bids at 1000..991, asks at 1010..1019 (spread 10 ticks); the top 3 levels reach 2 ticks
    # behind each best: distances 1..12 from the opposite best, of a profile uniform on 1..40
    book = _book(list(range(1_000, 990, -1)), list(range(1_010, 1_020)))
    sc, lvl = book.arrays[0], book.arrays[1]
    fp = np.zeros(F.N_P)
    fp[F.P_CL_LEVELS] = 3.0
    cum_w = np.tile(np.arange(1, 41) / 40.0, (2, 1))
    rs = R.new_state(np.random.default_rng(1))
    fs = F.new_flow_state(0.0, 1_005.0, 1.0)[0]
    far = 970 if side > 0 else 1_040
    near = 999 if side > 0 else 1_011
    prices = np.array([F._near_profile_price(rs, fp, fs, sc, lvl, cum_w, 0.0, side, far) for _ in range(2_400)])
    dist = 1_010 - prices if side > 0 else prices - 1_000
    counts = np.bincount(dist, minlength=13)[1:]
    assert counts.sum() == len(prices)  # all within distances 1..12
    assert counts.min() > 150 and counts.max() < 250  # uniform: 200 each
    assert F._near_profile_price(rs, fp, fs, sc, lvl, cum_w, 0.0, side, near) == near  # within: kept


def _fifteen_more_draws(rs, fp, fs, sc, cum_w, side, reach):
    """The reference: the profile drawn again until a draw lies within ``reach`` ticks of the
    side's best, at most 15 times, the last draw kept if none does."""
    for _ in range(15):
        price = F._profile_price(rs, fp, fs, sc, cum_w, 0.0, side)
        if F._behind(sc, side, price) <= reach:
            break
    return price


@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("scale, within", [(4.0, 3), (20.0, 0)])
def test_an_excited_submission_beyond_a_scaled_profiles_reach_has_the_law_of_fifteen_more_draws(side, scale, within):
    # bids 1000..991, asks 1010..1019: the top 3 levels reach 2 ticks behind each best, so an
    # order is within them at most 12 ticks from the opposite best. A profile uniform on
    # 1..40 scaled 4x puts distances 1..3 there (p = 3 / 40): the outcome of up to 15 more
    # draws, drawn at once, lies beyond with probability (1 - p)^15 = 0.31; scaled 20x, none
    # is there (p = 0): a draw of the whole profile
    book = _book(list(range(1_000, 990, -1)), list(range(1_010, 1_020)))
    sc, lvl = book.arrays[0], book.arrays[1]
    fp = np.zeros(F.N_P)
    fp[F.P_CL_LEVELS] = 3.0
    fp[F.P_SCALE_ON], fp[F.P_SCALE_N], fp[F.P_SCALE0], fp[F.P_SESSION] = 1.0, 1.0, scale, 23_400.0
    cum_w = np.tile(np.arange(1, 41) / 40.0, (2, 1))
    fs = F.new_flow_state(0.0, 1_005.0, 1.0)[0]
    far = 970 if side > 0 else 1_040  # a first draw beyond the reach
    rs = R.new_state(np.random.default_rng(4))
    n = 6_000
    prices = np.array([F._near_profile_price(rs, fp, fs, sc, lvl, cum_w, 0.0, side, far) for _ in range(n)])
    reach = fs["view_reach"][0 if side > 0 else 1]
    assert reach == 2
    ref = np.array([_fifteen_more_draws(rs, fp, fs, sc, cum_w, side, reach) for _ in range(n)])
    # the scaled distances from the opposite best: 4, 8, 12 within the reach, 16 .. 160 beyond
    dist = lambda p: ((1_010 - p) if side > 0 else (p - 1_000)) // int(scale)  # noqa: E731
    counts, ref_counts = (np.bincount(dist(x), minlength=41)[1:] for x in (prices, ref))
    beyond = counts[within:].sum() / n
    p = within / 40
    assert abs(beyond - (1 - p) ** 15) < 4 * np.sqrt((1 - p) ** 15 * (1 - (1 - p) ** 15) / n) + 1e-9
    # the same law as the reference's draws (two samples; both seeded)
    expected = np.full(40, (1 - p) ** 15 / (40 - within))
    expected[:within] = (1 - (1 - p) ** 15) / within if within else 0.0
    for c in (counts, ref_counts):
        assert stats.chisquare(c, expected * n).pvalue > 1e-3
    assert stats.chi2_contingency(np.stack([counts, ref_counts])[:, counts + ref_counts > 0]).pvalue > 1e-3
    near = 1_000 if side > 0 else 1_010
    assert F._near_profile_price(rs, fp, fs, sc, lvl, cum_w, 0.0, side, near) == near  # within: kept


def test_placement_from_the_best_for_the_excited_submissions_only():
    join = dict(best_anchor_frac=1.0, best_anchor_probs=(1.0,), depth_shares=(0.0,) * 6 + (300.0,) * 24)
    shares = {}
    for excited_only in (False, True):
        day = simulate_day(_market(best_anchor_excited=excited_only, **join), np.random.default_rng(2), 900.0,
                           dt_s=60.0, levels=LEVELS, all_messages=True, open_time_s=0.0)
        better, has = price_vs_best(day)
        sub = (day.messages["type"].to_numpy() == int(EventType.SUBMISSION)) & has
        sub[0] = False
        shares[excited_only] = float(np.mean(better[sub] == 0))
    assert shares[False] > 0.95  # every order joins its best
    # the excited ones (n = 0.7 of the clustered submissions, less the base submissions' share)
    assert 0.4 < shares[True] < 0.8


@pytest.mark.parametrize("bad, error, match", [
    ({"cluster_levels": -1}, ValueError, "cluster_levels"),
    ({"cluster_levels": 2.0}, TypeError, "cluster_levels"),
    ({"cluster_levels": True}, TypeError, "cluster_levels"),
    ({"cluster_levels": 3, "cluster_alphas_per_s": (), "cluster_betas_per_s": ()}, ValueError, "cluster_alphas_per_s"),
    ({"best_anchor_excited": True}, ValueError, "best_anchor_frac > 0"),
    ({"best_anchor_excited": True, "best_anchor_frac": 0.5, "best_anchor_probs": (1.0,), "cluster_alphas_per_s": (),
      "cluster_betas_per_s": ()}, ValueError, "cluster_alphas_per_s"),
    ({"best_anchor_excited": 1, "best_anchor_frac": 0.5, "best_anchor_probs": (1.0,)}, TypeError, "best_anchor_excited"),
])
def test_bad_reach_is_refused(bad, error, match):
    base = dict(anchor="opposite_best", intraday=None, **CLUSTER)
    with pytest.raises(error, match=match):
        FlowConfig(**(base | bad))


def test_the_calibration_sets_the_days_levels_and_writes_them():
    day = simulate_day(_market(cluster_levels=LEVELS), np.random.default_rng(8), 900.0, dt_s=60.0, levels=LEVELS,
                       open_time_s=0.0)
    cal = calibrate_flow(day, 30, clustering=2, cluster_levels=True, best_anchor=0.4, best_anchor_excited=True,
                         bucket_s=150.0)
    assert cal.flow.cluster_levels == LEVELS and cal.flow.best_anchor_excited
    cfg = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    assert cfg.flow.cluster_levels == LEVELS and cfg.flow.best_anchor_excited
    plain = calibrate_flow(day, 30, clustering=2, bucket_s=150.0)
    assert plain.flow.cluster_levels == 0 and not plain.flow.best_anchor_excited  # off unless asked
    assert plain.flow.cluster_alphas_per_s == cal.flow.cluster_alphas_per_s  # nothing else changes
    with pytest.raises(ValueError, match="cluster_levels=True.*clustering >= 1"):
        calibrate_flow(day, 30, cluster_levels=True, bucket_s=150.0)
    with pytest.raises(ValueError, match="best_anchor_excited=True"):
        calibrate_flow(day, 30, clustering=2, best_anchor_excited=True, bucket_s=150.0)



@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from([1.0, 4.0, F.MAX_VIEW_LEVELS + 4.0]))
def test_the_view_of_the_book_kept_through_events_is_what_a_fresh_read_gives(seed, n):
    # run_flow reads the reach, the top orders and the near orders once and keeps them through
    # the events that leave them so (_note_event): after each random submission (behind,
    # at, inside or across the spread), cancellation or market order, on both sides, every
    # entry still kept must be what a fresh read of the book gives
    rng = np.random.default_rng(seed)
    book = _book(1_000 - rng.choice(40, size=rng.integers(1, 15), replace=False),
                 1_010 + rng.choice(40, size=rng.integers(1, 15), replace=False))
    fp = np.zeros(F.N_P)
    fp[F.P_CSZ_BEHIND] = 3.0
    fp[F.P_CL_LEVELS] = n
    fs = F.new_flow_state(0.0, 1_005.0, 1.0)[0]
    next_id, kept = 1_000, 0
    for _ in range(150):
        sc, lvl, orders = book.arrays[:3]
        for side in (1, -1):
            F._view_top(fs, sc, lvl, side, n)
        if fs["view_near"][0] < 0 or fs["view_near"][1] < 0:
            fs["view_near"][0], fs["view_near"][1] = F._near_counts(fp, sc, lvl)
        u = rng.random()
        traded, bb, ba = book.traded_volume, sc[K.S_BEST_BID], sc[K.S_BEST_ASK]
        side = 1 if rng.random() < 0.5 else -1
        if u < 0.5 or not len(book.orders()):
            best = book.best_bid if side > 0 else book.best_ask
            best = best if best is not None else (1_000 if side > 0 else 1_010)
            price = int(best - side * rng.integers(-12, 30))
            book.limit(side, price, int(rng.integers(1, 300)), order_id=next_id)
            next_id += 1
            touched = (side, price, 1)
        elif u < 0.9:
            oid = int(rng.choice(book.orders()["order_id"].to_numpy()))
            order = book.order(oid)
            touched = (order.side, order.price_ticks, -1)
            book.cancel(oid)
        else:
            book.market(side, int(rng.integers(1, 400)))
            touched = (0, 0, 0)
        sc, lvl, orders = book.arrays[:3]
        # run_flow's signals: a side's best moved, or a trade took from it (the aggressor's
        # opposite; here the book hands its fills over at once); a submission that traded
        # may not rest (the whole view is forgotten)
        traded = book.traded_volume != traded
        if traded and touched[2] == 1:
            touched = (0, 0, 1)
        moved = (sc[K.S_BEST_BID] != bb, sc[K.S_BEST_ASK] != ba)
        F._note_event(fs, fp, sc, lvl, *touched, moved, (traded and side < 0, traded and side > 0))
        for r, side in ((0, 1), (1, -1)):
            if fs["view_reach"][r] >= 0:
                reach, top, listed = _fresh_read(sc, lvl, side, n)
                assert (fs["view_reach"][r], fs["view_top"][r]) == (reach, top)
                if n <= F.MAX_VIEW_LEVELS:  # the levels listed (the reach's levels, kept through moves)
                    assert list(fs["view_lv"][r][:fs["view_nlv"][r]]) == listed
                else:
                    assert fs["view_nlv"][r] == -1
                kept += 1
        for r in range(2):
            if fs["view_near"][r] >= 0:
                assert fs["view_near"][r] == F._near_counts(fp, sc, lvl)[r]
                kept += 1
    assert kept > 30  # the view is kept through many of the events (not read again each time)


@pytest.mark.parametrize("n", [17, 4])
def test_an_order_beyond_a_far_nth_level_is_not_counted_in_its_top_orders(n):
    # the n-th level MAX_REACH_TICKS or more behind the best: no reach, but the top orders
    # are still those of the n levels; an order added at an occupied level beyond them (or a
    # cancellation there) must not be counted, listed (n = 4) or not (n = 17)
    bids = [1_000 - i for i in range(n - 1)] + [1_000 - F.MAX_REACH_TICKS - 10, 1_000 - F.MAX_REACH_TICKS - 40]
    book = _book(bids, [1_010])
    fp = np.zeros(F.N_P)
    fp[F.P_CL_LEVELS] = float(n)
    fs = F.new_flow_state(0.0, 1_005.0, 1.0)[0]
    for oid, delta in ((9_000, 1), (9_000, -1)):
        sc, lvl = book.arrays[:2]
        F._view_top(fs, sc, lvl, 1, float(n))
        assert (fs["view_reach"][0], fs["view_top"][0]) == (F.NO_REACH, n)
        deep = bids[-1]
        if delta > 0:
            book.limit(1, deep, 100, order_id=oid)
        else:
            book.cancel(oid)
        sc, lvl = book.arrays[:2]
        F._note_event(fs, fp, sc, lvl, 1, deep, delta, (False, False), (False, False))
        if fs["view_reach"][0] >= 0:  # kept: it must be what a fresh read gives
            assert (fs["view_reach"][0], fs["view_top"][0]) == _scan_top(sc, lvl, 1, n)
