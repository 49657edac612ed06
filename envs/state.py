"""Exact snapshots of vector environments, for checkpoints that resume bit for bit.

A native vector env keeps everything that evolves in numpy arrays (books, flows, episode
accounting, kernel random streams), in dicts of such arrays, in a few scalars and in numpy
``Generator`` objects (gymnasium's ``np_random`` and per-market episode streams). Record
arrays (the named episode state) travel as their bytes.
:meth:`SnapshotMixin.get_state` copies all of them; :meth:`SnapshotMixin.set_state` writes them
back in place, after checking that the snapshot comes from an env of the same class,
size and config (the error names both sides). Snapshots hold only arrays, numbers,
strings, lists and dicts, so a checkpoint can carry them and load with ``torch.load(...,
weights_only=True)`` once the arrays are tensors.

Envs without a native vector env run in :class:`SnapshotSyncVectorEnv`, gymnasium's
``SyncVectorEnv`` with the same two methods: its copies' state is pickled (compressed, as
bytes in an array), with the recorded days they replay referenced, not copied, and it is
read back by an unpickler that builds only numpy, gymnasium and execgym objects.
"""

from __future__ import annotations

import io
import pickle
import zlib
from dataclasses import asdict
from typing import Any

import numpy as np
from gymnasium.vector import SyncVectorEnv

from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.replay import ReplayDay

__all__ = ["SnapshotMixin", "SnapshotSyncVectorEnv"]

#: immutable data that envs share and never change: a snapshot refers to it by position
SHARED_TYPES = (LobsterDay, ReplayDay)
#: what a snapshot's unpickler may build: (module prefix, name or "*")
_ALLOWED = (("execgym.", "*"), ("numpy", "*"), ("gymnasium.", "*"), ("collections", "deque"))

_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)


def _describe(env: Any) -> dict[str, Any]:
    config = getattr(env, "config", None)
    return {"class": type(env).__name__, "num_envs": int(env.num_envs),
            "config": repr(asdict(config)) if config is not None else ""}


def _plain(array: np.ndarray) -> np.ndarray:
    """``array`` itself, or a record array's bytes (a uint8 view, which tensors can hold)."""
    return array.view(np.uint8).reshape(*array.shape, array.dtype.itemsize) if array.dtype.names else array


class SnapshotMixin:
    """``get_state`` / ``set_state`` for a vector env whose evolving state is in its attributes."""

    def get_state(self) -> dict[str, Any]:
        """A deep copy of everything that evolves: arrays, dicts of arrays, scalars, RNG states."""
        arrays, dicts, scalars, rngs, rng_lists = {}, {}, {}, {}, {}
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.dtype != object and value.flags.writeable:  # not constants
                arrays[name] = _plain(value).copy()
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
            current = _plain(current) if isinstance(current, np.ndarray) else current
            value = np.asarray(value)
            if not isinstance(current, np.ndarray) or current.shape != value.shape or current.dtype != value.dtype:
                raise ValueError(f"snapshot array {name!r} {value.dtype}{value.shape} does not fit this env's "
                                 f"{getattr(current, 'dtype', None)}{getattr(current, 'shape', None)}")
        for name, value in state["arrays"].items():
            _plain(getattr(self, name))[...] = np.asarray(value)  # in place: views and kernel arguments stay valid
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


class _SharedPickler(pickle.Pickler):
    """Pickles an object graph with the :data:`SHARED_TYPES` objects replaced by their
    index in :attr:`shared` (first seen, first numbered)."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.shared: list[Any] = []
        self._index: dict[int, int] = {}

    def persistent_id(self, obj: Any) -> int | None:
        if not isinstance(obj, SHARED_TYPES):
            return None
        if id(obj) not in self._index:
            self._index[id(obj)] = len(self.shared)
            self.shared.append(obj)
        return self._index[id(obj)]


class _SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, shared: list[Any]) -> None:
        super().__init__(file)
        self.shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return self.shared[pid]

    def find_class(self, module: str, name: str) -> Any:
        if any(module.startswith(prefix) and wanted in ("*", name) for prefix, wanted in _ALLOWED):
            return super().find_class(module, name)
        raise ValueError(f"an env snapshot may not build {module}.{name}")


class SnapshotSyncVectorEnv(SyncVectorEnv):
    """Gymnasium's ``SyncVectorEnv`` with :meth:`get_state` / :meth:`set_state`, for envs
    that have no native vector env (the replay, the router)."""

    _NOT_STATE = ("env_fns",)  # how the copies were made: not state, and not picklable

    def _describe(self) -> dict[str, Any]:
        first = self.envs[0].unwrapped  # (a wrapper's .spec caches itself: reading it would change the state)
        config = getattr(first, "config", None)
        return {"class": type(self).__name__, "num_envs": int(self.num_envs),
                "env_id": first.spec.id if first.spec is not None else type(first).__name__,
                "config": repr(asdict(config)) if config is not None else ""}

    def _pickle(self) -> tuple[bytes, list[Any]]:
        buffer = io.BytesIO()
        pickler = _SharedPickler(buffer)
        pickler.dump({k: v for k, v in vars(self).items() if k not in self._NOT_STATE})
        return buffer.getvalue(), pickler.shared

    def get_state(self) -> dict[str, Any]:
        """The copies, wrappers, spaces and RNGs (a compressed pickle, as a uint8 array), with
        the recorded days named by type, not copied."""
        data, shared = self._pickle()
        return {"describe": self._describe(), "shared": [type(o).__name__ for o in shared],
                "pickle": np.frombuffer(zlib.compress(data, 1), dtype=np.uint8).copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` snapshot of an env of the same id, size and config
        (else ``ValueError`` naming both sides, and nothing changes)."""
        if not isinstance(state, dict) or "describe" not in state or "pickle" not in state:
            raise TypeError(f"state must be a dict from get_state(), got {type(state).__name__}")
        mine = self._describe()
        if state["describe"] != mine:
            theirs = state["describe"]
            diff = {k: (theirs.get(k), mine[k]) for k in mine if theirs.get(k) != mine[k]}
            raise ValueError(f"this snapshot is of another env: (snapshot, this env) differ in {diff}")
        _, shared = self._pickle()  # this env's recorded days, in the order the snapshot numbered them
        if [type(o).__name__ for o in shared] != list(state["shared"]):
            raise ValueError(f"this snapshot refers to shared data {list(state['shared'])}, "
                             f"this env has {[type(o).__name__ for o in shared]}")
        data = zlib.decompress(np.asarray(state["pickle"], dtype=np.uint8).tobytes())
        restored = _SnapshotUnpickler(io.BytesIO(data), shared).load()
        vars(self).update(restored)
