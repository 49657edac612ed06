"""A price-time-priority limit order book on a tick grid, compiled with numba.

Prices are integer ticks (``price_ticks * tick_size`` is the currency price), sizes integer
shares (multiples of ``lot_size``). Orders at one price level fill first-in, first-out;
an aggressive order walks the opposite side level by level up to its limit, and a limit
order rests what it could not fill. Every order carries an ``owner`` id, so an execution
agent's child orders and their fills are told apart from the background flow.

Two ways in:

* the per-order API (:meth:`OrderBook.limit`, :meth:`~OrderBook.market`,
  :meth:`~OrderBook.ioc`, :meth:`~OrderBook.cancel`, :meth:`~OrderBook.modify`), which
  validates its arguments and raises ``ValueError``/``TypeError`` naming the bad value,
  leaving the book unchanged;
* :meth:`OrderBook.process` on a whole ``(n, 7)`` int64 event array (fields in
  :data:`EVENT_FIELDS`), which runs in one compiled call: the fast path for simulators
  and replays.

Fills come back as a structured record array (:data:`FILL_DTYPE`); the optional event log
follows LOBSTER's message convention (:meth:`OrderBook.event_log`).

The state is a handful of preallocated arrays (see :mod:`execgym.envs.market.simulation._book_kernels`):
price levels indexed by tick offset, FIFO queues as doubly linked lists through the
order records, and an open-addressing hash map from order id to record for O(1)
cancels. Buffers and the price grid grow on demand.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from execgym.envs.market.simulation import _book_kernels as K
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "BUY",
    "EVENT_FIELDS",
    "EV_CANCEL",
    "EV_EXECUTE",
    "EV_HIDDEN",
    "EV_IOC",
    "EV_LIMIT",
    "EV_MARKET",
    "EV_MODIFY",
    "FILL_DTYPE",
    "SELL",
    "OrderBook",
    "RestingOrder",
]

BUY, SELL = 1, -1
EV_LIMIT, EV_MARKET, EV_IOC = K.EV_LIMIT, K.EV_MARKET, K.EV_IOC
EV_CANCEL, EV_MODIFY, EV_EXECUTE, EV_HIDDEN = K.EV_CANCEL, K.EV_MODIFY, K.EV_EXECUTE, K.EV_HIDDEN
#: columns of an event array for :meth:`OrderBook.process`
EVENT_FIELDS = K.EVENT_FIELDS

#: a fill: time (ns), price (ticks), size (shares), aggressor side (+1 buy / -1 sell),
#: aggressor and resting order ids (aggressor -1 for a replayed execution), and owners. The
#: record view of the kernels' int64 fill rows (``raw.view(FILL_DTYPE)``): one representation.
FILL_DTYPE = np.dtype([(name, np.int64) for name in K.FILL_FIELDS])


class BookArrays(NamedTuple):
    """An :class:`OrderBook`'s kernel arrays (see :attr:`OrderBook.arrays` and the layout in
    :mod:`~execgym.envs.market.simulation._book_kernels`)."""

    sc: np.ndarray
    lvl: np.ndarray
    orders: np.ndarray
    htab: np.ndarray
    fills: np.ndarray
    log: np.ndarray


_NO_RAW_FILLS = np.zeros((0, K.N_F), dtype=np.int64)
_NO_RAW_FILLS.setflags(write=False)

_ERRORS = {
    K.ERR_SIZE: "size_shares must be a positive number of shares",
    K.ERR_PRICE: "price_ticks must be > 0",
    K.ERR_UNKNOWN_ID: "order_id is not a resting order (unknown, filled or cancelled)",
    K.ERR_DUPLICATE_ID: "order_id is already resting in the book",
    K.ERR_TYPE: "unknown event type",
    K.ERR_SIDE: "side must be +1 (buy) or -1 (sell)",
    K.ERR_LOT: "size_shares must be a multiple of lot_size",
    K.ERR_ID: "order_id must not be the reserved minimum int64",
}


@dataclass(frozen=True)
class RestingOrder:
    """L3 view of one resting order.

    ``price_ticks`` and ``size_shares`` (remaining); ``queue_ahead_shares`` is the volume
    ahead of it at its level (its queue position).
    """

    order_id: int
    side: int
    price_ticks: int
    size_shares: int
    owner: int
    time_ns: int
    queue_ahead_shares: int


def _side(side: Any) -> int:
    if isinstance(side, str):
        if side.lower() in ("buy", "bid", "b"):
            return BUY
        if side.lower() in ("sell", "ask", "s"):
            return SELL
    elif isinstance(side, numbers.Integral) and not isinstance(side, bool) and int(side) in (BUY, SELL):
        return int(side)
    raise ValueError(f"side must be 'buy'/'sell' or +1/-1, got {side!r}")


#: the int64 range every integer argument must fit (the book stores int64)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not math.isfinite(float(value)):
            raise ValueError(f"{name} must be a finite integer, got {value!r}")
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    out = int(value)
    if not _I64_MIN < out <= _I64_MAX:  # the minimum is the hash table's reserved empty key
        raise ValueError(f"{name} must fit a 64-bit integer (|x| < 2**63), got {value!r}")
    return out


def _int_events(events: Any) -> np.ndarray:
    """``events`` as a contiguous int64 array; floats only if they hold integers exactly."""
    arr = np.asarray(events)
    if arr.dtype.kind == "f":
        exact = np.isfinite(arr) & (arr == np.floor(arr)) & (np.abs(arr) < 2.0**63)
        if not exact.all():
            i = tuple(int(x[0]) for x in np.nonzero(~exact))
            raise ValueError(f"events must hold integers; a float array is accepted only if every value is one, "
                             f"got {arr[i]!r} at {i}")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"events must be an integer array, got dtype {arr.dtype}")
    elif arr.dtype.kind == "u" and arr.size and int(arr.max()) > _I64_MAX:
        raise ValueError(f"events must fit int64, got {int(arr.max())}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class OrderBook:
    """A single-asset limit order book with price-time priority.

    :param tick_size: currency per tick (> 0), for conversions at the edge.
    :param lot_size: shares per lot; every size must be a multiple (>= 1).
    :param n_levels: initial width of the price grid (ticks); it grows on demand.
    :param base_price_ticks: lowest price on the initial grid; by default the grid is
        centred on the first limit order's price.
    :param capacity: initial number of order records (grows on demand).
    :param max_levels: the widest price grid (ticks) the book may allocate (64 bytes a level);
        an order further from the resting orders than that is refused with a ``ValueError``
        instead of allocating gigabytes. The default, 2^20 levels, is 64 MiB.
    :param log_events: keep the LOBSTER-convention event log.
    :param skip_unknown_ids: replay mode for recorded data whose orders predate the
        recording: in :meth:`process`, cancels, executions and modifies of order ids the
        book does not hold are skipped, and executions larger than the resting order are
        clipped to it, instead of being refused. Both are counted in :attr:`n_skipped`.
    :param unmapped_below_id: ids from 1 to this value less 1 are a compiled caller's (the
        simulator's background flow, which keeps each of its orders' slots): kept out of the
        id map (no bucket to find on each cancellation; ``_book_kernels``, "Unmapped
        orders"). This API refuses them (``ValueError``) and its id queries do not see them;
        0, the default, maps every id.
    """

    def __init__(
        self,
        tick_size: float = 0.01,
        lot_size: int = 1,
        n_levels: int = 1 << 14,
        base_price_ticks: int | None = None,
        capacity: int = 1 << 12,
        log_events: bool = True,
        skip_unknown_ids: bool = False,
        max_levels: int = 1 << 20,
        fill_capacity: int = 1 << 12,
        unmapped_below_id: int = 0,
    ) -> None:
        self.tick_size = check_positive("tick_size", tick_size)
        self.lot_size = check_int("lot_size", lot_size, minimum=1)
        n_levels = check_int("n_levels", n_levels, minimum=2)
        self.max_levels = check_int("max_levels", max_levels, minimum=2)
        if n_levels > self.max_levels:
            raise ValueError(f"n_levels={n_levels} must be <= max_levels={self.max_levels}")
        capacity = check_int("capacity", capacity, minimum=1)
        self._sc = np.zeros(K.N_SC, dtype=np.int64)
        self._sc[K.S_N_LEVELS] = n_levels
        self._sc[K.S_BEST_BID] = -1
        self._sc[K.S_BEST_ASK] = n_levels
        self._sc[K.S_LOT] = self.lot_size
        self._sc[K.S_LOG_ON] = 1 if log_events else 0
        self._sc[K.S_SKIP_UNKNOWN] = 1 if skip_unknown_ids else 0
        self._sc[K.S_MAP_FROM] = self._unmapped_below = check_int("unmapped_below_id", unmapped_below_id, minimum=0)
        self._grid_set = base_price_ticks is not None
        self._sc[K.S_BASE] = 0 if base_price_ticks is None else _int("base_price_ticks", base_price_ticks)
        self._lvl = np.zeros((2, n_levels), dtype=K.LEVEL_DTYPE)
        self._lvl["head"] = -1
        self._lvl["tail"] = -1
        self._orders = self._new_orders(capacity)
        self._sc[K.S_FREE] = 0
        self._htab = self._new_htab(capacity)
        self._fills = np.zeros((check_int("fill_capacity", fill_capacity, minimum=2), K.N_F), dtype=np.int64)
        self._log = np.zeros((1 << 12 if log_events else 1, K.N_G), dtype=np.int64)
        self._log_chunks: list[np.ndarray] = []
        self._fill_chunks: list[np.ndarray] = []
        self._next_id = max(1, self._unmapped_below)
        self._one = np.zeros((1, K.N_E), dtype=np.int64)
        self._top = np.zeros(6, dtype=np.int64)

    # -- storage -----------------------------------------------------------------------

    @staticmethod
    def _new_orders(capacity: int) -> np.ndarray:
        orders = np.zeros(capacity, dtype=K.ORDER_DTYPE)
        orders["id"] = K.EMPTY_KEY
        orders["next"] = np.arange(1, capacity + 1)
        orders["next"][-1] = -1
        return orders

    @staticmethod
    def _new_htab(capacity: int) -> np.ndarray:
        size = 1 << max(4, int(2 * capacity - 1).bit_length())  # load factor <= 1/2
        return K.new_htab(size)

    def _grow_orders(self) -> None:
        old = self._orders
        cap = old.shape[0]
        new = self._new_orders(2 * cap)
        new[:cap] = old
        # all old slots were in use (that is why we grow): the free list is the new block
        self._sc[K.S_FREE] = cap
        self._orders = new
        self._htab = self._new_htab(2 * cap)
        K.rebuild_hash(self._sc, self._orders, self._htab)
        logger.debug("order capacity grown to %d", 2 * cap)

    def _grow_fills(self) -> None:
        need = 2 * (int(self._sc[K.S_N_ORDERS]) + 2)
        size = max(2 * self._fills.shape[0], need)
        new = np.zeros((size, K.N_F), dtype=np.int64)
        new[: self._fills.shape[0]] = self._fills
        self._fills = new

    def _flush_log(self) -> None:
        n = int(self._sc[K.S_N_LOG])
        if n:
            self._log_chunks.append(self._log[:n].copy())
            self._sc[K.S_N_LOG] = 0
        need = int(self._sc[K.S_N_ORDERS]) + 4
        if self._log.shape[0] < need:
            self._log = np.zeros((2 * need, K.N_G), dtype=np.int64)

    def _grid_for(self, price: int) -> int | None:
        """The grid width that fits ``price`` (ticks), ``None`` if the grid need not change;
        ``ValueError`` if it would exceed ``max_levels`` (nothing is changed then)."""
        sc = self._sc
        base, n = int(sc[K.S_BASE]), int(sc[K.S_N_LEVELS])
        if not self._grid_set and sc[K.S_N_ORDERS] == 0:
            return n
        if base <= price < base + n:
            return None
        lo, hi = min(base, price), max(base + n - 1, price)
        new_n = n
        while new_n < hi - lo + 1 + n // 2:
            new_n *= 2
        if new_n > self.max_levels:
            raise ValueError(f"price_ticks={price} is {max(base - price, price - base - n + 1)} ticks outside the "
                             f"book's grid [{base}, {base + n - 1}]: it would need {new_n} levels, more than "
                             f"max_levels={self.max_levels} (raise it to allow such prices)")
        return new_n

    def _regrid(self, price: int) -> None:
        """Widen the price grid so that ``price`` (ticks) fits, keeping every level."""
        sc = self._sc
        base, n = int(sc[K.S_BASE]), int(sc[K.S_N_LEVELS])
        if not self._grid_set and sc[K.S_N_ORDERS] == 0:
            sc[K.S_BASE] = max(1, price - n // 2)
            self._grid_set = True
            return
        lo, hi = min(base, price), max(base + n - 1, price)
        new_n = self._grid_for(price) or n
        new_base = max(1, lo - (new_n - (hi - lo + 1)) // 2)
        shift = base - new_base
        lvl = np.zeros((2, new_n), dtype=K.LEVEL_DTYPE)
        lvl["head"] = -1
        lvl["tail"] = -1
        lvl[:, shift : shift + n] = self._lvl
        self._lvl = lvl
        sc[K.S_BASE], sc[K.S_N_LEVELS] = new_base, new_n
        sc[K.S_BEST_BID] = sc[K.S_BEST_BID] + shift if sc[K.S_N_BID_ORDERS] else -1
        sc[K.S_BEST_ASK] = sc[K.S_BEST_ASK] + shift if sc[K.S_N_ASK_ORDERS] else new_n
        logger.debug("price grid now %d levels from %d ticks", new_n, new_base)

    # -- the event path ------------------------------------------------------------------

    def process(self, events: np.ndarray) -> np.ndarray:
        """Apply an ``(n, 7)`` int64 event array (columns :data:`EVENT_FIELDS`) in order.

        Event types: ``EV_LIMIT``, ``EV_MARKET`` (price ignored), ``EV_IOC``, ``EV_CANCEL``
        (size = shares to cancel; 0 or >= remaining deletes), ``EV_MODIFY`` (new price and
        size: a size cut at the same price keeps priority, anything else re-queues),
        ``EV_EXECUTE`` (a trade of ``size`` against the named resting order, for replays),
        ``EV_HIDDEN`` (a trade of ``size`` at ``price`` against hidden liquidity on ``side``:
        one fill and a LOBSTER type-5 message, the visible book unchanged).

        :return: the fills, a :data:`FILL_DTYPE` record array.
        :raises ValueError: naming the first invalid event (index and fields); the events
            before it are applied, it and those after are not.
        """
        events = _int_events(events)
        if events.ndim != 2 or events.shape[1] != K.N_E:
            raise ValueError(f"events must have shape (n, {K.N_E}), got {events.shape}")
        ids = events[:, K.E_ID]
        reserved = self._unmapped(ids)
        if reserved.any():
            i = int(np.argmax(reserved))
            raise ValueError(f"event {i}'s order_id {int(ids[i])} is below unmapped_below_id={self._unmapped_below}: "
                             "those ids are the background flow's")
        try:
            return self._process(events)
        finally:
            self._note_ids(events)

    def _process(self, events: np.ndarray) -> np.ndarray:
        """:meth:`process` on a checked ``(n, 7)`` int64 array (the single-order methods' path)."""
        start, n = 0, events.shape[0]
        if not self._grid_set and n:
            priced = events[np.isin(events[:, K.E_TYPE], (K.EV_LIMIT, K.EV_MODIFY)) & (events[:, K.E_PRICE] > 0)]
            if len(priced):
                self._regrid(int(priced[0, K.E_PRICE]))
        self.take_fills()  # drop anything left from a previous call
        refused = None
        while start < n:
            start, status = K.process(self._sc, self._lvl, self._orders, self._htab, self._fills,
                                      self._log, events, start)
            if status == K.OK:
                break
            try:
                refused = self.make_room_for(start, status, events[start], refused)
            except (ValueError, RuntimeError):
                self.take_fills()
                raise
        return self.take_fills()

    def _note_ids(self, events: np.ndarray) -> None:
        """Keep automatic ids above every id that entered through :meth:`process`."""
        new = events[np.isin(events[:, K.E_TYPE], (K.EV_LIMIT, K.EV_MARKET, K.EV_IOC)), K.E_ID]
        if len(new):
            top = int(new.max())
            if top < _I64_MAX:
                self._next_id = max(self._next_id, top + 1)

    def _auto_id(self) -> int:
        """The next automatic order id: unused by any resting order, and in range."""
        oid = self._next_id
        while oid in self:
            oid += 1
        if oid > _I64_MAX:  # every id above the largest explicit one is used up: search from 1
            oid = 1
            while oid in self:
                oid += 1
        return oid

    @property
    def arrays(self) -> BookArrays:
        """The book's state as its compiled kernels take it, for compiled code that drives the
        book (the flow, replays, generators). Such code keeps the kernels' invariants, calls
        :meth:`make_room` when a kernel asks for room, and reads the arrays again after it
        (growing replaces them); fills it leaves in the buffer are read with :meth:`take_fills`."""
        return BookArrays(self._sc, self._lvl, self._orders, self._htab, self._fills, self._log)

    def make_room_for(self, index: int, status: int, event: np.ndarray,
                      last: tuple[int, int] | None) -> tuple[int, int]:
        """Make the room kernel ``status`` asks for before event ``index`` (``event``, its
        row) can be applied, for loops that drive the book's kernels: call again, then pass
        the returned key as ``last`` the next time the loop needs room.

        :raises RuntimeError: when ``(index, status)`` is ``last``: the room made for this
            event did not let it in, and retrying would loop forever.
        :raises ValueError: when ``status`` is an error (the event is invalid), naming the
            event's index, the error and its fields.
        """
        if (index, status) == last:
            raise RuntimeError(f"event {index} still refused ({_ERRORS.get(status, status)}) after the book "
                               f"made room for it: {event.tolist()}")
        if not self.make_room(status, event):
            fields = dict(zip(EVENT_FIELDS, event.tolist()))
            raise ValueError(f"event {index} refused: {_ERRORS.get(status, status)}; got {fields}")
        return index, status

    def make_room(self, status: int, event: np.ndarray) -> bool:
        """Grow or flush what kernel ``status`` asks for (``event`` is the one waiting); False for errors."""
        if status == K.NEED_ORDER_CAPACITY:
            self._grow_orders()
        elif status == K.NEED_FILL_SPACE:
            self._flush_fills()
        elif status == K.NEED_LOG_SPACE:
            self._flush_log()
        elif status == K.OUT_OF_RANGE:
            self._regrid(int(event[K.E_PRICE]))
        else:
            return False
        return True

    def _flush_fills(self) -> None:
        n = int(self._sc[K.S_N_FILLS])
        if n:
            self._fill_chunks.append(self._fills[:n].copy())
            self._sc[K.S_N_FILLS] = 0
        if self._fills.shape[0] < 2 * (int(self._sc[K.S_N_ORDERS]) + 2):
            self._grow_fills()

    def take_fills_raw(self) -> np.ndarray:
        """All fills since the last call, as an ``(n, 8)`` int64 array; resets the buffer."""
        n = int(self._sc[K.S_N_FILLS])
        if not self._fill_chunks:
            if n == 0:
                return _NO_RAW_FILLS
            self._sc[K.S_N_FILLS] = 0
            return self._fills[:n].copy()
        self._flush_fills()
        chunks, self._fill_chunks = self._fill_chunks, []
        return np.concatenate(chunks)

    def take_fills(self) -> np.ndarray:
        """All fills since the last call, as a :data:`FILL_DTYPE` array; resets the buffer."""
        return self.take_fills_raw().view(FILL_DTYPE).reshape(-1)

    def _one_event(self, etype: int, order_id: int, side: int, price: int, size: int, owner: int, time_ns: int) -> np.ndarray:
        ev = self._one
        ev[0] = (etype, order_id, side, price, size, owner, time_ns)
        return self._process(ev)

    def _new_order_args(self, side, price_ticks, size_shares, order_id, owner, time_ns, need_price):
        s = _side(side)
        size = _int("size_shares", size_shares)
        if size <= 0:
            raise ValueError(f"size_shares must be > 0, got {size_shares!r}")
        if size % self.lot_size:
            raise ValueError(f"size_shares must be a multiple of lot_size={self.lot_size}, got {size_shares!r}")
        price = 0
        if need_price:
            price = _int("price_ticks", price_ticks)
            if price <= 0:
                raise ValueError(f"price_ticks must be > 0, got {price_ticks!r}")
            self._grid_for(price)  # refuses a price beyond max_levels before anything changes
        oid = self._auto_id() if order_id is None else self._mapped_id(order_id)
        if oid in self:
            raise ValueError(f"order_id {oid} is already resting in the book")
        args = s, price, size, oid, _int("owner", owner), _int("time_ns", time_ns)
        # only now, with every argument valid: automatic ids stay above explicit ones
        if oid < _I64_MAX:
            self._next_id = max(self._next_id, oid + 1)
        return args

    def limit(self, side, price_ticks, size_shares, order_id=None, owner=0, time_ns=0) -> np.ndarray:
        """Submit a limit order: match what crosses (FIFO per level), rest the remainder.

        :return: the fills (:data:`FILL_DTYPE`); the order's id is ``self.last_order_id``.
        """
        s, p, q, oid, own, t = self._new_order_args(side, price_ticks, size_shares, order_id, owner, time_ns, True)
        self.last_order_id = oid
        return self._one_event(K.EV_LIMIT, oid, s, p, q, own, t)

    def market(self, side, size_shares, order_id=None, owner=0, time_ns=0) -> np.ndarray:
        """Submit a market order: walk the opposite side; what the book cannot fill is dropped."""
        s, p, q, oid, own, t = self._new_order_args(side, None, size_shares, order_id, owner, time_ns, False)
        self.last_order_id = oid
        return self._one_event(K.EV_MARKET, oid, s, 0, q, own, t)

    def ioc(self, side, price_ticks, size_shares, order_id=None, owner=0, time_ns=0) -> np.ndarray:
        """Immediate-or-cancel: match up to ``price_ticks``, drop the remainder."""
        s, p, q, oid, own, t = self._new_order_args(side, price_ticks, size_shares, order_id, owner, time_ns, True)
        self.last_order_id = oid
        return self._one_event(K.EV_IOC, oid, s, p, q, own, t)

    def _unmapped(self, ids):
        """Whether order id(s) ``ids`` (an int or an int array) are kept out of the id map
        (``unmapped_below_id``; the kernels' ``_unmapped``)."""
        return (ids > 0) & (ids < self._unmapped_below)

    def _mapped_id(self, order_id) -> int:
        oid = _int("order_id", order_id)
        if self._unmapped(oid):
            raise ValueError(f"order_id {oid} is below unmapped_below_id={self._unmapped_below}: those ids are the "
                             "background flow's, kept out of the id map")
        return oid

    def _existing(self, order_id) -> int:
        oid = self._mapped_id(order_id)
        if oid not in self:
            raise ValueError(f"order_id {order_id!r} is not resting in the book (unknown, filled or cancelled)")
        return oid

    def cancel(self, order_id, size_shares: int | None = None, time_ns: int = 0) -> None:
        """Cancel ``size_shares`` of a resting order (all of it if ``None``)."""
        oid = self._existing(order_id)
        size = 0
        if size_shares is not None:
            size = _int("size_shares", size_shares)
            if size <= 0:
                raise ValueError(f"size_shares must be > 0, got {size_shares!r}")
            if size % self.lot_size:
                raise ValueError(f"size_shares must be a multiple of lot_size={self.lot_size}, got {size_shares!r}")
        self._one_event(K.EV_CANCEL, oid, 0, 0, size, 0, _int("time_ns", time_ns))

    def modify(self, order_id, price_ticks: int | None = None, size_shares: int | None = None, time_ns: int = 0) -> np.ndarray:
        """Change a resting order's price and/or size.

        Reducing the size at the same price keeps its place in the queue; a new price or a
        larger size sends it to the back of its (new) level, where it may match.
        """
        oid = self._existing(order_id)
        view = self.order(oid)
        price = view.price_ticks if price_ticks is None else _int("price_ticks", price_ticks)
        size = view.size_shares if size_shares is None else _int("size_shares", size_shares)
        if price <= 0:
            raise ValueError(f"price_ticks must be > 0, got {price_ticks!r}")
        if size <= 0:
            raise ValueError(f"size_shares must be > 0, got {size_shares!r}")
        if size % self.lot_size:
            raise ValueError(f"size_shares must be a multiple of lot_size={self.lot_size}, got {size_shares!r}")
        self._grid_for(price)
        return self._one_event(K.EV_MODIFY, oid, 0, price, size, 0, _int("time_ns", time_ns))

    # -- conversions -----------------------------------------------------------------------

    def to_ticks(self, price: float) -> int:
        """Currency price -> ticks; raises unless ``price`` is on the grid and > 0."""
        if isinstance(price, bool) or not isinstance(price, numbers.Real) or not math.isfinite(float(price)):
            raise ValueError(f"price must be a finite number, got {price!r}")
        ticks = round(float(price) / self.tick_size)
        if ticks <= 0 or not math.isclose(ticks * self.tick_size, float(price), rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(f"price {price!r} is not a positive multiple of tick_size={self.tick_size}")
        return int(ticks)

    def to_price(self, ticks: int | np.ndarray) -> float | np.ndarray:
        """Ticks -> currency."""
        return np.asarray(ticks) * self.tick_size if not np.isscalar(ticks) else ticks * self.tick_size

    # -- queries -------------------------------------------------------------------------

    def __contains__(self, order_id: object) -> bool:
        if isinstance(order_id, bool) or not isinstance(order_id, numbers.Integral):
            return False
        return K.h_find(self._htab, self._orders, int(order_id)) != -1

    def __len__(self) -> int:
        """Number of resting orders."""
        return int(self._sc[K.S_N_ORDERS])

    @property
    def best_bid(self) -> int | None:
        """Best bid price (ticks), ``None`` if there are no bids."""
        i = int(self._sc[K.S_BEST_BID])
        return None if i < 0 else int(self._sc[K.S_BASE]) + i

    @property
    def best_ask(self) -> int | None:
        """Best ask price (ticks), ``None`` if there are no asks."""
        i = int(self._sc[K.S_BEST_ASK])
        return None if i >= self._sc[K.S_N_LEVELS] else int(self._sc[K.S_BASE]) + i

    @property
    def mid(self) -> float | None:
        """(best bid + best ask) / 2 in ticks, ``None`` unless both sides are quoted."""
        b, a = self.best_bid, self.best_ask
        return None if b is None or a is None else 0.5 * (b + a)

    @property
    def spread(self) -> int | None:
        """best ask - best bid (ticks), ``None`` unless both sides are quoted."""
        b, a = self.best_bid, self.best_ask
        return None if b is None or a is None else a - b

    @property
    def microprice(self) -> float | None:
        """Size-weighted mid ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)`` (ticks)."""
        d = self.depth(1)
        if d[1][0] == 0 or d[3][0] == 0:
            return None
        bid, bsz, ask, asz = (float(x[0]) for x in d)
        return (bid * asz + ask * bsz) / (bsz + asz)

    def top(self, k: int = 5) -> tuple[int, int, int, int, int, int]:
        """One call for the touch: ``(best_bid, best_ask, bid_size, ask_size, bid_volume_k,
        ask_volume_k)``; prices in ticks (-1 for an empty side), sizes in shares, volumes over
        the top ``k`` occupied levels per side."""
        K.top_of_book(self._sc, self._lvl, k, self._top)
        return tuple(self._top.tolist())

    def imbalance(self, k: int = 1) -> float | None:
        """Depth imbalance over the top ``k`` levels: ``(bid - ask) / (bid + ask)`` volume, in [-1, 1]."""
        k = check_int("k", k, minimum=1)
        _, bsz, _, asz = self.depth(k)
        total = bsz.sum() + asz.sum()
        return None if total == 0 else float((bsz.sum() - asz.sum()) / total)

    def depth(self, n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """L2 snapshot of the top ``n`` occupied levels per side.

        :return: ``(bid_price_ticks, bid_size_shares, ask_price_ticks, ask_size_shares)``,
            each shape ``(n,)``, best first; absent levels have price 0 and size 0.
        """
        n = check_int("n", n, minimum=1)
        out = np.zeros((4, n), dtype=np.int64)
        K.depth(self._sc, self._lvl, n, out)
        return out[0], out[1], out[2], out[3]

    def volume_at(self, side, price_ticks: int) -> int:
        """Resting shares at one price level of one side."""
        s = 0 if _side(side) == BUY else 1
        li = _int("price_ticks", price_ticks) - int(self._sc[K.S_BASE])
        if not 0 <= li < self._sc[K.S_N_LEVELS]:
            return 0
        return int(self._lvl[s, li]["volume_shares"])

    def queue(self, side, price_ticks: int) -> list[RestingOrder]:
        """L3 view of one level: its orders in FIFO order."""
        s = 0 if _side(side) == BUY else 1
        li = _int("price_ticks", price_ticks) - int(self._sc[K.S_BASE])
        if not 0 <= li < self._sc[K.S_N_LEVELS]:
            return []
        out = np.zeros((int(self._lvl[s, li]["count"]), 4), dtype=np.int64)
        k = K.level_orders(self._sc, self._lvl, self._orders, s, li, out)
        ahead, views = 0, []
        for oid, size, owner, t in out[:k].tolist():
            views.append(RestingOrder(oid, BUY if s == 0 else SELL, int(price_ticks), size, owner, t, ahead))
            ahead += size
        return views

    def order(self, order_id: int) -> RestingOrder:
        """L3 view of one resting order, with its queue position."""
        oid = self._existing(order_id)
        slot = K.h_find(self._htab, self._orders, oid)
        rec = self._orders[slot]
        ahead = K.queue_ahead(self._sc, self._lvl, self._orders, self._htab, oid)
        return RestingOrder(oid, int(rec["side"]), int(rec["price_ticks"]), int(rec["size_shares"]),
                            int(rec["owner"]), int(rec["time_ns"]), int(ahead))

    def queue_position(self, order_id: int) -> int:
        """Shares ahead of a resting order at its level."""
        return self.order(order_id).queue_ahead_shares

    def orders(self) -> pd.DataFrame:
        """L3 view of the whole book: one row per resting order."""
        live = self._orders[self._orders["id"] != K.EMPTY_KEY]
        return pd.DataFrame({
            "order_id": live["id"], "side": live["side"], "price_ticks": live["price_ticks"],
            "size_shares": live["size_shares"], "owner": live["owner"], "time_ns": live["time_ns"],
        })

    @property
    def traded_volume(self) -> int:
        """Shares traded in this book since it was created."""
        return int(self._sc[K.S_TRADED_VOLUME])

    @property
    def n_skipped(self) -> int:
        """Events about unknown order ids skipped (``skip_unknown_ids=True`` only)."""
        return int(self._sc[K.S_N_SKIPPED])

    @property
    def n_events(self) -> int:
        """Events applied since the book was created."""
        return int(self._sc[K.S_N_EVENTS])

    def event_log(self) -> pd.DataFrame:
        """The messages so far in LOBSTER's convention.

        Columns: ``time`` (seconds, from ``time_ns``), ``type`` (1 submission, 2 partial
        cancellation, 3 deletion, 4 visible execution), ``order_id``, ``size`` (shares),
        ``price`` (ticks), ``direction`` (+1 buy limit order, -1 sell; for an execution,
        the side of the resting order).
        """
        if not self._sc[K.S_LOG_ON]:
            raise RuntimeError("this book was created with log_events=False")
        parts = self._log_chunks + [self._log[: self._sc[K.S_N_LOG]]]
        raw = np.concatenate(parts) if parts else np.zeros((0, K.N_G), dtype=np.int64)
        return pd.DataFrame({
            "time": raw[:, K.G_TIME] / 1e9, "type": raw[:, K.G_TYPE], "order_id": raw[:, K.G_ID],
            "size": raw[:, K.G_SIZE], "price": raw[:, K.G_PRICE], "direction": raw[:, K.G_DIR],
        })

    def export_lobster(self, path, price_scale: int = 10_000) -> None:
        """Write the event log as a LOBSTER message file (no header, 6 columns).

        Prices become ``ticks * tick_size * price_scale`` (LOBSTER: dollars x 10000), so
        the file can be read back with :func:`execgym.envs.market.data.lobster.read_messages`.
        """
        log = self.event_log()
        units = np.rint(log["price"].to_numpy() * self.tick_size * price_scale).astype(np.int64)
        out = pd.DataFrame({"time": log["time"].map(lambda t: f"{t:.9f}"), "type": log["type"],
                            "order_id": log["order_id"], "size": log["size"], "price": units,
                            "direction": log["direction"]})
        out.to_csv(path, header=False, index=False)

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the book is crossed or its aggregates disagree with its orders."""
        live = self._orders[self._orders["id"] != K.EMPTY_KEY]
        assert len(live) == len(self), "order count"
        assert len(np.unique(live["id"])) == len(live), "two resting orders share an id"
        b, a = self.best_bid, self.best_ask
        assert b is None or a is None or b < a, f"crossed book: bid {b} >= ask {a}"
        base = int(self._sc[K.S_BASE])
        for s, direction in ((0, BUY), (1, SELL)):
            mine = live[live["side"] == direction]
            vol = np.zeros(self._lvl.shape[1], dtype=np.int64)
            np.add.at(vol, mine["price_ticks"] - base, mine["size_shares"])
            assert np.array_equal(vol, self._lvl["volume_shares"][s]), "level volumes"
            assert np.all(mine["size_shares"] > 0), "non-positive resting size"
            if len(mine):
                best = mine["price_ticks"].max() if s == 0 else mine["price_ticks"].min()
                assert best == (b if s == 0 else a), "best price"
        self._check_hash_map()

    def _check_hash_map(self) -> None:
        """Raise ``AssertionError`` unless the id -> slot map holds exactly the resting
        orders with mapped ids (``unmapped_below_id``), each reachable from its home bucket
        (no empty bucket between them)."""
        htab = self._htab
        used = np.flatnonzero(htab != K.EMPTY_SLOT)
        slots = htab[used] & K._SLOT_MASK
        ids = self._orders["id"]
        mapped = (ids != K.EMPTY_KEY) & ~self._unmapped(ids)
        assert np.array_equal(np.sort(slots), np.flatnonzero(mapped)), "hash map entries (the mapped resting orders)"
        assert len(np.unique(slots)) == len(slots), "two buckets name one slot"
        assert np.all(self._orders["id"][slots] != K.EMPTY_KEY), "a bucket names a free slot"
        assert len(np.unique(self._orders["id"][slots])) == len(slots), "two resting orders share an id"
        homes = htab[used] >> 32
        assert np.array_equal(homes, K.h_homes(htab, self._orders["id"][slots])), "a bucket's home"
        # the run of occupied buckets ending at each used one (cyclic) reaches back to its home
        n = len(htab)
        occupied = np.tile(htab != K.EMPTY_SLOT, 2)
        last_empty = np.maximum.accumulate(np.where(occupied, -1, np.arange(2 * n)))
        run = used + n - last_empty[used + n] - 1
        assert np.all((used - homes) % n <= run), "an empty bucket in a probe chain"

    def __repr__(self) -> str:
        return f"OrderBook(bid={self.best_bid}, ask={self.best_ask}, orders={len(self)})"
