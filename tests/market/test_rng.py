"""The kernels' random numbers: xoshiro256** as its authors define it (the compiled
intrinsics against a reference in Python integers), the ziggurat's exponential variates
follow the exponential law (body, wedges and tail), and a seed gives the same numbers again."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError
from scipy import stats

from execgym.envs.market.simulation import rng as R


@njit(cache=True)
def _exponentials(s, n):
    out = np.empty(n)
    for k in range(n):
        out[k] = R.exponential(s)
    return out


@njit(cache=True)
def _draws(s, n):
    bits = np.empty(n, np.uint64)
    u = np.empty(n)
    for k in range(n):
        bits[k] = R.next_u64(s)
        u[k] = R.uniform(s)
    return bits, u


def _xoshiro256starstar(state, n):
    """Blackman and Vigna's ``next()`` in Python integers: ``n`` outputs and the state after."""
    mask = (1 << 64) - 1
    s = [int(x) for x in state]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & mask

    out = []
    for _ in range(n):
        out.append(rotl(s[1] * 5 & mask, 7) * 9 & mask)
        t = s[1] << 17 & mask
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out, s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_intrinsics_are_xoshiro256starstar_and_advance_the_state_in_place(seed):
    state = R.new_state(np.random.default_rng(seed))
    want, after = _xoshiro256starstar(state, 2000)
    bits, u = _draws(state, 1000)
    assert [int(b) for b in bits] == want[0::2]
    assert list(u) == [(w >> 11) * 2.0**-53 for w in want[1::2]]  # the top 53 bits, exactly
    assert [int(x) for x in state] == after
    assert u.min() >= 0.0 and u.max() < 1.0


def test_a_strided_state_is_read_and_written_where_it_lies():
    state = R.new_state(np.random.default_rng(4))
    words = np.zeros((4, 3), dtype=np.uint64)
    words[:, 1] = state
    bits, _ = _draws(words[:, 1], 50)  # a view with a stride of three words
    assert [int(b) for b in bits] == _xoshiro256starstar(state, 100)[0][0::2]
    assert not words[:, 0].any() and not words[:, 2].any()


def test_a_state_of_another_type_does_not_compile():
    with pytest.raises(TypingError):
        _draws(np.zeros(4), 3)


def test_every_layer_of_the_ziggurat_has_the_same_area():
    x, f = R._ZIG_X, R._ZIG_F
    v = x[1] * math.exp(-x[1]) + math.exp(-x[1])  # the base strip: its rectangle and the tail beyond r
    assert v == pytest.approx(x[0] * math.exp(-x[1]), rel=1e-12)
    areas = x[1:256] * (f[2:257] - f[1:256])  # layer i: [0, x[i]] between the densities at x[i] and x[i + 1]
    np.testing.assert_allclose(areas, v, rtol=1e-9)
    assert x[256] == 0.0 and f[256] == 1.0 and np.all(np.diff(x[1:]) < 0)


def test_exponential_variates_follow_the_exponential_law():
    x = _exponentials(R.new_state(np.random.default_rng(11)), 2_000_000)
    assert np.all(x >= 0.0)
    assert stats.kstest(x[:400_000], "expon").pvalue > 1e-3
    se = 1.0 / math.sqrt(x.size)
    assert abs(x.mean() - 1.0) < 5 * se and abs(x.var() - 1.0) < 5 * 2.0 * se
    # the tail beyond the base layer's edge (drawn by the logarithm) and a wedge's range
    for lo, hi in ((R._ZIG_R, math.inf), (R._ZIG_X[3], R._ZIG_X[2]), (0.5, 0.6)):
        p = math.exp(-lo) - (math.exp(-hi) if hi < math.inf else 0.0)
        got = np.mean((x >= lo) & (x < hi))
        assert abs(got - p) < 5 * math.sqrt(p * (1 - p) / x.size), (lo, hi)
    # memoryless beyond the tail's edge, as the law is
    tail = x[x >= R._ZIG_R] - R._ZIG_R
    assert tail.size > 500 and stats.kstest(tail, "expon").pvalue > 1e-3


def test_a_seed_gives_the_same_exponentials():
    a = _exponentials(R.new_state(np.random.default_rng(5)), 1000)
    b = _exponentials(R.new_state(np.random.default_rng(5)), 1000)
    c = _exponentials(R.new_state(np.random.default_rng(6)), 1000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
