"""The market simulator: seeded background flow, intraday activity, Hawkes, agent orders, impact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from execgym.envs.market.analysis.impact.metaorder import fit_decay, metaorder_impact
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import AGENT_OWNER, MarketSimulator, SimulatorConfig
from execgym.envs.market.simulation.volume import IntradayVolumeProfile


def sim_with(seed=0, **flow_kw):
    impact = flow_kw.pop("impact", ImpactConfig())
    warmup = flow_kw.pop("warmup_s", 200.0)
    return MarketSimulator(SimulatorConfig(flow=FlowConfig(**flow_kw), impact=impact, warmup_s=warmup),
                           np.random.default_rng(seed))


def test_making_room_mid_window_does_not_change_the_event_stream():
    # a simulator whose live list and fill buffer are tiny returns to Python to grow them
    # many times within a decision window; each re-entry must continue the same stream
    a, b = MarketSimulator(rng=np.random.default_rng(3)), MarketSimulator(rng=np.random.default_rng(3))
    b._live = b._live[: int(b._fs[0]["n_live"]) + 1].copy()
    b.book._fills = b.book._fills[:2].copy()
    ra = [a.advance(1.0) for _ in range(120)]
    rb = [b.advance(1.0) for _ in range(120)]
    assert b._live.shape[0] < a._live.shape[0]  # it did have to grow
    for x, y in zip(ra, rb):
        assert np.array_equal(x.trades, y.trades) and x.reference_ticks == y.reference_ticks
    assert np.array_equal(a._fs, b._fs) and a.book.orders().equals(b.book.orders())


def test_the_flow_kernels_arrays_never_overlap_even_after_growing():
    # the flow's entry points are compiled on the promise that their arrays do not overlap
    # (DisjointArgsCompiler): the simulator passes its own arrays and the book's, and those
    # that grow (the live list, the book's orders and fills) are replaced by new allocations
    sim = MarketSimulator(SimulatorConfig(log_events=True), rng=np.random.default_rng(5))
    sim._live = sim._live[: int(sim._fs[0]["n_live"]) + 1].copy()
    sim.book._fills = sim.book._fills[:2].copy()
    before = [a.shape for a in sim._flow_args()]
    for _ in range(20):
        sim.advance(30.0)
        args = sim._flow_args()
        for i, a in enumerate(args):
            assert isinstance(a, np.ndarray)
            for b in args[i + 1:]:
                assert not np.shares_memory(a, b)
    assert [a.shape for a in args] != before  # something grew


def test_a_report_agrees_with_its_trades_whether_the_kernel_or_python_closed_the_interval():
    # open_interval closes an interval in the kernel when the flow ran through it in one call;
    # after making room (b's two-fill buffer) Python closes it over the fills taken meanwhile:
    # both reports are the same, and each agrees with its trades, the agent's fills and the book
    a, b = MarketSimulator(rng=np.random.default_rng(4)), MarketSimulator(rng=np.random.default_rng(4))
    b.book._fills = b.book._fills[:2].copy()
    for sim in (a, b):
        sim.submit_limit("buy", sim.book.best_bid, 400)
        sim.submit_limit("sell", sim.book.best_ask, 400)
    agent = 0
    for _ in range(60):
        ra, rb = a.advance(2.0), b.advance(2.0)
        for r, sim in ((ra, a), (rb, b)):
            t = r.trades
            assert r.volume_shares == int(t["size_shares"].sum())
            assert r.value_tick_shares == int((t["size_shares"] * t["price_ticks"]).sum())
            mine = (t["aggressor_owner"] == AGENT_OWNER) | (t["resting_owner"] == AGENT_OWNER)
            assert np.array_equal(r.agent_fills, t[mine])
            assert r.agent_volume_shares == int(t["size_shares"][mine].sum())
            assert r.agent_value_tick_shares == int((t["size_shares"] * t["price_ticks"])[mine].sum())
            assert (r.best_bid, r.best_ask) == (sim.book.best_bid, sim.book.best_ask)
            assert r.reference_ticks == sim.reference_ticks and r.t_end_s == sim.time_s
        for field in ("t_start_s", "t_end_s", "volume_shares", "value_tick_shares", "agent_volume_shares",
                      "agent_value_tick_shares", "n_events", "best_bid", "best_ask", "reference_ticks"):
            assert getattr(ra, field) == getattr(rb, field), field
        assert np.array_equal(ra.trades, rb.trades) and ra.n_events > 0
        agent += ra.agent_volume_shares
    assert agent > 0  # the agent's resting orders did trade, in the reports of both
    assert b.book._fills.shape[0] > 2  # b did make room (grew its fill buffer)


def test_same_seed_reproduces_the_event_stream_exactly():
    def run(seed):
        sim = sim_with(seed)
        reports = [sim.advance(5.0) for _ in range(20)]
        return np.concatenate([r.trades for r in reports]), sim.book.orders()

    (t1, o1), (t2, o2), (t3, _) = run(7), run(7), run(8)
    assert np.array_equal(t1, t2) and o1.equals(o2)
    assert len(t1) > 50 and not (len(t1) == len(t3) and np.array_equal(t1, t3))


def test_book_stays_uncrossed_and_consistent_while_the_clock_runs():
    sim = sim_with(1, hawkes_alpha_per_s=0.5, hawkes_beta_per_s=1.0)
    for _ in range(40):
        r = sim.advance(3.0)
        assert r.best_bid is None or r.best_ask is None or r.best_bid < r.best_ask
        assert r.volume_shares == int(r.trades["size_shares"].sum())
    sim.book.check_invariants()


def test_steady_state_depth_matches_the_configured_profile():
    depth = (1000.0, 2000.0, 3000.0)
    sim = sim_with(2, depth_shares=depth, market_rate_per_s=0.0, intraday=None, resilience_per_s=0.2,
                   warmup_s=100.0)
    totals = np.zeros(3)
    n = 200
    for _ in range(n):
        sim.advance(2.0)
        m = sim.reference_ticks
        for d in range(3):
            totals[d] += sim.book.volume_at("buy", math.ceil(m) - (d + 1)) + sim.book.volume_at("sell", math.floor(m) + d + 1)
    mean_per_side = totals / (2 * n)
    np.testing.assert_allclose(mean_per_side, depth, rtol=0.15)


def test_traded_volume_follows_the_u_shaped_intraday_profile():
    sim = sim_with(3, warmup_s=0.0)
    day = sim.config.flow.session_s
    half_hours = [sim.advance(1800.0).volume_shares for _ in range(int(day // 1800))]
    expected = [sim.expected_volume_shares(i * 1800.0, (i + 1) * 1800.0) for i in range(len(half_hours))]
    assert half_hours[0] > half_hours[6] < half_hours[-1]  # heavy open and close, light midday
    assert sum(half_hours) == pytest.approx(sum(expected), rel=0.05)
    np.testing.assert_allclose(half_hours, expected, rtol=0.25)


def test_traded_volume_follows_the_opening_burst():
    """A burst of e-folding width 0.001 of the session (23.4 s) and 30x the midday rate: the
    first 30 s trade several times the next minutes, as the profile's integral says."""
    prof = IntradayVolumeProfile(open_boost=0.5, close_boost=1.0, decay_frac=0.04, noise_sigma=0.0,
                                 burst_boost=30.0, burst_decay_frac=0.001)
    edges = (0.0, 30.0, 60.0, 300.0, 600.0)
    got, want = np.zeros(4), np.zeros(4)
    for seed in range(4):
        sim = sim_with(seed, intraday=prof, warmup_s=0.0, market_rate_per_s=2.0, depth_shares=(50_000.0,) * 3)
        for k, (t0, t1) in enumerate(zip(edges[:-1], edges[1:])):
            got[k] += sim.advance(t1 - t0).volume_shares
            want[k] += sim.expected_volume_shares(t0, t1)
    per_s = got / np.diff(edges)
    assert per_s[0] > 5 * per_s[3] and per_s[0] > per_s[1] > per_s[3]
    np.testing.assert_allclose(got, want, rtol=0.2)
    fp, *_ = F.flow_params(F.FlowConfig(intraday=prof), F.ImpactConfig(), 1)
    for t in (0.0, 10.0, 100.0, 20_000.0):  # the kernel's factor is the profile's, normalised to mean 1
        u = t / fp[F.P_SESSION]
        assert F._tod(fp, t) == pytest.approx(prof.intensity(u) / prof.mean_intensity(), rel=1e-12)


def test_hawkes_market_orders_cluster_and_raise_the_rate_by_the_branching_factor():
    base = dict(intraday=None, warmup_s=0.0, mean_market_size_shares=1.0, depth_shares=(50_000.0,) * 3)
    poisson = sim_with(4, market_rate_per_s=0.5, **base)
    hawkes = sim_with(4, market_rate_per_s=0.5, hawkes_alpha_per_s=0.6, hawkes_beta_per_s=1.0, **base)
    counts = {}
    for name, sim in (("poisson", poisson), ("hawkes", hawkes)):
        counts[name] = np.array([len(sim.advance(10.0).trades) for _ in range(300)])
    # E[rate] = mu / (1 - alpha/beta): 2.5x; and over-dispersed counts (Fano factor > 1)
    ratio = counts["hawkes"].mean() / counts["poisson"].mean()
    assert ratio == pytest.approx(1.0 / (1.0 - 0.6), rel=0.15)
    fano = lambda c: c.var() / c.mean()  # noqa: E731
    assert fano(counts["poisson"]) == pytest.approx(1.0, abs=0.35)
    assert fano(counts["hawkes"]) > 2.0


def test_agent_orders_are_told_apart_and_never_cancelled_by_the_flow():
    sim = sim_with(5)
    bid = sim.book.best_bid
    oid, fills = sim.submit_limit("buy", bid, 300)
    far_id, _ = sim.submit_limit("sell", sim.book.best_ask + 50, 100)
    assert len(fills) == 0 and sim.book.order(oid).owner == AGENT_OWNER
    filled = 0
    for _ in range(200):
        r = sim.advance(2.0)
        assert (r.agent_fills["resting_owner"] == AGENT_OWNER).all()
        filled += int(r.agent_fills["size_shares"].sum())
        if oid not in sim.book:
            break
    assert filled > 0  # background market sells reached our bid
    assert far_id in sim.book  # a background cancel never touches the agent's orders
    sim.cancel(far_id)
    assert far_id not in sim.book
    with pytest.raises(ValueError, match="not a resting order of the agent"):
        sim.cancel(1)  # a background order id


def test_agent_market_order_walks_the_book_and_moves_the_reference_both_sides():
    for side, sign in (("buy", 1), ("sell", -1)):
        sim = sim_with(6, market_rate_per_s=0.0, impact=ImpactConfig(transient_ticks_per_share=1e-3,
                                                                      permanent_ticks_per_share=2e-4))
        fund, ref = sim.fundamental_ticks, sim.reference_ticks
        trans_before = ref - fund
        fills = sim.submit_market(side, 4000)
        assert fills["size_shares"].sum() == 4000 and (fills["aggressor_owner"] == AGENT_OWNER).all()
        prices = fills["price_ticks"]
        assert np.all(np.diff(prices) * sign >= 0)  # walks away from the touch
        assert sim.fundamental_ticks - fund == pytest.approx(sign * 2e-4 * 4000)
        trans = sim.reference_ticks - sim.fundamental_ticks
        assert trans - trans_before == pytest.approx(sign * 1e-3 * 4000)
        # transient impact decays at the resilience rate (no background trades to add any)
        sim.advance(10.0)
        rho = sim.config.flow.resilience_per_s
        assert sim.reference_ticks - sim.fundamental_ticks == pytest.approx(trans * math.exp(-rho * 10.0), rel=1e-9)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_metaorder_impact_decays_to_the_permanent_level_at_the_resilience_rate(side):
    fits = {}
    for rho in (0.03, 0.1):
        cfg = SimulatorConfig(warmup_s=100.0, flow=FlowConfig(resilience_per_s=rho))
        # watch 10 / rho after the end, so that level and decay rate can be told apart
        path = metaorder_impact(cfg, side=side, total_shares=20_000, duration_s=60.0, n_slices=20,
                                post_s=10.0 / rho, n_runs=30, seed=11)
        assert path["impact_ticks"][path["executing"]].iloc[-1] > 0.5  # pushed the price its way
        fits[rho] = fit_decay(path, 60.0)
        gamma_x = cfg.impact.permanent_ticks_per_share * 20_000
        assert fits[rho]["permanent_ticks"] == pytest.approx(gamma_x, rel=0.25)
        assert rho / 2 < fits[rho]["rate_per_s"] < 2 * rho
    assert fits[0.1]["rate_per_s"] > fits[0.03]["rate_per_s"]


@pytest.mark.parametrize("kwargs, match", [
    ({"resilience_per_s": 0.0}, "resilience_per_s"),
    ({"depth_shares": ()}, "depth_shares"),
    ({"depth_shares": (100.0, -1.0)}, r"depth_shares\[1\]"),
    ({"hawkes_alpha_per_s": 2.0, "hawkes_beta_per_s": 1.0}, "hawkes_alpha_per_s"),
    ({"anchor": "mid"}, "anchor"),
    ({"market_rate_per_s": float("nan")}, "market_rate_per_s"),
])
def test_bad_flow_config_raises_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**kwargs)


def test_bad_simulator_arguments():
    with pytest.raises(ValueError, match="tick_size"):
        SimulatorConfig(tick_size=0.0)
    with pytest.raises(ValueError, match="transient_ticks_per_share"):
        ImpactConfig(transient_ticks_per_share=-1.0)
    with pytest.raises(TypeError, match="Generator"):
        MarketSimulator(SimulatorConfig(), rng=42)
    sim = sim_with(0, warmup_s=10.0)
    before = sim.time_s
    for bad in (0.0, -1.0, math.nan, math.inf, np.float64(-2.0), -3):
        with pytest.raises(ValueError, match="dt_s"):
            sim.advance(bad)
    with pytest.raises(TypeError, match="dt_s"):
        sim.advance("1.0")
    assert sim.time_s == before  # nothing ran
    # a step of a numpy float or an int is one of that many seconds, as a float's
    assert sim.advance(np.float64(0.5)).t_end_s == pytest.approx(before + 0.5)
    assert sim.advance(1).t_end_s == pytest.approx(before + 1.5)


def test_opposite_best_anchor_is_the_classic_cst_model():
    sim = sim_with(9, anchor="opposite_best", intraday=None)
    for _ in range(30):
        r = sim.advance(5.0)
        assert r.best_bid is not None and r.best_ask is not None and r.best_bid < r.best_ask
    fp, *_ = F.flow_params(sim.config.flow, sim.config.impact, 1)
    assert fp[F.P_ANCHOR_REF] == 0.0


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_opposite_best_anchor_refills_an_emptied_side_next_to_the_book_not_at_a_stale_centre(side):
    # the centre m diffuses far from the CST book (sigma 40 ticks/sqrt(s)); sweeping one side
    # must not send the next quotes to m: they are placed from the remaining side's best
    flow = FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(300.0, 300.0, 300.0),
                      resilience_per_s=0.5, market_rate_per_s=0.0, mean_limit_size_shares=100.0)
    cfg = SimulatorConfig(flow=flow, impact=ImpactConfig(0.0, 0.0, 40.0), warmup_s=30.0)
    sim = MarketSimulator(cfg, np.random.default_rng(3))
    sim.advance(60.0)
    assert abs(sim.reference_ticks - sim.book.mid) > 20  # the centre has wandered away
    mid = sim.book.mid
    for _ in range(20):  # each time, the first order after the sweep is a buy or a sell at random
        sim.submit_market(side, 100_000)  # sweeps the whole opposite side
        r = sim.advance(0.5)
        assert r.best_bid is None or r.best_ask is None or abs(0.5 * (r.best_bid + r.best_ask) - mid) < 10


def test_simulated_session_exports_as_lobster_and_replays_to_the_same_book(tmp_path):
    from execgym.envs.market.data.lobster import messages_to_events, read_messages
    from execgym.envs.market.simulation.book import OrderBook

    sim = MarketSimulator(SimulatorConfig(log_events=True, warmup_s=0.0), np.random.default_rng(12))
    for _ in range(30):
        sim.advance(10.0)
    sim.submit_market("sell", 700)
    path = tmp_path / "session_message.csv"
    sim.book.export_lobster(path)
    messages = read_messages(path)
    assert set(messages["type"]) <= {1, 2, 3, 4} and len(messages) > 1000
    replayed = OrderBook(tick_size=0.01)
    replayed.process(messages_to_events(messages))
    for got, want in zip(replayed.depth(20), sim.book.depth(20)):
        assert list(got) == list(want)
    assert replayed.orders().sort_values("order_id")[["order_id", "size_shares"]].values.tolist() == \
        sim.book.orders().sort_values("order_id")[["order_id", "size_shares"]].values.tolist()


def test_fixed_size_distribution_gives_exact_sizes():
    sim = sim_with(13, size_distribution="fixed", mean_limit_size_shares=200.0, mean_market_size_shares=50.0)
    r = sim.advance(60.0)
    orders = sim.book.orders()
    assert set(orders["size_shares"]) <= {200} | set(range(1, 200))  # partially filled ones are smaller
    assert (orders["size_shares"] == 200).mean() > 0.8
    market = r.trades[r.trades["aggressor_owner"] == 0]
    per_order = {}
    for f in market:
        per_order[int(f["aggressor_id"])] = per_order.get(int(f["aggressor_id"]), 0) + int(f["size_shares"])
    assert per_order and np.median(list(per_order.values())) == 50
    assert sum(v == 50 for v in per_order.values()) > 0.5 * len(per_order)


def test_a_separate_diffusion_seed_shares_the_fundamental_path_but_not_the_flow():
    cfg = SimulatorConfig(flow=FlowConfig(intraday=None), warmup_s=50.0,
                          impact=ImpactConfig(0.0, 0.0, sigma_ticks_per_sqrt_s=1.0))
    a = MarketSimulator(cfg, np.random.default_rng(1), diffusion_rng=np.random.default_rng(9))
    b = MarketSimulator(cfg, np.random.default_rng(2), diffusion_rng=np.random.default_rng(9))
    c = MarketSimulator(cfg, np.random.default_rng(1))
    ra, rb = a.advance(30.0), b.advance(30.0)
    c.advance(30.0)
    assert a.fundamental_ticks == b.fundamental_ticks != c.fundamental_ticks
    assert not np.array_equal(ra.trades, rb.trades)
    with pytest.raises(TypeError, match="diffusion_rng"):
        a.reset(np.random.default_rng(0), diffusion_rng=9)


def test_external_impact_moves_the_reference_like_own_aggressive_volume():
    cfg = SimulatorConfig(flow=FlowConfig(intraday=None), warmup_s=10.0,
                          impact=ImpactConfig(transient_ticks_per_share=1e-3, permanent_ticks_per_share=2e-4))
    sim = MarketSimulator(cfg, np.random.default_rng(0))
    ref, fund = sim.reference_ticks, sim.fundamental_ticks
    sim.apply_external_impact(-500.0)
    assert sim.fundamental_ticks == pytest.approx(fund - 0.1)
    assert sim.reference_ticks == pytest.approx(ref - 0.6)
    with pytest.raises(ValueError, match="signed_shares"):
        sim.apply_external_impact(float("nan"))


@pytest.mark.parametrize("burst", [0.0, 30.0])
@pytest.mark.parametrize("t0, t1", [(-300.0, 0.0), (0.0, 1.0), (100.0, 1_900.0), (23_000.0, 23_600.0),
                                     (-50_000.0, 10.0), (46_700.0, 46_900.0), (20.0, 60.0)])
def test_intraday_bounds_contain_the_factor_on_the_whole_interval(t0, t1, burst):
    """The flow decides most proposals from bounds of the intraday factor over the call's
    interval; the decisions are exact only if the bounds hold at every time inside."""
    prof = IntradayVolumeProfile(burst_boost=burst, burst_decay_frac=0.001)
    fp, *_ = F.flow_params(F.FlowConfig(intraday=prof), F.ImpactConfig(), 1)
    lo, hi = F._tod_bounds(fp, t0, t1)
    opens = fp[F.P_SESSION] * np.arange(np.ceil(t0 / fp[F.P_SESSION]), np.floor(t1 / fp[F.P_SESSION]) + 1)
    ts = np.concatenate([np.linspace(t0, t1, 2_001), [t0, t1, np.nextafter(t1, t0)], opens])  # the peaks at the opens
    tod = np.array([F._tod(fp, t) for t in ts])
    assert lo <= tod.min() and tod.max() <= hi
    if t1 - t0 < fp[F.P_SESSION]:  # and tight (up to the sampling of the interval)
        assert hi - lo <= tod.max() - tod.min() + 1e-3 * hi


def test_a_market_without_flow_still_diffuses():
    """With no order flow at all the exogenous diffusion still moves the fundamental, at
    sigma ticks per sqrt(s) (it stood still: the clock jumped without its grid steps)."""
    cfg = SimulatorConfig(flow=FlowConfig(depth_shares=(0.0,) * 3, market_rate_per_s=0.0, intraday=None),
                          impact=ImpactConfig(sigma_ticks_per_sqrt_s=1.0), warmup_s=0.0)
    sim = MarketSimulator(cfg, np.random.default_rng(0))
    path = [sim.fundamental_ticks]
    for _ in range(400):
        sim.advance(10.0)
        path.append(sim.fundamental_ticks)
    steps = np.diff(path)
    assert np.std(steps) == pytest.approx(np.sqrt(10.0), rel=0.15)
