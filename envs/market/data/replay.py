"""A recorded LOBSTER day as a market the agent can trade in, without changing the recorded flow.

:class:`ReplayMarket` offers the interface of :class:`~execgym.envs.market.simulation.simulator.MarketSimulator`
that the execution environments use (``book``, ``submit_market``, ``submit_limit``,
``cancel``, ``modify``, ``advance``), on a recorded day (:class:`ReplayDay`). The market is
the recorded order book after each message (LOBSTER's order-book file, which replaying the
messages through :class:`~execgym.envs.market.simulation.book.OrderBook` reproduces level by level, see
:func:`execgym.envs.market.data.lobster.replay_lobster`); the agent's orders are matched against it and
against the recorded messages as follows.

* **Marketable orders** (market orders, and the marketable part of a limit order) walk the
  recorded book as the agent sees it, best level first, up to the limit price, at the
  recorded prices. The shares they take are *hidden* from the agent's view of that level
  for the rest of the episode; recorded executions at that level remove hidden shares
  first (the agent took the front of the queue, which is what executions reach first),
  recorded cancellations remove them in proportion to the hidden share of the level, and
  they vanish when the level empties. Only the levels in the file are visible: what a
  level-``L`` file does not show cannot be traded.
* **Passive orders** join the back of their price level: the shares ahead of them are the
  recorded volume at that price when they are placed (0 at a price the file does not
  show). The queue model (:class:`QueuePosition`) then follows the recorded messages at that
  level. Submissions join behind. An execution consumes the queue ahead first; what is
  left of it fills the agent (FIFO); the execution of an order known to have queued behind
  the agent proves that nothing is ahead any more. A cancellation or deletion of an order whose
  submission the file recorded is exact: it is ahead if it was submitted before the agent
  joined, behind otherwise. A cancellation of liquidity of unknown origin (orders placed
  before the file starts or while the level was beyond the file's depth) is taken from
  ahead and behind in proportion to their sizes, the rule of queue-position estimation
  models (Moallemi and Yuan, "A model for queue position valuation in a limit order book",
  2017). Recorded executions at prices *through* the agent's (a sell trade below the
  agent's bid) would have reached the agent first and fill it (price priority: nothing was
  left ahead of it); a
  recorded limit order arriving on the other side at or through the agent's price would
  have traded with it, and fills it at the agent's price (those shares are then hidden on
  the other side, and they add to the market's volume, since they did not trade in the
  record). Hidden executions at the agent's own price do not fill it (hidden orders queue
  behind displayed ones).

Limits: the recorded flow does not react to the agent. Its orders consume liquidity only
from its own view of the book, and there is no impact beyond that: prices, the other
traders' orders and the volume are those of the record. That is why a calibrated simulator
(:mod:`execgym.envs.market.simulation.simulator`) exists beside the replay. One resting agent order at a time.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from execgym.envs.market.data.lobster_data import LobsterDay, load_lobster
from execgym.envs.market.simulation.book import FILL_DTYPE, RestingOrder
from execgym.envs.market.simulation.events import EXECUTIONS, EventType
from execgym.envs.market.simulation.simulator import AGENT_OWNER, StepReport
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["AHEAD", "BEHIND", "UNKNOWN", "QueuePosition", "ReplayBookView", "ReplayDay", "ReplayMarket"]

#: where a cancelled order stood relative to the agent's
AHEAD, BEHIND, UNKNOWN = 1, -1, 0
#: owner id of recorded orders in the agent's fills
RECORDED_OWNER = -1


class QueuePosition:
    """Shares ahead of and behind one resting agent order at its price level (integers).

    :param ahead_shares: recorded volume at the level when the order joined (it joins at the back).
    :param size_shares: the agent's order size.
    """

    def __init__(self, ahead_shares: int, size_shares: int) -> None:
        self.ahead = check_int("ahead_shares", ahead_shares, minimum=0)
        self.remaining = check_int("size_shares", size_shares, minimum=1)
        self.behind = 0

    def on_submission(self, size: int) -> None:
        """A recorded limit order at the level joins behind the agent."""
        self.behind += int(size)

    def on_cancellation(self, size: int, position: int) -> None:
        """A recorded cancellation (or deletion) of ``size`` shares at the level.

        :param position: :data:`AHEAD` or :data:`BEHIND` if the cancelled order's arrival was
            recorded (exact), :data:`UNKNOWN` otherwise: then ``size`` is split between ahead
            and behind in proportion to their volumes.
        """
        size = int(size)
        if position == AHEAD:
            self.ahead -= min(self.ahead, size)
        elif position == BEHIND:
            self.behind -= min(self.behind, size)
        else:
            total = self.ahead + self.behind
            if total:
                from_ahead = min(self.ahead, int(round(size * self.ahead / total)))
                self.ahead -= from_ahead
                self.behind -= min(self.behind, size - from_ahead)

    def on_execution(self, size: int, nothing_ahead: bool = False) -> int:
        """A recorded execution of ``size`` shares at (or through) the level; returns the agent's fill.

        FIFO: the queue ahead is consumed first, then the agent, then the orders behind.

        :param nothing_ahead: the execution proves that the queue ahead is empty (the executed
            order is known to have queued behind the agent, or the trade went through the
            agent's price): what is left ahead (from proportional estimates) is dropped first.
        """
        size = int(size)
        if nothing_ahead:
            self.ahead = 0
        from_ahead = min(self.ahead, size)
        self.ahead -= from_ahead
        fill = min(self.remaining, size - from_ahead)
        self.remaining -= fill
        self.behind -= min(self.behind, size - from_ahead - fill)
        return fill


@dataclass(eq=False)
class ReplayDay:
    """A loaded LOBSTER day in the arrays the replay reads (built by :meth:`from_lobster`).

    Times in seconds after midnight, prices in ticks, sizes in shares; ``book_*`` are the
    recorded top levels after each message, ``(n, levels)``, empty levels price 0 and
    size 0. ``submit_row[k]`` is the row where the order of message ``k`` was submitted,
    -1 if the file never shows it. ``cum_volume`` / ``cum_value_tick_shares`` are cumulative
    executed shares and tick-shares (visible and hidden executions), ``(n + 1,)``.
    """

    time_s: np.ndarray
    mtype: np.ndarray
    order_id: np.ndarray
    size: np.ndarray
    price_ticks: np.ndarray
    direction: np.ndarray
    submit_row: np.ndarray
    cum_volume: np.ndarray
    cum_value_tick_shares: np.ndarray
    ask_p: np.ndarray
    ask_s: np.ndarray
    bid_p: np.ndarray
    bid_s: np.ndarray
    tick_size: float
    name: str

    @classmethod
    def from_lobster(cls, day: LobsterDay) -> ReplayDay:
        """The replay arrays of a :class:`~execgym.envs.market.data.lobster_data.LobsterDay` (with its order book)."""
        m = day.messages
        n = len(m)
        mtype = m["type"].to_numpy()
        oid = m["order_id"].to_numpy()
        rows = np.arange(n)
        new = mtype == EventType.SUBMISSION
        subs = pd.Series(rows[new], index=oid[new])
        subs = subs[~subs.index.duplicated(keep="first")]
        submit_row = subs.reindex(oid).fillna(-1).to_numpy(dtype=np.int64)
        submit_row = np.where((submit_row <= rows) & np.isin(mtype, (EventType.CANCELLATION, EventType.DELETION, EventType.EXECUTION_VISIBLE)), submit_row, -1)
        executed = np.isin(mtype, EXECUTIONS)
        size = m["size_shares"].to_numpy()
        price = np.nan_to_num(m["price_ticks"].to_numpy())
        vol = np.where(executed, size, 0).astype(np.float64)
        ask_p, ask_s, bid_p, bid_s = day.book_levels()
        return cls(time_s=m["time_s"].to_numpy(), mtype=mtype, order_id=oid, size=size,
                   price_ticks=price, direction=m["direction"].to_numpy(), submit_row=submit_row,
                   cum_volume=np.concatenate([[0.0], np.cumsum(vol)]),
                   cum_value_tick_shares=np.concatenate([[0.0], np.cumsum(vol * price)]),
                   ask_p=ask_p, ask_s=ask_s, bid_p=bid_p, bid_s=bid_s, tick_size=day.tick_size_usd,
                   name=day.name)

    @staticmethod
    @functools.lru_cache(maxsize=4)
    def load(message_path: str, orderbook_path: str, price_units_per_tick: int = 100) -> ReplayDay:
        """Load a LOBSTER file pair (:func:`~execgym.envs.market.data.lobster_data.load_lobster`); cached per argument set."""
        day = load_lobster(Path(message_path), Path(orderbook_path), price_units_per_tick=price_units_per_tick)
        return ReplayDay.from_lobster(day)

    def __len__(self) -> int:
        return len(self.time_s)

    def mid_ticks(self, rows: np.ndarray) -> np.ndarray:
        """Recorded mid (ticks) after each message in ``rows``; NaN where a side is empty."""
        bid, ask = self.bid_p[rows, 0], self.ask_p[rows, 0]
        return np.where((bid > 0) & (ask > 0), 0.5 * (bid + ask), np.nan)

    def row_at(self, time_s: float | np.ndarray) -> np.ndarray:
        """The last message at or before ``time_s`` (-1 before the first)."""
        return np.searchsorted(self.time_s, time_s, side="right") - 1

    def recorded_volume(self, row: int, side: int, price: int) -> int:
        """Recorded shares at (side, price ticks) after message ``row`` (0 if not in the file's levels)."""
        if row < 0:
            return 0
        prices, sizes = (self.bid_p[row], self.bid_s[row]) if side > 0 else (self.ask_p[row], self.ask_s[row])
        hit = np.flatnonzero(prices == price)
        return int(sizes[hit[0]]) if len(hit) else 0


class ReplayBookView:
    """The agent's view of the recorded book: the recorded levels, minus the shares it has
    taken (hidden), plus its own resting order. The part of :class:`~execgym.envs.market.simulation.book.OrderBook`'s
    query API the environments use."""

    def __init__(self, market: ReplayMarket) -> None:
        self._m = market

    def levels(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        """``(price_ticks, size_shares)`` of one side (+1 bids, -1 asks), best first."""
        return self._m._levels(side)

    def top(self, k: int = 5) -> tuple[int, int, int, int, int, int]:
        """``(best_bid, best_ask, bid_size, ask_size, bid_volume_k, ask_volume_k)`` as :meth:`OrderBook.top`."""
        bp, bs = self.levels(1)
        ap, as_ = self.levels(-1)
        return (int(bp[0]) if len(bp) else -1, int(ap[0]) if len(ap) else -1,
                int(bs[0]) if len(bs) else 0, int(as_[0]) if len(as_) else 0, int(bs[:k].sum()), int(as_[:k].sum()))

    @property
    def best_bid(self) -> int | None:
        p, _ = self.levels(1)
        return int(p[0]) if len(p) else None

    @property
    def best_ask(self) -> int | None:
        p, _ = self.levels(-1)
        return int(p[0]) if len(p) else None

    @property
    def mid(self) -> float | None:
        b, a = self.best_bid, self.best_ask
        return None if b is None or a is None else 0.5 * (b + a)

    def volume_at(self, side, price_ticks: int) -> int:
        side = 1 if side in (1, "buy") else -1
        p, s = self.levels(side)
        hit = np.flatnonzero(p == price_ticks)
        return int(s[hit[0]]) if len(hit) else 0

    def __contains__(self, order_id: object) -> bool:
        return self._m._order is not None and order_id == self._m._order_id

    def order(self, order_id: int) -> RestingOrder:
        m = self._m
        if order_id not in self:
            raise ValueError(f"order_id {order_id!r} is not the agent's resting order")
        q = m._order
        level = self.volume_at(m._order_side, m._order_price)
        ahead = min(q.ahead, max(level - q.remaining, 0))  # the view's level holds at least the order
        return RestingOrder(m._order_id, m._order_side, m._order_price, q.remaining, AGENT_OWNER,
                            int(m.time_s * 1e9), ahead)


class ReplayMarket:
    """A recorded day replayed for one execution agent (module docstring for the matching rules).

    :param day: the recorded day.
    """

    def __init__(self, day: ReplayDay, start_row: int = 1) -> None:
        self.day = day
        self.book = ReplayBookView(self)
        self.reset(start_row)

    def reset(self, start_row: int, time_s: float | None = None) -> None:
        """Start at message ``start_row``: the market is the recorded book after message ``start_row - 1``.

        :param time_s: the market's clock (seconds after midnight), between the times of
            messages ``start_row - 1`` and ``start_row``; by default the former.
        """
        check_int("start_row", start_row, minimum=1)
        if start_row >= len(self.day):
            raise ValueError(f"start_row must be < {len(self.day)} messages, got {start_row}")
        lo, hi = float(self.day.time_s[start_row - 1]), float(self.day.time_s[start_row])
        if time_s is not None and not lo <= time_s <= hi:
            raise ValueError(f"time_s must be in [{lo}, {hi}] for start_row {start_row}, got {time_s!r}")
        self._pos = start_row
        self.time_s = lo if time_s is None else float(time_s)
        self._hidden: dict[tuple[int, int], int] = {}
        self._order: QueuePosition | None = None
        self._order_id = 0
        self._order_side = 0
        self._order_price = 0
        self._join_row = 0
        self._next_id = 1
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._last_mid = self.book.mid

    # -- the agent's view ------------------------------------------------------------------

    @property
    def row(self) -> int:
        """The recorded book row the market is at (the last message applied)."""
        return self._pos - 1

    @property
    def reference_ticks(self) -> float:
        """The last mid seen (ticks), for when a side of the book is empty."""
        mid = self.book.mid
        if mid is not None:
            self._last_mid = mid
        return float(self._last_mid if self._last_mid is not None else 0.0)

    def _levels(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        cached = self._cache.get(side)
        if cached is not None:
            return cached
        d, r = self.day, self.row
        prices, sizes = (d.bid_p[r], d.bid_s[r]) if side > 0 else (d.ask_p[r], d.ask_s[r])
        keep = sizes > 0
        prices, sizes = prices[keep].copy(), sizes[keep].copy()
        for (s, p), h in self._hidden.items():
            if s == side:
                sizes[prices == p] -= h
        if self._order is not None and self._order_side == side:
            hit = prices == self._order_price
            if hit.any():
                sizes[hit] += self._order.remaining
            else:
                prices, sizes = np.append(prices, self._order_price), np.append(sizes, self._order.remaining)
        keep = sizes > 0
        prices, sizes = prices[keep], sizes[keep]
        order = np.argsort(-prices if side > 0 else prices, kind="stable")
        out = (prices[order], sizes[order])
        self._cache[side] = out
        return out

    def _changed(self) -> None:
        self._cache.clear()

    # -- the agent's orders ----------------------------------------------------------------

    def _fills(self, price_ticks: list[int], sizes: list[int], side: int, agent_id: int, aggressive: bool) -> np.ndarray:
        out = np.zeros(len(sizes), dtype=FILL_DTYPE)
        out["time_ns"] = int(self.time_s * 1e9)
        out["price_ticks"] = price_ticks
        out["size_shares"] = sizes
        out["aggressor_side"] = side if aggressive else -side
        out["aggressor_id"] = agent_id if aggressive else -1
        out["resting_id"] = -1 if aggressive else agent_id
        out["aggressor_owner"] = AGENT_OWNER if aggressive else RECORDED_OWNER
        out["resting_owner"] = RECORDED_OWNER if aggressive else AGENT_OWNER
        return out

    def _walk(self, side: int, size: int, limit: int | None, agent_id: int) -> tuple[np.ndarray, int]:
        """Take up to ``size`` shares from the other side (up to ``limit`` ticks); return fills and what is left."""
        prices, sizes = self._levels(-side)
        got_p, got_s = [], []
        for p, s in zip(prices.tolist(), sizes.tolist()):
            if size == 0 or (limit is not None and (p - limit) * side > 0):
                break
            take = min(size, s)
            got_p.append(p)
            got_s.append(take)
            self._hidden[(-side, p)] = self._hidden.get((-side, p), 0) + take
            size -= take
        self._changed()
        return self._fills(got_p, got_s, side, agent_id, True), size

    @staticmethod
    def _sign(side) -> int:
        if side in ("buy", 1):
            return 1
        if side in ("sell", -1):
            return -1
        raise ValueError(f"side must be 'buy'/'sell' or +1/-1, got {side!r}")

    def submit_market(self, side, size_shares: int) -> np.ndarray:
        """A market order of the agent: walks its view of the recorded book; the unfilled rest is dropped."""
        size = check_int("size_shares", size_shares, minimum=1)
        oid = self._next_id
        self._next_id += 1
        fills, _ = self._walk(self._sign(side), size, None, oid)
        return fills

    def submit_limit(self, side, price_ticks: int, size_shares: int) -> tuple[int, np.ndarray]:
        """A limit order: the marketable part walks the book, the rest joins the back of its level."""
        sign = self._sign(side)
        price = check_int("price_ticks", price_ticks, minimum=1)
        size = check_int("size_shares", size_shares, minimum=1)
        if self._order is not None:
            raise ValueError(f"the agent already has a resting order ({self._order_id}); cancel it first")
        oid = self._next_id
        self._next_id += 1
        return oid, self._place(sign, price, size, oid)

    def _place(self, sign: int, price: int, size: int, oid: int) -> np.ndarray:
        fills, left = self._walk(sign, size, price, oid)
        if left:
            self._order = QueuePosition(self.day.recorded_volume(self.row, sign, price), left)
            self._order_id, self._order_side, self._order_price, self._join_row = oid, sign, price, self._pos
            self._changed()
        return fills

    def _check_order(self, order_id: int) -> None:
        if order_id not in self.book:
            raise ValueError(f"order_id {order_id!r} is not a resting order of the agent")

    def cancel(self, order_id: int, size_shares: int | None = None) -> None:
        """Cancel the agent's resting order (all of it, or ``size_shares``; a partial cancel keeps its place)."""
        self._check_order(order_id)
        if size_shares is None or size_shares >= self._order.remaining:
            self._order = None
        else:
            self._order.remaining -= check_int("size_shares", size_shares, minimum=1)
        self._changed()

    def modify(self, order_id: int, price_ticks: int | None = None, size_shares: int | None = None) -> np.ndarray:
        """Resize (or reprice) the agent's resting order: a size cut keeps its place, a larger size or
        a new price sends it to the back of its (new) level."""
        self._check_order(order_id)
        price = self._order_price if price_ticks is None else check_int("price_ticks", price_ticks, minimum=1)
        size = self._order.remaining if size_shares is None else check_int("size_shares", size_shares, minimum=1)
        if price == self._order_price and size <= self._order.remaining:
            self._order.remaining = size
            self._changed()
            return np.zeros(0, dtype=FILL_DTYPE)
        side = self._order_side
        self._order = None
        self._changed()
        return self._place(side, price, size, self._order_id)

    # -- time --------------------------------------------------------------------------------

    def advance(self, dt_s: float) -> StepReport:
        """Apply the recorded messages of the next ``dt_s`` seconds; report the trades and the agent's fills.

        ``volume_shares`` / ``value_tick_shares``: the recorded executions (visible and hidden) plus
        the agent's fills against recorded limit orders that crossed its price (trades the
        record does not have). ``agent_fills``: the agent's passive fills.
        """
        dt_s = check_positive("dt_s", dt_s)
        d = self.day
        t_start, t_end, first = self.time_s, self.time_s + dt_s, self._pos
        stop = int(np.searchsorted(d.time_s, t_end, side="right"))
        stop = max(stop, self._pos)
        extra_volume, extra_value = 0, 0
        fill_p: list[int] = []
        fill_s: list[int] = []
        fill_t: list[int] = []
        if stop > self._pos and (self._order is not None or self._hidden):
            extra_volume, extra_value = self._match(self._pos, stop, fill_p, fill_s, fill_t)
        volume = float(d.cum_volume[stop] - d.cum_volume[self._pos]) + extra_volume
        value = float(d.cum_value_tick_shares[stop] - d.cum_value_tick_shares[self._pos]) + extra_value
        self._pos = stop
        self.time_s = t_end
        self._changed()
        agent = self._fills(fill_p, fill_s, self._order_side, self._order_id, False)
        if len(agent):
            agent["time_ns"] = fill_t
        agent_volume = int(agent["size_shares"].sum())
        agent_value = int((agent["size_shares"] * agent["price_ticks"]).sum())
        book = self.book
        return StepReport(t_start, t_end, agent, agent, int(round(volume)), value / volume if volume else np.nan,
                          value, agent_volume, agent_value, stop - first,
                          book.best_bid, book.best_ask, book.mid, self.reference_ticks)

    def _match(self, start: int, stop: int, fill_p: list, fill_s: list, fill_t: list) -> tuple[int, float]:
        """Run the queue model and the hidden-share bookkeeping over messages ``start..stop``."""
        d = self.day
        sl = slice(start, stop)
        mtype, direction, price, size = d.mtype[sl], d.direction[sl], d.price_ticks[sl], d.size[sl]
        relevant = np.zeros(stop - start, dtype=bool)
        order = self._order
        if order is not None:
            s, p = self._order_side, self._order_price
            relevant |= (direction == s) & (price == p)
            relevant |= np.isin(mtype, (EventType.EXECUTION_VISIBLE, EventType.EXECUTION_HIDDEN)) & (direction == s) & ((price - p) * s < 0)
            relevant |= (mtype == EventType.SUBMISSION) & (direction == -s) & ((price - p) * s <= 0)
        for (hs, hp) in self._hidden:
            relevant |= (direction == hs) & (price == hp)
        extra_volume, extra_value = 0, 0.0
        for i in np.flatnonzero(relevant).tolist():
            k = start + i
            t, dk, pk, sk = int(mtype[i]), int(direction[i]), float(price[i]), int(size[i])
            q = self._order
            if q is not None and q.remaining > 0:
                s, p = self._order_side, self._order_price
                fill = 0
                if dk == s and pk == p:
                    sub = int(d.submit_row[k])
                    where = UNKNOWN if sub < 0 else (AHEAD if sub < self._join_row else BEHIND)
                    if t == 1:
                        q.on_submission(sk)
                    elif t in (2, 3):
                        q.on_cancellation(sk, where)
                    elif t == 4:
                        fill = q.on_execution(sk, nothing_ahead=where == BEHIND)
                elif dk == s and t in (4, 5) and (pk - p) * s < 0:
                    fill = q.on_execution(sk, nothing_ahead=True)  # price priority: through the agent's level
                elif dk == -s and t == 1 and (pk - p) * s <= 0:
                    fill = min(q.remaining, sk)  # a crossing limit order trades with the agent
                    q.remaining -= fill
                    key = (-s, int(pk))
                    self._hidden[key] = self._hidden.get(key, 0) + fill
                    extra_volume += fill
                    extra_value += fill * p
                if fill:
                    fill_p.append(p)
                    fill_s.append(fill)
                    fill_t.append(int(d.time_s[k] * 1e9))
                if q.remaining == 0:
                    self._order = None
            key = (dk, int(pk)) if pk == int(pk) else None
            h = self._hidden.get(key, 0) if key is not None else 0
            if h:
                if t == 4:
                    h -= min(h, sk)
                elif t in (2, 3):
                    level = max(d.recorded_volume(k - 1, dk, int(pk)), sk)
                    h -= min(h, int(round(sk * h / level)))
                if d.recorded_volume(k, dk, int(pk)) == 0:
                    h = 0
                if h:
                    self._hidden[key] = h
                else:
                    del self._hidden[key]
        return extra_volume, extra_value
