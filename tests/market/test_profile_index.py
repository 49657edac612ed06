"""The depth profile's distance search: the guide table gives numpy's searchsorted index."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.simulator import FlowConfig, ImpactConfig


def _cum_with_guide(weights: np.ndarray) -> np.ndarray:
    """A one-sided profile laid out as flow_params lays it out (both rows the same)."""
    n = len(weights)
    cum = np.empty((4, n))
    cum[0] = cum[1] = np.cumsum(weights) / weights.sum()
    cum[2] = cum[3] = np.searchsorted(cum[0], np.arange(n) / n)
    return cum


@settings(max_examples=150, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 1e-9, 0.3, 1.0, 7.0]), min_size=1, max_size=40)
       .filter(lambda w: sum(w) > 0),
       data=st.data())
def test_guide_table_gives_searchsorted(weights, data):
    cum = _cum_with_guide(np.array(weights))
    n = cum.shape[1]
    # the draws that stress the table: bucket edges j / n and their neighbours, the steps
    # of the profile itself (ties, zero weights), and any uniform
    edges = [j / n for j in range(n)] + list(cum[0])
    vs = [np.nextafter(e, -1.0) for e in edges] + edges + [np.nextafter(e, 2.0) for e in edges]
    vs += [data.draw(st.floats(0.0, 1.0, exclude_max=True)) for _ in range(5)]
    for v in vs:
        if 0.0 <= v < 1.0:
            for row in (0, 1):
                assert F._profile_index(cum, row, v) == np.searchsorted(cum[row], v), (weights, v)
                assert F._profile_index(cum[:2], row, v) == np.searchsorted(cum[row], v)  # no table: bisection


def test_flow_params_writes_each_sides_guide():
    cfg = FlowConfig(depth_shares=(300.0, 50.0, 10.0, 900.0, 40.0), depth_sell_shares=(50.0, 400.0, 900.0, 100.0, 20.0))
    _, cum, _ = F.flow_params(cfg, ImpactConfig(), 1)
    n = cum.shape[1]
    assert cum.shape[0] == 4 and not np.array_equal(cum[0], cum[1])
    for row in (0, 1):
        assert np.array_equal(cum[2 + row], np.searchsorted(cum[row], np.arange(n) / n))
        rng = np.random.default_rng(row)
        for v in rng.random(2_000):
            assert F._profile_index(cum, row, v) == np.searchsorted(cum[row], v)


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 0.3, 1.0, 7.0]), min_size=2, max_size=30).filter(lambda w: sum(w) > 0),
       seed=st.integers(0, 2**32 - 1))
def test_search_is_exact_from_any_start(weights, seed):
    # the steps back and forth make the result exact from wherever the table starts it (the
    # guard against a rounding of v * n that lands in the next bucket)
    rng = np.random.default_rng(seed)
    cum = _cum_with_guide(np.array(weights))
    n = cum.shape[1]
    cum[2] = rng.integers(0, n + 1, n)
    for v in np.concatenate([rng.random(50), cum[0][cum[0] < 1.0]]):
        assert F._profile_index(cum, 0, v) == np.searchsorted(cum[0], v)
