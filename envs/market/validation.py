"""Argument checks shared by every layer, raising at the boundary.

Each check names the offending parameter and value and says what was expected,
so a bad config fails in its first second with a message a user can act on.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "check_choice",
    "check_finite",
    "check_fraction",
    "check_int",
    "check_nonnegative",
    "check_positive",
]


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a float; raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float; raise unless it is finite and > 0."""
    out = check_finite(name, value)
    if out <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return out


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as a float; raise unless it is finite and >= 0."""
    out = check_finite(name, value)
    if out < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def check_fraction(name: str, value: Any, *, allow_zero: bool = True) -> float:
    """Return ``value`` as a float; raise unless it lies in [0, 1] (or (0, 1])."""
    out = check_finite(name, value)
    low_ok = out >= 0.0 if allow_zero else out > 0.0
    if not (low_ok and out <= 1.0):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return out


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int; raise unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value``; raise unless it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
