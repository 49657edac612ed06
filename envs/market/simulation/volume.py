"""Intraday market-volume model: a U-shaped profile with multiplicative noise.

Trading intensity over the session (``u`` = fraction of the trading day elapsed, in
[0, 1)) is the classic U shape of equity markets, heavy at the open, light at midday,
rising into the close::

    w(u) = 1 + open_boost * exp(-u / decay_frac) + close_boost * exp(-(1 - u) / decay_frac)
             + burst_boost * exp(-u / burst_decay_frac)

The last term is an optional opening burst (off by default): a recorded day's first
minute can trade ten times its midday rate, far more than a bump that is minutes wide can
carry (GOOG 2012-06-21: 3.7 trades/s in the first 30 s, 0.4/s at midday).

Expected volume over any time span is the exact integral of ``w`` (so intervals of any
length, including several days, get the right share), scaled so that one full day
carries ``daily_volume_shares``. Realised volume is expected volume times a mean-one
log-normal factor ``exp(s z - s^2 / 2)``, ``z ~ N(0, 1)``, ``s = noise_sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from execgym.validation import check_nonnegative, check_positive

__all__ = ["IntradayVolumeProfile", "lognormal_mean_one"]


@dataclass(frozen=True)
class IntradayVolumeProfile:
    """U-shaped intraday volume profile (see module docstring).

    :param open_boost: extra intensity at the open, relative to midday (>= 0).
    :param close_boost: extra intensity at the close, relative to midday (>= 0).
    :param decay_frac: e-folding width of the open and close bumps, as a fraction of
        the trading day (> 0).
    :param noise_sigma: log-normal volatility of realised vs expected volume per
        interval (>= 0; 0 gives realised = expected).
    :param burst_boost: extra intensity of the opening burst at the open, relative to
        midday (>= 0; 0: no burst).
    :param burst_decay_frac: its e-folding width, as a fraction of the trading day (> 0;
        0.002 is 47 s of a 6.5-hour session).
    """

    open_boost: float = 2.0
    close_boost: float = 1.5
    decay_frac: float = 0.08
    noise_sigma: float = 0.3
    burst_boost: float = 0.0
    burst_decay_frac: float = 0.002

    def __post_init__(self) -> None:
        check_nonnegative("open_boost", self.open_boost)
        check_nonnegative("close_boost", self.close_boost)
        check_positive("decay_frac", self.decay_frac)
        check_nonnegative("noise_sigma", self.noise_sigma)
        check_nonnegative("burst_boost", self.burst_boost)
        check_positive("burst_decay_frac", self.burst_decay_frac)

    def intensity(self, u: np.ndarray) -> np.ndarray:
        """Unnormalised intensity ``w(u)`` at time-of-day fractions ``u`` in [0, 1]."""
        u = np.asarray(u, dtype=np.float64)
        d = self.decay_frac
        return (1.0 + self.open_boost * np.exp(-u / d) + self.close_boost * np.exp(-(1.0 - u) / d)
                + self.burst_boost * np.exp(-u / self.burst_decay_frac))

    def _integral_within_day(self, u: np.ndarray) -> np.ndarray:
        d = self.decay_frac
        return (
            u
            + self.open_boost * d * -np.expm1(-u / d)
            + self.close_boost * d * (np.exp(-(1.0 - u) / d) - np.exp(-1.0 / d))
            + self.burst_boost * self.burst_decay_frac * -np.expm1(-u / self.burst_decay_frac)
        )

    @property
    def _daily_integral(self) -> float:
        return float(self._integral_within_day(np.float64(1.0)))

    def mean_intensity(self) -> float:
        """Mean of ``w(u)`` over the day (its exact integral over [0, 1])."""
        return self._daily_integral

    def max_intensity(self) -> float:
        """Maximum of ``w(u)`` on [0, 1] (at the open or the close: ``w`` is convex)."""
        return float(max(self.intensity(np.float64(0.0)), self.intensity(np.float64(1.0))))

    def cumulative_fraction(self, t_days: np.ndarray) -> np.ndarray:
        """Expected volume traded in ``[0, t_days]`` as a multiple of one day's volume."""
        t = np.asarray(t_days, dtype=np.float64)
        if np.any(t < 0) or not np.all(np.isfinite(t)):
            raise ValueError(f"t_days must be finite and >= 0, got {t_days!r}")
        whole = np.floor(t)
        return whole + self._integral_within_day(t - whole) / self._daily_integral

    def expected_volume(self, edges_days: np.ndarray, daily_volume_shares: float) -> np.ndarray:
        """Expected volume (shares) in each interval between consecutive ``edges_days``."""
        check_positive("daily_volume_shares", daily_volume_shares)
        edges = np.asarray(edges_days, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"edges_days must be an increasing 1-D array of >= 2 times, got {edges!r}")
        return daily_volume_shares * np.diff(self.cumulative_fraction(edges))


def lognormal_mean_one(z: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(sigma z - sigma^2 / 2)``: a mean-one log-normal factor from standard normals ``z``."""
    return np.exp(sigma * np.asarray(z) - 0.5 * sigma * sigma)
