"""Exact snapshots of a native vector environment, for checkpoints that resume bit for bit.

A native vector env keeps everything that evolves in numpy arrays (books, flows, episode
accounting, kernel random streams), in dicts of such arrays, in a few scalars and in numpy
``Generator`` objects (gymnasium's ``np_random`` and per-market episode streams).
:meth:`SnapshotMixin.get_state` copies all of them; :meth:`SnapshotMixin.set_state` writes them
back in place, after checking that the snapshot comes from an env of the same class,
size and config (the error names both sides). Snapshots hold only arrays, numbers,
strings, lists and dicts, so a checkpoint can carry them and load with ``torch.load(...,
weights_only=True)`` once the arrays are tensors.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

__all__ = ["SnapshotMixin"]

_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)


def _describe(env: Any) -> dict[str, Any]:
    config = getattr(env, "config", None)
    return {"class": type(env).__name__, "num_envs": int(env.num_envs),
            "config": repr(asdict(config)) if config is not None else ""}


class SnapshotMixin:
    """``get_state`` / ``set_state`` for a vector env whose evolving state is in its attributes."""

    def get_state(self) -> dict[str, Any]:
        """A deep copy of everything that evolves: arrays, dicts of arrays, scalars, RNG states."""
        arrays, dicts, scalars, rngs, rng_lists = {}, {}, {}, {}, {}
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.dtype != object and value.flags.writeable:  # not constants
                arrays[name] = value.copy()
            elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
                dicts[name] = {k: v.copy() for k, v in value.items()}
            elif isinstance(value, _SCALARS):
                scalars[name] = value.item() if isinstance(value, np.generic) else value
            elif isinstance(value, np.random.Generator):
                rngs[name] = value.bit_generator.state
            elif isinstance(value, list) and all(isinstance(v, np.random.Generator) for v in value):
                rng_lists[name] = [g.bit_generator.state for g in value]
        return {"describe": _describe(self), "arrays": arrays, "dicts": dicts, "scalars": scalars, "rngs": rngs,
                "rng_lists": rng_lists}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` snapshot; raises ``ValueError`` naming both sides if it is
        from another kind of env, and changes nothing then."""
        if not isinstance(state, dict) or "describe" not in state:
            raise TypeError(f"state must be a dict from get_state(), got {type(state).__name__}")
        mine = _describe(self)
        if state["describe"] != mine:
            theirs = state["describe"]
            diff = {k: (theirs.get(k), mine[k]) for k in mine if theirs.get(k) != mine[k]}
            raise ValueError(f"this snapshot is of another env: (snapshot, this env) differ in {diff}")
        for name, value in state["arrays"].items():
            current = getattr(self, name, None)
            value = np.asarray(value)
            if not isinstance(current, np.ndarray) or current.shape != value.shape or current.dtype != value.dtype:
                raise ValueError(f"snapshot array {name!r} {value.dtype}{value.shape} does not fit this env's "
                                 f"{getattr(current, 'dtype', None)}{getattr(current, 'shape', None)}")
        for name, value in state["arrays"].items():
            getattr(self, name)[...] = np.asarray(value)  # in place: views and kernel arguments stay valid
        for name, value in state["dicts"].items():
            setattr(self, name, {k: np.array(v) for k, v in value.items()})
        for name, value in state["scalars"].items():
            setattr(self, name, value)
        for name, value in state["rngs"].items():
            rng = np.random.Generator(getattr(np.random, value["bit_generator"])())
            rng.bit_generator.state = value
            setattr(self, name, rng)
        for name, states in state["rng_lists"].items():
            rngs = []
            for value in states:
                rng = np.random.Generator(getattr(np.random, value["bit_generator"])())
                rng.bit_generator.state = value
                rngs.append(rng)
            setattr(self, name, rngs)
