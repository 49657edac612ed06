"""A slow, obviously correct price-time-priority book: the oracle for the numba book.

Each side is a SortedDict price -> deque of [order_id, size, owner, time]. It implements
the same event semantics as ``execgym.envs.market.simulation.book.OrderBook.process`` and raises
``ValueError`` for any event the real book refuses, without changing state.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

LIMIT, MARKET, IOC, CANCEL, MODIFY, EXECUTE = range(6)


class ReferenceBook:
    def __init__(self, lot_size: int = 1, skip_unknown_ids: bool = False) -> None:
        self.lot = lot_size
        self.skip_unknown = skip_unknown_ids  # replay mode, as OrderBook(skip_unknown_ids=True)
        self.n_skipped = 0
        self.sides = {1: SortedDict(), -1: SortedDict()}  # bids (+1), asks (-1)
        self.where: dict[int, tuple[int, int]] = {}  # order id -> (side, price)

    def best(self, side):
        levels = self.sides[side]
        if not levels:
            return None
        return levels.peekitem(-1)[0] if side == 1 else levels.peekitem(0)[0]

    def _find(self, oid):
        side, price = self.where[oid]
        for entry in self.sides[side][price]:
            if entry[0] == oid:
                return side, price, entry
        raise AssertionError("index out of sync")

    def _remove(self, side, price, entry):
        q = self.sides[side][price]
        q.remove(entry)
        if not q:
            del self.sides[side][price]
        del self.where[entry[0]]

    def _match(self, side, limit, size, oid, owner, time):
        fills, other = [], -side
        while size > 0:
            best = self.best(other)
            if best is None or (limit is not None and (best > limit if side == 1 else best < limit)):
                break
            q = self.sides[other][best]
            head = q[0]
            f = min(size, head[1])
            fills.append((time, best, f, side, oid, head[0], owner, head[2]))
            size -= f
            head[1] -= f
            if head[1] == 0:
                self._remove(other, best, head)
        return size, fills

    def _rest(self, side, price, size, oid, owner, time):
        self.sides[side].setdefault(price, deque()).append([oid, size, owner, time])
        self.where[oid] = (side, price)

    def apply(self, etype, oid, side, price, size, owner, time):
        """Apply one event; return its fills as tuples in ``FILL_DTYPE`` field order."""
        if etype in (LIMIT, MARKET, IOC):
            if side not in (1, -1):
                raise ValueError("side")
            if size <= 0 or size % self.lot:
                raise ValueError("size")
            if etype != MARKET and price <= 0:
                raise ValueError("price")
            if oid in self.where:
                raise ValueError("duplicate id")
            rem, fills = self._match(side, None if etype == MARKET else price, size, oid, owner, time)
            if etype == LIMIT and rem > 0:
                self._rest(side, price, rem, oid, owner, time)
            return fills
        if oid not in self.where:
            if self.skip_unknown and etype in (CANCEL, EXECUTE, MODIFY):
                self.n_skipped += 1
                return []
            raise ValueError("unknown id")
        rside, rprice, entry = self._find(oid)
        if etype == EXECUTE and self.skip_unknown and size > entry[1]:
            self.n_skipped += 1
            size = entry[1]
        if etype == CANCEL:
            if size < 0:
                raise ValueError("size")
            if size == 0 or size >= entry[1]:
                self._remove(rside, rprice, entry)
            else:
                entry[1] -= size
            return []
        if etype == EXECUTE:
            if size <= 0 or size > entry[1]:
                raise ValueError("size")
            entry[1] -= size
            if entry[1] == 0:
                self._remove(rside, rprice, entry)
            return [(time, rprice, size, -rside, -1, oid, owner, entry[2])]
        if etype == MODIFY:
            if size <= 0 or size % self.lot or price <= 0:
                raise ValueError("modify")
            if price == rprice and size <= entry[1]:
                entry[1] = size
                return []
            self._remove(rside, rprice, entry)
            rem, fills = self._match(rside, price, size, oid, entry[2], time)
            if rem > 0:
                self._rest(rside, price, rem, oid, entry[2], time)
            return fills
        raise ValueError("type")

    def depth(self, n):
        """(bid prices, bid sizes, ask prices, ask sizes) of the top n levels, zero-padded."""
        out = []
        for side in (1, -1):
            levels = self.sides[side]
            keys = list(reversed(levels.keys()))[:n] if side == 1 else list(levels.keys())[:n]
            px = keys + [0] * (n - len(keys))
            sz = [sum(e[1] for e in levels[k]) for k in keys] + [0] * (n - len(keys))
            out += [px, sz]
        return tuple(out)
