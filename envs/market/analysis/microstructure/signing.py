"""Trade signing: who initiated each trade, buyer (+1) or seller (-1).

Lee and Ready (1991), "Inferring trade direction from intraday data", J. Finance 46(2):

* **tick rule**: a trade above the previous trade price is a buy (uptick), below a sell
  (downtick); at the same price it takes the sign of the last price change (zero-uptick
  buy, zero-downtick sell). Trades before the first price change are unclassified (0);
* **quote rule**: a trade above the prevailing quote midpoint is a buy, below a sell; at
  the midpoint (or without a two-sided quote) it is unclassified;
* **Lee-Ready**: the quote rule, with the tick rule for trades at the midpoint.

Lee and Ready compared trades with the quote of 5 seconds earlier because 1988 quotes
were reported late; LOBSTER's quotes and trades share one clock, so the default lag is 0
(the quote in force just before the trade's timestamp) and ``quote_lag_s`` is a parameter.

:func:`signing_accuracy` scores every rule against LOBSTER's ground truth: the resting
order's ``direction`` of an execution message (the aggressor is the other side).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from execgym.envs.market.analysis.microstructure.frames import executions
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.events import EventType

logger = logging.getLogger(__name__)

__all__ = ["RULES", "lee_ready", "quote_rule", "sign_trades", "signing_accuracy", "tick_rule"]


def _prices(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def tick_rule(prices) -> np.ndarray:
    """Signs (+1 buy, -1 sell, 0 unclassified) of trades at ``prices`` (in time order).

    Each trade takes the sign of the last non-zero price change up to it.
    """
    p = _prices("prices", prices)
    if np.any(~np.isfinite(p)):
        raise ValueError("prices must be finite")
    step = np.zeros(len(p))
    step[1:] = np.sign(np.diff(p))
    # carry the last non-zero change forward over zero ticks
    last = pd.Series(np.where(step != 0, step, np.nan)).ffill().fillna(0.0).to_numpy()
    return last.astype(np.int64)


def quote_rule(prices, bid, ask) -> np.ndarray:
    """+1 above the bid-ask midpoint, -1 below, 0 at it or without a two-sided quote."""
    p, b, a = _prices("prices", prices), _prices("bid", bid), _prices("ask", ask)
    if not (len(p) == len(b) == len(a)):
        raise ValueError(f"prices, bid and ask differ in length: {len(p)}, {len(b)}, {len(a)}")
    mid = 0.5 * (b + a)
    out = np.sign(p - mid)
    out[~np.isfinite(out)] = 0.0
    return out.astype(np.int64)


def lee_ready(prices, bid, ask) -> np.ndarray:
    """Lee-Ready: the quote rule, and the tick rule where the quote rule cannot decide."""
    q = quote_rule(prices, bid, ask)
    return np.where(q != 0, q, tick_rule(prices))


#: the rules :func:`sign_trades` applies, by name
RULES = {
    "tick": lambda ex: tick_rule(ex["price"]),
    "quote": lambda ex: quote_rule(ex["price"], ex["bid"], ex["ask"]),
    "lee_ready": lambda ex: lee_ready(ex["price"], ex["bid"], ex["ask"]),
}


def sign_trades(day: LobsterDay, rule: str = "lee_ready", quote_lag_s: float = 0.0, hidden: bool = True) -> pd.DataFrame:
    """The day's executions (:func:`~execgym.envs.market.analysis.microstructure.frames.executions`) with a
    ``signed`` column: the sign inferred by ``rule`` (``"truth"`` keeps LOBSTER's)."""
    if rule not in (*RULES, "truth"):
        raise ValueError(f"rule must be one of {(*RULES, 'truth')}, got {rule!r}")
    ex = executions(day, quote_lag_s=quote_lag_s, hidden=hidden)
    ex["signed"] = ex["sign"].to_numpy() if rule == "truth" else RULES[rule](ex)
    return ex


def signing_accuracy(day: LobsterDay, quote_lag_s: float = 0.0) -> pd.DataFrame:
    """Accuracy of each rule against LOBSTER's direction field.

    :return: one row per (rule, executions subset) with ``n`` (executions),
        ``classified_frac`` (share the rule signs at all), ``accuracy`` (correct / all,
        unclassified counting as wrong), ``accuracy_classified`` (correct / classified),
        ``buy_recall`` and ``sell_recall`` (share of true buys / sells signed correctly)
        and ``volume_accuracy`` (share-weighted accuracy). Subsets: ``all``, ``visible``
        (type 4), ``hidden`` (type 5) where present.
    """
    ex = executions(day, quote_lag_s=quote_lag_s, hidden=True)
    rows = []
    subsets = {"all": np.ones(len(ex), bool), "visible": (ex["type"] == EventType.EXECUTION_VISIBLE).to_numpy(),
               "hidden": (ex["type"] == EventType.EXECUTION_HIDDEN).to_numpy()}
    truth = ex["sign"].to_numpy()
    size = ex["size_shares"].to_numpy()
    for rule, fn in RULES.items():
        signed = fn(ex)
        for subset, m in subsets.items():
            if not m.any():
                continue
            s, t, w = signed[m], truth[m], size[m]
            ok = s == t
            cls = s != 0
            rows.append({
                "day": day.name, "rule": rule, "subset": subset, "n": int(m.sum()),
                "classified_frac": float(cls.mean()), "accuracy": float(ok.mean()),
                "accuracy_classified": float(ok[cls].mean()) if cls.any() else np.nan,
                "buy_recall": float(ok[t == 1].mean()) if (t == 1).any() else np.nan,
                "sell_recall": float(ok[t == -1].mean()) if (t == -1).any() else np.nan,
                "volume_accuracy": float(w[ok].sum() / w.sum()),
            })
    out = pd.DataFrame(rows)
    logger.debug("signing accuracy on %s:\n%s", day.name, out)
    return out
