"""A check of the flow's live lists with the cancellation by size's split, shared by the tests
of the simulator and of the vector env."""

from __future__ import annotations

import numpy as np

from execgym.envs.market.simulation import flow as F


def check_split_lists(fp, fs, live, orders):
    """Check the split's lists (flow.live_width) against the book: every resting background
    order has one live-list entry, at the position its slot records; the top list holds
    exactly those whose size group has the largest factor, each at its recorded position;
    other entries are stale (their orders filled). Returns the top list's orders' slots."""
    cap = live.shape[0] // 4
    assert cap >= orders.shape[0]
    listed, top = {}, {}
    for j in range(int(fs["n_live"])):
        oid, slot = F._live_order(orders, live[j])
        if slot != -1:
            assert oid not in listed and live[2 * cap + slot] == j
            listed[oid] = slot
    for i in range(int(fs["n_top"])):
        oid, slot = F._live_order(orders, live[cap + i])
        if slot != -1:
            assert oid not in top and live[3 * cap + slot] == i
            top[oid] = slot
    resting = np.flatnonzero((orders["id"] > 0) & (orders["owner"] == 0))
    assert {int(orders[s]["id"]): int(s) for s in resting} == listed
    in_top = {oid: s for oid, s in listed.items() if F._group_factor(fp, orders, s) > fp[F.P_CSZ_ACC]}
    assert in_top == top
    return top

