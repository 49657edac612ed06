"""What an execution environment needs from a market: :class:`Market` and its :class:`BookView`.

The simulator (:class:`~execgym.envs.market.simulation.simulator.MarketSimulator`) and the
historical replay (:class:`~execgym.envs.market.data.replay.ReplayMarket`) both implement it,
and a test checks that their methods have these signatures. How a market is built and reset
is its own business (a random stream for the simulator, a start row for the replay); what
happens between two decisions is not.

Units: prices in ticks, sizes in shares, times in seconds; ``side`` is ``"buy"``/``"sell"``
or +1/-1.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from execgym.envs.market.simulation.book import RestingOrder
from execgym.envs.market.simulation.simulator import StepReport

__all__ = ["BookView", "Market"]


@runtime_checkable
class BookView(Protocol):
    """The visible book: the touch, the depth at a price, and the agent's resting orders."""

    @property
    def best_bid(self) -> int | None: ...

    @property
    def best_ask(self) -> int | None: ...

    @property
    def mid(self) -> float | None: ...

    def top(self, k: int = 5) -> tuple[int, int, int, int, int, int]:
        """(bid price, bid size, ask price, ask size, bid depth, ask depth) over the top ``k`` levels."""

    def volume_at(self, side: Any, price_ticks: int) -> int:
        """Shares resting on ``side`` at ``price_ticks``."""

    def order(self, order_id: int) -> RestingOrder:
        """A resting order by id (``KeyError`` if it is not resting)."""

    def __contains__(self, order_id: object) -> bool: ...


@runtime_checkable
class Market(Protocol):
    """A market an execution agent trades in, advanced one decision interval at a time."""

    @property
    def book(self) -> BookView: ...

    @property
    def time_s(self) -> float:
        """Market time, seconds."""

    @property
    def reference_ticks(self) -> float:
        """The price to fall back on when a side of the book is empty (ticks)."""

    def advance(self, dt_s: float) -> StepReport:
        """Let ``dt_s`` seconds of the market happen; what traded, the agent's fills included."""

    def submit_market(self, side: Any, size_shares: int) -> np.ndarray:
        """The agent's market order: its fills (:data:`~execgym.envs.market.simulation.book.FILL_DTYPE`)."""

    def submit_limit(self, side: Any, price_ticks: int, size_shares: int) -> tuple[int, np.ndarray]:
        """The agent's limit order: (its id, its immediate fills)."""

    def cancel(self, order_id: int, size_shares: int | None = None) -> None:
        """Cancel the agent's order, or ``size_shares`` of it."""

    def modify(self, order_id: int, price_ticks: int | None = None, size_shares: int | None = None) -> np.ndarray:
        """Change the agent's order's price or size: the fills a new price causes."""
