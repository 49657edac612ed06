"""LOBSTER data: read message and order-book files, convert messages to book events, replay them.

LOBSTER (https://lobsterdata.com) message files have one event per row: time (seconds
after midnight), type (1 submission, 2 partial cancellation, 3 deletion, 4 visible
execution, 5 hidden execution, 6 cross trade, 7 trading halt), order id, size (shares),
price (dollars x 10000) and direction (+1 buy limit order, -1 sell). The order-book file
row ``k`` is the top ``L`` levels *after* message ``k``: ask price, ask size, bid price,
bid size for level 1, then level 2, ...; empty levels carry the dummy prices
+-9999999999 and size 0.

Replaying a file into :class:`~execgym.envs.market.simulation.book.OrderBook` reconstructs the visible book
exactly, up to what the messages cannot know. :func:`replay_lobster` makes that explicit:

* the book before the first message is not in the data: it starts from the first
  order-book row, one stand-in ("ghost") order per level, owner :data:`GHOST_OWNER`;
* a level-``L`` file only has messages about the top ``L`` levels, so liquidity deeper
  than that is never seen arriving. When a price level first enters the visible window
  from beyond its far edge, the replay sets it to the recorded size (adding or removing
  ghost shares at the back of the queue) and counts it as *reconciled*;
* cancellations and executions of orders the replay never saw submitted (they predate
  the file, were placed deeper than ``L``, or were renumbered by an exchange "replace")
  take their shares out of that price level, from the ghost order first and then from
  the back of the queue, and are counted.

Everything else must be explained by the messages: after every message, every level
that was already inside the visible window must match the file. The count of rows where
it does not is reported as ``mismatched_rows``.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import logging
import lzma
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation.book import EV_CANCEL, EV_EXECUTE, EV_LIMIT, OrderBook
from execgym.envs.market.simulation.events import BOOK_CHANGES, EventType
from execgym.validation import check_int

logger = logging.getLogger(__name__)

__all__ = [
    "DUMMY_ASK",
    "DUMMY_BID",
    "EVENT_TYPES",
    "EventType",
    "COMPRESSIONS",
    "GHOST_OWNER",
    "MESSAGE_COLUMNS",
    "ReplayReport",
    "bad_row",
    "check_message_codes",
    "messages_to_events",
    "read_messages",
    "check_messages",
    "check_orderbook",
    "read_columns",
    "read_message_columns",
    "read_orderbook_rows",
    "read_orderbook",
    "replay_lobster",
    "resolve_lobster_file",
]

MESSAGE_COLUMNS = ("time_s", "type", "order_id", "size_shares", "price", "direction")
#: owner id of stand-in orders for liquidity that predates the data
GHOST_OWNER = -1
#: LOBSTER prices are dollars x 10000
PRICE_SCALE = 10_000
#: LOBSTER event type code -> name (the categories of ``event_type``)
EVENT_TYPES = {int(t): t.name.lower() for t in EventType}
#: LOBSTER's placeholder prices of an empty ask / bid level
DUMMY_ASK, DUMMY_BID = 9_999_999_999, -9_999_999_999


#: file suffix -> opener of a compressed LOBSTER file (binary, over an open raw file)
COMPRESSIONS = {".xz": lzma.LZMAFile, ".gz": lambda raw: gzip.GzipFile(fileobj=raw), ".bz2": bz2.BZ2File}


def resolve_lobster_file(path: str | Path) -> Path:
    """``path`` if it is a file, else its compressed copy beside it (``path`` + ``.xz``,
    ``.gz`` or ``.bz2``, in that order), so configs name files by their LOBSTER names.

    :raises FileNotFoundError: naming ``path`` and the suffixes tried.
    """
    path = Path(path)
    if path.is_file():
        return path
    for suffix in COMPRESSIONS:
        packed = path.with_name(path.name + suffix)
        if packed.is_file():
            return packed
    raise FileNotFoundError(f"LOBSTER file not found: {path} (nor a compressed copy "
                            f"{', '.join(path.name + s for s in COMPRESSIONS)} beside it)")


def _decompressed(path: Path, raw):
    """A binary reader of ``path``'s content over its open ``raw`` file (``raw`` itself if uncompressed)."""
    opener = COMPRESSIONS.get(path.suffix)
    return raw if opener is None else opener(raw)


def bad_row(path: Path, row: int, what: str) -> ValueError:
    """A ``ValueError`` naming ``path`` and its 1-based ``row``."""
    return ValueError(f"{path}: row {row} {what}")


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SESSION_IN_NAME = re.compile(r"_(\d+)_(\d+)_message_\d+\.csv")
_INTEGER = re.compile(r"^[+-]?\d+$")


def _first_bad_field(path: Path, start: int, n_rows: int, n_columns: int, float_columns: tuple[int, ...]
                     ) -> ValueError:
    """Re-read rows ``start..start+n_rows`` as text and name the first bad field: missing,
    not a number, not an integer where one is expected, or outside int64."""
    try:
        text = pd.read_csv(path, compression="infer", header=None, dtype=str, skiprows=start, nrows=n_rows,
                           keep_default_na=False, names=range(n_columns), encoding="ascii", quoting=csv.QUOTE_NONE)
    except (pd.errors.ParserError, ValueError) as err:
        return ValueError(f"{path}: rows {start + 1}-{start + n_rows} could not be parsed ({err})")
    for i, row in enumerate(text.itertuples(index=False)):
        for j, value in enumerate(row):
            where = f"column {j + 1}:"
            if not isinstance(value, str) or value.strip() == "":
                return bad_row(path, start + i + 1, f"{where} a field is missing (expected {n_columns} fields)")
            if j in float_columns:
                try:
                    float(value)
                except ValueError:
                    return bad_row(path, start + i + 1, f"{where} {value!r} is not a number")
            elif not _INTEGER.match(value.strip()):
                return bad_row(path, start + i + 1, f"{where} {value!r} is not an integer")
            elif not _INT64_MIN <= int(value) <= _INT64_MAX:
                return bad_row(path, start + i + 1, f"{where} {value.strip()} is outside the 64-bit integer range")
    return ValueError(f"{path}: rows {start + 1}-{start + n_rows} could not be parsed")


def read_columns(path: Path, n_columns: int | None, chunk_rows: int, progress: bool,
                 float_columns: tuple[int, ...] = ()) -> list[np.ndarray]:
    """A headerless numeric CSV as one array per column, read in chunks: float64 for
    ``float_columns``, int64 for the others (parsed as integers, never through a float, so
    ids up to 2^63 - 1 stay exact).

    ``n_columns=None`` takes the count from the first line. ``path`` may be compressed
    (:data:`COMPRESSIONS`, by suffix), or name a plain file that exists only compressed
    (:func:`resolve_lobster_file`). Raises ``ValueError`` naming the file, the 1-based row and
    the column of a bad field, or saying that the file is not text.
    """
    path = resolve_lobster_file(path)
    try:
        if n_columns is None:
            with open(path, "rb") as raw, _decompressed(path, raw) as f:
                first = f.readline().decode("ascii")
            n_columns = len(first.split(","))
        dtypes = {j: np.float64 if j in float_columns else np.int64 for j in range(n_columns)}
        size = path.stat().st_size
        parts, start = [], 0
        with open(path, "rb") as raw, _decompressed(path, raw) as handle, \
                tqdm(total=size, unit="B", unit_scale=True, desc=path.name, disable=not progress, leave=False) as bar:
            reader = pd.read_csv(handle, header=None, names=range(n_columns), dtype=dtypes, chunksize=chunk_rows,
                                 encoding="ascii", quoting=csv.QUOTE_NONE)  # LOBSTER has no quoting
            while True:
                try:
                    with warnings.catch_warnings():  # pandas warns on "nan" in an int column; we raise instead
                        warnings.simplefilter("ignore", RuntimeWarning)
                        chunk = next(reader)
                except StopIteration:
                    break
                except pd.errors.ParserError as err:  # too many fields on a line
                    line = re.search(r"line (\d+)", str(err))
                    where = f"row {line.group(1)}" if line else "a row"
                    raise ValueError(f"{path}: {where} does not have {n_columns} fields ({err})") from err
                except UnicodeDecodeError:
                    raise
                except (ValueError, OverflowError, TypeError) as err:  # not a number, not an integer, out of range
                    raise _first_bad_field(path, start, chunk_rows, n_columns, float_columns) from err
                if float_columns:
                    missing = np.isnan(chunk[list(float_columns)].to_numpy()).any(axis=1)
                    if missing.any():
                        row = start + int(np.flatnonzero(missing)[0]) + 1
                        raise bad_row(path, row, f"has fewer than {n_columns} fields or an empty field")
                parts.append([chunk[j].to_numpy() for j in range(n_columns)])
                start += len(chunk)
                bar.update(raw.tell() - bar.n)
    except (UnicodeDecodeError, lzma.LZMAError, gzip.BadGzipFile, EOFError) as err:
        raise ValueError(f"{path}: not a LOBSTER text file ({type(err).__name__}: {err})") from None
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable LOBSTER file ({type(err).__name__}: {err})") from None
    if not parts:
        raise ValueError(f"{path}: the file is empty")
    return [np.concatenate([p[j] for p in parts]) for j in range(n_columns)]


def check_messages(path: Path, columns: dict[str, np.ndarray], session_s: tuple[float, float] = (0.0, 86_400.0)
                   ) -> None:
    """Validate message columns (:data:`MESSAGE_COLUMNS`); raise ``ValueError`` naming the file,
    the 1-based row and the column of the first violation: event type and direction codes,
    times finite, inside ``session_s`` (seconds after midnight) and non-decreasing, sizes > 0
    and prices > 0 (but for trading halts, type 7), order ids >= 0."""
    time_s, mtype = columns["time_s"], columns["type"]
    check_message_codes(path, mtype, columns["direction"])
    trade = mtype != EventType.TRADING_HALT

    def first(mask: np.ndarray, column: str, what: str) -> None:
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            raise bad_row(path, row + 1, f"column {column}: {columns[column][row].item()!r} {what}")

    first(~np.isfinite(time_s), "time_s", "is not a finite time")
    lo, hi = session_s
    first((time_s < lo) | (time_s > hi), "time_s", f"is outside the session [{lo}, {hi}] s after midnight")
    back = np.flatnonzero(np.diff(time_s) < 0)
    if back.size:
        row = int(back[0]) + 1
        raise bad_row(path, row + 1, f"column time_s: goes back in time ({time_s[row]} s after {time_s[row - 1]} s)")
    first(trade & (columns["size_shares"] <= 0), "size_shares", "is not a positive size (shares)")
    first(trade & (columns["price"] <= 0), "price", "is not a positive price (USD x 10000)")
    first(columns["order_id"] < 0, "order_id", "is not a valid (non-negative) order id")


def check_orderbook(path: Path, book: np.ndarray) -> None:
    """Validate order-book rows (ask price, ask size, bid price, bid size per level); raise
    ``ValueError`` naming the file, row and column: sizes >= 0, prices of occupied levels > 0
    (empty levels carry LOBSTER's placeholder prices), the best ask above the best bid."""
    if book.shape[1] % 4:
        raise ValueError(f"{path}: {book.shape[1]} columns is not a multiple of 4 "
                         "(ask price, ask size, bid price, bid size per level)")

    def first(mask: np.ndarray, what: str) -> None:
        if mask.any():
            rows, cols = np.nonzero(mask)
            row, col = int(rows[0]), int(cols[0])
            raise bad_row(path, row + 1, f"column {col + 1}: {book[row, col]} {what}")

    negative = np.zeros(book.shape, dtype=bool)
    negative[:, 1::2] = book[:, 1::2] < 0
    first(negative, "is a negative size (shares)")
    ask_p, ask_s, bid_p, bid_s = (book[:, j::4] for j in range(4))
    prices = np.zeros(book.shape, dtype=bool)
    prices[:, 0::4] = (ask_p <= 0) & (ask_p != DUMMY_ASK)
    prices[:, 2::4] = (bid_p <= 0) & (bid_p != DUMMY_BID)
    first(prices, "is not a positive price (USD x 10000) nor the empty-level placeholder")
    both = (ask_p[:, 0] != DUMMY_ASK) & (bid_p[:, 0] != DUMMY_BID) & (ask_s[:, 0] > 0) & (bid_s[:, 0] > 0)
    crossed = both & (ask_p[:, 0] <= bid_p[:, 0])
    if crossed.any():
        row = int(np.flatnonzero(crossed)[0])
        raise bad_row(path, row + 1, f"is crossed: best ask {ask_p[row, 0]} <= best bid {bid_p[row, 0]}")


def file_session_s(path: Path) -> tuple[float, float]:
    """The session a LOBSTER file's name states (``TICKER_DATE_<start ms>_<end ms>_message_L``),
    in seconds after midnight; the whole day if the name states none."""
    match = _SESSION_IN_NAME.search(Path(path).name)
    if match is None:
        return 0.0, 86_400.0
    return int(match.group(1)) / 1000.0, int(match.group(2)) / 1000.0


def read_message_columns(path: Path, chunk_rows: int = 1_000_000, progress: bool = False,
                         session_s: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """The validated columns of a LOBSTER message file (:func:`read_columns`,
    :func:`check_messages`); ``session_s`` defaults to the one the file name states."""
    path = resolve_lobster_file(path)
    arrays = read_columns(path, len(MESSAGE_COLUMNS), chunk_rows, progress, float_columns=(0,))
    columns = dict(zip(MESSAGE_COLUMNS, arrays))
    check_messages(path, columns, session_s or file_session_s(path))
    return columns


def read_orderbook_rows(path: Path, chunk_rows: int = 1_000_000, progress: bool = False) -> np.ndarray:
    """The validated rows of a LOBSTER order-book file, int64 ``(n, 4 * levels)``."""
    path = resolve_lobster_file(path)
    book = np.column_stack(read_columns(path, None, chunk_rows, progress)).astype(np.int64, copy=False)
    check_orderbook(path, book)
    return book


def check_message_codes(path: Path, mtype: np.ndarray, direction: np.ndarray) -> None:
    """Raise ``ValueError`` naming ``path`` and the first row with an unknown event type
    (:data:`EVENT_TYPES`) or a direction other than +1/-1."""
    bad = ~np.isin(mtype, list(EVENT_TYPES))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise bad_row(path, row + 1, f"has unknown event type {mtype[row]} (expected one of {sorted(EVENT_TYPES)})")
    bad = ~np.isin(direction, (1, -1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise bad_row(path, row + 1, f"has direction {direction[row]} (expected 1 or -1)")


def read_messages(path: str | Path, chunk_rows: int = 1_000_000) -> pd.DataFrame:
    """A LOBSTER message file as a DataFrame with columns :data:`MESSAGE_COLUMNS`.

    ``time_s`` is float seconds after midnight, ``price`` integer dollars x 10000, the
    rest int64 (parsed as integers). The file is read ``chunk_rows`` rows at a time. Raises
    ``ValueError`` naming the file, row and column of a malformed field or of a message that
    breaks :func:`check_messages`.
    """
    columns = read_message_columns(Path(path), check_int("chunk_rows", chunk_rows, minimum=1))
    return pd.DataFrame(columns)


def read_orderbook(path: str | Path, levels: int | None = None, chunk_rows: int = 1_000_000) -> np.ndarray:
    """A LOBSTER order-book file as an int64 array of shape ``(n, 4 * levels)``."""
    path = Path(path)
    arr = read_orderbook_rows(path, check_int("chunk_rows", chunk_rows, minimum=1))
    if levels is not None and arr.shape[1] != 4 * check_int("levels", levels, minimum=1):
        raise ValueError(f"{path}: expected {4 * levels} columns for {levels} levels, got {arr.shape[1]}")
    return arr


def messages_to_events(messages: pd.DataFrame, price_units_per_tick: int = 100) -> np.ndarray:
    """Book events (``(n, 7)``, :data:`~execgym.envs.market.simulation.book.EVENT_FIELDS`) for the book-changing messages.

    Types 1 -> limit order, 2 -> partial cancel, 3 -> deletion, 4 -> execution of the
    named resting order; 5-7 change no visible book and are dropped. Prices become ticks
    (``price // price_units_per_tick``; 100 for a one-cent tick), times nanoseconds.
    """
    msgs = messages[messages["type"].isin(BOOK_CHANGES)]
    price = msgs["price"].to_numpy()
    if np.any(price % price_units_per_tick):
        row = int(np.flatnonzero(price % price_units_per_tick)[0])
        raise ValueError(f"message {msgs.index[row]} price {price[row]} is not on the tick grid of {price_units_per_tick}")
    mtype = msgs["type"].to_numpy()
    events = np.zeros((len(msgs), K.N_E), dtype=np.int64)
    events[:, K.E_TYPE] = np.select([mtype == EventType.SUBMISSION, mtype == EventType.EXECUTION_VISIBLE], [EV_LIMIT, EV_EXECUTE],
                                        EV_CANCEL)
    events[:, K.E_ID] = msgs["order_id"].to_numpy()
    events[:, K.E_SIDE] = msgs["direction"].to_numpy()
    events[:, K.E_PRICE] = price // price_units_per_tick
    events[:, K.E_SIZE] = np.where(mtype == EventType.DELETION, 0, msgs["size_shares"].to_numpy())  # 0: delete all
    events[:, K.E_TIME] = np.rint(msgs["time_s"].to_numpy() * 1e9).astype(np.int64)
    return events


@dataclass
class ReplayReport:
    """What a replay did. Counts are of messages or order-book rows."""

    n_messages: int = 0
    rows_compared: int = 0
    mismatched_rows: int = 0
    levels_compared: int = 0
    mismatched_levels: int = 0
    reconciled_levels: int = 0
    unknown_order_messages: int = 0
    oversized_messages: int = 0
    first_mismatch: int | None = None
    mismatch_examples: list = field(default_factory=list)


class _GhostBook:
    """The replay's book plus its stand-in orders for liquidity the messages never showed."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.ghost: dict[tuple[int, int], int] = {}  # (side, price ticks) -> ghost order id
        self._next = -2  # ghost ids are negative

    def set_level(self, side: int, price: int, target: int) -> None:
        """Make the volume at (side, price) equal ``target``.

        Missing shares are added to the level's ghost order (which goes to the back of the
        queue: where unseen liquidity sits is unknown); surplus shares are taken from the
        ghost first, then from the real orders at the back of the queue.
        """
        have = self.book.volume_at(side, price)
        if target > have:
            gid = self.ghost.get((side, price))
            if gid is not None and gid in self.book:
                self.book.modify(gid, size_shares=self.book.order(gid).size_shares + target - have)
            else:
                self._add_ghost(side, price, target - have)
        elif target < have:
            self.remove(side, price, have - target)

    def remove(self, side: int, price: int, size: int) -> None:
        """Take ``size`` shares out of level (side, price): the ghost first, then real orders from the back."""
        excess = self.take(side, price, size)
        for order in reversed(self.book.queue(side, price)):
            if excess == 0:
                break
            cut = min(excess, order.size_shares)
            self.book.cancel(order.order_id, cut)
            excess -= cut

    def _add_ghost(self, side: int, price: int, size: int) -> None:
        gid = self._next
        self._next -= 1
        self.book.limit(side, price, size, order_id=gid, owner=GHOST_OWNER)
        self.ghost[(side, price)] = gid

    def take(self, side: int, price: int, size: int) -> int:
        """Remove up to ``size`` shares from the ghost at (side, price); return what is left to remove."""
        gid = self.ghost.get((side, price))
        if gid is None or gid not in self.book:
            return size
        g = self.book.order(gid).size_shares
        cut = min(g, size)
        self.book.cancel(gid, cut)
        return size - cut


def _window(row: np.ndarray, levels: int) -> tuple[dict, dict, tuple]:
    """Per side {price: size} of a file row and its visible range (bid low, ask high)."""
    asks, bids = {}, {}
    for i in range(levels):
        ap, asz, bp, bsz = row[4 * i : 4 * i + 4]
        if ap != DUMMY_ASK and asz > 0:
            asks[int(ap)] = int(asz)
        if bp != DUMMY_BID and bsz > 0:
            bids[int(bp)] = int(bsz)
    full = len(asks) == levels, len(bids) == levels
    ask_hi = max(asks) if asks and full[0] else None  # None: the whole side is visible
    bid_lo = min(bids) if bids and full[1] else None
    return bids, asks, (bid_lo, ask_hi)


def replay_lobster(
    messages: pd.DataFrame,
    orderbook: np.ndarray,
    price_units_per_tick: int = 100,
    max_examples: int = 5,
) -> tuple[OrderBook, ReplayReport]:
    """Replay a LOBSTER day into an :class:`OrderBook`, checking every row of its order-book file.

    See the module docstring for how liquidity that predates the file or lies beyond its
    depth is handled. Prices in the returned book are ticks of ``price_units_per_tick``
    LOBSTER units (a cent for 100).

    :return: the book after the last message, and a :class:`ReplayReport`.
    """
    if len(messages) != len(orderbook):
        raise ValueError(f"messages ({len(messages)} rows) and orderbook ({len(orderbook)} rows) differ in length")
    levels = orderbook.shape[1] // 4
    unit = price_units_per_tick
    book = OrderBook(tick_size=unit / PRICE_SCALE, log_events=False)
    gb = _GhostBook(book)
    report = ReplayReport(n_messages=len(messages))

    bids, asks, window = _window(orderbook[0], levels)
    for price, size in asks.items():
        gb._add_ghost(-1, price // unit, size)
    for price, size in bids.items():
        gb._add_ghost(1, price // unit, size)

    mtype = messages["type"].to_numpy()
    oid = messages["order_id"].to_numpy()
    size = messages["size_shares"].to_numpy()
    price = messages["price"].to_numpy() // unit
    direction = messages["direction"].to_numpy()
    for k in range(1, len(messages)):
        t = mtype[k]
        if t == 1:
            book.limit(int(direction[k]), int(price[k]), int(size[k]), order_id=int(oid[k]))
        elif t in (2, 3, 4):
            o = int(oid[k])
            if o in book:
                held = book.order(o).size_shares
                cut = held if t == 3 else min(int(size[k]), held)
                if t == 4:
                    book.process(np.array([[EV_EXECUTE, o, 0, 0, cut, 0, 0]]))
                else:
                    book.cancel(o, cut)
                if int(size[k]) > held:
                    # the order held less than the message removes: reconciliation cut the
                    # wrong order at this level; the message says how many shares leave it
                    report.oversized_messages += 1
                    gb.remove(int(direction[k]), int(price[k]), int(size[k]) - held)
            else:
                report.unknown_order_messages += 1
                gb.remove(int(direction[k]), int(price[k]), int(size[k]))
        # types 5-7 do not change the visible book

        prev_window = window
        bids, asks, window = _window(orderbook[k], levels)
        bid_lo_prev, ask_hi_prev = prev_window
        # levels entering the window from beyond its far edge: the data cannot explain them
        for side, recorded, beyond in ((1, bids, lambda p: bid_lo_prev is not None and p < bid_lo_prev),
                                       (-1, asks, lambda p: ask_hi_prev is not None and p > ask_hi_prev)):
            for p, s in recorded.items():
                if beyond(p) and book.volume_at(side, p // unit) != s:
                    gb.set_level(side, p // unit, s)
                    report.reconciled_levels += 1
        # and our stale levels (orders cancelled while out of view) inside the newly visible range
        for side, recorded, lo_prev, new_edge in ((1, bids, bid_lo_prev, window[0]), (-1, asks, ask_hi_prev, window[1])):
            if lo_prev is None:
                continue
            while True:
                px = book.depth(levels)[0 if side == 1 else 2]
                stale = [int(p) for p in px[px > 0]
                         if int(p) * unit not in recorded
                         and (int(p) * unit < lo_prev if side == 1 else int(p) * unit > lo_prev)
                         and (new_edge is None or (int(p) * unit >= new_edge if side == 1 else int(p) * unit <= new_edge))]
                if not stale:
                    break
                for p in stale:
                    gb.set_level(side, p, 0)
                    report.reconciled_levels += 1

        bp, bs, ap, as_ = book.depth(levels)
        want = orderbook[k]
        ok = True
        for i in range(levels):
            wap, was, wbp, wbs = want[4 * i : 4 * i + 4]
            if wap != DUMMY_ASK:
                report.levels_compared += 1
                if ap[i] * unit != wap or as_[i] != was:
                    report.mismatched_levels += 1
                    ok = False
            if wbp != DUMMY_BID:
                report.levels_compared += 1
                if bp[i] * unit != wbp or bs[i] != wbs:
                    report.mismatched_levels += 1
                    ok = False
        report.rows_compared += 1
        if not ok:
            report.mismatched_rows += 1
            if report.first_mismatch is None:
                report.first_mismatch = k
            if len(report.mismatch_examples) < max_examples:
                report.mismatch_examples.append((k, messages.iloc[k].to_dict()))
    logger.info("LOBSTER replay: %s", report)
    return book, report
