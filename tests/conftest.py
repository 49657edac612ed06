"""Shared fixtures: environments and the policies that run in them."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from execgym import envs  # noqa: E402,F401  (registers execgym/*)
from execgym.envs.almgren_chriss import AlmgrenChrissEnv  # noqa: E402


@pytest.fixture(params=["sell", "buy"])
def side(request):
    return request.param


@pytest.fixture
def small_env(side):
    return AlmgrenChrissEnv(side=side, n_steps=10)
