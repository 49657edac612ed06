"""Shared fixtures: environments and the policies that run in them."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests draw the same examples on every run (CI and a user's machine agree, and a
# failure reproduces); HYPOTHESIS_PROFILE=explore draws fresh ones to search further.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

from execgym import envs  # noqa: E402,F401  (registers execgym/*)
from execgym.envs.almgren_chriss import AlmgrenChrissEnv  # noqa: E402


@pytest.fixture(params=["sell", "buy"])
def side(request):
    return request.param


@pytest.fixture
def small_env(side):
    return AlmgrenChrissEnv(side=side, n_steps=10)
