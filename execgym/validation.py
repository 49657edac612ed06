"""Argument checks shared by every layer, raising at the boundary.

Each check names the offending parameter and value and says what was expected,
so a bad config fails in its first second with a message a user can act on.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import fields, replace
from typing import Any, Mapping

import numpy as np

__all__ = [
    "check_choice",
    "check_field_types",
    "MAX_DECISIONS",
    "check_decision_grid",
    "check_finite",
    "check_fraction",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "config_from_kwargs",
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


#: the most decisions an episode may have (per-step arrays stay in the megabytes)
MAX_DECISIONS = 1_000_000


def check_decision_grid(horizon_s: Any, decision_interval_s: Any) -> int:
    """The number of decisions; raise unless ``horizon_s`` is a whole number (>= 1, at most
    :data:`MAX_DECISIONS`) of ``decision_interval_s`` (both seconds, > 0)."""
    horizon_s = check_positive("horizon_s", horizon_s)
    decision_interval_s = check_positive("decision_interval_s", decision_interval_s)
    n = horizon_s / decision_interval_s
    if abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise ValueError(f"horizon_s={horizon_s!r} must be a whole number (>= 1) of "
                         f"decision_interval_s={decision_interval_s!r}")
    if round(n) > MAX_DECISIONS:
        raise ValueError(f"horizon_s / decision_interval_s = {round(n)} decisions; at most {MAX_DECISIONS} are allowed")
    return int(round(n))


def config_from_kwargs(cls: type, config: Any, overrides: Mapping[str, Any], tuple_fields: tuple[str, ...] = ()) -> Any:
    """A frozen config dataclass ``cls`` from an instance, a mapping (e.g. a Hydra node) and/or
    keyword overrides; ``tuple_fields`` (lists in YAML) become tuples. Raises naming unknown keys."""
    if isinstance(config, cls):
        return replace(config, **overrides) if overrides else config
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"config must be a {cls.__name__} or a mapping, got {type(config).__name__}")
    base = {**dict(config or {}), **overrides}
    unknown = sorted(set(base) - {f.name for f in fields(cls)})
    if unknown:
        raise TypeError(f"unknown {cls.__name__} parameter(s) {unknown}")
    for name in tuple_fields:
        if name in base:
            value = base[name]
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise TypeError(f"{cls.__name__}.{name} must be a sequence, got {value!r} ({type(value).__name__})")
            base[name] = tuple(value)
    return cls(**base)


def check_field_types(obj: Any) -> None:
    """Type-check the fields of dataclass ``obj`` annotated ``bool``, ``int``, ``float`` or
    ``str`` (optionally ``| None``): bools must be bools, ints integers (not floats or
    bools), floats real numbers (not bools), strings strings. Raises ``TypeError`` naming the
    field, the value and the expected type; other annotations are left to the class."""
    for f in fields(obj):
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        optional = annotation.endswith("| None")
        kind = annotation.removesuffix("| None").strip()
        if kind not in ("bool", "int", "float", "str"):
            continue
        value = getattr(obj, f.name)
        if value is None and optional:
            continue
        if kind == "bool":
            ok = isinstance(value, (bool, np.bool_))
        elif kind == "int":
            ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
        elif kind == "float":
            ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        else:
            ok = isinstance(value, str)
        if not ok:
            raise TypeError(f"{type(obj).__name__}.{f.name} must be {'an' if kind == 'int' else 'a'} {kind}"
                            f"{' or None' if optional else ''}, got {value!r} ({type(value).__name__})")
