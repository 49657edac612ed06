"""Seeding of the global random streams an experiment touches."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy's legacy global state and torch (agents also seed their own streams)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
