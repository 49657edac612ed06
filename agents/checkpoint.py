"""Checkpoint files: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, so it loads without
unpickling arbitrary objects. Numpy arrays travel as tensors (:func:`to_tensors` /
:func:`from_tensors`), Gymnasium spaces as plain descriptions (:func:`space_to_dict` /
:func:`space_from_dict`).

:func:`atomic_save` writes to a temporary file in the destination's folder, flushes and
fsyncs it, then renames it over the destination: an interrupted or killed save leaves the
previous file (or no file) under the checkpoint's name, never a truncated one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import gymnasium as gym
import numpy as np
import torch

__all__ = ["atomic_save", "atomic_write", "from_tensors", "load_checkpoint", "space_from_dict", "space_to_dict", "to_tensors"]


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, flush and fsync it, then rename
    it over ``path``: readers see the old file or the complete new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    return path


def load_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (``weights_only=True``, on the CPU).

    :param kind: the ``format`` the file must declare (e.g. ``"execgym.actor_critic/2"``).
    :raises FileNotFoundError: naming the path.
    :raises ValueError: naming the file, if it is empty, truncated, not a torch file, holds
        objects a weights-only load refuses, or is of another format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the checkpoint file is empty")
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # zip, pickle and weights-only errors alike: name the file
        raise ValueError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict) or data.get("format") != kind:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected a checkpoint of format {kind!r}, found {found!r}")
    return data


def to_tensors(tree: Any) -> Any:
    """``tree`` with every numpy array (at any depth of dicts and lists) as a tensor."""
    if isinstance(tree, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(tree))
    if isinstance(tree, dict):
        return {k: to_tensors(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_tensors(v) for v in tree)
    return tree


def from_tensors(tree: Any) -> Any:
    """The inverse of :func:`to_tensors`: every tensor back to a numpy array."""
    if isinstance(tree, torch.Tensor):
        return tree.numpy()
    if isinstance(tree, dict):
        return {k: from_tensors(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(from_tensors(v) for v in tree)
    return tree


def space_to_dict(space: gym.Space) -> dict[str, Any]:
    """A Box or Discrete space as a plain description."""
    if isinstance(space, gym.spaces.Box):
        return {"kind": "Box", "low": torch.from_numpy(space.low.copy()), "high": torch.from_numpy(space.high.copy()),
                "dtype": str(space.dtype)}
    if isinstance(space, gym.spaces.Discrete):
        return {"kind": "Discrete", "n": int(space.n), "start": int(space.start)}
    raise TypeError(f"only Box and Discrete spaces are saved in checkpoints, got {space!r}")


def space_from_dict(d: dict[str, Any]) -> gym.Space:
    """The space :func:`space_to_dict` described."""
    if d["kind"] == "Box":
        return gym.spaces.Box(d["low"].numpy(), d["high"].numpy(), dtype=np.dtype(d["dtype"]))
    if d["kind"] == "Discrete":
        return gym.spaces.Discrete(d["n"], start=d["start"])
    raise ValueError(f"unknown space kind {d['kind']!r} in a checkpoint")
