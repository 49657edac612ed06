"""bench_market_models --ablate: each variant of the realistic preset has exactly its one
mechanism off (as the flow's compiled parameters see it) and still simulates."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_market_models import ABLATIONS, ablations, preset
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.simulator import MarketSimulator

#: the compiled parameter that is non-zero while each mechanism is on
SWITCH = {"cancel_sizes": F.P_CSZ_N, "reach": F.P_CL_LEVELS, "spread_profile": F.P_SCALE_ON,
          "hidden": F.P_HIDDEN_RATE, "place_sizes": F.P_SIZE_PLACE, "best_anchor": F.P_BEST_FRAC}


def _params(cfg):
    return F.flow_params(cfg.flow, cfg.impact, cfg.lot_size)[0]


@pytest.fixture(scope="module")
def scaled():
    return preset("goog_2012_06_21_scaled")


def test_every_ablation_has_its_switch():
    assert set(SWITCH) == set(ABLATIONS)


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_an_ablation_turns_off_its_mechanism_and_only_it(scaled, name):
    base = _params(scaled)
    variant = ablations(scaled)[f"no_{name}"]
    fp = _params(variant)
    assert base[SWITCH[name]] != 0.0 and fp[SWITCH[name]] == 0.0
    for other, index in SWITCH.items():
        if other != name:
            assert fp[index] == base[index], other
    assert variant.flow.depth_shares == scaled.flow.depth_shares and variant.warmup_s == scaled.warmup_s
    sim = MarketSimulator(variant, np.random.default_rng(0))
    assert sim.advance(60.0).n_events > 0
    sim.book.check_invariants()
