"""Shared fixtures: environments and the policies that run in them."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")
# One thread for each BLAS and OpenMP pool (numpy's OpenBLAS, torch's OpenMP and MKL) in every
# test process and the processes it starts: pytest-xdist already runs a worker per core, and a
# pool's second thread only oversubscribes the cores, where OpenBLAS and OpenMP threads spin
# while they wait (the actor-critic learning test took up to ten times as long with two, a
# preset's calibration 1.6 times). Set before numpy or torch is imported, here in the
# controller, so the workers inherit it. Numba's threads (NUMBA_NUM_THREADS, the parallel
# vector env's prange) are not affected.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Property tests draw the same examples on every run (CI and a user's machine agree, and a
# failure reproduces); HYPOTHESIS_PROFILE=explore draws fresh ones to search further.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

from execgym import envs  # noqa: E402,F401  (registers execgym/*)
from execgym.envs.almgren_chriss import AlmgrenChrissEnv  # noqa: E402

#: the test files that run longest (about half a minute or more on 2 cores), in the order they
#: start. pytest-xdist hands out whole files (``--dist loadfile``) in collection order
#: (``--no-loadscope-reorder``): one to each worker, then the next to a worker as soon as it
#: has two tests or fewer left. These start first and the short files fill in beside them,
#: instead of a long file handed out last running alone at the end. The first compiles the
#: flow kernel (about a minute from an empty numba cache) and holds its worker; the next five do not
#: use the flow and keep the other worker busy (about 3.5 minutes on 2 cores) until the flow
#: is compiled and cached, so that the wheel test, next, loads that compilation into its fresh
#: venv (tests/test_install.py) instead of compiling the flow beside it. The others keep their
#: order.
LONG_FILES = (
    "tests/experiments/test_presets.py",
    "tests/experiments/test_interrupts.py",  # the Almgren-Chriss environment only, as the next four
    "tests/baselines/test_almgren_chriss_in_env.py",
    "tests/market/test_unmapped_orders.py",
    "tests/market/test_book_properties.py",
    "tests/market/test_lobster.py",
    "tests/test_install.py",
    "tests/experiments/test_train_job.py",
    "tests/experiments/test_stylized_facts_job.py",
    "tests/market/test_spread_profile.py",
    "tests/market/test_spread_rate.py",
    "tests/market/test_fleeting.py",
    "tests/market/test_revisions.py",
    "tests/envs/test_lob_vector.py",  # compiles the vector env's kernels when numba's cache is cold
)


def pytest_collection_modifyitems(items):
    """The :data:`LONG_FILES` first (a stable sort: tests keep their order within a file)."""
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONG_FILES)))


@pytest.fixture(params=["sell", "buy"])
def side(request):
    return request.param


@pytest.fixture
def small_env(side):
    return AlmgrenChrissEnv(side=side, n_steps=10)
