"""Evaluate policies on identical, seeded episodes (common random numbers).

Any object with SB3's ``predict`` (baselines, execgym agents, SB3 models) can be
evaluated. Episode ``i`` of an evaluation with seed ``s`` resets the environment with
the ``i``-th seed drawn from ``np.random.SeedSequence(s)``, so every policy compared
under the same ``s`` meets the same market (same price shocks and volumes, as far as
its own trading does not change them). Differences between policies are then paired,
and much less noisy than independent runs.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, Mapping

import gymnasium as gym
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from execgym.envs.contract import PolicyPredictor
from execgym.experiments.lib.statistics import t_interval
from execgym.validation import check_int

logger = logging.getLogger(__name__)

__all__ = ["METRICS", "compare_policies", "episode_seeds", "evaluate_policy", "play_episode", "summarize"]

#: per-episode metrics (all but ``return`` come from ``info["execution"]``)
METRICS = (
    "shortfall_bps",  # implementation shortfall vs arrival price, bps of notional (+ = cost)
    "shortfall_usd",  # the same in currency
    "executed_shares",
    "avg_fill_price",  # currency/share
    "market_vwap",  # currency/share
    "vwap_slippage_bps",  # average fill vs market VWAP (+ = worse)
    "participation",  # executed / market volume over the episode
    "mv_cost_bps",  # shortfall + lambda*sigma^2*tau*sum x_k^2: mean estimates E + lambda V
    "return",  # sum of the environment's rewards
)


def episode_seeds(seed: int, n_episodes: int) -> np.ndarray:
    """The reset seeds of ``n_episodes`` episodes of an evaluation seeded by ``seed``."""
    check_int("seed", seed, minimum=0)
    check_int("n_episodes", n_episodes, minimum=1)
    return np.random.SeedSequence(seed).generate_state(n_episodes, dtype=np.uint32).astype(np.int64)


def play_episode(env: gym.Env, policy: PolicyPredictor, seed: int) -> Iterator[tuple[float, dict[str, Any]]]:
    """Run one episode from ``env.reset(seed=seed)``, yielding ``(reward, info)`` per step.

    The policy is called as SB3 does in evaluation: ``deterministic=True``, its ``state``
    passed back, ``episode_start`` true on the first step only.
    """
    obs, _ = env.reset(seed=seed)
    state, episode_start, done = None, np.ones((1,), dtype=bool), False
    while not done:
        action, state = policy.predict(obs, state=state, episode_start=episode_start, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        episode_start = np.zeros((1,), dtype=bool)
        done = terminated or truncated
        yield float(reward), info


def evaluate_policy(
    policy: PolicyPredictor,
    make_env: Callable[[], gym.Env],
    n_episodes: int,
    seed: int = 0,
    policy_name: str | None = None,
    progress: bool = False,
    extra_metrics: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Run ``policy`` for ``n_episodes`` seeded episodes; one row per episode.

    :param policy: anything with SB3's ``predict``; called with ``deterministic=True``.
    :param make_env: builds the environment (called once); it must report
        ``info["execution"]`` at the end of an episode, as execgym's environments do.
    :param seed: evaluation seed; see :func:`episode_seeds`.
    :param extra_metrics: further keys of the environment's ``info["execution"]`` to record
        (for example the routing environment's ``fees_bps`` and ``fill_rate``).
    :return: columns ``policy``, ``episode``, ``seed``, ``side``, :data:`METRICS` and
        ``extra_metrics``.
    """
    if not callable(getattr(policy, "predict", None)):
        raise TypeError(f"policy must have a predict(observation, ...) method, got {type(policy).__name__}")
    name = policy_name or type(policy).__name__
    env = make_env()
    side = getattr(env.unwrapped, "task", None)
    side = side.side if side is not None else "n/a"
    rows = []
    seeds = episode_seeds(seed, n_episodes)
    for i, ep_seed in enumerate(tqdm(seeds, desc=name, disable=not progress, leave=False)):
        total, info = 0.0, {}
        for reward, info in play_episode(env, policy, int(ep_seed)):
            total += reward
        if "execution" not in info:
            raise RuntimeError(f"{env.unwrapped!r} did not report info['execution'] at the end of an episode")
        rows.append({"policy": name, "episode": i, "seed": int(ep_seed), "side": side,
                     **{k: info["execution"][k] for k in METRICS if k != "return"}, "return": total,
                     **{k: info["execution"][k] for k in extra_metrics}})
    env.close()
    df = pd.DataFrame(rows)
    logger.info("%s: %d episodes, shortfall_bps mean=%.3f std=%.3f", name, n_episodes,
                df["shortfall_bps"].mean(), df["shortfall_bps"].std())
    return df


def compare_policies(
    policies: Mapping[str, PolicyPredictor],
    make_env: Callable[[], gym.Env],
    n_episodes: int,
    seed: int = 0,
    progress: bool = False,
    extra_metrics: tuple[str, ...] = (),
) -> pd.DataFrame:
    """:func:`evaluate_policy` for each named policy on the same episode seeds, concatenated."""
    if not policies:
        raise ValueError("policies must name at least one policy")
    frames = [evaluate_policy(p, make_env, n_episodes, seed, name, progress, extra_metrics)
              for name, p in policies.items()]
    return pd.concat(frames, ignore_index=True)


def summarize(episodes: pd.DataFrame, risk_aversion: float | None = None, confidence: float = 0.95,
              extra_metrics: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per policy: mean, std and a ``confidence`` t-interval of the mean of each metric
    (:data:`METRICS` and ``extra_metrics``).

    Columns ``<metric>_mean``, ``<metric>_std``, ``<metric>_ci_low``, ``<metric>_ci_high``,
    ``n_episodes`` and ``vwap_slippage_bps_rms`` (root mean square over episodes of the
    slippage vs market VWAP: the tracking error that VWAP minimises). With ``risk_aversion = lambda`` (1/currency) it adds
    ``mean_variance_usd = mean(shortfall_usd) + lambda var(shortfall_usd)``, the sample
    estimate of the Almgren-Chriss objective ``E + lambda V``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    out = {}
    for name, group in episodes.groupby("policy", sort=False):
        n = len(group)
        row: dict[str, float] = {"n_episodes": n}
        for metric in (*METRICS, *extra_metrics):
            values = group[metric].to_numpy(dtype=np.float64)
            mean, low, high = t_interval(values, confidence)
            row |= {f"{metric}_mean": mean, f"{metric}_std": float(np.std(values, ddof=1)) if n > 1 else np.nan,
                    f"{metric}_ci_low": low, f"{metric}_ci_high": high}
        # how closely fills track the market's VWAP, whatever the average cost
        slippage = group["vwap_slippage_bps"].to_numpy(dtype=np.float64)
        row["vwap_slippage_bps_rms"] = float(np.sqrt(np.mean(slippage**2)))
        if risk_aversion is not None:
            is_usd = group["shortfall_usd"].to_numpy(dtype=np.float64)
            row["mean_variance_usd"] = float(is_usd.mean() + risk_aversion * is_usd.var(ddof=1))
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("policy")
