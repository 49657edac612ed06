"""Background order flow and impact dynamics of the simulated market.

Zero-intelligence flow in the spirit of Cont, Stoikov and Talreja (2010), "A stochastic
model for order book dynamics", Operations Research 58(3):

* **limit orders** arrive as Poisson processes, at rate ``lambda_d`` (orders/s) at
  distance ``d = 1..K`` ticks from an anchor: the opposite best quote, as in CST
  (``anchor="opposite_best"``; when the opposite side is empty, as if the spread were one
  tick from the order's own side's best, and ``m`` only for an empty book), or the
  reference price ``m`` the flow centres on
  (``anchor="reference"``, the default: a buy at distance ``d`` goes to
  ``ceil(m) - d``, a sell to ``floor(m) + d``). Background limit orders never cross the
  book: when ``m`` has moved through the opposite quote they join one tick inside the
  spread, and the stale quotes leave by cancellation (rate ``rho``) or market orders. So
  all background volume comes from market orders;
* **cancellations**: every resting background order is cancelled at rate ``theta`` per
  second, so a level's cancellation rate is proportional to its queue;
* **market orders** arrive at rate ``mu`` per side (orders/s), optionally self-exciting:
  a Hawkes intensity ``mu + sum_i alpha exp(-beta (t - t_i))`` per side;
* **clustering** (optional): real order flow is bursty (a median gap of about a millisecond
  between messages, long quiet spells between bursts). Submissions and cancellations then
  form a Hawkes process whose kernel is a sum of up to three exponentials: every background
  submission or cancellation raises an excitation ``E(t) = sum_k E_k(t)`` by ``alpha_k``
  (1/s) in each ``E_k``, which decays at ``beta_k``; ``E`` adds submissions (a share
  ``cluster_limit_frac``, placed like the others) and cancellations (of a uniformly chosen
  resting order). With branching ratio ``n = sum_k alpha_k / beta_k < 1`` the baseline
  rates of both are scaled by ``1 - n``, so that their mean rates, and so the depth
  profile, stay those configured (Bacry, Mastromatteo and Muzy 2015, "Hawkes processes in
  finance", Market Microstructure and Liquidity 1(1)). The process is simulated through its
  branching structure (Hawkes and Oakes 1974): each exciting event has a Poisson number of
  offspring with mean ``n``, each from kernel ``k`` with probability ``(alpha_k/beta_k)/n``
  and due after an exponential delay of rate ``beta_k``. By memorylessness only the count
  of each kernel's pending offspring matters, and they fire at the constant rate
  ``beta_k * pending_k`` until the next event (``E_k``'s expectation given the events is
  the Hawkes intensity). So the excitation is one more constant rate in the proposals'
  bound: a kernel that decays in a fraction of a millisecond costs neither rejected
  proposals nor an exponential per proposal. An excited cancellation takes a uniformly
  chosen entry of the live-order list; an entry whose order was filled meanwhile (stale) is
  dropped and the cancellation lost, so the realised branching ratio falls with the share of
  stale entries (7-10% of the entries drawn on the GOOG presets), unless
  ``cluster_cancel_redraw`` (optional) draws again past stale entries: then it is the
  configured one. The calibrated presets were refined without it. The market orders'
  excitation has its points drawn exactly by inverting its compensator (Dassios and Zhao
  2013);
* **the clustering's reach** (optional, ``cluster_levels = L``): the bursts are a quoting
  game at the touch. The clustering is fitted to a LOBSTER file, which records only the
  messages within the top ``L`` occupied levels of their side, while the simulated profile
  reaches tens of ticks further (GOOG 2012-06-21: 70% of the simulated submissions and
  cancellations fall beyond the ten recorded levels). Spread over the whole book, the
  bursts lose most of their points from the recorded stream: 28% of its gaps were under a
  millisecond, against the day's 47% (the fitted kernel, simulated alone, gives 49%). With
  ``L > 0`` only submissions and cancellations within the top ``L`` levels of their side (at
  the event: the new order's price, the cancelled order's) excite the clustering; its
  excited submissions that the profile puts beyond them draw their distance from the profile
  truncated there (with the opposite-best anchor, unscaled, both sides quoted; else the
  outcome of drawing again, up to 15 more draws, drawn at once with that law), and its
  excited cancellations take an order drawn uniformly among the flow's orders resting there
  (read off the levels' queues, never the agent's; its live entry stays, stale, until a draw
  drops it, unless the cancellation by size's split removes it at once). Events beyond the top ``L`` levels keep their
  baseline rates (scaled by ``1 - n`` like the others; the depth refinement restores the
  depth there). With
  ``best_anchor_excited`` the placement from the best (below) applies to the excited
  submissions only;
* **cancellation by size** (optional, ``cancel_size_factors``): large resting orders deep in
  the book are patient (GOOG 2012-06-21: round lots placed within 10 ticks of their best are
  deleted at 0.13-0.16 per second like the odd lots, beyond 10 ticks at 0.04-0.07; 500
  shares or more live 27 s on average, odd lots 7 s). A resting order more than
  ``cancel_size_behind_ticks`` behind its side's best (at the proposal) is cancelled at
  ``theta`` times its remaining size's group factor (groups split at
  ``cancel_size_edges_shares``), the others at ``theta`` times ``cancel_near_factor``. The
  base cancellations are proposed over the live list at the largest group factor and each
  accepted at its order's group factor (the order rests on otherwise, its live entry kept).
  With a near factor at least that large, every order takes its group's factor from the list
  (wherever it rests) and a second stream proposes, at ``theta`` times the near factor less
  the smallest group factor per order, among the orders resting within the near ticks (read
  off the levels' queues, the agent's rejected), each accepted at the near factor less its
  group's over that: a near order is cancelled at the near factor, and the list's proposals
  are not spent on the near factor's rate (most of them rejected when the near factor is
  the largest). With a smaller near factor, the list's proposals to the near orders are
  accepted at it (one stream). In two streams, when some groups' factor ``F_A`` is below the
  largest ``F``, the list is split: the whole list is proposed at ``F_A`` (each order accepted
  at its group's factor up to ``F_A``, over ``F_A``), and the orders of the groups with the
  largest factor (GOOG: the odd lots, under 100 shares) also sit in a top list proposed at
  ``F - F_A`` (accepted): each order is still cancelled at ``theta`` times its group's factor,
  and the proposals that the largest factor's bound would spend on the round lots (two in
  three on the GOOG presets) are not drawn. An order a trade leaves partly filled changes
  group and list at once; an order cancelled from one list, the near stream or the
  clustering leaves both at once (each entry's position is kept by order slot), so only
  fills leave stale entries. The clustering's excited cancellations, the revisions and the
  fleeting draws are unchanged;
* **fleeting orders** (optional, with clustering): in the data the bursts are mostly quotes
  at the touch that are cancelled within milliseconds. A share ``cluster_join_frac`` of the
  excited submissions joins its side's best quote (``cluster_improve_frac``: one tick
  better, when the spread leaves room), and a share ``cluster_cancel_newest_frac`` of the
  excited cancellations takes the newest resting background order (while it rests; else a
  uniformly chosen one), so a burst places and withdraws the same quotes;
* **long memory of trade signs** (optional): real market-order signs stay correlated over
  hundreds of orders because large metaorders are split into many (Lillo, Mike and Farmer
  2005, "Theory for long memory in supply and demand", Phys. Rev. E 71). With
  ``sign_run_share = p > 0`` each market order follows, with probability ``p``, the sign of
  the current run; a run's sign is a fair coin and its length (orders that follow it) is
  Pareto, ``P(L >= l) = l^(-alpha)`` with ``alpha = sign_run_exponent`` in (1, 2], so the
  signs' autocorrelation decays as ``l^(1 - alpha)`` (the rest keep the side their
  intensities give; buys and sells stay balanced);
* **random clock** (optional): real activity comes in waves of tens of seconds beyond the
  clustering's bursts, so volatility clusters (Clark 1973, "A subordinated stochastic
  process model with finite variance for speculative prices", Econometrica 41). With
  ``activity_sigma = s > 0`` the baseline rates of submissions, cancellations and market
  orders are multiplied by ``A(t) = exp(s X_t - s^2/2)`` (mean 1), with ``X`` a unit-variance
  Ornstein-Uhlenbeck process of correlation time ``activity_time_s``, stepped on the
  diffusion grid from the diffusion's own random stream (the same path whatever the agent
  does); the depth profile stays the configured one, the market runs faster or slower;
* **intraday spread** (optional): real books are wider and sparser after the open (the GOOG
  day's spread averages 51 ticks in its first half hour, 23 at midday), so volatility is
  higher then without more volume. ``placement_scale`` multiplies the placement distances
  in each bucket of the session (a fitted profile, mean about 1); the buckets may be of
  unequal length (``placement_scale_starts_s``: minutes after the open, when the GOOG book's
  spread is 107 ticks and its 1-s returns 8x as volatile as at midday, hours later), and
  the warm-up builds the opening book with the first bucket's multiplier;
* **order revisions** (optional): most real cancellations of a quote are half of a
  revision, the same trader re-posting within a millisecond a few ticks away (GOOG
  2012-06-21: 69% of the cancellations at the best are followed within 10 ms by a
  submission on the same side, median 0.25 ms, 75% of the same size; one tick more
  aggressive 18%, the same price 11%, one or two ticks less 17%). Each resting
  background order is revised at rate ``revise_best_per_s`` while at its side's best and
  ``revise_deep_per_s`` behind it (times the random clock): it is cancelled and re-posted
  after an exponential delay of mean ``revise_delay_s`` (one revision at a time), same
  side and size, ``k`` ticks more aggressive, ``k`` drawn from
  ``revise_best_probs`` / ``revise_deep_probs`` over ``-MAX_REVISE_TICKS..MAX_REVISE_TICKS``
  (at most one tick inside the spread, at most the farthest placement distance from the
  opposite best). Revisions move orders without adding or removing
  any, so the depth stays the configured one; they do not excite the clustering;
* **latent liquidity** (optional, ``latent_frac``, with ``anchor="opposite_best"``): a book
  placed only from the opposite best re-forms around its own quotes, so nothing pulls the
  price back after a metaorder and its impact grows about linearly in its size. A share
  ``latent_frac`` of the limit orders placed from the depth profile goes instead
  ``d - latent_offset_ticks`` ticks (at least one) from the centre ``m`` that the impact
  moves (the propagator's latent price, after Donier et al. 2015: liquidity that sits
  around a price which a metaorder displaces and which relaxes), ``d`` the profile's
  distance (scaled by the intraday spread, as the others); never crossing the book (at most
  one tick inside the spread). ``latent_offset_ticks`` turns a distance from the opposite
  best into one from the centre (about half the typical spread). A latent order that would
  better its side's best does so up to one tick short of the opposite best
  (``latent_improve="spread"``), not at all (``"join"``: it joins the best) or at most by an
  improvement drawn as the orders inside a wide spread draw theirs (``"inside"``, below).
  (GOOG 2012-06-21: the latter two leave the spread's distance to the day's about where it
  is and take the mid's response to limit orders and cancellations that do not move it
  above the classic model's; the presets keep ``"spread"``.) The other orders keep the
  opposite best;
* **market orders that wait for a tight spread** (optional): the rate of market orders
  falls with the spread (a state-dependent intensity in the spirit of Huang, Lehalle and
  Rosenbaum 2015, "Simulating and analyzing order book data: the queue-reactive model",
  JASA 110; GOOG 2012-06-21: 1.2 per second at a 5-10 tick spread, 0.55 at 10-15, 0.14 at
  25-40). ``market_spread_factor[i]`` multiplies the market orders' intensity (baseline
  and excitation) while the spread (ticks) is in ``[market_spread_ticks[i],
  market_spread_ticks[i + 1])``; one-sided books keep the unmodulated rate;
* **orders inside a wide spread** (optional): the wider the spread, the more new limit
  orders improve their side's best (GOOG 2012-06-21: 11-14% of the submissions while the
  spread is under 25 ticks, 24% at 40-60, 54% at 60-100, 68% beyond; the spread of the
  opening minutes closes and reopens as they are posted and cancelled, and the mid moves
  with them). While the spread (ticks) is in ``[inside_spread_ticks[i],
  inside_spread_ticks[i + 1])`` and at least two ticks, a new limit order (not a revision's
  re-post) is, with probability ``inside_probs[i]``, posted ``k`` ticks better than its
  side's best, ``k = round(x s)`` clipped to ``[1, s - 1]`` with ``x`` drawn from the
  quantiles ``inside_improve_fracs`` (improvements as fractions of the spread); else where
  the depth profile puts it. Excited submissions then follow the fleeting rule. A share
  ``inside_fleeting_fracs[i]`` of the new orders that end up inside the spread (placed there
  by this rule, the profile or the fleeting rule) are quotes that flicker:
  withdrawn after an exponential delay of mean ``inside_life_s``, or (``inside_life_quantiles_s``)
  a delay drawn log-linearly between the given quantiles of a recorded day's lives; up to
  ``inside_flicker_slots`` of them pending at once (when every slot is taken, those of quotes
  filled or cancelled since are freed first, unless one slot and exponential lives keep the
  original rule), a quote planned while every slot is still taken resting as the others
  (default: one at a time; GOOG: 30-40%
  of the orders posted inside are deleted within a second while the spread is under 25
  ticks, as many as of the others, but 70-84% beyond 47 ticks, against 50%; without the
  withdrawal they pile up and close the opening's spread). With ``inside_regime_sigma = s >
  0`` (liquidity-provision regimes) each bucket's probability is multiplied by
  ``L(t) = exp(s Y_t - s^2/2)`` (mean 1; the product capped at 1), with ``Y`` a
  unit-variance Ornstein-Uhlenbeck process of correlation time ``inside_regime_time_s``,
  stepped on the diffusion grid from the diffusion's stream as the random clock is: the
  spread then stays wide, or narrow, for tens of seconds as the real one does (the GOOG
  day's log spread, its half-hour profile removed, keeps an autocorrelation of 0.36 at 10 s
  and 0.16 at 30 s, and its wide spells carry the volatility's clustering within the day).
  The withdrawal does not excite
  the clustering. Optionally (``inside_taken_fracs``) a share of them is first *taken*: an
  opposite market order (its size drawn as any other's) comes after a delay drawn log-linearly
  between quantiles, if the quote still rests then. The share and the delays depend on how far
  into the spread the quote goes, its improvement as a fraction of the spread, in buckets
  from ``inside_take_edges`` (GOOG 2012-06-21: 6% of the quotes that improve by at most 5% of
  the spread are taken, after a median 2.6 s; 36% of those at 30-50%, after 0.7 s; 72% of
  those beyond 70%, within a millisecond; the simulated market orders do not see the quotes
  and take them late, if at all). The quotes not taken then flicker as above. A take is a
  market order like the others (impact, volume) but does not excite their clustering;
* **quotes that follow the last change** (optional): which side a new quote inside the
  spread is on depends on which side's best changed last, by what, and how long ago (GOOG
  2012-06-21: within 100 ms of a submission that improved a side's best, 84% of the next
  improvements are on that side again, quotes outbidding each other; within a millisecond
  of a cancellation of a side's best, 94% re-improve that side; after a market order, or a
  second after anything, about half). A new limit order that ends strictly inside the spread
  (however it got there) is on the side whose best changed last with the probability
  ``inside_follow_probs[k * n + j]`` of that change's kind ``k`` (:data:`FOLLOW_KINDS`) and
  gap bucket ``j`` (the time since the change in ``[inside_follow_gaps_s[j],
  inside_follow_gaps_s[j + 1])``, ``n`` buckets); moved to the other side it keeps its
  improvement (``k`` ticks better than its new side's best). Changes made between calls of
  the flow (the agent's) count as a submission if they improved the side's best, else as a
  market order if shares traded meanwhile, else as a cancellation;
* **a side never empties** (optional, ``refill_empty_side``): when a side of the book is
  empty (a market order swept it, or its last order was cancelled), a liquidity provider
  quotes on it at once, at a distance drawn from the depth profile (the recorded GOOG and
  AMZN days never have an empty side; without it a simulated book has one some 0.1% of the
  time). The refill does not excite the clustering;
* **market orders that take at most the queue they hit** (optional, ``market_queue_cap_frac``):
  most real market orders are marketable orders limited to the opposite best, so they take
  at most what rests there (GOOG 2012-06-21: 59% of the marketable orders are exactly the
  size of the visible queue they hit, 38% smaller, 4% larger; with sizes drawn independently
  of the book 43% of the simulated ones walked it, opening gaps the refills then close). A
  share ``market_queue_cap_frac`` of the market orders takes ``min(S, q)``: its drawn size
  ``S`` capped at the opposite best's queue ``q`` (shares); the sizes configured are then
  those of ``S`` (a recorded day's capped sizes are right-censored at the queue: the
  calibration undoes it with the Kaplan-Meier estimator). On an empty side nothing is capped;
* sizes are geometric in lots with the configured means (shares), fixed, or empirical;
* **limit sizes by placement** (optional, empirical sizes): in the data a limit order's size
  depends on where it goes (GOOG 2012-06-21: 74% of the submissions inside the spread are
  exactly 100 shares and 19% smaller; at the best 49% and 47%; one to five ticks behind it
  30% and 67%, median 11 shares). ``limit_size_place_probs`` holds three distributions over
  ``limit_sizes_shares``, for a new limit order strictly better than its side's best (or
  that crosses), at its best (or on an empty side) and behind it, each drawn with its own
  alias table once the order's side and price are set (the same single draw as the pooled
  table's). ``mean_limit_size_shares`` stays the pooled table's mean;
* **hidden executions** (optional, ``hidden_rate_per_s``): a recorded day's trades include
  executions against hidden orders (LOBSTER type 5; GOOG 2012-06-21: 3,913 of them, 30% of
  the traded shares, every one strictly inside the visible spread, median 33 shares). They
  arrive at ``hidden_rate_per_s`` (times the intraday activity and the random clock), each
  against a hidden order on a fair coin's side, at a price uniform over the ticks strictly
  inside the spread (none while the spread is one tick or a side is empty: a proposal
  then is thinned), its size from ``hidden_sizes_shares`` / ``hidden_size_probs``. Each is a
  trade (a fill, a type-5 message, market volume) that leaves the visible book, the impact
  and the clustering unchanged;
* **placement from the side's own best** (optional, ``best_anchor_frac``): in the data new
  limit orders go where the queue is, relative to their side's best quote, whatever the
  spread (GOOG 2012-06-21: of the recorded submissions at or behind their best, 20% join
  it and the median is 10 ticks behind), as in the queue-reactive model of Huang, Lehalle and Rosenbaum
  (2015), whose intensities are per queue counted from the best. A share
  ``best_anchor_frac`` of the new limit orders (drawn before the rules inside the spread,
  which may still move them there) goes ``d`` ticks behind its side's best, ``d`` drawn from
  ``best_anchor_probs`` (``d = 0``: joining the best); the others, and every order on an
  empty side, from the depth profile and the anchor. A book placed only from the best
  forgets the price the flow centres on; the share ties it to both. With the intraday
  spread and ``best_anchor_scaled`` the distances behind the best (but joining it) are
  multiplied too, by the bucket's multiplier over the multipliers' session mean (time-weighted;
  the distances are fitted on the whole day), rounded, at least one tick: the opening's book is
  wide behind its best as well (GOOG 2012-06-21: 19 ticks between consecutive levels on
  average in the first two minutes, 8 from 10 to 30 minutes, 3.5 after). Without it the
  opening's multiplier stretches only the profile, the excited quotes placed from the best
  stay packed near it, and a market order that clears them jumps the gaps behind (in the
  GOOG ``inside_follow_patient`` model, 1-s moves of 100-170 ticks in the first half hour);


With per-order cancellation rate ``theta``, each queue is an immigration-death process
whose mean relaxes to ``lambda_d / theta`` orders at rate ``theta``. The config is
therefore written in the terms of Obizhaeva and Wang (2013), "Optimal trading strategy
and supply/demand dynamics", J. Financial Markets 16: a steady-state depth profile
``depth_shares[d-1]`` (shares at distance ``d``) and a resilience ``rho`` (1/s):
``theta = rho`` and ``lambda_d = rho * depth_shares[d-1] / mean_limit_size_shares``.
Depleted liquidity refills toward its steady state at rate ``rho``.

All rates except ``theta`` follow the U-shaped intraday activity of
:class:`~execgym.envs.market.simulation.volume.IntradayVolumeProfile` (normalised to mean 1 over the
session), so volume is heavier at the open and close.

Impact of aggressive volume on the price ``m`` (ticks) the flow centres on,
``m = m_fundamental + m_transient``. Aggressive volume is the agent's (any marketable
order) and the background market orders'; a buy of ``v`` shares counts ``+v``:

* **mechanical**: walking the book (nothing to configure beyond the depth profile);
* **transient**: ``m_transient += kappa * v``, decaying at rate ``rho``
  (``transient_ticks_per_share``; OW's price deficit ``x / q`` with ``kappa = 1/q``);
* **propagator** (optional): ``m_transient`` also holds ``sum_i G(t - t_i) v_i`` with a
  power-law kernel ``G(t) = G0 (1 + t/t0)^(-beta)`` (Bouchaud et al. 2004; a sum of
  exponentials, :mod:`~execgym.envs.market.simulation.propagator`), so that a metaorder's
  impact is concave in its size (``Q^(1 - beta)`` at a fixed participation rate) and
  decays, as a power law, after it ends; with ``anchor="reference"`` the book follows it;
* **permanent**: ``m_fundamental += gamma * v`` (``permanent_ticks_per_share``), plus an
  optional exogenous diffusion ``sigma_ticks_per_sqrt_s``, drawn on a fixed time grid
  from a random stream of its own, so that the same seed gives the same fundamental path
  whatever the agent does (common random numbers across policies).

Randomness lives in xoshiro256** state arrays (:mod:`execgym.envs.market.simulation.rng`) seeded from the
user's ``numpy.random.Generator``, so that compiled kernels can carry one stream per
market.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from numba import njit

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import rng as R
from execgym.envs.market.simulation._jit import HOT, HOT_DISJOINT, HOT_FORCE, HOT_INLINE
from execgym.envs.market.simulation.propagator import MAX_PROPAGATOR_KERNELS, power_law_kernel
from execgym.envs.market.simulation.volume import IntradayVolumeProfile
from execgym.validation import (
    check_choice,
    check_field_types,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)

#: most exponential kernels of the clustering (FlowConfig.cluster_alphas_per_s)
MAX_CLUSTER_KERNELS = 3
#: most buckets of the intraday spread (FlowConfig.placement_scale)
MAX_SCALE_BUCKETS = 16
#: most spread buckets of the market orders' intensity (FlowConfig.market_spread_factor)
MAX_SPREAD_BUCKETS = 16
#: the farthest move (ticks) of a revised order (FlowConfig.revise_best_probs)
MAX_REVISE_TICKS = 30
#: how far a latent order may better its side's best (FlowConfig.latent_improve)
LATENT_IMPROVE = ("spread", "join", "inside")
#: most quantiles of the improvement of orders posted inside the spread (FlowConfig.inside_improve_fracs)
MAX_INSIDE_QUANTILES = 20
#: most improvement buckets of the takes of orders posted inside (FlowConfig.inside_take_edges)
MAX_TAKE_BUCKETS = 8
#: most quantiles of a bucket's delays before a take (FlowConfig.inside_take_quantiles_s)
MAX_TAKE_QUANTILES = 10
#: most flickering quotes pending at once (FlowConfig.inside_flicker_slots)
MAX_FLICKER_SLOTS = 64
#: most gap buckets of the quotes that follow the last change (FlowConfig.inside_follow_gaps_s)
MAX_FOLLOW_GAPS = 8
#: the kinds of event that changed a side's best, in the order of FlowConfig.inside_follow_probs
FOLLOW_KINDS = ("submission", "cancellation", "market")
#: the farthest a side's levels are scanned for the clustering's reach (ticks from its best;
#: fewer than FlowConfig.cluster_levels levels within it: the reach is the whole side)
MAX_REACH_TICKS = 256
#: the view's reach of a side with no n-th level within MAX_REACH_TICKS (the whole side)
NO_REACH = 1 << 40
#: the clustering's levels the flow lists (and keeps through events that move a best) when
#: ``cluster_levels`` is at most this; more are read again after each such event
MAX_VIEW_LEVELS = 16
#: the farthest distance (ticks behind the side's best) of an order placed from it (FlowConfig.best_anchor_probs)
MAX_BEST_TICKS = 64
#: most size groups of the cancellation by size (FlowConfig.cancel_size_factors)
MAX_CANCEL_SIZE_GROUPS = 8
#: sizes (shares) of the cancellation by size's table of group factors (flow_params)
CSZ_TABLE = 512
#: where a new limit order goes, for its size (FlowConfig.limit_size_place_probs)
SIZE_PLACES = ("inside", "at_best", "behind")

__all__ = ["FLOW_STATE_DTYPE", "FOLLOW_KINDS", "FlowConfig", "ImpactConfig", "flow_params", "new_flow_state", "transient"]


@dataclass(frozen=True)
class ImpactConfig:
    """How aggressive volume moves the price the background flow centres on.

    :param transient_ticks_per_share: ``kappa``: centre shift per share of signed
        aggressive volume, decaying at the flow's resilience ``rho`` (ticks/share).
    :param permanent_ticks_per_share: ``gamma``: lasting shift of the centre (ticks/share).
    :param sigma_ticks_per_sqrt_s: exogenous diffusion of the centre (ticks/sqrt(s)).
    :param propagator_ticks_per_share: ``G0`` of a power-law propagator (module docstring;
        :mod:`~execgym.envs.market.simulation.propagator`): each share of aggressive volume
        moves the centre by ``G0 (1 + t/t0)^(-beta)`` ticks ``t`` seconds later; 0: off.
    :param propagator_exponent: ``beta``, in (0, 1); a metaorder at a fixed participation
        rate then has an impact growing as its size to the power ``1 - beta``.
    :param propagator_time_s: ``t0`` (s).
    :param propagator_horizon_s: the longest lag (s) over which the kernel follows the power
        law (a sum of exponentials, :func:`~execgym.envs.market.simulation.propagator.power_law_kernel`).
    """

    transient_ticks_per_share: float = 2e-4
    permanent_ticks_per_share: float = 5e-5
    sigma_ticks_per_sqrt_s: float = 0.0
    propagator_ticks_per_share: float = 0.0
    propagator_exponent: float = 0.5
    propagator_time_s: float = 1.0
    propagator_horizon_s: float = 23_400.0

    def __post_init__(self) -> None:
        check_field_types(self)
        check_nonnegative("transient_ticks_per_share", self.transient_ticks_per_share)
        check_nonnegative("permanent_ticks_per_share", self.permanent_ticks_per_share)
        check_nonnegative("sigma_ticks_per_sqrt_s", self.sigma_ticks_per_sqrt_s)
        check_nonnegative("propagator_ticks_per_share", self.propagator_ticks_per_share)
        if not 0.0 < self.propagator_exponent < 1.0:
            raise ValueError(f"propagator_exponent must be in (0, 1), got {self.propagator_exponent!r}")
        check_positive("propagator_time_s", self.propagator_time_s)
        check_positive("propagator_horizon_s", self.propagator_horizon_s)
        if self.propagator_horizon_s < self.propagator_time_s:
            raise ValueError(f"propagator_horizon_s must be >= propagator_time_s, got "
                             f"{self.propagator_horizon_s!r} < {self.propagator_time_s!r}")


def _default_depth() -> tuple[float, ...]:
    # shares resting at 1..10 ticks from the anchor: thinner at the touch, a hump behind it
    return (1500.0, 2000.0, 2500.0, 2500.0, 2500.0, 2000.0, 2000.0, 1500.0, 1500.0, 1000.0)


def _floats(name: str, values: Any) -> tuple[float, ...]:
    """``values`` as a tuple of floats; a ``TypeError`` naming ``name`` if it is not a sequence of numbers."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}")
    try:
        return tuple(float(x) for x in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from None


def _check_probs(name: str, probs: tuple[float, ...]) -> None:
    """A ``ValueError`` naming ``name`` unless ``probs`` are finite, >= 0 and not all 0."""
    if not all(math.isfinite(p) and p >= 0 for p in probs) or sum(probs) <= 0:
        raise ValueError(f"{name} must be finite, >= 0 and not all 0, got {probs!r}")


def _check_quantiles(name: str, values: tuple[float, ...], max_n: int) -> None:
    """Require 2 to ``max_n`` nondecreasing finite times (s) > 0: the quantiles of a delay's distribution."""
    if (not 2 <= len(values) <= max_n or not all(0.0 < x < math.inf for x in values)
            or any(b < a for a, b in zip(values, values[1:]))):
        raise ValueError(f"{name} must hold 2 to {max_n} nondecreasing finite delays (s) > 0, got {values!r}")


def _check_size_table(kind: str, sizes: tuple[float, ...], probs: tuple[float, ...], needed_by: str) -> None:
    """An empirical size table ``{kind}_sizes_shares`` / ``{kind}_size_probs`` (``needed_by``
    says what needs it): one length >= 1, sizes finite and > 0, probabilities as
    :func:`_check_probs` wants them."""
    if not sizes or len(sizes) != len(probs):
        raise ValueError(f"{needed_by} needs {kind}_sizes_shares and {kind}_size_probs of one length >= 1, got "
                         f"{len(sizes)} sizes and {len(probs)} probabilities")
    if not all(math.isfinite(x) and x > 0 for x in sizes):
        raise ValueError(f"{kind}_sizes_shares must be finite and > 0, got {sizes!r}")
    _check_probs(f"{kind}_size_probs", probs)


@dataclass(frozen=True)
class FlowConfig:
    """Background order flow (module docstring). Times in seconds, sizes in shares.

    :param depth_shares: steady-state depth at distance 1..K ticks from the anchor (both
        sides, or the bid side when ``depth_sell_shares`` is given).
    :param depth_sell_shares: the ask side's steady-state depth at 1..K ticks, when the two
        sides differ (a recorded day's book is rarely symmetric); empty: as ``depth_shares``.
    :param resilience_per_s: ``rho``: refill rate of depleted liquidity; also each
        background order's cancellation rate ``theta``.
    :param mean_limit_size_shares: mean limit order size (geometric in lots).
    :param market_rate_per_s: ``mu``: baseline market orders per second, per side.
    :param mean_market_size_shares: mean market order size (geometric in lots).
    :param hawkes_alpha_per_s: jump of a side's market-order intensity after each of its
        market orders (1/s); 0 disables self-excitation.
    :param hawkes_beta_per_s: decay rate of that excitation (1/s); stationarity needs
        ``alpha < beta``.
    :param size_distribution: ``"geometric"`` (in lots, with the configured means),
        ``"fixed"`` (every order exactly its mean size, rounded to lots) or ``"empirical"``
        (drawn from the tables below, e.g. a recorded day's sizes, round lots included;
        the configured means must be the tables' means).
    :param limit_sizes_shares: ``"empirical"``: the limit order sizes (shares, multiples of
        the lot) and ``limit_size_probs`` their probabilities (normalised here).
    :param limit_size_place_probs: ``"empirical"``, optional: limit sizes by placement
        (module docstring): ``3 n`` probabilities over the ``n`` ``limit_sizes_shares``, the
        first ``n`` for orders inside the spread, then at the best, then behind it (each
        group normalised here); empty: every limit order from ``limit_size_probs``.
    :param hidden_rate_per_s: hidden executions (module docstring): their baseline rate
        (1/s, times the intraday activity and the random clock); 0: none.
    :param hidden_sizes_shares: their sizes (shares, multiples of the lot) and
        ``hidden_size_probs`` the sizes' probabilities (normalised here), whatever
        ``size_distribution``; needed when ``hidden_rate_per_s > 0``.
    :param best_anchor_frac: placement from the side's own best (module docstring): the share
        of new limit orders placed behind their side's best; 0: none.
    :param best_anchor_probs: their distances' probabilities (normalised here), for ``d = 0,
        1, ...`` ticks behind the best (at most :data:`MAX_BEST_TICKS`); needed when
        ``best_anchor_frac > 0``.
    :param best_anchor_excited: placement from the best for the clustering's excited
        submissions only (a share ``best_anchor_frac`` of them; the others from the profile).
    :param best_anchor_scaled: the placement from the best follows the intraday spread
        (module docstring); needs ``best_anchor_frac > 0`` and ``placement_scale``.
    :param market_sizes_shares: ``"empirical"``: the market order sizes and
        ``market_size_probs`` their probabilities.
    :param cluster_alphas_per_s: clustering (module docstring): the jumps ``alpha_k`` (1/s) of
        the up to three exponential kernels of the submissions' and cancellations' Hawkes
        excitation; empty: no clustering.
    :param cluster_betas_per_s: their decay rates ``beta_k`` (1/s); ``sum alpha_k / beta_k``
        (the branching ratio) must be below 1.
    :param cluster_limit_frac: the share of the excited events that are submissions (the
        rest cancellations); 0.5 keeps the depth profile.
    :param cluster_join_frac: fleeting orders (module docstring): the share of the excited
        submissions that join their side's best quote.
    :param cluster_improve_frac: the share that improve it by one tick (when the spread
        leaves room; else they join).
    :param cluster_cancel_newest_frac: the share of the excited cancellations that cancel the
        newest resting background order (else a uniformly chosen one).
    :param cluster_cancel_redraw: an excited cancellation that draws the entry of an order
        filled meanwhile draws again, until it finds a resting order (module docstring): the
        realised branching ratio is the configured one. Off: that cancellation is lost.
    :param cluster_levels: the clustering's reach (module docstring): ``L > 0`` confines it to
        the top ``L`` occupied levels of each side (the levels a LOBSTER file of ``L`` levels
        records); 0: the whole book.
    :param cancel_size_edges_shares: cancellation by size (module docstring): the size
        groups' edges (shares, increasing, > 0); group ``g`` holds the resting orders of
        ``edges[g-1] <= size < edges[g]`` (the remaining size); empty: off.
    :param cancel_size_factors: each group's multiplier of the per-order cancellation rate
        ``resilience_per_s`` (``len(edges) + 1`` of them, > 0) for the orders resting more
        than ``cancel_size_behind_ticks`` behind their side's best (the others keep the one
        rate). The base cancellations only: the clustering's excited ones and the revisions
        take their orders as before.
    :param cancel_size_behind_ticks: where the factors start (ticks behind the best, >= 0).
    :param cancel_near_factor: (with ``cancel_size_factors``) the multiplier of the rate for the
        orders within ``cancel_size_behind_ticks`` of their best, whatever their size (> 0).
    :param revise_best_per_s: order revisions (module docstring): the rate (1/s) at which
        a resting background order at its side's best is revised.
    :param revise_deep_per_s: the rate for orders behind their side's best.
    :param revise_delay_s: the mean delay (s) between a revision's cancellation and its
        re-post (exponential; 0: at once).
    :param revise_best_probs: weights of the re-post's move ``k = -MAX_REVISE_TICKS ..
        MAX_REVISE_TICKS`` ticks (positive: more aggressive) for revisions at the best
        (``2 MAX_REVISE_TICKS + 1`` of them; empty: ``k = 0``).
    :param revise_deep_probs: the same for revisions behind the best.
    :param market_spread_ticks: market orders that wait for a tight spread (module
        docstring): the spread buckets' lower bounds (ticks), ``1`` first, increasing (at most
        :data:`MAX_SPREAD_BUCKETS`; the last holds every wider spread); empty: off.
    :param market_spread_factor: the market orders' intensity multiplier in each bucket.
    :param inside_spread_ticks: orders inside a wide spread (module docstring): the spread
        buckets' lower bounds (ticks), ``1`` first, increasing (at most
        :data:`MAX_SPREAD_BUCKETS`); empty: off.
    :param inside_probs: the probability, in each bucket, that a new limit order improves its
        side's best.
    :param inside_regime_sigma: liquidity-provision regimes (module docstring): the standard
        deviation of the log of the factor ``L(t)`` of ``inside_probs``; 0: off.
    :param inside_regime_time_s: the correlation time (s) of its log.
    :param inside_improve_fracs: quantiles (at equally spaced levels, increasing, in (0, 1])
        of its improvement as a fraction of the spread (at most :data:`MAX_INSIDE_QUANTILES`).
    :param inside_fleeting_fracs: in each bucket, the share of the new orders inside the
        spread that are withdrawn after an exponential delay (flickering quotes); empty: none.
    :param inside_life_s: that delay's mean (s).
    :param inside_life_quantiles_s: optional: instead, the delay is drawn between these
        quantiles (s, at levels ``i / (n - 1)``, nondecreasing, at least 2, at most
        ``MAX_INSIDE_QUANTILES``), log-linearly between neighbours, from one uniform.
    :param inside_flicker_slots: how many flickering quotes may wait for their withdrawal at
        once (1 to ``MAX_FLICKER_SLOTS``).
    :param inside_take_edges: optional: the buckets of the improvement of an order posted
        inside the spread, as a fraction of the spread, for the takes (module docstring):
        their lower bounds, ``0`` first, increasing, below 1 (at most :data:`MAX_TAKE_BUCKETS`);
        empty: no takes.
    :param inside_taken_fracs: in each of those buckets, the share of the orders that an
        opposite market order takes.
    :param inside_take_quantiles_s: the delays (s) before they are taken: ``n`` quantiles per
        bucket (at levels ``i / (n - 1)``, nondecreasing, ``2 <= n <=``
        :data:`MAX_TAKE_QUANTILES`), bucket after bucket, drawn log-linearly as
        ``inside_life_quantiles_s``.
    :param refill_empty_side: a side never empties (module docstring).
    :param inside_follow_gaps_s: quotes that follow the last change (module docstring): the
        lower bounds (s) of the buckets of the time since a side's best changed, ``0`` first,
        increasing (at most :data:`MAX_FOLLOW_GAPS`); empty: off.
    :param inside_follow_probs: per kind of the change (:data:`FOLLOW_KINDS`) and gap bucket
        (kind-major), the probability that a new order inside the spread is on the side that
        changed.
    :param market_queue_cap_frac: market orders that take at most the queue they hit (module
        docstring): the share of market orders whose size is capped at the opposite best's
        queue; the market sizes (``mean_market_size_shares`` or the table) are those before
        the cap. 0: off.
    :param market_taken_size_shares: with the cap, the mean size (shares) market orders take
        (the day's mean traded size for a calibrated flow): what :meth:`expected_volume_per_s`
        uses, as the sizes before the cap overstate it (GOOG: 221 shares before it, 83 taken).
    :param sign_run_share: long memory of trade signs (module docstring): the probability
        ``p`` that a market order follows the current run's sign; 0: off.
    :param sign_run_exponent: ``alpha``, the runs' Pareto tail exponent, in (1, 2].
    :param activity_sigma: the random clock (module docstring): the standard deviation of
        the log of the activity factor ``A(t)``; 0: off.
    :param activity_time_s: ``tau``, the correlation time (s) of the log activity.
    :param placement_scale: the intraday spread (module docstring): a multiplier of the
        placement distances in each consecutive ``placement_scale_bucket_s`` of the session
        (at most :data:`MAX_SCALE_BUCKETS`; the last holds to the session's end); empty: off.
    :param placement_scale_bucket_s: the buckets' length (s), when ``placement_scale_starts_s``
        is empty.
    :param placement_scale_starts_s: the start of each bucket (s after the session's start):
        ``0`` first, increasing, one per multiplier; buckets of unequal length, e.g. minutes
        after the open and hours at midday. Empty: consecutive ``placement_scale_bucket_s``.
        The warm-up before the session's start places orders with the first bucket's
        multiplier (it builds the opening book).
    :param anchor: ``"reference"`` or ``"opposite_best"`` (module docstring).
    :param latent_frac: latent liquidity (module docstring): the share of the profile-placed
        limit orders placed from the centre ``m``; needs ``anchor="opposite_best"``; 0: none.
    :param latent_offset_ticks: those orders' distance from ``m`` is the profile's less this
        (ticks, at least one tick remains).
    :param latent_improve: how far a latent order may better its side's best (module
        docstring): ``"spread"`` (up to one tick short of the opposite best), ``"join"`` (not
        at all: it joins the best at most) or ``"inside"`` (at most an improvement drawn as the
        orders inside the spread draw theirs; needs ``inside_spread_ticks``).
    :param session_s: trading-session length for the intraday profile (6.5 h by default).
    :param intraday: the U-shaped activity profile (``None``: flat).
    """

    depth_shares: tuple[float, ...] = field(default_factory=_default_depth)
    depth_sell_shares: tuple[float, ...] = ()
    resilience_per_s: float = 0.1
    mean_limit_size_shares: float = 500.0
    market_rate_per_s: float = 0.5
    mean_market_size_shares: float = 100.0
    hawkes_alpha_per_s: float = 0.0
    hawkes_beta_per_s: float = 1.0
    size_distribution: str = "geometric"
    limit_sizes_shares: tuple[float, ...] = ()
    limit_size_probs: tuple[float, ...] = ()
    market_sizes_shares: tuple[float, ...] = ()
    market_size_probs: tuple[float, ...] = ()
    cluster_alphas_per_s: tuple[float, ...] = ()
    cluster_betas_per_s: tuple[float, ...] = ()
    cluster_limit_frac: float = 0.5
    cluster_join_frac: float = 0.0
    cluster_improve_frac: float = 0.0
    cluster_cancel_newest_frac: float = 0.0
    cluster_cancel_redraw: bool = False
    revise_best_per_s: float = 0.0
    revise_deep_per_s: float = 0.0
    revise_delay_s: float = 0.0
    revise_best_probs: tuple[float, ...] = ()
    revise_deep_probs: tuple[float, ...] = ()
    market_spread_ticks: tuple[float, ...] = ()
    market_spread_factor: tuple[float, ...] = ()
    inside_spread_ticks: tuple[float, ...] = ()
    inside_probs: tuple[float, ...] = ()
    inside_regime_sigma: float = 0.0
    inside_regime_time_s: float = 30.0
    inside_improve_fracs: tuple[float, ...] = ()
    inside_fleeting_fracs: tuple[float, ...] = ()
    inside_life_s: float = 0.1
    inside_life_quantiles_s: tuple[float, ...] = ()
    inside_flicker_slots: int = 1
    inside_take_edges: tuple[float, ...] = ()
    inside_taken_fracs: tuple[float, ...] = ()
    inside_take_quantiles_s: tuple[float, ...] = ()
    refill_empty_side: bool = False
    inside_follow_gaps_s: tuple[float, ...] = ()
    inside_follow_probs: tuple[float, ...] = ()
    market_queue_cap_frac: float = 0.0
    market_taken_size_shares: float = 0.0
    limit_size_place_probs: tuple[float, ...] = ()
    hidden_rate_per_s: float = 0.0
    hidden_sizes_shares: tuple[float, ...] = ()
    hidden_size_probs: tuple[float, ...] = ()
    best_anchor_frac: float = 0.0
    best_anchor_probs: tuple[float, ...] = ()
    best_anchor_excited: bool = False
    best_anchor_scaled: bool = False
    cluster_levels: int = 0
    cancel_size_edges_shares: tuple[float, ...] = ()
    cancel_size_factors: tuple[float, ...] = ()
    cancel_size_behind_ticks: int = 0
    cancel_near_factor: float = 1.0
    sign_run_share: float = 0.0
    sign_run_exponent: float = 1.5
    activity_sigma: float = 0.0
    activity_time_s: float = 30.0
    placement_scale: tuple[float, ...] = ()
    placement_scale_bucket_s: float = 1800.0
    placement_scale_starts_s: tuple[float, ...] = ()
    anchor: str = "reference"
    latent_frac: float = 0.0
    latent_offset_ticks: int = 0
    latent_improve: str = "spread"
    session_s: float = 23_400.0
    intraday: IntradayVolumeProfile | None = field(default_factory=IntradayVolumeProfile)

    def __post_init__(self) -> None:
        check_field_types(self)
        depth = tuple(float(x) for x in self.depth_shares)
        if not depth:
            raise ValueError("depth_shares must list at least one level")
        for i, x in enumerate(depth):
            check_nonnegative(f"depth_shares[{i}]", x)
        object.__setattr__(self, "depth_shares", depth)
        if self.depth_sell_shares:
            self._per_bucket("depth_sell_shares", len(depth), check_nonnegative, "depth per level, the length of depth_shares")
        else:
            object.__setattr__(self, "depth_sell_shares", ())
        check_positive("resilience_per_s", self.resilience_per_s)
        check_positive("mean_limit_size_shares", self.mean_limit_size_shares)
        check_nonnegative("market_rate_per_s", self.market_rate_per_s)
        check_positive("mean_market_size_shares", self.mean_market_size_shares)
        check_nonnegative("hawkes_alpha_per_s", self.hawkes_alpha_per_s)
        check_positive("hawkes_beta_per_s", self.hawkes_beta_per_s)
        if self.hawkes_alpha_per_s >= self.hawkes_beta_per_s:
            raise ValueError(
                f"hawkes_alpha_per_s must be < hawkes_beta_per_s for a stationary process, got "
                f"alpha={self.hawkes_alpha_per_s!r}, beta={self.hawkes_beta_per_s!r}"
            )
        check_choice("anchor", self.anchor, ("reference", "opposite_best"))
        check_fraction("latent_frac", self.latent_frac)
        check_int("latent_offset_ticks", self.latent_offset_ticks, minimum=0)
        if self.latent_frac > 0.0 and self.anchor != "opposite_best":
            raise ValueError(f"latent_frac={self.latent_frac!r} places a share of the orders from the centre instead of "
                             f"the opposite best: it needs anchor='opposite_best', got anchor={self.anchor!r}")
        check_choice("latent_improve", self.latent_improve, LATENT_IMPROVE)
        check_choice("size_distribution", self.size_distribution, ("geometric", "fixed", "empirical"))
        for kind in ("limit", "market"):
            sizes, probs = (tuple(float(x) for x in getattr(self, f"{kind}_{name}"))
                            for name in ("sizes_shares", "size_probs"))
            object.__setattr__(self, f"{kind}_sizes_shares", sizes)
            object.__setattr__(self, f"{kind}_size_probs", probs)
            if self.size_distribution != "empirical":
                if sizes or probs:
                    raise ValueError(f"{kind}_sizes_shares / {kind}_size_probs need size_distribution='empirical', "
                                     f"got {self.size_distribution!r}")
                continue
            _check_size_table(kind, sizes, probs, "size_distribution='empirical'")
            mean = sum(x * p for x, p in zip(sizes, probs)) / sum(probs)
            configured = getattr(self, f"mean_{kind}_size_shares")
            if abs(mean - configured) > 1e-6 * mean:
                raise ValueError(f"mean_{kind}_size_shares={configured!r} must be the empirical table's mean {mean!r} "
                                 f"(the limit rates and expected volume use it)")
        self._check_place_sizes()
        self._check_hidden()
        self._check_best_anchor()
        self._check_cancel_sizes()
        alphas = tuple(float(x) for x in self.cluster_alphas_per_s)
        betas = tuple(float(x) for x in self.cluster_betas_per_s)
        object.__setattr__(self, "cluster_alphas_per_s", alphas)
        object.__setattr__(self, "cluster_betas_per_s", betas)
        if len(alphas) != len(betas) or len(alphas) > MAX_CLUSTER_KERNELS:
            raise ValueError(f"cluster_alphas_per_s and cluster_betas_per_s must have one length of at most "
                             f"{MAX_CLUSTER_KERNELS}, got {len(alphas)} and {len(betas)}")
        for k, (a, b) in enumerate(zip(alphas, betas)):
            check_nonnegative(f"cluster_alphas_per_s[{k}]", a)
            check_positive(f"cluster_betas_per_s[{k}]", b)
        if self.cluster_branching_ratio() >= 1.0:
            raise ValueError(f"the clustering's branching ratio sum(alpha_k / beta_k) must be < 1 for a stationary "
                             f"process, got {self.cluster_branching_ratio()!r} (alphas {alphas!r}, betas {betas!r})")
        check_fraction("cluster_limit_frac", self.cluster_limit_frac)
        for name in ("cluster_join_frac", "cluster_improve_frac", "cluster_cancel_newest_frac"):
            check_fraction(name, getattr(self, name))
            if getattr(self, name) > 0.0 and not alphas:
                raise ValueError(f"{name}={getattr(self, name)!r} shapes the clustering's excited events: it needs "
                                 f"cluster_alphas_per_s")
        check_int("cluster_levels", self.cluster_levels, minimum=0)
        if self.cluster_levels and not alphas:
            raise ValueError(f"cluster_levels={self.cluster_levels!r} confines the clustering: it needs "
                             f"cluster_alphas_per_s")
        if self.cluster_cancel_redraw and not alphas:
            raise ValueError("cluster_cancel_redraw=True shapes the clustering's excited cancellations: it needs "
                             "cluster_alphas_per_s")
        if self.cluster_join_frac + self.cluster_improve_frac > 1.0:
            raise ValueError(f"cluster_join_frac + cluster_improve_frac must be <= 1, got {self.cluster_join_frac!r} "
                             f"+ {self.cluster_improve_frac!r}")
        check_nonnegative("revise_best_per_s", self.revise_best_per_s)
        check_nonnegative("revise_deep_per_s", self.revise_deep_per_s)
        check_nonnegative("revise_delay_s", self.revise_delay_s)
        for name in ("revise_best_probs", "revise_deep_probs"):
            probs = _floats(name, getattr(self, name))
            if probs:
                if len(probs) != 2 * MAX_REVISE_TICKS + 1:
                    raise ValueError(f"{name} must weigh the moves -{MAX_REVISE_TICKS}..{MAX_REVISE_TICKS} ticks "
                                     f"({2 * MAX_REVISE_TICKS + 1} weights), got {len(probs)}")
                for i, x in enumerate(probs):
                    check_nonnegative(f"{name}[{i}]", x)
                if sum(probs) <= 0:
                    raise ValueError(f"{name} must have a positive weight")
            object.__setattr__(self, name, probs)
        edges = self._spread_edges("market_spread_ticks")
        self._per_bucket("market_spread_factor", len(edges), check_nonnegative, "factor per spread bucket")
        edges = self._spread_edges("inside_spread_ticks")
        self._per_bucket("inside_probs", len(edges), check_fraction, "probability per spread bucket")
        fracs = _floats("inside_improve_fracs", self.inside_improve_fracs)
        if bool(edges) != bool(fracs):
            raise ValueError(f"inside_improve_fracs must be given with inside_spread_ticks and only then, got "
                             f"{len(fracs)} quantiles for {len(edges)} buckets")
        if fracs and (len(fracs) > MAX_INSIDE_QUANTILES or not all(0.0 < x <= 1.0 for x in fracs)
                      or any(b < a for a, b in zip(fracs, fracs[1:]))):
            raise ValueError(f"inside_improve_fracs must hold at most {MAX_INSIDE_QUANTILES} nondecreasing fractions in "
                             f"(0, 1], got {fracs!r}")
        object.__setattr__(self, "inside_improve_fracs", fracs)
        if self.latent_improve != "spread" and self.latent_frac == 0.0:
            raise ValueError(f"latent_improve={self.latent_improve!r} bounds the latent orders' prices: it needs "
                             f"latent_frac > 0, got latent_frac={self.latent_frac!r}")
        if self.latent_improve == "inside" and not fracs:
            raise ValueError("latent_improve='inside' draws the improvement as the orders inside the spread do: it needs "
                             "inside_spread_ticks and inside_improve_fracs, got none")
        if self.inside_fleeting_fracs:
            self._per_bucket("inside_fleeting_fracs", len(edges), check_fraction, "share per spread bucket")
        else:
            object.__setattr__(self, "inside_fleeting_fracs", ())
        check_positive("inside_life_s", self.inside_life_s)
        lives = _floats("inside_life_quantiles_s", self.inside_life_quantiles_s)
        if lives:
            _check_quantiles("inside_life_quantiles_s", lives, MAX_INSIDE_QUANTILES)
        object.__setattr__(self, "inside_life_quantiles_s", lives)
        if not 1 <= self.inside_flicker_slots <= MAX_FLICKER_SLOTS:
            raise ValueError(f"inside_flicker_slots must be in [1, {MAX_FLICKER_SLOTS}], got {self.inside_flicker_slots!r}")
        if (lives or self.inside_flicker_slots > 1) and not self.inside_fleeting_fracs:
            raise ValueError(f"inside_life_quantiles_s and inside_flicker_slots={self.inside_flicker_slots!r} shape the "
                             f"flickering quotes: they need inside_fleeting_fracs")
        self._check_takes()
        gaps = _floats("inside_follow_gaps_s", self.inside_follow_gaps_s)
        if gaps and (len(gaps) > MAX_FOLLOW_GAPS or not all(math.isfinite(g) for g in gaps) or gaps[0] != 0.0
                     or any(b <= a for a, b in zip(gaps, gaps[1:]))):
            raise ValueError(f"inside_follow_gaps_s must hold at most {MAX_FOLLOW_GAPS} increasing finite times (s) "
                             f"from 0, got {gaps!r}")
        object.__setattr__(self, "inside_follow_gaps_s", gaps)
        self._per_bucket("inside_follow_probs", len(FOLLOW_KINDS) * len(gaps), check_fraction,
                         f"probability per kind of change ({', '.join(FOLLOW_KINDS)}) and gap bucket")
        check_fraction("market_queue_cap_frac", self.market_queue_cap_frac)
        check_nonnegative("market_taken_size_shares", self.market_taken_size_shares)
        if self.market_queue_cap_frac > 0.0 and self.market_taken_size_shares <= 0.0:
            raise ValueError(f"market_queue_cap_frac={self.market_queue_cap_frac!r} needs market_taken_size_shares > 0 "
                             f"(the mean size market orders take after the cap, for the expected volume), got "
                             f"{self.market_taken_size_shares!r}")
        check_fraction("sign_run_share", self.sign_run_share)
        if not (isinstance(self.sign_run_exponent, (int, float)) and 1.0 < self.sign_run_exponent <= 2.0):
            raise ValueError(f"sign_run_exponent must be in (1, 2] (finite mean run length, long memory), got "
                             f"{self.sign_run_exponent!r}")
        check_nonnegative("activity_sigma", self.activity_sigma)
        check_positive("activity_time_s", self.activity_time_s)
        check_nonnegative("inside_regime_sigma", self.inside_regime_sigma)
        check_positive("inside_regime_time_s", self.inside_regime_time_s)
        if self.inside_regime_sigma > 0.0 and not self.inside_probs:
            raise ValueError(f"inside_regime_sigma={self.inside_regime_sigma!r} modulates the orders inside a wide "
                             "spread: it needs inside_spread_ticks / inside_probs")
        scale = tuple(float(x) for x in self.placement_scale)
        if len(scale) > MAX_SCALE_BUCKETS:
            raise ValueError(f"placement_scale holds at most {MAX_SCALE_BUCKETS} buckets, got {len(scale)}")
        for i, x in enumerate(scale):
            check_positive(f"placement_scale[{i}]", x)
        object.__setattr__(self, "placement_scale", scale)
        check_positive("placement_scale_bucket_s", self.placement_scale_bucket_s)
        check_positive("session_s", self.session_s)
        starts = tuple(float(x) for x in self.placement_scale_starts_s)
        if starts:
            if len(starts) != len(scale):
                raise ValueError(f"placement_scale_starts_s must give one start per multiplier ({len(scale)}), got "
                                 f"{len(starts)}")
            if starts[0] != 0.0 or any(b <= a for a, b in zip(starts, starts[1:])) or starts[-1] >= self.session_s:
                raise ValueError(f"placement_scale_starts_s must start at 0 and increase within the session "
                                 f"(session_s={self.session_s!r}), got {starts!r}")
        object.__setattr__(self, "placement_scale_starts_s", starts)
        if isinstance(self.intraday, Mapping):
            object.__setattr__(self, "intraday", IntradayVolumeProfile(**self.intraday))

    def _spread_edges(self, name: str) -> tuple[float, ...]:
        """Validate and store the spread buckets' lower bounds ``name`` (whole ticks from 1)."""
        edges = _floats(name, getattr(self, name))
        if edges and (len(edges) > MAX_SPREAD_BUCKETS or edges[0] != 1.0 or any(b <= a for a, b in zip(edges, edges[1:]))
                      or not all(math.isfinite(x) and x == int(x) for x in edges)):
            raise ValueError(f"{name} must hold at most {MAX_SPREAD_BUCKETS} increasing whole ticks from 1, got "
                             f"{edges!r}")
        object.__setattr__(self, name, edges)
        return edges

    def _per_bucket(self, name: str, n: int, check: Any, what: str) -> None:
        """Validate and store ``name``: ``n`` numbers (one ``what``), each passing ``check``."""
        values = _floats(name, getattr(self, name))
        if len(values) != n:
            raise ValueError(f"{name} must give one {what} ({n}), got {len(values)}")
        for i, x in enumerate(values):
            check(f"{name}[{i}]", x)
        object.__setattr__(self, name, values)

    def _check_place_sizes(self) -> None:
        """Validate (and make a tuple of) ``limit_size_place_probs``."""
        probs = _floats("limit_size_place_probs", self.limit_size_place_probs)
        object.__setattr__(self, "limit_size_place_probs", probs)
        if not probs:
            return
        if self.size_distribution != "empirical":
            raise ValueError(f"limit_size_place_probs needs size_distribution='empirical', got "
                             f"{self.size_distribution!r}")
        n = len(self.limit_sizes_shares)
        if len(probs) != 3 * n:
            raise ValueError(f"limit_size_place_probs must hold 3 x {n} probabilities (inside, at the best, behind, "
                             f"over the {n} limit_sizes_shares), got {len(probs)}")
        for k, place in enumerate(SIZE_PLACES):
            _check_probs(f"limit_size_place_probs for orders {place} (entries {k * n}..{(k + 1) * n - 1})",
                         probs[k * n: (k + 1) * n])

    def _check_hidden(self) -> None:
        """Validate (and make tuples of) the hidden executions' fields."""
        check_nonnegative("hidden_rate_per_s", self.hidden_rate_per_s)
        sizes = _floats("hidden_sizes_shares", self.hidden_sizes_shares)
        probs = _floats("hidden_size_probs", self.hidden_size_probs)
        object.__setattr__(self, "hidden_sizes_shares", sizes)
        object.__setattr__(self, "hidden_size_probs", probs)
        if self.hidden_rate_per_s == 0.0:
            if sizes or probs:
                raise ValueError("hidden_sizes_shares / hidden_size_probs need hidden_rate_per_s > 0, got 0.0")
            return
        _check_size_table("hidden", sizes, probs, f"hidden_rate_per_s={self.hidden_rate_per_s!r}")

    def _check_takes(self) -> None:
        """Validate (and make tuples of) the takes of the orders posted inside, by improvement."""
        edges = _floats("inside_take_edges", self.inside_take_edges)
        fracs = _floats("inside_taken_fracs", self.inside_taken_fracs)
        delays = _floats("inside_take_quantiles_s", self.inside_take_quantiles_s)
        for name, value in (("inside_take_edges", edges), ("inside_taken_fracs", fracs),
                            ("inside_take_quantiles_s", delays)):
            object.__setattr__(self, name, value)
        if not edges:
            if fracs or delays:
                raise ValueError("inside_taken_fracs / inside_take_quantiles_s need inside_take_edges (the improvement "
                                 "buckets), got none")
            return
        if not self.inside_probs:
            raise ValueError("inside_take_edges: the takes are of the orders posted inside the spread; they need "
                             "inside_spread_ticks / inside_probs")
        if (len(edges) > MAX_TAKE_BUCKETS or edges[0] != 0.0 or not all(x < 1.0 for x in edges)
                or any(b <= a for a, b in zip(edges, edges[1:]))):
            raise ValueError(f"inside_take_edges must hold at most {MAX_TAKE_BUCKETS} increasing fractions of the spread "
                             f"from 0, below 1, got {edges!r}")
        self._per_bucket("inside_taken_fracs", len(edges), check_fraction, "share per improvement bucket")
        n = len(delays) // len(edges)
        if n * len(edges) != len(delays) or not 2 <= n <= MAX_TAKE_QUANTILES:
            raise ValueError(f"inside_take_quantiles_s must hold 2 to {MAX_TAKE_QUANTILES} delays per improvement bucket "
                             f"({len(edges)} buckets), got {len(delays)}")
        for j in range(len(edges)):
            _check_quantiles(f"inside_take_quantiles_s (improvement bucket {j})", delays[j * n:(j + 1) * n],
                             MAX_TAKE_QUANTILES)

    def _check_best_anchor(self) -> None:
        """Validate (and make a tuple of) the placement from the side's own best."""
        check_fraction("best_anchor_frac", self.best_anchor_frac)
        probs = _floats("best_anchor_probs", self.best_anchor_probs)
        object.__setattr__(self, "best_anchor_probs", probs)
        if self.best_anchor_excited and (self.best_anchor_frac == 0.0 or not self.cluster_alphas_per_s):
            raise ValueError(f"best_anchor_excited=True places the clustering's excited submissions from the best: it "
                             f"needs best_anchor_frac > 0 (got {self.best_anchor_frac!r}) and cluster_alphas_per_s")
        if self.best_anchor_scaled and (self.best_anchor_frac == 0.0 or not self.placement_scale):
            raise ValueError(f"best_anchor_scaled=True scales the placement from the best by the intraday spread: it "
                             f"needs best_anchor_frac > 0 (got {self.best_anchor_frac!r}) and placement_scale (got "
                             f"{self.placement_scale!r})")
        if self.best_anchor_frac == 0.0:
            if probs:
                raise ValueError("best_anchor_probs needs best_anchor_frac > 0, got 0.0")
            return
        if not 1 <= len(probs) <= MAX_BEST_TICKS:
            raise ValueError(f"best_anchor_probs must hold 1 to {MAX_BEST_TICKS} probabilities (0, 1, ... ticks behind "
                             f"the best) with best_anchor_frac={self.best_anchor_frac!r}, got {len(probs)}")
        _check_probs("best_anchor_probs", probs)

    def _check_cancel_sizes(self) -> None:
        """Validate (and make tuples of) the cancellation by size."""
        edges = _floats("cancel_size_edges_shares", self.cancel_size_edges_shares)
        factors = _floats("cancel_size_factors", self.cancel_size_factors)
        object.__setattr__(self, "cancel_size_edges_shares", edges)
        object.__setattr__(self, "cancel_size_factors", factors)
        check_int("cancel_size_behind_ticks", self.cancel_size_behind_ticks, minimum=0)
        check_positive("cancel_near_factor", self.cancel_near_factor)
        if not edges and not factors:
            if self.cancel_near_factor != 1.0:
                raise ValueError(f"cancel_near_factor={self.cancel_near_factor!r} is part of the cancellation by size: "
                                 f"it needs cancel_size_edges_shares and cancel_size_factors")
            return
        if not 1 <= len(edges) < MAX_CANCEL_SIZE_GROUPS:
            raise ValueError(f"cancel_size_edges_shares must hold 1 to {MAX_CANCEL_SIZE_GROUPS - 1} edges (shares) "
                             f"with cancel_size_factors, got {edges!r}")
        if not all(math.isfinite(e) and e > 0 for e in edges) or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"cancel_size_edges_shares must be finite, > 0 and increasing, got {edges!r}")
        if len(factors) != len(edges) + 1:
            raise ValueError(f"cancel_size_factors must hold one factor per size group (len(cancel_size_edges_shares) "
                             f"+ 1 = {len(edges) + 1}), got {len(factors)}: {factors!r}")
        if not all(math.isfinite(f) and f > 0 for f in factors):
            raise ValueError(f"cancel_size_factors must be finite and > 0, got {factors!r}")

    def mean_hidden_size_shares(self) -> float:
        """The hidden executions' mean size (shares; 0 without them)."""
        if not self.hidden_sizes_shares:
            return 0.0
        return float(np.dot(self.hidden_sizes_shares, self.hidden_size_probs) / sum(self.hidden_size_probs))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> FlowConfig:
        values = dict(values or {})
        for name in ("depth_shares", "depth_sell_shares", "cluster_alphas_per_s", "cluster_betas_per_s",
                     "placement_scale", "placement_scale_starts_s", "market_spread_ticks", "market_spread_factor",
                     "revise_best_probs", "revise_deep_probs", "inside_spread_ticks", "inside_probs",
                     "inside_improve_fracs", "inside_fleeting_fracs", "limit_size_place_probs",
                     "hidden_sizes_shares", "hidden_size_probs", "inside_life_quantiles_s", "best_anchor_probs",
                     "inside_take_edges", "inside_taken_fracs", "inside_take_quantiles_s"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def placement_scale_starts(self) -> np.ndarray:
        """The starts (s after the session's start) of the intraday spread's buckets:
        ``placement_scale_starts_s``, or consecutive ``placement_scale_bucket_s``."""
        n = len(self.placement_scale)
        return np.asarray(self.placement_scale_starts_s or self.placement_scale_bucket_s * np.arange(n),
                          dtype=np.float64)

    def placement_scale_mean(self) -> float:
        """The intraday spread's multipliers averaged over the session, each weighted by its
        bucket's length (the last bucket runs to the session's end); 1 without them."""
        if not self.placement_scale:
            return 1.0
        lengths = np.diff(np.r_[self.placement_scale_starts(), self.session_s])
        return float(np.dot(self.placement_scale, lengths) / lengths.sum())

    def cluster_branching_ratio(self) -> float:
        """``n = sum_k alpha_k / beta_k`` of the clustering (0 without)."""
        return float(sum(a / b for a, b in zip(self.cluster_alphas_per_s, self.cluster_betas_per_s)))

    def limit_rates_per_s(self) -> np.ndarray:
        """``lambda_d`` (orders/s per side; the mean of the sides when they differ) for
        ``d = 1..K`` at average intraday activity."""
        buy, sell = self.limit_rates_by_side_per_s()
        return buy if not self.depth_sell_shares else 0.5 * (buy + sell)

    def limit_rates_by_side_per_s(self) -> tuple[np.ndarray, np.ndarray]:
        """``lambda_d`` (orders/s) of buy (bid) and of sell (ask) limit orders, ``d = 1..K``."""
        buy = self.resilience_per_s * np.asarray(self.depth_shares) / self.mean_limit_size_shares
        sell = buy if not self.depth_sell_shares else (
            self.resilience_per_s * np.asarray(self.depth_sell_shares) / self.mean_limit_size_shares)
        return buy, sell

    def expected_volume_per_s(self) -> float:
        """Expected traded shares per second from background market orders (both sides; with
        the queue cap, at ``market_taken_size_shares`` an order) and hidden executions (all
        proposed: those thinned at a one-tick spread are not taken off)."""
        size = self.market_taken_size_shares if self.market_queue_cap_frac > 0.0 else self.mean_market_size_shares
        return (2.0 * self.market_rate_per_s * size / (1.0 - self.hawkes_alpha_per_s / self.hawkes_beta_per_s)
                + self.hidden_rate_per_s * self.mean_hidden_size_shares())


# --- flow parameters and state as arrays for the kernel ----------------------------------

# float parameters (fp)
P_THETA, P_LAM_TOTAL, P_MU, P_ALPHA, P_BETA, P_P_LIMIT, P_P_MARKET = 0, 1, 2, 3, 4, 5, 6
P_KAPPA, P_GAMMA, P_SIGMA, P_RHO, P_ANCHOR_REF, P_SESSION, P_TOD_MAX = 7, 8, 9, 10, 11, 12, 13
P_OPEN, P_CLOSE, P_DECAY, P_TOD_NORM, P_TOD_ON = 14, 15, 16, 17, 18
P_FIXED, P_LIMIT_LOTS, P_MARKET_LOTS, P_DIFF_STEP, P_EMPIRICAL = 19, 20, 21, 22, 23
#: clustering: on (1.0) or off, the excited submissions' share, and (alpha_k, beta_k) pairs
P_CLUSTER_ON, P_CLUSTER_LIMIT, P_CLUSTER_A0 = 24, 25, 26
#: the probability that a limit order is a buy (0.5 for a symmetric depth profile)
P_P_BUY = P_CLUSTER_A0 + 2 * MAX_CLUSTER_KERNELS
#: long memory of trade signs: the share of market orders that follow a run, the runs' tail exponent
P_RUN_SHARE, P_RUN_ALPHA = P_P_BUY + 1, P_P_BUY + 2
#: the propagator: on (1.0) or off, and (G0 * weight_k, rate_k) pairs of its exponentials
P_PROP_ON, P_PROP_W0 = P_RUN_ALPHA + 1, P_RUN_ALPHA + 2
#: the random clock: the log activity's standard deviation, its decay factor over one grid step
#: and the innovation's scale (so that the log activity stays of unit variance)
P_ACT_SIGMA = P_PROP_W0 + 2 * MAX_PROPAGATOR_KERNELS
P_ACT_DECAY, P_ACT_INNOV = P_ACT_SIGMA + 1, P_ACT_SIGMA + 2
#: fleeting orders: the excited submissions' shares that join / improve their best, the
#: excited cancellations' share that takes the newest resting order
P_CL_JOIN, P_CL_IMPROVE, P_CL_NEWEST = P_ACT_INNOV + 1, P_ACT_INNOV + 2, P_ACT_INNOV + 3
#: the intraday spread: on (1.0) or off, the buckets' count, the multipliers, the buckets' starts (s)
P_SCALE_ON, P_SCALE_N, P_SCALE0 = P_CL_NEWEST + 1, P_CL_NEWEST + 2, P_CL_NEWEST + 3
P_SCALE_START0 = P_SCALE0 + MAX_SCALE_BUCKETS
#: market orders that wait for a tight spread: the buckets' count, the largest factor (the
#: thinning bound; 1.0 without), the buckets' lower bounds (ticks) and factors
P_MO_SPREAD_N = P_SCALE_START0 + MAX_SCALE_BUCKETS
P_MO_SPREAD_MAX = P_MO_SPREAD_N + 1
P_MO_SPREAD_EDGE0 = P_MO_SPREAD_MAX + 1
P_MO_SPREAD_F0 = P_MO_SPREAD_EDGE0 + MAX_SPREAD_BUCKETS
#: order revisions: the rates (1/s) at / behind the best and the larger one, then the
#: cumulative probabilities of the moves -MAX_REVISE_TICKS..MAX_REVISE_TICKS at / behind the best
P_REV_BEST = P_MO_SPREAD_F0 + MAX_SPREAD_BUCKETS
P_REV_DEEP = P_REV_BEST + 1
P_REV_MAX = P_REV_DEEP + 1
P_REV_DELAY = P_REV_MAX + 1
P_REV_CUM_BEST = P_REV_DELAY + 1
P_REV_CUM_DEEP = P_REV_CUM_BEST + 2 * MAX_REVISE_TICKS + 1
#: the intraday profile's opening burst: its boost and e-folding width (session fraction)
P_BURST = P_REV_CUM_DEEP + 2 * MAX_REVISE_TICKS + 1
P_BURST_DECAY = P_BURST + 1
#: orders inside a wide spread: the buckets (0: off), their lower bounds (ticks) and
#: probabilities, then the improvement's quantiles (fractions of the spread)
P_IN_N = P_BURST_DECAY + 1
P_IN_EDGE0 = P_IN_N + 1
P_IN_P0 = P_IN_EDGE0 + MAX_SPREAD_BUCKETS
P_IN_NQ = P_IN_P0 + MAX_SPREAD_BUCKETS
P_IN_Q0 = P_IN_NQ + 1
#: the flickering shares of the orders posted inside (per bucket) and their mean life (s)
P_IN_FLEET0 = P_IN_Q0 + MAX_INSIDE_QUANTILES
P_IN_LIFE = P_IN_FLEET0 + MAX_SPREAD_BUCKETS
#: a side never empties (1.0: on)
P_REFILL = P_IN_LIFE + 1
#: the share of market orders capped at the opposite best's queue (0: off)
P_MO_CAP = P_REFILL + 1
#: quotes that follow the last change: the gap buckets (0: off), their lower bounds (s) and
#: the probabilities per kind of change (FOLLOW_KINDS, MAX_FOLLOW_GAPS each)
P_FOLLOW_N = P_MO_CAP + 1
P_FOLLOW_GAP0 = P_FOLLOW_N + 1
P_FOLLOW_P0 = P_FOLLOW_GAP0 + MAX_FOLLOW_GAPS
#: the spread buckets of the orders inside and of the market orders' factor as lookup tables
#: by spread (ticks below SPREAD_LUT_TICKS; wider spreads search the bounds)
SPREAD_LUT_TICKS = 256
P_IN_LUT0 = P_FOLLOW_P0 + len(FOLLOW_KINDS) * MAX_FOLLOW_GAPS
P_MO_SPREAD_LUT0 = P_IN_LUT0 + SPREAD_LUT_TICKS
#: the clustering's offspring count per event: the cumulative Poisson probabilities
#: P(N <= k), k = 0..MAX_OFFSPRING, with mean the branching ratio (:func:`_spawn`)
MAX_OFFSPRING = 64
P_CL_POIS0 = P_MO_SPREAD_LUT0 + SPREAD_LUT_TICKS
#: excited cancellations draw again past stale live entries (1.0: on)
P_CL_REDRAW = P_CL_POIS0 + MAX_OFFSPRING + 1
#: the clustering's branching ratio ``n = sum_k alpha_k / beta_k`` and its partial sums over
#: kernel 0 and kernels 0-1 (an offspring's kernel: :func:`_spawn`)
P_CL_NBRANCH = P_CL_REDRAW + 1
P_CL_SHARE0 = P_CL_NBRANCH + 1
P_CL_SHARE01 = P_CL_SHARE0 + 1
#: limit sizes by placement (1.0: on; the tables' rows SZ_INSIDE, SZ_BEST, SZ_BEHIND)
P_SIZE_PLACE = P_CL_SHARE01 + 1
#: hidden executions: their baseline rate (1/s; 0: off)
P_HIDDEN_RATE = P_SIZE_PLACE + 1
#: flickering quotes: the slots, the lives' quantile count (0: exponential) and the quantiles (s)
P_IN_SLOTS = P_HIDDEN_RATE + 1
P_IN_LIFE_NQ = P_IN_SLOTS + 1
P_IN_LIFE_Q0 = P_IN_LIFE_NQ + 1
# placement from the side's own best (0: off): its share and cumulative distance probabilities
P_BEST_FRAC = P_IN_LIFE_Q0 + MAX_INSIDE_QUANTILES
P_BEST_N = P_BEST_FRAC + 1
P_BEST_CUM0 = P_BEST_N + 1
#: the takes of the orders posted inside: the improvement buckets (0: off), the quantiles per
#: bucket, the buckets' lower bounds (fractions of the spread), taken shares and delays' quantiles (logs of s)
P_IN_TAKE_N = P_BEST_CUM0 + MAX_BEST_TICKS
P_IN_TAKE_NQ = P_IN_TAKE_N + 1
P_IN_TAKE_EDGE0 = P_IN_TAKE_NQ + 1
P_IN_TAKE_P0 = P_IN_TAKE_EDGE0 + MAX_TAKE_BUCKETS
P_IN_TAKE_Q0 = P_IN_TAKE_P0 + MAX_TAKE_BUCKETS
#: placement from the best for the clustering's excited submissions only (1.0) or for all
P_BEST_EXCITED = P_IN_TAKE_Q0 + MAX_TAKE_BUCKETS * MAX_TAKE_QUANTILES
#: the clustering's reach: the top levels of each side where it acts (0: everywhere)
P_CL_LEVELS = P_BEST_EXCITED + 1
#: cancellation by size: the groups' count (0: off), the largest factor (the proposals'),
#: the groups' lower bounds (shares, 0 first) and the factors
P_CSZ_N = P_CL_LEVELS + 1
P_CSZ_MAX = P_CSZ_N + 1
P_CSZ_EDGE0 = P_CSZ_MAX + 1
P_CSZ_F0 = P_CSZ_EDGE0 + MAX_CANCEL_SIZE_GROUPS
P_CSZ_BEHIND = P_CSZ_F0 + MAX_CANCEL_SIZE_GROUPS
P_CSZ_NEAR = P_CSZ_BEHIND + 1
#: the placement from the best follows the intraday spread: 1 / the multipliers' session mean (0: off)
P_SCALE_BEST = P_CSZ_NEAR + 1
#: cancellation by size in two streams (the near factor at least the groups' largest): the
#: smallest group factor (0: one stream) and the near stream's rate per order resting within
#: the near ticks (per s, before the random clock): theta's base times (near - smallest)
P_CSZ_FMIN = P_SCALE_BEST + 1
P_CSZ_NEAR_RATE = P_CSZ_FMIN + 1
#: liquidity-provision regimes: the log factor's standard deviation, its decay over one grid
#: step and the innovation's scale (as the random clock's)
P_INR_SIGMA = P_CSZ_NEAR_RATE + 1
P_INR_DECAY, P_INR_INNOV = P_INR_SIGMA + 1, P_INR_SIGMA + 2
#: cancellation by size in two streams with the live list split (module docstring; 1.0: on):
#: the live list's proposals' factor F_A (each accepted at its group's factor, at most F_A,
#: over F_A: with the split the largest factor below the largest, else the largest), and the
#: top list's proposal rate per entry (per s, before the random clock): theta's base times
#: (the largest factor - F_A)
P_CSZ_SPLIT = P_INR_INNOV + 1
P_CSZ_ACC = P_CSZ_SPLIT + 1
P_CSZ_TOP_RATE = P_CSZ_ACC + 1
#: cancellation by size: the group factors by remaining shares 0 .. CSZ_TABLE - 1 (the last for
#: every larger size), when the groups' edges lie below CSZ_TABLE shares (_group_factor; 1.0: on)
P_CSZ_TAB_ON = P_CSZ_TOP_RATE + 1
P_CSZ_TAB0 = P_CSZ_TAB_ON + 1
#: latent liquidity: the share of profile-placed orders placed from the centre, and their offset (ticks)
P_LATENT_FRAC = P_CSZ_TAB0 + CSZ_TABLE
P_LATENT_OFFSET = P_LATENT_FRAC + 1
#: latent liquidity: how far a latent order may better its side's best (FlowConfig.latent_improve's index)
P_LATENT_IMPROVE = P_LATENT_OFFSET + 1
N_P = P_LATENT_IMPROVE + 1
#: rows of the size tables (flow_params): the alias tables (each entry's kept share and its
#: alias's index) and the sizes (lots) of limit and of market orders; a row's first index
#: is the kind's (SZ_LIMIT, SZ_MARKET), padded with entries of probability 0
SZ_LIMIT, SZ_MARKET = 0, 3
#: the limit sizes' rows by placement (SIZE_PLACES; copies of SZ_LIMIT's without them)
SZ_INSIDE, SZ_BEST, SZ_BEHIND = 6, 9, 12
#: the hidden executions' sizes (whatever the size distribution of the others)
SZ_HIDDEN = 15
N_SZ_ROWS = 18
#: the flow's state, one record per market: the clock, the centre's components, the Hawkes
#: excitations, the decision interval's traded volume, counters and ids (units in the names)
FLOW_STATE_DTYPE = np.dtype([
    ("t_s", np.float64),                   # the clock (seconds of the day)
    ("fund_ticks", np.float64),            # the fundamental centre
    ("trans_ticks", np.float64),           # the transient impact as of trans_t_s (the last impact);
    ("trans_t_s", np.float64),             #   :func:`transient` decays it to t_s when it is needed
    ("prop_ticks", np.float64, (MAX_PROPAGATOR_KERNELS,)),  # the propagator's exponentials as of trans_t_s
    ("cen_ok", np.bool_),                  # the centre's Taylor coefficients below hold for the impact as of
    ("cen_a_ticks", np.float64),           #   trans_t_s (_centre_taylor; an impact clears cen_ok): a, b and
    ("cen_b_ticks_per_s", np.float64),     #   the negative / positive parts of c, with the impact dt after
    ("cen_c_neg_ticks_per_s2", np.float64),  # trans_t_s in [a - b dt + c_neg dt^2, a - b dt + c_pos dt^2]
    ("cen_c_pos_ticks_per_s2", np.float64),
    ("exc_buy_per_s", np.float64),         # Hawkes excitation of buy / sell market orders as of
    ("exc_sell_per_s", np.float64),        #   exc_t_s (:func:`_excitation_now` decays them when they are read)
    ("exc_t_s", np.float64),
    ("mo_next_s", np.float64),             # the excitation's next point (s; inf: none; < 0: to draw), valid
                                           #   until the excitation jumps (_decaying_wait)
    ("pend_c0", np.int64),                 # the clustering's pending offspring per kernel (MAX_CLUSTER_KERNELS;
    ("pend_c1", np.int64),                 #   module docstring): E_k = beta_k * pend_ck is the excitation
    ("pend_c2", np.int64),
    ("run_sign", np.int64),                # the current run of market-order signs: its sign and the
    ("run_left", np.int64),                #   orders still to follow it
    ("last_id", np.int64),                 # the newest resting background submission (0: none)
    ("last_slot", np.int64),               #   and its slot in the book's orders
    ("act_x", np.float64),                 # the random clock's standardised log activity X and its
    ("activity", np.float64),              #   factor A = exp(sigma X - sigma^2 / 2) (1 without)
    ("inr_y", np.float64),                 # the liquidity-provision regime's standardised log factor Y
    ("inside_factor", np.float64),         #   and its factor L = exp(sigma Y - sigma^2 / 2) (1 without)
    ("vol_shares", np.float64),            # background volume and value since the caller zeroed them
    ("value_tick_shares", np.float64),
    ("signed_vol_shares", np.float64),     # aggressive volume with impact, + buy (since the start)
    ("next_grid_s", np.float64),           # the next diffusion step's time
    ("win_end_s", np.float64),             # the intraday factor's bounds [win_lo, win_hi] over the window of
    ("win_lo", np.float64),                #   the call to run_flow that ends at win_end_s, from the clock at
    ("win_hi", np.float64),                #   its first call (re-entries reuse them)
    ("n_bg_events", np.int64),             # background events applied
    ("n_proposals", np.int64),             # the thinning's proposals drawn (accepted or not)
    ("scale_k", np.int64),                 # the intraday spread's bucket last looked up (_scaled_distance)
    ("scale_lo_s", np.float64),            #   and its bounds (s of the session; lo <= u < hi)
    ("scale_hi_s", np.float64),
    ("next_id", np.int64),                 # the next background order id
    ("n_live", np.int64),                  # entries of the live-order list in use
    ("n_top", np.int64),                   # entries of the top list in use (the split: live_width)
    ("pending", np.bool_),                 # an event waits in evbuf (the last call returned non-OK)
    ("rev_size", np.int64),                # a revision's re-post to place next (shares; 0: none), its
    ("rev_side", np.int64),                #   side, price (ticks) and time (s)
    ("rev_price", np.int64),
    ("rev_t_s", np.float64),
    ("quiet", np.bool_),                   # the event in evbuf is a revision's re-post, a flicker's
                                           #   withdrawal or a refill: it does not excite the clustering
    ("far", np.bool_),                     # the event in evbuf is beyond the clustering's reach (P_CL_LEVELS):
                                           #   it does not excite it either
    ("flick_id", np.int64),                # a flickering quote to withdraw (its live entry; 0: none) at flick_t_s
    ("flick_t_s", np.float64),
    ("flick_take", np.bool_),              #   taken by a market order rather than withdrawn
    ("flick_plan_s", np.float64),          # the event in evbuf, if it rests, flickers for this long (s; < 0: no)
    ("flick_plan_take", np.bool_),         #   and is then taken
    ("flick_n", np.int64),                 # flickering quotes pending (the earliest is flick_id at flick_t_s)
    ("flick_ids", np.int64, (MAX_FLICKER_SLOTS,)),
    ("flick_ts", np.float64, (MAX_FLICKER_SLOTS,)),
    ("flick_takes", np.int8, (MAX_FLICKER_SLOTS,)),  # 1: taken (numba has no boolean record arrays)
    ("chg_side", np.int64),                # the side whose best changed last (+1 bid, -1 ask; 0: none yet),
    ("chg_kind", np.int64),                #   by what (an index of FOLLOW_KINDS) and when (s)
    ("chg_t_s", np.float64),
    ("best_bid_ticks", np.int64),          # the bests (ticks; -1: an empty side) when last looked at
    ("best_ask_ticks", np.int64),
    ("traded_shares", np.int64),           # the book's traded volume then (a worse best with trades: a market order)
    # the book as run_flow last read it, per side (row 0 the bids, 1 the asks; -1: to read
    # again), kept across its events while they leave it so (_note_event) and forgotten at
    # each call (the agent acts between calls):
    ("view_reach", np.int64, (2,)),        #   ticks from the best to the clustering's last level (_read_top)
    ("view_top", np.int64, (2,)),          #   orders resting in the clustering's levels (_read_top)
    ("view_near", np.int64, (2,)),         #   orders resting within the near ticks (_near_counts)
    ("view_nlv", np.int64, (2,)),          #   levels listed in view_lv (-1: none; the reach's levels
    ("view_lv", np.int64, (2, MAX_VIEW_LEVELS)),  # are listed when they are at most MAX_VIEW_LEVELS):
                                           #   the occupied levels' indices from the best outward
], align=True)  # aligned fields (padded after the flags): no field straddles two cache lines
#: status of ``run_flow`` when the live-order list needs to grow (grown_live: more entries, or with the
#: split positions for every order record after the book grew; an event may be pending)
LIVE_FULL = 100
#: a live-list entry is a background order's id (below 2**LIVE_SLOT_SHIFT: ids count the
#: flow's submissions from 1) with its slot in the book's orders above it
#: (:func:`_live_entry`), so that a draw reads whether the order still rests off its record
#: instead of the book's hash map
LIVE_SLOT_SHIFT = 40
LIVE_ID_MASK = (1 << LIVE_SLOT_SHIFT) - 1
#: the book's order records a live entry can name (the slot's bits below the sign bit)
MAX_LIVE_SLOTS = 1 << (63 - LIVE_SLOT_SHIFT)


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of the distribution ``probs`` (Vose 1991, "A linear algorithm
    for generating random numbers with a given distribution", IEEE TSE 17(9)): with
    ``x = n * u`` for ``u`` uniform on [0, 1), ``i = floor(x)`` is drawn if
    ``x - i < keep[i]``, else ``alias[i]``; each ``i`` then has probability ``probs[i]``."""
    n = len(probs)
    scaled = np.asarray(probs, dtype=np.float64) * (n / np.sum(probs))
    keep = np.ones(n)
    alias = np.arange(n)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return keep, alias  # entries left in either list keep themselves (1 up to rounding)


def _size_tables(flow: FlowConfig, lot: int) -> np.ndarray:
    """The empirical size tables as rows ``SZ_*`` (ones where a kind has no table; one
    column of ones when no kind has one)."""
    tables = []  # (first row, probabilities, sizes in lots)
    if flow.size_distribution == "empirical":
        limit = (np.asarray(flow.limit_size_probs, dtype=np.float64), _lots(flow.limit_sizes_shares, lot))
        tables += [(SZ_LIMIT, *limit),
                   (SZ_MARKET, np.asarray(flow.market_size_probs, dtype=np.float64),
                    _lots(flow.market_sizes_shares, lot))]
        place = np.asarray(flow.limit_size_place_probs, dtype=np.float64)
        n_limit = len(limit[0])
        for k, row in enumerate((SZ_INSIDE, SZ_BEST, SZ_BEHIND)):
            tables.append((row, place[k * n_limit: (k + 1) * n_limit] if len(place) else limit[0], limit[1]))
    if flow.hidden_rate_per_s > 0.0:
        tables.append((SZ_HIDDEN, np.asarray(flow.hidden_size_probs, dtype=np.float64),
                       _lots(flow.hidden_sizes_shares, lot)))
    # one width for every table (padded with probability 0): a wider table (e.g. the hidden
    # sizes') maps a uniform to other entries of the narrower ones, not to another law
    n = max((len(probs) for _, probs, _ in tables), default=1)
    out = np.ones((N_SZ_ROWS, n))
    for row, probs, lots in tables:
        padded = np.zeros(n)
        padded[: len(probs)] = probs
        out[row], out[row + 1] = alias_table(padded)
        out[row + 2, : len(lots)] = lots
    return out


def _lots(sizes: tuple[float, ...], lot: int) -> np.ndarray:
    """``sizes`` (shares) in whole lots; a size that is not a multiple of the lot is refused."""
    lots = np.asarray(sizes) / lot
    if not np.allclose(lots, np.round(lots)) or np.any(np.round(lots) < 1):
        raise ValueError(f"empirical sizes must be whole multiples of the lot ({lot} shares), got {sizes!r}")
    return np.round(lots)


def _bucket_table(edges: tuple[float, ...]) -> np.ndarray:
    """:func:`_bucket` of every spread ``0 .. SPREAD_LUT_TICKS - 1`` (ticks) for the buckets'
    lower bounds ``edges`` (zeros without buckets)."""
    if not edges:
        return np.zeros(SPREAD_LUT_TICKS)
    return np.maximum(np.searchsorted(np.asarray(edges, dtype=np.float64), np.arange(SPREAD_LUT_TICKS),
                                      side="right") - 1, 0).astype(np.float64)


def _branching_sums(fp: np.ndarray) -> tuple[float, float, float]:
    """``(n, share0, share01)``: the clustering's branching ratio ``sum_k alpha_k / beta_k``
    from ``fp`` and its partial sums over kernel 0 and kernels 0-1, summed kernel by kernel
    in order (as the kernel once summed them: the same floats)."""
    n_branch = share0 = share01 = 0.0
    for k in range(MAX_CLUSTER_KERNELS):
        if fp[P_CLUSTER_A0 + 2 * k + 1] > 0.0:
            n_branch += fp[P_CLUSTER_A0 + 2 * k] / fp[P_CLUSTER_A0 + 2 * k + 1]
        if k == 0:
            share0 = n_branch
        elif k == 1:
            share01 = n_branch
    return n_branch, share0, share01


def _poisson_cdf(mean: float) -> np.ndarray:
    """``P(N <= k)`` for ``N`` Poisson with ``mean``, ``k = 0..MAX_OFFSPRING``, accumulated
    term by term (``p_k = p_{k-1} mean / k``) in the order the inversion once ran in the
    kernel, so that a table lookup takes the same decisions bit for bit."""
    cdf = np.empty(MAX_OFFSPRING + 1)
    p = math.exp(-mean)
    c = p
    cdf[0] = c
    for k in range(1, MAX_OFFSPRING + 1):
        p *= mean / k
        c += p
        cdf[k] = c
    return cdf


def flow_params(flow: FlowConfig, impact: ImpactConfig, lot: int, diffusion_step_s: float = 1.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fp, cum_weights, sizes)``: the kernel's float parameters, the cumulative distance
    weights (rows 0 and 1: buy, sell; rows 2 and 3: their guide tables, :func:`_profile_index`)
    and the size tables (rows ``SZ_*``)."""
    lam_buy, lam_sell = flow.limit_rates_by_side_per_s()
    fp = np.zeros(N_P)
    # clustering scales the baseline rates of submissions and cancellations by 1 - n (module docstring)
    base = 1.0 - flow.cluster_branching_ratio() if flow.cluster_alphas_per_s else 1.0
    fp[P_THETA] = flow.resilience_per_s * base
    if flow.cancel_size_factors:
        # proposals over the live list at the largest group factor's rate, each accepted at its
        # order's (thinning). With a near factor at least that large, these give every order its
        # group's factor and a second stream, over the orders resting near the best, adds the
        # rest of the near factor; with a smaller one, the near orders' proposals are accepted
        # at it (one stream; module docstring)
        fp[P_CSZ_N] = len(flow.cancel_size_factors)
        fp[P_CSZ_MAX] = max(flow.cancel_size_factors)
        fp[P_CSZ_ACC] = fp[P_CSZ_MAX]
        if flow.cancel_near_factor >= fp[P_CSZ_MAX]:
            fp[P_CSZ_FMIN] = min(flow.cancel_size_factors)
            fp[P_CSZ_NEAR_RATE] = fp[P_THETA] * (flow.cancel_near_factor - fp[P_CSZ_FMIN])
            # the split: the whole list proposed at the largest factor below the top, the top
            # groups' orders from a list of their own at the rest (no proposal spent on the gap)
            lower = [f for f in flow.cancel_size_factors if f < fp[P_CSZ_MAX]]
            if lower:
                fp[P_CSZ_SPLIT] = 1.0
                fp[P_CSZ_ACC] = max(lower)
                fp[P_CSZ_TOP_RATE] = fp[P_THETA] * (fp[P_CSZ_MAX] - fp[P_CSZ_ACC])
        # the groups' lower bounds (shares, 0 first) for _bucket
        fp[P_CSZ_EDGE0 + 1:P_CSZ_EDGE0 + 1 + len(flow.cancel_size_edges_shares)] = flow.cancel_size_edges_shares
        fp[P_CSZ_F0:P_CSZ_F0 + len(flow.cancel_size_factors)] = flow.cancel_size_factors
        fp[P_CSZ_BEHIND] = flow.cancel_size_behind_ticks
        fp[P_CSZ_NEAR] = flow.cancel_near_factor
        if flow.cancel_size_edges_shares[-1] < CSZ_TABLE:
            # the factor of each size group by size: one load instead of a search per read
            groups = np.searchsorted(np.asarray(flow.cancel_size_edges_shares), np.arange(CSZ_TABLE), side="right")
            fp[P_CSZ_TAB_ON] = 1.0
            fp[P_CSZ_TAB0:P_CSZ_TAB0 + CSZ_TABLE] = np.asarray(flow.cancel_size_factors)[groups]
        fp[P_THETA] *= fp[P_CSZ_ACC]
    lam_total = lam_buy.sum() + lam_sell.sum()
    fp[P_LAM_TOTAL] = lam_total * base
    fp[P_P_BUY] = lam_buy.sum() / lam_total if lam_total > 0 else 0.5
    fp[P_RUN_SHARE] = flow.sign_run_share
    fp[P_REV_BEST] = flow.revise_best_per_s
    fp[P_REV_DEEP] = flow.revise_deep_per_s
    fp[P_REV_MAX] = max(flow.revise_best_per_s, flow.revise_deep_per_s)
    fp[P_REV_DELAY] = flow.revise_delay_s
    for slot, probs in ((P_REV_CUM_BEST, flow.revise_best_probs), (P_REV_CUM_DEEP, flow.revise_deep_probs)):
        w = np.asarray(probs, dtype=np.float64) if probs else np.eye(2 * MAX_REVISE_TICKS + 1)[MAX_REVISE_TICKS]
        fp[slot: slot + 2 * MAX_REVISE_TICKS + 1] = np.cumsum(w) / w.sum()
    n = len(flow.market_spread_factor)
    fp[P_MO_SPREAD_N] = n
    fp[P_MO_SPREAD_MAX] = max((1.0, *flow.market_spread_factor))
    fp[P_MO_SPREAD_EDGE0: P_MO_SPREAD_EDGE0 + n] = flow.market_spread_ticks
    fp[P_MO_SPREAD_F0: P_MO_SPREAD_F0 + n] = flow.market_spread_factor
    fp[P_MO_SPREAD_LUT0: P_MO_SPREAD_LUT0 + SPREAD_LUT_TICKS] = _bucket_table(flow.market_spread_ticks)
    n = len(flow.inside_probs)
    fp[P_IN_N] = n
    fp[P_IN_EDGE0: P_IN_EDGE0 + n] = flow.inside_spread_ticks
    fp[P_IN_P0: P_IN_P0 + n] = flow.inside_probs
    fp[P_IN_LUT0: P_IN_LUT0 + SPREAD_LUT_TICKS] = _bucket_table(flow.inside_spread_ticks)
    fp[P_IN_NQ] = len(flow.inside_improve_fracs)
    fp[P_IN_Q0: P_IN_Q0 + len(flow.inside_improve_fracs)] = flow.inside_improve_fracs
    fp[P_IN_FLEET0: P_IN_FLEET0 + len(flow.inside_fleeting_fracs)] = flow.inside_fleeting_fracs
    fp[P_IN_LIFE] = flow.inside_life_s
    fp[P_SIZE_PLACE] = 1.0 if flow.limit_size_place_probs else 0.0
    fp[P_HIDDEN_RATE] = flow.hidden_rate_per_s
    fp[P_IN_SLOTS] = flow.inside_flicker_slots
    fp[P_IN_LIFE_NQ] = len(flow.inside_life_quantiles_s)
    if flow.inside_life_quantiles_s:
        fp[P_IN_LIFE_Q0: P_IN_LIFE_Q0 + len(flow.inside_life_quantiles_s)] = np.log(flow.inside_life_quantiles_s)
    if flow.inside_take_edges:
        nb = len(flow.inside_take_edges)
        nq = len(flow.inside_take_quantiles_s) // nb
        fp[P_IN_TAKE_N] = nb
        fp[P_IN_TAKE_NQ] = nq
        fp[P_IN_TAKE_EDGE0: P_IN_TAKE_EDGE0 + nb] = flow.inside_take_edges
        fp[P_IN_TAKE_P0: P_IN_TAKE_P0 + nb] = flow.inside_taken_fracs
        for j in range(nb):
            fp[P_IN_TAKE_Q0 + j * MAX_TAKE_QUANTILES: P_IN_TAKE_Q0 + j * MAX_TAKE_QUANTILES + nq] = np.log(
                flow.inside_take_quantiles_s[j * nq:(j + 1) * nq])
    if flow.best_anchor_frac > 0.0:
        w = np.asarray(flow.best_anchor_probs, dtype=np.float64)
        fp[P_BEST_FRAC] = flow.best_anchor_frac
        fp[P_BEST_EXCITED] = 1.0 if flow.best_anchor_excited else 0.0
        fp[P_BEST_N] = len(w)
        fp[P_BEST_CUM0: P_BEST_CUM0 + len(w)] = np.cumsum(w) / w.sum()
    fp[P_REFILL] = 1.0 if flow.refill_empty_side else 0.0
    fp[P_LATENT_FRAC] = flow.latent_frac
    fp[P_LATENT_OFFSET] = flow.latent_offset_ticks
    fp[P_LATENT_IMPROVE] = LATENT_IMPROVE.index(flow.latent_improve)
    fp[P_MO_CAP] = flow.market_queue_cap_frac
    n = len(flow.inside_follow_gaps_s)
    fp[P_FOLLOW_N] = n
    fp[P_FOLLOW_GAP0: P_FOLLOW_GAP0 + n] = flow.inside_follow_gaps_s
    for k in range(len(FOLLOW_KINDS)):
        fp[P_FOLLOW_P0 + k * MAX_FOLLOW_GAPS: P_FOLLOW_P0 + k * MAX_FOLLOW_GAPS + n] = \
            flow.inside_follow_probs[k * n: (k + 1) * n]
    fp[P_RUN_ALPHA] = flow.sign_run_exponent
    for first, sigma, time_s in ((P_INR_SIGMA, flow.inside_regime_sigma, flow.inside_regime_time_s),
                                 (P_ACT_SIGMA, flow.activity_sigma, flow.activity_time_s)):
        if sigma > 0.0:  # a log-normal factor: sigma, its log's decay over a grid step, the innovation's scale
            fp[first] = sigma
            fp[first + 1] = math.exp(-diffusion_step_s / time_s)
            fp[first + 2] = math.sqrt(1.0 - fp[first + 1] ** 2)
    if flow.cluster_alphas_per_s:
        fp[P_CLUSTER_ON] = 1.0
        fp[P_CLUSTER_LIMIT] = flow.cluster_limit_frac
        fp[P_CL_JOIN] = flow.cluster_join_frac
        fp[P_CL_IMPROVE] = flow.cluster_improve_frac
        fp[P_CL_NEWEST] = flow.cluster_cancel_newest_frac
        fp[P_CL_REDRAW] = 1.0 if flow.cluster_cancel_redraw else 0.0
        fp[P_CL_LEVELS] = flow.cluster_levels
        for k, (a, b) in enumerate(zip(flow.cluster_alphas_per_s, flow.cluster_betas_per_s)):
            fp[P_CLUSTER_A0 + 2 * k] = a
            fp[P_CLUSTER_A0 + 2 * k + 1] = b
        fp[P_CL_NBRANCH], fp[P_CL_SHARE0], fp[P_CL_SHARE01] = _branching_sums(fp)
        fp[P_CL_POIS0: P_CL_POIS0 + MAX_OFFSPRING + 1] = _poisson_cdf(fp[P_CL_NBRANCH])
    if flow.placement_scale:
        fp[P_SCALE_ON] = 1.0
        n = len(flow.placement_scale)
        fp[P_SCALE_N] = n
        fp[P_SCALE0: P_SCALE0 + n] = flow.placement_scale
        fp[P_SCALE_START0: P_SCALE_START0 + n] = flow.placement_scale_starts()
        if flow.best_anchor_scaled:
            # the placement from the best: the multiplier over the multipliers' session mean
            # (its distances are fitted on the whole day)
            fp[P_SCALE_BEST] = 1.0 / flow.placement_scale_mean()
    fp[P_MU] = flow.market_rate_per_s
    fp[P_ALPHA] = flow.hawkes_alpha_per_s
    fp[P_BETA] = flow.hawkes_beta_per_s
    fp[P_P_LIMIT] = min(1.0, lot / flow.mean_limit_size_shares)  # geometric in lots
    fp[P_P_MARKET] = min(1.0, lot / flow.mean_market_size_shares)
    fp[P_FIXED] = 1.0 if flow.size_distribution == "fixed" else 0.0
    fp[P_EMPIRICAL] = 1.0 if flow.size_distribution == "empirical" else 0.0
    fp[P_LIMIT_LOTS] = max(1, round(flow.mean_limit_size_shares / lot))
    fp[P_MARKET_LOTS] = max(1, round(flow.mean_market_size_shares / lot))
    fp[P_KAPPA] = impact.transient_ticks_per_share
    fp[P_GAMMA] = impact.permanent_ticks_per_share
    fp[P_SIGMA] = impact.sigma_ticks_per_sqrt_s
    fp[P_DIFF_STEP] = diffusion_step_s
    if impact.propagator_ticks_per_share > 0.0:
        weights, rates = power_law_kernel(impact.propagator_exponent, impact.propagator_time_s,
                                          impact.propagator_horizon_s)
        fp[P_PROP_ON] = 1.0
        for k, (w, b) in enumerate(zip(weights, rates)):
            fp[P_PROP_W0 + 2 * k] = impact.propagator_ticks_per_share * w
            fp[P_PROP_W0 + 2 * k + 1] = b
    fp[P_RHO] = flow.resilience_per_s
    fp[P_ANCHOR_REF] = 1.0 if flow.anchor == "reference" else 0.0
    fp[P_SESSION] = flow.session_s
    prof = flow.intraday
    if prof is not None:
        fp[P_TOD_ON] = 1.0
        fp[P_OPEN], fp[P_CLOSE], fp[P_DECAY] = prof.open_boost, prof.close_boost, prof.decay_frac
        fp[P_BURST], fp[P_BURST_DECAY] = prof.burst_boost, prof.burst_decay_frac
        fp[P_TOD_NORM] = 1.0 / prof.mean_intensity()
        fp[P_TOD_MAX] = prof.max_intensity() * fp[P_TOD_NORM]
    else:
        fp[P_TOD_MAX] = 1.0
    n_k = len(lam_buy)
    cum = np.empty((4, n_k))
    for row, lam in enumerate((lam_buy, lam_sell)):
        total = lam.sum()
        cum[row] = np.cumsum(lam) / total if total > 0 else np.linspace(1.0 / n_k, 1.0, n_k)
        # the guide table (Chen and Asau 1974): the first index whose cumulative weight
        # reaches j / n_k, for each j, where the search for a uniform in [j, j + 1) / n_k starts
        cum[2 + row] = np.searchsorted(cum[row], np.arange(n_k) / n_k)
    return fp, cum, _size_tables(flow, lot)


@njit(**HOT)
def _tod_between(fp, u_open, u_close):
    """The intraday formula with its open bump at session fraction ``u_open`` and its close
    bump at ``u_close`` (both ``u`` for :func:`_tod`; apart, they bound it on an interval)."""
    d = fp[P_DECAY]
    w = 1.0 + fp[P_OPEN] * math.exp(-u_open / d) + fp[P_CLOSE] * math.exp(-(1.0 - u_close) / d)
    if fp[P_BURST] > 0.0:
        w += fp[P_BURST] * math.exp(-u_open / fp[P_BURST_DECAY])
    return fp[P_TOD_NORM] * w


@njit(**HOT_INLINE)
def _tod(fp, t):
    """Intraday activity multiplier (mean 1 over the session) at time ``t`` seconds."""
    if fp[P_TOD_ON] == 0.0:
        return 1.0
    session = fp[P_SESSION]
    # within the first session t % session is t itself: skip the floating-point modulo
    u = (t if 0.0 <= t < session else t % session) / session
    return _tod_between(fp, u, u)


@njit(**HOT)
def _log_q(fp, p_index):
    """``log(1 - p)`` of a geometric size distribution (0 when every order is one lot)."""
    p = fp[p_index]
    return math.log(1.0 - p) if p < 1.0 else 0.0


@njit(**HOT_INLINE)
def _size_lots(rs, fp, sizes, row, p_index, fixed_index, log_q):
    """An order size in lots: geometric with success probability ``fp[p_index]`` (``log_q``:
    its :func:`_log_q`, computed once per call of the flow), fixed, or drawn from the
    empirical table at ``sizes[row:row + 3]`` (an alias table, :func:`alias_table`, and the
    sizes: one uniform, no search)."""
    if fp[P_EMPIRICAL] == 1.0:
        return _table_lots(rs, sizes, row)
    if fp[P_FIXED] == 1.0:
        return np.int64(fp[fixed_index])
    if fp[p_index] >= 1.0:
        return 1
    return 1 + np.int64(math.log(1.0 - R.uniform(rs)) / log_q)


@njit(**HOT_INLINE)
def _table_lots(rs, sizes, row):
    """A size in lots from the empirical table at ``sizes[row:row + 3]`` (an alias table,
    :func:`alias_table`, and the sizes: one uniform, no search)."""
    n = sizes.shape[1]
    x = R.uniform(rs) * n
    i = min(np.int64(x), n - 1)
    if x - i >= sizes[row, i]:
        i = np.int64(sizes[row + 1, i])
    return np.int64(sizes[row + 2, i])


@njit(**HOT_INLINE)
def _limit_row(fp, sc, direction, price):
    """The size table's row of a new limit order at ``price`` (ticks) on ``direction``'s side:
    ``SZ_LIMIT``, or with limit sizes by placement (module docstring) ``SZ_INSIDE`` if it is
    better than its side's best, ``SZ_BEST`` at it or on an empty side, else ``SZ_BEHIND``."""
    if fp[P_SIZE_PLACE] != 1.0:
        return SZ_LIMIT
    rel = price - sc[K.S_BASE]
    if direction > 0:
        best = sc[K.S_BEST_BID]
        if best < 0:
            return SZ_BEST
        return SZ_INSIDE if rel > best else (SZ_BEST if rel == best else SZ_BEHIND)
    best = sc[K.S_BEST_ASK]
    if best >= sc[K.S_N_LEVELS]:
        return SZ_BEST
    return SZ_INSIDE if rel < best else (SZ_BEST if rel == best else SZ_BEHIND)


@njit(**HOT)
def _market_lots(rs, fp, sizes, sc, lvl, direction, log_q):
    """A market order's size in lots: :func:`_size_lots`; with ``fp[P_MO_CAP]`` that share of
    the orders takes at most the opposite best's queue (module docstring)."""
    size = _size_lots(rs, fp, sizes, SZ_MARKET, P_P_MARKET, P_MARKET_LOTS, log_q)
    if fp[P_MO_CAP] > 0.0:
        lot = sc[K.S_LOT]
        if direction > 0:
            i = sc[K.S_BEST_ASK]
            q = lvl[1, i].volume_shares // lot if i < sc[K.S_N_LEVELS] else 0
        else:
            i = sc[K.S_BEST_BID]
            q = lvl[0, i].volume_shares // lot if i >= 0 else 0
        if R.uniform(rs) < fp[P_MO_CAP] and 0 < q < size:
            return np.int64(q)
    return size


@njit(**HOT)
def _tod_bounds(fp, t0, t1):
    """``(lo, hi)`` with ``lo <= _tod(fp, t) <= hi`` for every ``t`` in ``[t0, t1]``.

    The open bump decreases and the close bump increases through a session, so the
    bounds come from the interval's ends (or the session's, when the interval wraps),
    widened by a relative 1e-9 that covers every rounding difference.
    """
    if fp[P_TOD_ON] == 0.0:
        return 1.0, 1.0
    session = fp[P_SESSION]
    k0 = math.floor(t0 / session)
    k1 = math.floor(t1 / session)
    u0 = t0 / session - k0
    u1 = t1 / session - k1
    if k0 == k1:
        lo, hi = _tod_between(fp, u1, u0), _tod_between(fp, u0, u1)
    elif k1 == k0 + 1:
        lo = min(_tod_between(fp, 1.0, u0), _tod_between(fp, u1, 0.0))
        hi = max(_tod_between(fp, u0, 1.0), _tod_between(fp, 0.0, u1))
    else:
        lo, hi = _tod_between(fp, 1.0, 0.0), _tod_between(fp, 0.0, 1.0)
    return lo * (1.0 - 1e-9), hi * (1.0 + 1e-9)


@njit(**HOT)
def start_state(fs, t0_s, mid_ticks, diffusion_step_s):
    """A fresh flow state (a :data:`FLOW_STATE_DTYPE` record): the clock at ``t0_s``, the
    centre at ``mid_ticks``, no impact, excitation or live orders, background ids from 1."""
    fs.trans_ticks = 0.0
    for k in range(MAX_PROPAGATOR_KERNELS):
        fs.prop_ticks[k] = 0.0
    fs.cen_ok = False
    fs.exc_buy_per_s = 0.0
    fs.exc_sell_per_s = 0.0
    fs.exc_t_s = t0_s
    fs.mo_next_s = math.inf  # no excitation: no point
    fs.pend_c0 = 0
    fs.pend_c1 = 0
    fs.pend_c2 = 0
    fs.run_sign = 0
    fs.run_left = 0
    fs.act_x = 0.0
    fs.last_id = 0
    fs.last_slot = 0
    fs.activity = 1.0
    fs.inr_y = 0.0
    fs.inside_factor = 1.0
    fs.vol_shares = 0.0
    fs.value_tick_shares = 0.0
    fs.signed_vol_shares = 0.0
    fs.win_lo = 0.0
    fs.win_hi = 0.0
    fs.n_bg_events = 0
    fs.n_proposals = 0
    fs.scale_k = 0
    fs.scale_lo_s = 0.0  # an empty interval: looked up at the first use
    fs.scale_hi_s = 0.0
    _forget_view(fs)
    fs.next_id = 1
    fs.n_live = 0
    fs.n_top = 0
    fs.pending = False
    fs.rev_size = 0
    fs.rev_side = 0
    fs.rev_price = 0
    fs.rev_t_s = 0.0
    fs.quiet = False
    fs.far = False
    fs.flick_id = 0
    fs.flick_t_s = 0.0
    fs.flick_take = False
    fs.flick_plan_s = -1.0
    fs.flick_plan_take = False
    fs.flick_n = 0
    fs.chg_side = 0
    fs.chg_kind = 0
    fs.chg_t_s = 0.0
    fs.best_bid_ticks = -1
    fs.best_ask_ticks = -1
    fs.traded_shares = 0
    fs.fund_ticks = mid_ticks
    fs.t_s = t0_s
    fs.next_grid_s = (math.floor(t0_s / diffusion_step_s) + 1.0) * diffusion_step_s
    fs.trans_t_s = t0_s
    fs.win_end_s = math.nan  # no window yet


@njit(**HOT)
def transient(fp, fs):
    """The transient impact (ticks) at the clock ``fs.t_s``.

    It decays at rate ``rho`` from its value ``fs.trans_ticks`` at its last change
    ``fs.trans_t_s``: one exponential per read instead of one per event, and a value that
    does not depend on how the clock got there (event by event, or in one call).
    """
    x = fs.trans_ticks
    if fp[P_PROP_ON] == 1.0:
        dt = fs.t_s - fs.trans_t_s
        total = x * math.exp(-fp[P_RHO] * dt) if x != 0.0 else 0.0
        for k in range(MAX_PROPAGATOR_KERNELS):
            p = fs.prop_ticks[k]
            if p != 0.0:
                total += p * math.exp(-fp[P_PROP_W0 + 2 * k + 1] * dt)
        return total
    if x == 0.0:
        return 0.0
    return x * math.exp(-fp[P_RHO] * (fs.t_s - fs.trans_t_s))


@njit(**HOT_INLINE)
def _rounded_centre(fp, fs, up):
    """``ceil(m)`` (``up``) or ``floor(m)`` of the centre ``m = m_fundamental + transient``.

    Without impact, the fundamental's. Otherwise enclosures of the centre, each widened by
    1e-9 tick for every rounding, decide without an exponential when they round to one
    integer: first the impact's second-order Taylor enclosure from its last change
    (:func:`_taylor_rounding`), here while its coefficients are cached (most calls: inlined
    into the flow), else in :func:`_enclosed_centre`, which also tries one enclosure per
    exponential before the exact centre.
    """
    fund = fs.fund_ticks
    if fs.trans_ticks == 0.0 and fp[P_PROP_ON] != 1.0:
        return np.int64(math.ceil(fund)) if up else np.int64(math.floor(fund))
    if fs.cen_ok:
        r, one = _taylor_rounding(fs, up)
        if one:
            return r
    return _enclosed_centre(fp, fs, up)


@njit(**HOT_INLINE)
def _one_rounding(lo, hi, up):
    """``(r, True)`` when ``lo`` and ``hi`` round (``ceil`` if ``up``, else ``floor``) to one
    integer ``r``; ``(r, False)`` with ``r`` the rounding of ``lo`` otherwise."""
    r = math.ceil(lo) if up else math.floor(lo)
    return np.int64(r), r == (math.ceil(hi) if up else math.floor(hi))


@njit(**HOT_INLINE)
def _taylor_rounding(fs, up):
    """:func:`_one_rounding` of the impact's second-order Taylor enclosure of the centre at
    the clock (:func:`_centre_taylor`'s cached coefficients; four products instead of an
    enclosure per exponential): it decides while the last impact is recent."""
    dt = fs.t_s - fs.trans_t_s
    base = fs.fund_ticks + fs.cen_a_ticks - fs.cen_b_ticks_per_s * dt
    dt2 = dt * dt
    return _one_rounding(base + fs.cen_c_neg_ticks_per_s2 * dt2 - 1e-9, base + fs.cen_c_pos_ticks_per_s2 * dt2 + 1e-9,
                         up)


@njit(**HOT)
def _enclosed_centre(fp, fs, up):
    """:func:`_rounded_centre` past its inlined part: the Taylor enclosure after computing its
    coefficients (if they were not cached), then one enclosure per exponential: the decay
    factor ``exp(-x)`` (``x >= 0``) lies in ``[max(0, 1 - x), 1 / (1 + x)]`` (the
    propagator's fast exponentials have decayed by several e-folds between trades: the upper
    end ``1 / (1 + x)`` keeps their enclosure narrow). Otherwise the exact centre decides."""
    if not fs.cen_ok:
        _centre_taylor(fp, fs)
        r, one = _taylor_rounding(fs, up)
        if one:
            return r
    fund = fs.fund_ticks
    x0 = fs.trans_ticks
    dt = fs.t_s - fs.trans_t_s
    x = fp[P_RHO] * dt
    a = x0 * max(0.0, 1.0 - x)
    b = x0 / (1.0 + x)
    lo = fund + min(a, b)
    hi = fund + max(a, b)
    if fp[P_PROP_ON] == 1.0:  # each of the propagator's exponentials is enclosed the same way: add them up
        for k in range(MAX_PROPAGATOR_KERNELS):
            p = fs.prop_ticks[k]
            if p != 0.0:
                x = fp[P_PROP_W0 + 2 * k + 1] * dt
                a = p * max(0.0, 1.0 - x)
                b = p / (1.0 + x)
                lo += min(a, b)
                hi += max(a, b)
    r, one = _one_rounding(lo - 1e-9, hi + 1e-9, up)
    if one:
        return r
    exact = fund + transient(fp, fs)
    return np.int64(math.ceil(exact)) if up else np.int64(math.floor(exact))


@njit(**HOT)
def _centre_taylor(fp, fs):
    """The impact's (transient and propagator) second-order Taylor coefficients at its last
    change ``fs.trans_t_s``, for :func:`_rounded_centre`; they hold until the next impact
    (:func:`apply_impact` clears ``fs.cen_ok``).

    Each exponential ``p exp(-w dt)`` lies between ``p (1 - w dt)`` and that plus
    ``p (w dt)^2 / 2`` (``exp(-x) - 1 + x`` is in ``[0, x^2 / 2]`` for ``x >= 0``), so the
    impact ``dt`` seconds later lies in ``[a - b dt + c_neg dt^2, a - b dt + c_pos dt^2]``
    with ``a = sum p``, ``b = sum p w`` and ``c_neg`` / ``c_pos`` the sums of ``p w^2 / 2``
    over the negative / positive ``p``: an enclosure of width ``O(dt^2)`` from four products.
    """
    x0 = fs.trans_ticks
    w0 = fp[P_RHO]
    a = x0
    b = x0 * w0
    c = 0.5 * x0 * w0 * w0
    c_neg = min(c, 0.0)
    c_pos = max(c, 0.0)
    if fp[P_PROP_ON] == 1.0:
        for k in range(MAX_PROPAGATOR_KERNELS):
            p = fs.prop_ticks[k]
            if p != 0.0:
                w = fp[P_PROP_W0 + 2 * k + 1]
                a += p
                b += p * w
                c = 0.5 * p * w * w
                if c < 0.0:
                    c_neg += c
                else:
                    c_pos += c
    fs.cen_a_ticks = a
    fs.cen_b_ticks_per_s = b
    fs.cen_c_neg_ticks_per_s2 = c_neg
    fs.cen_c_pos_ticks_per_s2 = c_pos
    fs.cen_ok = True


@njit(**HOT_INLINE)
def _spread_bucket(fp, lut, first, n, s):
    """:func:`_bucket` of the spread ``s`` (ticks) from its lookup table at ``fp[lut:]``."""
    if s < SPREAD_LUT_TICKS:
        return np.int64(fp[lut + s])
    return _bucket(fp, first, n, s)


@njit(**HOT_INLINE)
def _bucket(fp, first, n, x):
    """The last of the ``n`` increasing lower bounds at ``fp[first:]`` that is at most ``x``
    (0 when ``x`` is below them all)."""
    k = n - 1
    while k > 0 and fp[first + k] > x:
        k -= 1
    return k


@njit(**HOT_INLINE)
def _scaled_distance(fp, fs, t, dist, over=1.0):
    """``dist`` (ticks) times the intraday spread's multiplier of the bucket of ``t`` (s) (and
    ``over``), rounded, at least one tick; before the first session (the warm-up) the first
    bucket's. The bucket is kept in ``fs`` with its bounds (the clock moves forward: it is
    looked up again about once per bucket, not once per order)."""
    session = fp[P_SESSION]
    u = 0.0 if t < 0.0 else (t if t < session else t % session)
    if not (fs.scale_lo_s <= u < fs.scale_hi_s):
        n = np.int64(fp[P_SCALE_N])
        k = _bucket(fp, P_SCALE_START0, n, u)
        fs.scale_k = k
        fs.scale_lo_s = fp[P_SCALE_START0 + k] if k > 0 else -math.inf
        fs.scale_hi_s = fp[P_SCALE_START0 + k + 1] if k + 1 < n else math.inf
    return max(1, np.int64(math.floor(dist * fp[P_SCALE0 + fs.scale_k] * over + 0.5)))


@njit(**HOT_INLINE)
def _fleeting_price(rs, fp, sc, direction, price):
    """An excited submission's price (module docstring): its side's best (a share
    ``cluster_join_frac``), one tick better when the spread is at least two ticks (a share
    ``cluster_improve_frac``; else the best), or ``price`` (the rest, and an empty side)."""
    w = R.uniform(rs)
    join = fp[P_CL_JOIN]
    if w >= join + fp[P_CL_IMPROVE]:
        return price
    bb = sc[K.S_BEST_BID]
    ba = sc[K.S_BEST_ASK]
    has_bid = bb >= 0
    has_ask = ba < sc[K.S_N_LEVELS]
    room = not (has_bid and has_ask) or ba - bb >= 2
    if direction > 0 and has_bid:
        return sc[K.S_BASE] + bb + (1 if w >= join and room else 0)
    if direction < 0 and has_ask:
        return sc[K.S_BASE] + ba - (1 if w >= join and room else 0)
    return price


@njit(**HOT_INLINE)
def _spread_ticks(sc):
    """The book's spread (ticks); 0 while a side is empty."""
    bb = sc[K.S_BEST_BID]
    ba = sc[K.S_BEST_ASK]
    return 0 if bb < 0 or ba >= sc[K.S_N_LEVELS] else ba - bb


@njit(**HOT_INLINE)
def _put_cancel(evbuf, oid, slot, time_ns):
    """Write the cancellation of background order ``oid``, resting in ``slot``, into
    ``evbuf``'s row 0 (its id is unmapped: the event names its slot in the owner field)."""
    _put_event(evbuf, K.EV_CANCEL, oid, 0, 0, 0, time_ns)
    evbuf[0, K.E_OWNER] = slot


@njit(**HOT_INLINE)
def _put_event(evbuf, kind, oid, side, price, size, time_ns):
    """Write a background event (kind, id, side, price in ticks, size in shares, time in ns)
    into ``evbuf``'s row 0."""
    evbuf[0, K.E_TYPE] = kind
    evbuf[0, K.E_ID] = oid
    evbuf[0, K.E_SIDE] = side
    evbuf[0, K.E_PRICE] = price
    evbuf[0, K.E_SIZE] = size
    evbuf[0, K.E_OWNER] = 0
    evbuf[0, K.E_TIME] = time_ns


@njit(**HOT_INLINE)
def _search_left(a, v):
    """The first index ``i`` of the increasing array ``a`` with ``a[i] >= v`` (``len(a)`` if
    none): ``np.searchsorted(a, v)``, written out so that it compiles inline (numba's calls a
    comparison function per step)."""
    lo = 0
    hi = a.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return np.int64(lo)


@njit(**HOT_INLINE)
def _profile_index(cum_w, row, v):
    """``np.searchsorted(cum_w[row], v)`` for ``v`` in [0, 1): from the row's guide table
    (``cum_w[2 + row]``, :func:`flow_params`; about one step) if it has one, else by bisection.
    The steps back and forth make it exact whatever the rounding of ``v * n``."""
    w = cum_w[row]
    if cum_w.shape[0] < 4:
        return _search_left(w, v)
    n = w.shape[0]
    i = np.int64(cum_w[2 + row, min(np.int64(v * n), n - 1)])
    while i > 0 and w[i - 1] >= v:
        i -= 1
    while i < n and w[i] < v:
        i += 1
    return i


@njit(**HOT_FORCE)
def _profile_price(rs, fp, fs, sc, cum_w, t, direction):
    """A new limit order's price from the depth profile: a distance drawn from the side's
    cumulative rates ``cum_w``, scaled by the intraday spread at ``t`` (s), from the anchor."""
    v = R.uniform(rs)
    if fp[P_LATENT_FRAC] > 0.0 and R.uniform(rs) < fp[P_LATENT_FRAC]:
        return _latent_price(rs, fp, fs, sc, cum_w, t, direction, v)
    return _profile_price_at(fp, fs, sc, cum_w, t, direction, v)


@njit(**HOT_FORCE)
def _latent_price(rs, fp, fs, sc, cum_w, t, direction, v):
    """A latent order's price (module docstring): the profile's distance for the uniform
    ``v``, scaled by the intraday spread at ``t`` (s), less ``latent_offset_ticks`` (at least
    one tick), from the centre (:func:`_centre_price`); bettering its side's best at most as
    ``latent_improve`` allows (:func:`_latent_improvement`)."""
    dist = _profile_distance(cum_w, direction, v)
    if fp[P_SCALE_ON] == 1.0:
        dist = _scaled_distance(fp, fs, t, dist)
    price = _centre_price(fp, fs, sc, direction, max(1, dist - np.int64(fp[P_LATENT_OFFSET])))
    if fp[P_LATENT_IMPROVE] == 0.0:
        return price
    bb = sc[K.S_BEST_BID]
    ba = sc[K.S_BEST_ASK]
    if direction > 0:
        if bb >= 0 and price > sc[K.S_BASE] + bb:
            price = min(price, sc[K.S_BASE] + bb + _latent_improvement(rs, fp, sc))
    elif ba < sc[K.S_N_LEVELS] and price < sc[K.S_BASE] + ba:
        price = max(price, sc[K.S_BASE] + ba - _latent_improvement(rs, fp, sc))
    return price


@njit(**HOT_INLINE)
def _latent_improvement(rs, fp, sc):
    """The most ticks a latent order that would better its side's best may do so: 0 for
    ``latent_improve="join"`` (and while the other side is empty or the spread is one tick);
    for ``"inside"`` one drawn as the orders inside the spread draw theirs
    (:func:`_inside_improvement`)."""
    s = _spread_ticks(sc)
    if fp[P_LATENT_IMPROVE] == 1.0 or s < 2:
        return 0
    return _inside_improvement(rs, fp, s)


@njit(**HOT_INLINE)
def _profile_distance(cum_w, direction, v):
    """The depth profile's distance (ticks, from 1) for the uniform ``v`` in [0, 1): the first
    whose cumulative rate reaches ``v`` (the last one if none does)."""
    return min(_profile_index(cum_w, 0 if direction > 0 else 1, v), cum_w.shape[1] - 1) + 1


@njit(**HOT_INLINE)
def _centre_price(fp, fs, sc, direction, dist):
    """``dist`` ticks below (a buy) or above (a sell) the rounded centre, never crossing:
    liquidity providers quote at most one tick inside the spread."""
    up = direction > 0
    centre = _rounded_centre(fp, fs, up)  # one call site: each is a copy of the inlined code
    if up:
        price = centre - dist
        if sc[K.S_BEST_ASK] < sc[K.S_N_LEVELS]:
            price = min(price, sc[K.S_BASE] + sc[K.S_BEST_ASK] - 1)
    else:
        price = centre + dist
        if sc[K.S_BEST_BID] >= 0:
            price = max(price, sc[K.S_BASE] + sc[K.S_BEST_BID] + 1)
    return price


@njit(**HOT_FORCE)
def _profile_price_at(fp, fs, sc, cum_w, t, direction, v):
    """:func:`_profile_price` for the uniform ``v`` in [0, 1) (the quantile of its distance)."""
    return _placed_price(fp, fs, sc, t, direction, _profile_distance(cum_w, direction, v))


@njit(**HOT_FORCE)
def _placed_price(fp, fs, sc, t, direction, dist):
    """The price of a new limit order at the depth profile's distance ``dist`` (ticks, from 1;
    :func:`_profile_price`): scaled by the intraday spread at ``t`` (s), from the anchor; it
    moves away from the spread as ``dist`` grows (never towards it)."""
    if fp[P_SCALE_ON] == 1.0:
        dist = _scaled_distance(fp, fs, t, dist)
    if fp[P_ANCHOR_REF] == 1.0:
        price = _centre_price(fp, fs, sc, direction, dist)
    else:
        bb = sc[K.S_BEST_BID]
        ba = sc[K.S_BEST_ASK]
        has_bid = bb >= 0
        has_ask = ba < sc[K.S_N_LEVELS]
        # an empty opposite side: as if the spread were one tick from this side's best;
        # only an empty book falls back on the centre m
        if direction > 0:
            if has_ask:
                opp = sc[K.S_BASE] + ba
            elif has_bid:
                opp = sc[K.S_BASE] + bb + 1
            else:
                opp = _empty_book_opposite(fp, fs, direction)
            price = opp - dist
        else:
            if has_bid:
                opp = sc[K.S_BASE] + bb
            elif has_ask:
                opp = sc[K.S_BASE] + ba - 1
            else:
                opp = _empty_book_opposite(fp, fs, direction)
            price = opp + dist
    return price


@njit(**HOT)
def _empty_book_opposite(fp, fs, direction):
    """:func:`_placed_price`'s opposite best in an empty book: one tick beyond the rounded
    centre (a call: the case is rare, and each inlined copy of the centre lengthens the
    flow kernel's compilation)."""
    if direction > 0:
        return _rounded_centre(fp, fs, False) + 1
    return _rounded_centre(fp, fs, True) - 1


@njit(**HOT_INLINE)
def _best_price(rs, fp, fs, sc, direction, t):
    """A new limit order's price ``d`` ticks behind its side's best (``d`` from the cumulative
    ``P_BEST_CUM``); ``-1`` on an empty side (the caller draws from the profile instead)."""
    if direction > 0:
        if sc[K.S_BEST_BID] < 0:
            return -1
        best = sc[K.S_BASE] + sc[K.S_BEST_BID]
    else:
        if sc[K.S_BEST_ASK] >= sc[K.S_N_LEVELS]:
            return -1
        best = sc[K.S_BASE] + sc[K.S_BEST_ASK]
    v = R.uniform(rs)
    n = np.int64(fp[P_BEST_N])
    d = 0
    while d < n - 1 and fp[P_BEST_CUM0 + d] < v:
        d += 1
    if d > 0 and fp[P_SCALE_BEST] > 0.0:
        d = _scaled_distance(fp, fs, t, d, fp[P_SCALE_BEST])
    return best - d if direction > 0 else best + d


@njit(**HOT_INLINE)
def _inside_price(rs, fp, fs, sc, direction, price):
    """A new limit order's price with orders inside a wide spread (module docstring): with
    the probability of the spread's bucket, ``k`` ticks better than its side's best; else
    ``price``; the probability times the liquidity-provision regime's factor, if on. Nothing
    is drawn while a side is empty, the spread is one tick or the bucket's probability is 0."""
    s = _spread_ticks(sc)
    if s < 2:
        return price
    b = _spread_bucket(fp, P_IN_LUT0, P_IN_EDGE0, np.int64(fp[P_IN_N]), s)
    p = fp[P_IN_P0 + b]
    if fp[P_INR_SIGMA] > 0.0:
        p = min(1.0, p * fs.inside_factor)  # the liquidity-provision regime
    if p <= 0.0 or R.uniform(rs) >= p:
        return price
    k = _inside_improvement(rs, fp, s)
    return sc[K.S_BASE] + (sc[K.S_BEST_BID] + k if direction > 0 else sc[K.S_BEST_ASK] - k)


@njit(**HOT_INLINE)
def _inside_improvement(rs, fp, s):
    """An improvement (ticks) of an order inside the spread ``s >= 2``: ``k = round(x s)``
    clipped to ``[1, s - 1]``, ``x`` drawn from the quantiles ``inside_improve_fracs``."""
    nq = np.int64(fp[P_IN_NQ])
    q = min(nq - 1, int(R.uniform(rs) * nq))
    return max(1, min(s - 1, np.int64(math.floor(fp[P_IN_Q0 + q] * s + 0.5))))


@njit(**HOT_INLINE)
def _plan_flicker(rs, fp, fs, sc, direction, price):
    """With orders inside a wide spread: if a new limit order at ``price`` is strictly inside
    the spread (however it got there), it is taken with its improvement bucket's share (the
    delay goes to ``fs.flick_plan_s``, ``fs.flick_plan_take`` is set); if not, it flickers
    with its spread bucket's share: its life goes to ``fs.flick_plan_s``. Nothing is drawn for
    an order that is not inside or a bucket whose share is 0."""
    s = _spread_ticks(sc)
    rel = price - sc[K.S_BASE]
    if s < 2 or not (sc[K.S_BEST_BID] < rel < sc[K.S_BEST_ASK]):
        return
    nt = np.int64(fp[P_IN_TAKE_N])
    if nt > 0:  # first the take, with its improvement bucket's share
        x = (rel - sc[K.S_BEST_BID] if direction > 0 else sc[K.S_BEST_ASK] - rel) / s
        j = nt - 1
        while j > 0 and x < fp[P_IN_TAKE_EDGE0 + j]:
            j -= 1
        g = fp[P_IN_TAKE_P0 + j]
        if g > 0.0 and R.uniform(rs) < g:
            fs.flick_plan_s = _quantile_delay(rs, fp, P_IN_TAKE_Q0 + j * MAX_TAKE_QUANTILES, np.int64(fp[P_IN_TAKE_NQ]))
            fs.flick_plan_take = True
            return
    f = fp[P_IN_FLEET0 + _spread_bucket(fp, P_IN_LUT0, P_IN_EDGE0, np.int64(fp[P_IN_N]), s)]
    if f > 0.0 and R.uniform(rs) < f:
        nq = np.int64(fp[P_IN_LIFE_NQ])
        if nq == 0:
            fs.flick_plan_s = R.exponential(rs) * fp[P_IN_LIFE]
        else:
            fs.flick_plan_s = _quantile_delay(rs, fp, P_IN_LIFE_Q0, nq)


@njit(**HOT_INLINE)
def _quantile_delay(rs, fp, q0, nq):
    """A delay (s) drawn log-linearly between neighbouring quantiles (stored as logs at
    ``fp[q0:q0 + nq]``, at levels ``i / (nq - 1)``) from one uniform."""
    x = R.uniform(rs) * (nq - 1)
    i = min(np.int64(x), nq - 2)
    lo = fp[q0 + i]
    return math.exp(lo + (x - i) * (fp[q0 + i + 1] - lo))


@njit(**HOT)
def _push_flicker(fs, entry, t_s, take):
    """Add a flickering quote (``entry``: its order's live entry, :func:`_live_entry`) to
    withdraw (or, ``take``, to be taken) at ``t_s`` (a free slot is the caller's to check); it
    becomes ``fs.flick_id`` if it is the earliest."""
    n = fs.flick_n
    fs.flick_ids[n] = entry
    fs.flick_ts[n] = t_s
    fs.flick_takes[n] = 1 if take else 0
    fs.flick_n = n + 1
    if n == 0 or t_s < fs.flick_t_s:
        fs.flick_id = entry
        fs.flick_t_s = t_s
        fs.flick_take = take


@njit(**HOT_INLINE)
def _keep_flickers(fs, n):
    """Keep the first ``n`` pending flickering quotes and make the earliest of them
    ``fs.flick_id`` (0: none)."""
    fs.flick_n = n
    fs.flick_id = 0
    for j in range(n):
        if fs.flick_id == 0 or fs.flick_ts[j] < fs.flick_t_s:
            fs.flick_id = fs.flick_ids[j]
            fs.flick_t_s = fs.flick_ts[j]
            fs.flick_take = fs.flick_takes[j] != 0


@njit(**HOT)
def _purge_flickers(fs, orders):
    """Drop the pending flickering quotes that no longer rest (filled or cancelled since they
    were planned; nothing random is drawn) and recompute the earliest. With one slot and
    exponential lives the old rule (a quote planned while one waits rests as the others) is
    kept: the caller does not purge then."""
    n = 0
    for j in range(fs.flick_n):
        if _live_order(orders, fs.flick_ids[j])[1] != -1:
            fs.flick_ids[n] = fs.flick_ids[j]
            fs.flick_ts[n] = fs.flick_ts[j]
            fs.flick_takes[n] = fs.flick_takes[j]
            n += 1
    _keep_flickers(fs, n)


@njit(**HOT)
def _pop_flicker(fs):
    """Remove the earliest flickering quote (``fs.flick_id``); the next earliest takes its
    place (``flick_id`` 0: none left)."""
    n = fs.flick_n
    for j in range(n):
        if fs.flick_ids[j] == fs.flick_id and fs.flick_ts[j] == fs.flick_t_s:
            fs.flick_ids[j] = fs.flick_ids[n - 1]
            fs.flick_ts[j] = fs.flick_ts[n - 1]
            fs.flick_takes[j] = fs.flick_takes[n - 1]
            break
    n -= 1
    _keep_flickers(fs, n)


@njit(**HOT_INLINE)
def _note_change(fs, sc, kind):
    """Record which side's best changed since the bests were last looked at (only if exactly
    one did), by an event of ``kind`` (an index of FOLLOW_KINDS; -1: outside the flow, a
    better quote counting as a submission, a worse one as a market order if shares traded
    since, else as a cancellation), at the clock."""
    base = sc[K.S_BASE]
    bb = base + sc[K.S_BEST_BID] if sc[K.S_BEST_BID] >= 0 else -1
    ba = base + sc[K.S_BEST_ASK] if sc[K.S_BEST_ASK] < sc[K.S_N_LEVELS] else -1
    bid_moved = bb != fs.best_bid_ticks
    if bid_moved != (ba != fs.best_ask_ticks):
        if kind < 0:
            if bid_moved:
                better = bb != -1 and bb > fs.best_bid_ticks
            else:
                better = ba != -1 and (fs.best_ask_ticks == -1 or ba < fs.best_ask_ticks)
            kind = 0 if better else (2 if sc[K.S_TRADED_VOLUME] != fs.traded_shares else 1)
        fs.chg_side = 1 if bid_moved else -1
        fs.chg_kind = kind
        fs.chg_t_s = fs.t_s
    fs.best_bid_ticks = bb
    fs.best_ask_ticks = ba
    fs.traded_shares = sc[K.S_TRADED_VOLUME]


@njit(**HOT_INLINE)
def _follow_side(rs, fp, fs, sc, direction, price):
    """Quotes that follow the last change (module docstring): ``(side, price)`` of a new
    limit order at ``price``; moved to the other side, keeping its improvement, if the draw
    says so. Nothing is drawn for an order that is not strictly inside the spread or before
    any change."""
    rel = price - sc[K.S_BASE]
    if fs.chg_side == 0 or _spread_ticks(sc) < 2 or not (sc[K.S_BEST_BID] < rel < sc[K.S_BEST_ASK]):
        return direction, price
    j = _bucket(fp, P_FOLLOW_GAP0, np.int64(fp[P_FOLLOW_N]), fs.t_s - fs.chg_t_s)
    side = fs.chg_side if R.uniform(rs) < fp[P_FOLLOW_P0 + fs.chg_kind * MAX_FOLLOW_GAPS + j] else -fs.chg_side
    if side == direction:
        return direction, price
    if direction > 0:  # k = rel - best bid ticks better than the bid: as far below the ask
        return side, sc[K.S_BASE] + sc[K.S_BEST_ASK] - (rel - sc[K.S_BEST_BID])
    return side, sc[K.S_BASE] + sc[K.S_BEST_BID] + (sc[K.S_BEST_ASK] - rel)


@njit(**HOT)
def _plan_revision(rs, fp, fs, sc, orders, slot):
    """A revision proposal for the order in ``slot`` (proposed at the larger rate): accepted
    at ``revise_best_per_s`` while at its side's best, ``revise_deep_per_s`` behind it. If
    accepted, note its re-post in ``fs.rev_*`` (same side and size, ``k`` ticks more
    aggressive) and return True."""
    side = orders[slot].side
    price = orders[slot].price_ticks
    if side > 0:
        at_best = sc[K.S_BEST_BID] >= 0 and price == sc[K.S_BASE] + sc[K.S_BEST_BID]
    else:
        at_best = sc[K.S_BEST_ASK] < sc[K.S_N_LEVELS] and price == sc[K.S_BASE] + sc[K.S_BEST_ASK]
    if R.uniform(rs) * fp[P_REV_MAX] >= (fp[P_REV_BEST] if at_best else fp[P_REV_DEEP]):
        return False
    cum = P_REV_CUM_BEST if at_best else P_REV_CUM_DEEP
    v = R.uniform(rs)
    i = 0
    while i < 2 * MAX_REVISE_TICKS and fp[cum + i] <= v:
        i += 1
    fs.rev_size = orders[slot].size_shares
    fs.rev_side = side
    fs.rev_price = price + side * (i - MAX_REVISE_TICKS)
    fs.rev_t_s = fs.t_s + R.exponential(rs) * fp[P_REV_DELAY] if fp[P_REV_DELAY] > 0.0 else fs.t_s
    return True


@njit(**HOT)
def _revised_price(sc, side, price, n_k):
    """A re-post's price (ticks): at most one tick inside the spread and at most ``n_k`` ticks
    (the flow's farthest placement) from the opposite best, so that repeated revisions do not
    walk orders away from the book; at least one tick."""
    if side > 0 and sc[K.S_BEST_ASK] < sc[K.S_N_LEVELS]:
        ask = sc[K.S_BASE] + sc[K.S_BEST_ASK]
        price = max(min(price, ask - 1), ask - n_k)
    elif side < 0 and sc[K.S_BEST_BID] >= 0:
        bid = sc[K.S_BASE] + sc[K.S_BEST_BID]
        price = min(max(price, bid + 1), bid + n_k)
    return max(price, 1)


@njit(**HOT_INLINE)
def _spread_factor(fp, sc):
    """The market orders' intensity multiplier at the book's spread (1 with a side empty)."""
    s = _spread_ticks(sc)
    return 1.0 if s == 0 else fp[P_MO_SPREAD_F0 + _spread_bucket(fp, P_MO_SPREAD_LUT0, P_MO_SPREAD_EDGE0,
                                                                 np.int64(fp[P_MO_SPREAD_N]), s)]


#: the longest run of trade signs (orders): caps the Pareto draw
MAX_RUN = 1 << 20


@njit(**HOT)
def _run_sign(rs, fp, fs, direction):
    """A market order's sign under the long memory of trade signs (module docstring):
    the current run's with probability ``p`` (a new run when it is over), else ``direction``."""
    if R.uniform(rs) >= fp[P_RUN_SHARE]:
        return direction
    if fs.run_left <= 0:
        fs.run_sign = 1 if R.uniform(rs) < 0.5 else -1
        length = math.floor((1.0 - R.uniform(rs)) ** (-1.0 / fp[P_RUN_ALPHA]))  # Pareto, P(L >= l) = l^-alpha
        fs.run_left = np.int64(min(length, MAX_RUN))
    fs.run_left -= 1
    return fs.run_sign


#: which intensity proposed the next event: the others (thinned) or the market orders'
#: excitation (drawn exactly)
SRC_BASE, SRC_MARKET = 0, 1


@njit(**HOT_INLINE)
def _decaying_wait(rs, rate_per_s, beta_per_s):
    """The wait (s) to the first point of a Poisson process of intensity
    ``rate_per_s * exp(-beta_per_s * s)``: ``inf`` when there is none (its total mass
    ``rate / beta`` is finite). Inverts the compensator exactly (Dassios and Zhao 2013,
    "Exact simulation of Hawkes process with exponentially decaying intensity",
    Electron. Commun. Probab. 18), so an excitation that decays in milliseconds costs one
    draw, not the many rejected proposals a thinning bound would take."""
    x = R.exponential(rs) * beta_per_s / rate_per_s
    if x >= 1.0:
        return math.inf
    return -math.log1p(-x) / beta_per_s


@njit(**HOT_INLINE)
def _live_entry(oid, slot):
    """The live-list entry of background order ``oid`` resting in ``slot``."""
    return oid | (slot << LIVE_SLOT_SHIFT)


@njit(**HOT_INLINE)
def _live_order(orders, entry):
    """``(id, slot)`` of a live-list entry's order; the slot -1 if it no longer rests (a
    stale entry: filled or cancelled since; slots are reused, ids are not)."""
    oid = entry & LIVE_ID_MASK
    slot = entry >> LIVE_SLOT_SHIFT
    return oid, (slot if orders[slot].id == oid else -1)


@njit(**HOT_INLINE)
def _drop_live(fs, live, oid):
    """Remove order ``oid``'s entry from the live list (searched from the newest end, where
    an order withdrawn within milliseconds of its submission is; nothing if absent)."""
    for j in range(fs.n_live - 1, -1, -1):
        if live[j] & LIVE_ID_MASK == oid:
            fs.n_live -= 1
            live[j] = live[fs.n_live]
            return


def live_width(fp: np.ndarray, n: int) -> int:
    """The length of a live array (:func:`run_flow`'s ``live``) whose live list holds ``n``
    entries: ``n``, or with the split of the cancellation by size (``fp[P_CSZ_SPLIT]``) four
    sections of ``n``: the live list, the top list, and by order slot (so ``n`` at least the
    book's order records) each order's position in the live list and in the top list."""
    return 4 * n if fp[P_CSZ_SPLIT] == 1.0 else n


def grown_live(fp: np.ndarray, live: np.ndarray, n_orders: int) -> np.ndarray:
    """``live`` (a live array for ``fp``, :func:`live_width`) with room for twice its entries,
    or more, to name ``n_orders`` order records with the split; its contents in place."""
    if fp[P_CSZ_SPLIT] != 1.0:
        return np.concatenate([live, np.zeros_like(live)])
    cap = live.shape[0] // 4
    new_cap = 2 * cap
    while new_cap < n_orders:
        new_cap *= 2
    out = np.zeros(4 * new_cap, dtype=live.dtype)
    for k in range(4):
        out[k * new_cap:k * new_cap + cap] = live[k * cap:(k + 1) * cap]
    return out


@njit(**HOT_INLINE)
def _drop_at(fs, live, cap, split, j):
    """Remove the live list's entry ``j`` (the last moves into its place; with the split its
    position by slot follows it, if that names it: a stale entry's slot may name a newer order's)."""
    n = fs.n_live - 1
    fs.n_live = n
    last = live[n]
    live[j] = last
    if split:
        k = 2 * cap + (last >> LIVE_SLOT_SHIFT)
        if live[k] == n:
            live[k] = j


@njit(**HOT_INLINE)
def _drop_top_at(fs, live, cap, i):
    """Remove the top list's entry ``i`` (the split; as :func:`_drop_at`)."""
    n = fs.n_top - 1
    fs.n_top = n
    last = live[cap + n]
    live[cap + i] = last
    k = 3 * cap + (last >> LIVE_SLOT_SHIFT)
    if live[k] == n:
        live[k] = i


@njit(**HOT_INLINE)
def _list_order(fp, fs, live, cap, split, orders, oid, slot):
    """Enter background order ``oid``, just rested in ``slot``, in the live list (with the
    split, its position by slot, and the top list if its group's factor is the largest)."""
    entry = _live_entry(oid, slot)
    live[fs.n_live] = entry
    if split:
        live[2 * cap + slot] = fs.n_live
        if _group_factor(fp, orders, slot) > fp[P_CSZ_ACC]:
            _list_top(fs, live, cap, entry, slot)
    fs.n_live += 1


@njit(**HOT_INLINE)
def _list_top(fs, live, cap, entry, slot):
    """With the split: append ``entry`` (its order in ``slot``) to the top list, with its
    position by slot (room for it is the caller's to check)."""
    live[cap + fs.n_top] = entry
    live[3 * cap + slot] = fs.n_top
    fs.n_top += 1


@njit(**HOT_INLINE)
def _unlist_live(fs, live, cap, oid, slot):
    """With the split: remove order ``oid`` (in ``slot``) from the live list, found by its
    position (nothing if the position does not name it: it was dropped already)."""
    j = live[2 * cap + slot]
    if j < fs.n_live and live[j] == _live_entry(oid, slot):
        _drop_at(fs, live, cap, True, j)


@njit(**HOT_INLINE)
def _unlist_top(fs, live, cap, oid, slot):
    """With the split: remove order ``oid`` (in ``slot``) from the top list, if it is there."""
    i = live[3 * cap + slot]
    if i < fs.n_top and live[cap + i] == _live_entry(oid, slot):
        _drop_top_at(fs, live, cap, i)


@njit(**HOT_FORCE)
def _unlist(fs, live, cap, oid, slot):
    """With the split: remove order ``oid`` (in ``slot``, being cancelled) from both lists."""
    _unlist_live(fs, live, cap, oid, slot)
    _unlist_top(fs, live, cap, oid, slot)


@njit(**HOT)
def regroup(fp, fs, live, orders, oid, slot):
    """With the split: background order ``oid`` in ``slot`` was partly filled; enter it in the
    top list if its remaining shares' group has the largest factor now, or remove it if it
    no longer has (its cancellation rate is its group's by its remaining shares). False if
    the top list is full (nothing changed: grow ``live``, :func:`grown_live`, and call again)."""
    cap = live.shape[0] >> 2
    if slot >= cap:
        return False  # the positions by slot do not reach it yet
    entry = _live_entry(oid, slot)
    i = live[3 * cap + slot]
    listed = i < fs.n_top and live[cap + i] == entry
    top = _group_factor(fp, orders, slot) > fp[P_CSZ_ACC]
    if top and not listed:
        if fs.n_top >= cap:
            return False
        _list_top(fs, live, cap, entry, slot)
    elif listed and not top:
        _drop_top_at(fs, live, cap, i)
    return True


@njit(**HOT)
def regroup_resting(fp, fs, live, sc, lvl, orders, fills, n0, n1):
    """With the split: after an event whose fills are ``fills[n0:n1]``, :func:`regroup` the
    background order its last fill left partly filled (the only one it can have); False as
    :func:`regroup`. That order, if its last fill left it resting, heads the queue it was
    taken from (fills take a queue from its head): no id lookup."""
    if n1 <= n0 or fp[P_CSZ_SPLIT] != 1.0:
        return True
    f = n1 - 1
    oid = fills[f, K.F_REST_ID]
    if oid <= 0 or fills[f, K.F_REST_OWNER] != 0:
        return True  # a hidden execution, or the agent's order
    li = fills[f, K.F_PRICE] - sc[K.S_BASE]
    slot = lvl[0 if fills[f, K.F_AGG_SIDE] < 0 else 1, li].head
    if slot == -1 or orders[slot].id != oid:
        return True  # filled whole
    return regroup(fp, fs, live, orders, oid, slot)


@njit(cache=True)
def regroup_resting_flat(fp, state, live, sc, lvl, orders, fills):
    """:func:`regroup_resting` on ``state[0]`` after the fills ``fills`` (raw rows), for
    Python callers."""
    return regroup_resting(fp, state[0], live, sc, lvl, orders, fills, 0, fills.shape[0])


@njit(**HOT_INLINE)
def _behind(sc, side, price):
    """Ticks from a price to its side's best (negative: better than it)."""
    if side > 0:
        return sc[K.S_BASE] + sc[K.S_BEST_BID] - price
    return price - (sc[K.S_BASE] + sc[K.S_BEST_ASK])


@njit(**HOT_FORCE)
def _scan_levels(fs, sc, lvl, r, start, found, n):
    """Row ``r``'s occupied levels (0 the bids, 1 the asks) from level index ``start`` outward
    until ``n`` are found, counted from ``found`` (those before ``start``); listed in
    ``fs.view_lv[r]`` from entry ``found`` when ``n <= MAX_VIEW_LEVELS``. Returns the levels
    found, the orders resting in the new ones and the index of the last one (``start`` if none)."""
    listed = n <= MAX_VIEW_LEVELS
    total = 0
    last = start
    if r == 0:
        for i in range(start, -1, -1):
            c = lvl[0, i].count
            if c > 0:
                if listed:
                    fs.view_lv[0, found] = i
                total += c
                last = i
                found += 1
                if found == n:
                    break
    else:
        for i in range(start, sc[K.S_N_LEVELS]):
            c = lvl[1, i].count
            if c > 0:
                if listed:
                    fs.view_lv[1, found] = i
                total += c
                last = i
                found += 1
                if found == n:
                    break
    return found, total, last


@njit(**HOT_INLINE)
def _set_reach(fs, sc, r, last, found, n):
    """Row ``r``'s reach in the view: the ticks from its best to its ``n``-th occupied level
    (level index ``last``, the ``found``-th), a large number when it has fewer (``found < n``)
    or when that level lies ``MAX_REACH_TICKS`` or more behind (the prices within them are
    those a LOBSTER file of ``n`` levels records)."""
    d = sc[K.S_BEST_BID] - last if r == 0 else last - sc[K.S_BEST_ASK]
    fs.view_reach[r] = d if found == n and d < MAX_REACH_TICKS else np.int64(NO_REACH)


@njit(**HOT_FORCE)
def _read_top(fs, sc, lvl, r, n):
    """Read row ``r``'s top ``n`` occupied levels off the book into the view: their list
    (:func:`_scan_levels`; unlisted beyond MAX_VIEW_LEVELS), the orders resting in them and
    the reach (:func:`_set_reach`)."""
    found, total, last = _scan_levels(fs, sc, lvl, r, sc[K.S_BEST_BID] if r == 0 else sc[K.S_BEST_ASK], 0, n)
    fs.view_top[r] = total
    fs.view_nlv[r] = found if n <= MAX_VIEW_LEVELS else -1
    _set_reach(fs, sc, r, last, found, n)


@njit(**HOT_INLINE)
def _forget_side(fs, r):
    """Mark row ``r``'s entries of the view of the book (``view_*``; 0 bids, 1 asks) to be read again."""
    fs.view_reach[r] = -1
    fs.view_top[r] = -1
    fs.view_near[r] = -1
    fs.view_nlv[r] = -1


@njit(**HOT_INLINE)
def _forget_view(fs):
    """Mark every entry of the state's view of the book (``view_*``) to be read again."""
    _forget_side(fs, 0)
    _forget_side(fs, 1)


@njit(**HOT_FORCE)
def _view_top(fs, sc, lvl, side, n_levels):
    """The row of a side in the view (0 bids, 1 asks), its reach and top orders read
    (:func:`_read_top`) if they were forgotten."""
    r = 0 if side > 0 else 1
    if fs.view_reach[r] < 0:
        _read_top(fs, sc, lvl, r, np.int64(n_levels))
    return r


@njit(**HOT_INLINE)
def _compact_levels(fs, sc, lvl, r, n):
    """Row ``r``'s listed levels after orders left them (a trade, a cancellation): the levels
    still occupied keep their order, the list is filled up from beyond its old last level
    when it was full (else it held every level of its side), and the top orders and the
    reach are counted again from the list."""
    k = fs.view_nlv[r]
    old_last = fs.view_lv[r, k - 1] if k > 0 else 0
    found = 0
    total = 0
    for i in range(k):
        lv = fs.view_lv[r, i]
        c = lvl[r, lv].count
        if c > 0:
            fs.view_lv[r, found] = lv
            found += 1
            total += c
    if k == n and found < n:
        found, more, _ = _scan_levels(fs, sc, lvl, r, old_last - 1 if r == 0 else old_last + 1, found, n)
        total += more
    fs.view_nlv[r] = found
    fs.view_top[r] = total
    _set_reach(fs, sc, r, fs.view_lv[r, found - 1] if found > 0 else 0, found, n)


@njit(**HOT_INLINE)
def _insert_level(fs, sc, lvl, r, n, lv):
    """Row ``r``'s listed levels after a submission opened level ``lv``: listed in its place
    if it is among the top ``n`` (the last listed one leaves a full list, with its orders)."""
    k = fs.view_nlv[r]
    p = k
    for i in range(k):
        if (lv > fs.view_lv[r, i]) if r == 0 else (lv < fs.view_lv[r, i]):
            p = i
            break
    if p == n:
        return  # beyond the top n
    if k == n:
        fs.view_top[r] -= lvl[r, fs.view_lv[r, n - 1]].count
        k -= 1
    for i in range(k, p, -1):
        fs.view_lv[r, i] = fs.view_lv[r, i - 1]
    fs.view_lv[r, p] = lv
    fs.view_nlv[r] = k + 1
    fs.view_top[r] += 1
    _set_reach(fs, sc, r, fs.view_lv[r, k], k + 1, n)


@njit(**HOT_FORCE)
def _note_event(fs, fp, sc, lvl, side, price, delta, moved, taken):
    """Keep the view of the book (``view_*``) after an event. ``moved`` and ``taken`` (a row
    per side, 0 the bids): the event moved that side's best; it traded against that side's
    orders. An order added (``delta`` +1) or removed (-1) at ``price`` on ``side``
    (``delta`` 0: no resting order touched; ``side`` 0 with a ``delta``: an order it could
    not place, and the whole view is forgotten).

    The listed levels (``cluster_levels`` at most MAX_VIEW_LEVELS) follow every event: a
    level opened among them is inserted (:func:`_insert_level`), one emptied or a trade
    compacts them (:func:`_compact_levels`), else the top orders count the order. Unlisted,
    a side's reach and top orders are forgotten when its best moves, a trade takes from it
    or a level within its reach opens or empties. The near orders are forgotten when their
    side's best moves or a trade takes from it, else count an order within the near ticks."""
    if side == 0 and delta != 0:
        _forget_view(fs)
        return
    n = np.int64(fp[P_CL_LEVELS])
    listed = n <= MAX_VIEW_LEVELS
    for r in range(2):
        if moved[r] or taken[r]:
            fs.view_near[r] = -1
        if taken[r] and fs.view_reach[r] >= 0:
            if listed:
                _compact_levels(fs, sc, lvl, r, n)
            else:
                _forget_side(fs, r)
        elif moved[r] and not listed:
            _forget_side(fs, r)
    if delta == 0:
        return
    r = 0 if side > 0 else 1
    if taken[r]:
        return  # read again above
    lv = price - sc[K.S_BASE]
    c = lvl[r, lv].count
    if fs.view_reach[r] >= 0:
        if listed:
            k = fs.view_nlv[r]
            last = fs.view_lv[r, k - 1] if k > 0 else lv
            within = (lv >= last) if r == 0 else (lv <= last)  # at or better than the last listed level
            if delta > 0 and c == 1:
                _insert_level(fs, sc, lvl, r, n, lv)
            elif delta < 0 and c == 0:
                if within:
                    _compact_levels(fs, sc, lvl, r, n)
            elif within:  # a listed level that stays occupied (the bests stay)
                fs.view_top[r] += delta
        elif fs.view_reach[r] == np.int64(NO_REACH):
            # no reach (fewer than n levels, or the n-th MAX_REACH_TICKS or more behind: which
            # of them, and so whether the order counts, is not kept): read again
            _forget_side(fs, r)
        elif _behind(sc, side, price) <= fs.view_reach[r]:
            if c > (1 if delta > 0 else 0):
                fs.view_top[r] += delta
            else:  # a level opened or emptied within the reach: another level is the last
                _forget_side(fs, r)
    if fs.view_near[r] >= 0 and _behind(sc, side, price) <= fp[P_CSZ_BEHIND]:
        fs.view_near[r] += delta


@njit(**HOT_INLINE)
def _far(fs, sc, lvl, side, price, n_levels):
    """Whether a price lies beyond the clustering's reach, the top ``n_levels`` occupied levels
    of its side (read through the view). A price fewer than ``n_levels`` ticks behind the best
    is within them without a scan: the levels sit on distinct ticks, so the ``n``-th is at
    least ``n - 1`` behind."""
    behind = _behind(sc, side, price)
    if behind < n_levels:
        return False
    return behind > fs.view_reach[_view_top(fs, sc, lvl, side, n_levels)]


@njit(**HOT_FORCE)
def _near_profile_price(rs, fp, fs, sc, lvl, cum_w, t, direction, price):
    """An excited submission's price from the depth profile within the clustering's reach
    (the top ``fp[P_CL_LEVELS]`` levels of its side): ``price`` (the profile's first draw) if it
    is there, else the profile truncated at the reach (opposite-best anchor, unscaled, both
    sides quoted: one more draw) or the outcome of drawing again until a draw is there, at
    most 15 more times (drawn at once, with that law)."""
    reach = fs.view_reach[_view_top(fs, sc, lvl, direction, fp[P_CL_LEVELS])]
    if _behind(sc, direction, price) <= reach:
        return price
    bb = sc[K.S_BEST_BID]
    ba = sc[K.S_BEST_ASK]
    if fp[P_ANCHOR_REF] == 0.0 and fp[P_SCALE_ON] == 0.0 and bb >= 0 and ba < sc[K.S_N_LEVELS]:
        # distance d from the opposite best lies within the reach when d <= spread + reach
        w_side = cum_w[0] if direction > 0 else cum_w[1]
        d_max = min(ba - bb + reach, w_side.shape[0])
        v = R.uniform(rs) * w_side[d_max - 1]
        dist = min(_search_left(w_side, v), d_max - 1) + 1
        return sc[K.S_BASE] + ba - dist if direction > 0 else sc[K.S_BASE] + bb + dist
    # Else the profile again, until a draw lies within the reach, at most 15 more draws: the
    # last one is kept if none does. Nothing changes between the draws and the prices within
    # the reach are those of the distances up to some d_in (the price moves away from the
    # spread as the distance grows), of probability p = cum_w[row, d_in - 1]. So the outcome
    # is drawn at once, with the same law: beyond the reach (the profile there) with
    # probability (1 - p)^15, else within it (the profile there). On the GOOG presets p is a
    # few percent and the draws were 0.6 per event, 8% of the flow's time
    row = 0 if direction > 0 else 1
    lo = 0  # the largest distance known within the reach (0: none)
    hi = cum_w.shape[1]  # and the largest it may be (bisection)
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if _behind(sc, direction, _placed_price(fp, fs, sc, t, direction, mid)) <= reach:
            lo = mid
        else:
            hi = mid - 1
    p = cum_w[row, lo - 1] if lo > 0 else 0.0
    if p <= 0.0 or R.uniform(rs) < (1.0 - p) ** 15:
        v = p + (1.0 - p) * R.uniform(rs)  # beyond the reach
    else:
        v = p * R.uniform(rs)  # within it
    return _profile_price_at(fp, fs, sc, cum_w, t, direction, v)


@njit(**HOT_INLINE)
def _kth_order(sc, lvl, orders, side, k):
    """The slot of the ``k``-th order (from 0) counted from a side's best, queue by queue in
    time priority."""
    row = 0 if side > 0 else 1
    i = sc[K.S_BEST_BID] if side > 0 else sc[K.S_BEST_ASK]
    step = -1 if side > 0 else 1
    while True:
        c = lvl[row, i].count
        if k < c:  # walked from the nearer end of the queue
            if 2 * k < c:
                slot = lvl[row, i].head
                for _ in range(k):
                    slot = orders[slot].next
            else:
                slot = lvl[row, i].tail
                for _ in range(c - 1 - k):
                    slot = orders[slot].prev
            return slot
        k -= c
        i += step


@njit(**HOT_INLINE)
def _cancel_size_factor(fp, sc, orders, slot):
    """The live list's cancellation-rate factor for the resting order in ``slot``: its size
    group's (FlowConfig.cancel_size_factors, by its remaining shares); in one stream
    (``fp[P_CSZ_FMIN] == 0``), the near orders' (``fp[P_CSZ_NEAR]``) within
    ``fp[P_CSZ_BEHIND]`` ticks of its side's best."""
    if fp[P_CSZ_FMIN] == 0.0 and _behind(sc, orders[slot].side, orders[slot].price_ticks) <= fp[P_CSZ_BEHIND]:
        return fp[P_CSZ_NEAR]
    return _group_factor(fp, orders, slot)


@njit(**HOT_INLINE)
def _group_factor(fp, orders, slot):
    """The cancellation-by-size factor of the size group of the resting order in ``slot`` (by
    its remaining shares; FlowConfig.cancel_size_factors)."""
    size = orders[slot].size_shares
    if fp[P_CSZ_TAB_ON] == 1.0:
        return fp[P_CSZ_TAB0 + min(size, CSZ_TABLE - 1)]
    return fp[P_CSZ_F0 + _bucket(fp, P_CSZ_EDGE0, np.int64(fp[P_CSZ_N]), size)]


@njit(**HOT_INLINE)
def _near_counts(fp, sc, lvl):
    """Orders (the agent's too) resting within ``fp[P_CSZ_BEHIND]`` ticks of the best bid and
    of the best ask: the near stream's candidates."""
    behind = np.int64(fp[P_CSZ_BEHIND])
    n_bid = 0
    n_ask = 0
    bb = sc[K.S_BEST_BID]
    if bb >= 0:
        for i in range(bb, max(bb - behind - 1, -1), -1):
            n_bid += lvl[0, i].count
    ba = sc[K.S_BEST_ASK]
    for i in range(ba, min(ba + behind + 1, sc[K.S_N_LEVELS])):
        n_ask += lvl[1, i].count
    return n_bid, n_ask


@njit(**HOT_INLINE)
def _near_stream_slot(rs, fp, sc, lvl, orders, n_bid, n_ask):
    """The near stream's cancellation (``n_bid + n_ask > 0`` candidates, :func:`_near_counts`):
    a uniformly chosen one, accepted if it is the flow's, at its share of the stream's factor
    (the near factor less its group's, over the near factor less the smallest group's);
    its slot, or -1 (a rejected proposal)."""
    k = R.uniform_below(rs, n_bid + n_ask)
    slot = _kth_order(sc, lvl, orders, 1, k) if k < n_bid else _kth_order(sc, lvl, orders, -1, k - n_bid)
    if orders[slot].owner != 0:
        return -1
    f = _group_factor(fp, orders, slot)
    spread = fp[P_CSZ_NEAR] - fp[P_CSZ_FMIN]
    if f > fp[P_CSZ_FMIN] and R.uniform(rs) * spread >= fp[P_CSZ_NEAR] - f:
        return -1
    return slot


@njit(**HOT_FORCE)
def _near_order(rs, fp, fs, sc, lvl, orders):
    """An excited cancellation's order: uniformly chosen among the orders resting in the top
    ``fp[P_CL_LEVELS]`` levels of both sides (read through the view; the agent's are drawn
    again, at most 4 draws); its slot, -1 if none is the flow's. Its live entry stays, stale,
    until a draw drops it."""
    n = np.int64(fp[P_CL_LEVELS])
    n_bid = fs.view_top[_view_top(fs, sc, lvl, 1, n)]
    total = n_bid + fs.view_top[_view_top(fs, sc, lvl, -1, n)]
    if total == 0:
        return -1
    for _ in range(4):
        k = R.uniform_below(rs, total)
        slot = _kth_order(sc, lvl, orders, 1, k) if k < n_bid else _kth_order(sc, lvl, orders, -1, k - n_bid)
        if orders[slot].owner == 0:
            return slot
    return -1


@njit(**HOT_INLINE)
def _spawn(rs, fp, fs):
    """An exciting event at the clock: its offspring under the clustering's branching
    structure (module docstring), Poisson with mean the branching ratio ``n =
    fp[P_CL_NBRANCH]`` (by inversion of its distribution function at ``fp[P_CL_POIS0:]``, at
    most MAX_OFFSPRING), each from kernel ``k`` with probability ``(alpha_k / beta_k) / n``
    (from the partial sums ``fp[P_CL_SHARE0]``, ``fp[P_CL_SHARE01]``): each adds one to the
    kernel's pending offspring."""
    u = R.uniform(rs)
    count = 0
    while u > fp[P_CL_POIS0 + count] and count < MAX_OFFSPRING:  # n < 1: one or two steps
        count += 1
    for _ in range(count):
        v = R.uniform(rs) * fp[P_CL_NBRANCH]
        if v < fp[P_CL_SHARE0] or fp[P_CLUSTER_A0 + 3] == 0.0:
            fs.pend_c0 += 1
        elif v < fp[P_CL_SHARE01] or fp[P_CLUSTER_A0 + 5] == 0.0:
            fs.pend_c1 += 1
        else:
            fs.pend_c2 += 1


@njit(**HOT_INLINE)
def _excitation(fp, fs):
    """The clustering's excitation ``E = sum_k beta_k * pending_k`` (1/s): constant between events."""
    return (fp[P_CLUSTER_A0 + 1] * fs.pend_c0 + fp[P_CLUSTER_A0 + 3] * fs.pend_c1
            + fp[P_CLUSTER_A0 + 5] * fs.pend_c2)


@njit(**HOT)
def apply_impact(fs, fp, signed_volume):
    """Move the centre for ``signed_volume`` shares of aggressive volume (+ buy)."""
    if fp[P_PROP_ON] == 1.0:
        dt = fs.t_s - fs.trans_t_s
        for k in range(MAX_PROPAGATOR_KERNELS):
            w = fp[P_PROP_W0 + 2 * k]
            p = fs.prop_ticks[k]
            if p != 0.0:
                p *= math.exp(-fp[P_PROP_W0 + 2 * k + 1] * dt)
            fs.prop_ticks[k] = p + w * signed_volume
        x = fs.trans_ticks
        fs.trans_ticks = (x * math.exp(-fp[P_RHO] * dt) if x != 0.0 else 0.0) + fp[P_KAPPA] * signed_volume
    else:
        fs.trans_ticks = transient(fp, fs) + fp[P_KAPPA] * signed_volume
    fs.trans_t_s = fs.t_s
    fs.cen_ok = False  # the centre's Taylor coefficients (_centre_taylor) are for the impact before
    fs.fund_ticks += fp[P_GAMMA] * signed_volume
    fs.signed_vol_shares += signed_volume


@njit(**HOT_DISJOINT)
def run_flow(rngs, flow, book, evbuf, t_end):
    """Generate and apply background events until ``t_end`` (s); return a book status.

    Grouped arguments: ``rngs = (rs, rd)``, xoshiro256** states
    (:mod:`execgym.envs.market.simulation.rng`) of the event stream and of the fundamental's
    diffusion, which is applied at the multiples of ``fp[P_DIFF_STEP]`` from a stream of its
    own, so that it does not depend on the order flow; ``flow = (fp, cum_w, sizes, fs, live)``,
    the flow's parameters and tables (:func:`flow_params`), its state (a :data:`FLOW_STATE_DTYPE` record) and its live list
    (:func:`_live_entry`: the background orders' ids with their slots, some stale);
    ``book = (sc, lvl, orders, htab, fills, log)``, the book's kernel arrays
    (:class:`~execgym.envs.market.simulation.book.BookArrays`).

    A non-OK status leaves the event that needs it in ``evbuf`` with ``fs.pending`` set;
    call again after the caller has made room, and it is applied first.

    The arrays must not overlap where the flow writes (each its own array, or its own row
    of a stacked one): the kernel is compiled on that promise
    (:class:`~execgym.envs.market.simulation._jit.DisjointArgsCompiler`), as are
    :func:`run_flow_flat` and :func:`open_interval`.
    """
    rs, rd = rngs
    fp, cum_w, sizes, fs, live = flow
    sc, lvl, orders, htab, fills, log = book
    lot = sc[K.S_LOT]
    n_k = cum_w.shape[1]
    theta = fp[P_THETA]
    log_q_limit = _log_q(fp, P_P_LIMIT)
    log_q_market = _log_q(fp, P_P_MARKET)
    # the intraday factor lies in [tod_lo, tod_hi] until t_end. The proposals' rate uses
    # tod_hi (not the day's maximum), so few proposals are rejected; a proposal past t_end
    # is discarded (memoryless) and the next window draws afresh. The bounds are those of
    # the window from the clock at the first call ending at t_end: a re-entry after a
    # non-OK status reuses them, so the random stream depends only on the windows' ends,
    # not on where the caller had to make room (the single and vector envs agree).
    # Most proposals fall clearly on one side of the limit/cancellation boundaries
    # [lam_lo, lam_hi] and need no intraday factor; the others take the exact path, so
    # every decision is the one the exact rate gives
    if fs.win_end_s != t_end:
        fs.win_lo, fs.win_hi = _tod_bounds(fp, fs.t_s, t_end)
        fs.win_end_s = t_end
    tod_lo = fs.win_lo
    tod_hi = fs.win_hi
    lam_lo = fp[P_LAM_TOTAL] * tod_lo
    lam_hi = fp[P_LAM_TOTAL] * tod_hi
    follow = fp[P_FOLLOW_N] > 0.0
    if follow and not fs.pending:
        _note_change(fs, sc, -1)  # what changed the bests since the last call (the agent)
    _forget_view(fs)  # the agent may have changed the book since the last call
    # the flows that read the view (the clustering's reach, the near stream) keep it after each event
    uses_view = fp[P_CL_LEVELS] > 0.0 or fp[P_CSZ_NEAR_RATE] > 0.0
    # the proposals' rate of submissions, market orders and hidden executions before the random
    # clock's factor, once per call: the same operations in the same order as when it was
    # written out per proposal (the same bits), off every proposal's critical path (the
    # compiler cannot hoist fp's loads past the loop's stores; 2-3% of the realistic flows'
    # time, benchmarks/bench_market_models.py)
    rate_hi = (fp[P_LAM_TOTAL] + 2.0 * fp[P_MU] * fp[P_MO_SPREAD_MAX] + fp[P_HIDDEN_RATE]) * tod_hi
    rev_max = fp[P_REV_MAX]
    # the split of the cancellation by size: live holds four sections (live_width)
    split = fp[P_CSZ_SPLIT] == 1.0
    cap = live.shape[0] >> 2 if split else live.shape[0]
    if split and cap < orders.shape[0]:
        return LIVE_FULL  # the positions by slot must name every order record: grown_live
    while True:
        if not fs.pending and fs.rev_size > 0 and fs.rev_t_s <= fs.t_s:
            if fs.n_live >= cap or fs.n_top >= cap:
                return LIVE_FULL
            # a revision's re-post, at the cancellation's time (nothing random is drawn)
            _put_event(evbuf, K.EV_LIMIT, fs.next_id, fs.rev_side, _revised_price(sc, fs.rev_side, fs.rev_price, n_k),
                       fs.rev_size, np.int64(fs.t_s * 1e9))
            fs.next_id += 1
            fs.rev_size = 0
            fs.quiet = True
        elif not fs.pending and fs.flick_id > 0 and fs.flick_t_s <= fs.t_s:
            # a flickering quote's withdrawal, if it still rests (nothing random is drawn); its
            # live entry leaves the list now (not as a rejected cancellation proposal later)
            if fs.n_top >= cap:
                return LIVE_FULL  # a take may regroup the order it leaves partly filled
            oid, slot = _live_order(orders, fs.flick_id)
            take = fs.flick_take
            _pop_flicker(fs)
            if take:
                # a quote taken: an opposite market order (of a market order's size; the quote's
                # own took about as many shares but left the touch emptier and the order flow's
                # imbalance narrower), if the quote still rests (its live entry goes stale once
                # filled, as for any other fill)
                if slot == -1:
                    continue
                _put_event(evbuf, K.EV_MARKET, fs.next_id, -orders[slot].side, 0,
                           _market_lots(rs, fp, sizes, sc, lvl, -orders[slot].side, log_q_market) * lot,
                           np.int64(fs.t_s * 1e9))
                fs.next_id += 1
                fs.quiet = True
            else:
                if split:
                    if slot != -1:
                        _unlist(fs, live, cap, oid, slot)
                else:
                    _drop_live(fs, live, oid)
                if slot == -1:
                    continue
                _put_cancel(evbuf, oid, slot, np.int64(fs.t_s * 1e9))
                fs.quiet = True
        elif not fs.pending and fp[P_REFILL] == 1.0 and _spread_ticks(sc) == 0:
            if fs.n_live >= cap or fs.n_top >= cap:
                return LIVE_FULL
            # an empty side: a quote on it at once, from the depth profile (the bid first if both are)
            direction = 1 if sc[K.S_BEST_BID] < 0 else -1
            price = _profile_price(rs, fp, fs, sc, cum_w, fs.t_s, direction)
            price = max(price, 1)
            _put_event(evbuf, K.EV_LIMIT, fs.next_id, direction, price,
                       _size_lots(rs, fp, sizes, _limit_row(fp, sc, direction, price), P_P_LIMIT, P_LIMIT_LOTS,
                                  log_q_limit) * lot, np.int64(fs.t_s * 1e9))
            fs.next_id += 1
            fs.quiet = True
        elif not fs.pending:
            fs.quiet = False
            fs.far = False
            n_live = fs.n_live
            if n_live >= cap or fs.n_top >= cap:
                return LIVE_FULL  # before drawing anything: the caller grows ``live``
            t = fs.t_s
            mu = fp[P_MU]
            excited = False  # one of the clustering's excited events (set below)
            direction = 0  # a market order's side (set where its kind is drawn)
            act = fs.activity  # the random clock's factor (1.0 without): constant until the next grid time
            mo_max = fp[P_MO_SPREAD_MAX]
            # one proposal rate for everything but the market orders' excitation: the base
            # intensities (Poisson up to the intraday factor, the spread's factor and stale
            # live entries: thinned), the clustering's excitation (constant between events:
            # no proposal is rejected for its decay) and the revisions at the top; the market
            # orders' excitation's own points are drawn exactly (_decaying_wait)
            lam_near = 0.0  # the near stream's rate (cancellation by size in two streams)
            if fp[P_CSZ_NEAR_RATE] > 0.0:
                if fs.view_near[0] < 0 or fs.view_near[1] < 0:
                    fs.view_near[0], fs.view_near[1] = _near_counts(fp, sc, lvl)
                lam_near = fp[P_CSZ_NEAR_RATE] * (fs.view_near[0] + fs.view_near[1]) * act
            lam_top = fp[P_CSZ_TOP_RATE] * fs.n_top * act if split else 0.0  # the top list's (the split)
            lam_cancel = theta * n_live * act + lam_near + lam_top
            base = rate_hi * act + lam_cancel
            exc = _excitation(fp, fs) if fp[P_CLUSTER_ON] == 1.0 else 0.0
            rev_total = rev_max * n_live * act  # revision proposals (0 without)
            bound = base + exc + rev_total
            if fs.mo_next_s < 0.0:
                # the market orders' excitation jumped (or its last point was used): its next
                # point, drawn once from the excitation now; it stays valid while the
                # excitation only decays, whatever else happens meanwhile
                _excitation_now(fp, fs)
                exc_mo = fs.exc_buy_per_s + fs.exc_sell_per_s
                fs.mo_next_s = t + _decaying_wait(rs, exc_mo * mo_max, fp[P_BETA]) if exc_mo > 0.0 else math.inf
            if bound <= 0.0 and fs.mo_next_s == math.inf:
                # no flow: only the clock runs (diffusion, random clock)
                _advance_to(rd, fp, fs, t_end)
                return K.OK
            t_next = t + R.exponential(rs) / bound if bound > 0.0 else math.inf
            source = SRC_BASE
            if fs.mo_next_s < t_next:
                t_next, source = fs.mo_next_s, SRC_MARKET
            fs.n_proposals += 1
            due = fs.rev_t_s if fs.rev_size > 0 else math.inf
            if fs.flick_id > 0 and fs.flick_t_s < due:
                due = fs.flick_t_s
            if fp[P_ACT_SIGMA] > 0.0 and t_next > fs.next_grid_s and fs.next_grid_s < min(due, t_end):
                # the activity changes at the grid time, before anything else is due: nothing
                # happened before it (the bound holds only until then); draw afresh
                _advance_to(rd, fp, fs, fs.next_grid_s)
                continue
            if t_next >= due and due <= t_end:
                # a revision's re-post or a flicker's withdrawal comes first: nothing happened
                # before it; apply it
                _advance_to(rd, fp, fs, due)
                continue
            if t_next > t_end:
                # memoryless: nothing happens before t_end; carry the decays and the diffusion
                _advance_to(rd, fp, fs, t_end)
                return K.OK
            t = t_next
            _advance_to(rd, fp, fs, t)
            revising = False
            if source == SRC_MARKET:
                fs.mo_next_s = -1.0  # used (kept or not): the next is drawn from the excitation after it
                _excitation_now(fp, fs)
                # a point of the market orders' excitation (both sides decay alike: the side
                # in proportion to theirs), kept with the spread's factor over its bound (no
                # draw when every factor is 1 or less and this one is 1: factors of one leave
                # the stream unchanged)
                if fp[P_MO_SPREAD_N] > 0.0:
                    g = _spread_factor(fp, sc)
                    if (mo_max != 1.0 or g < 1.0) and R.uniform(rs) * mo_max >= g:
                        continue
                kind = K.EV_MARKET
                direction = 1 if R.uniform(rs) * (fs.exc_buy_per_s + fs.exc_sell_per_s) < fs.exc_buy_per_s else -1
            else:
                u = R.uniform(rs) * bound
                revising = rev_total > 0.0 and u >= base + exc  # the top of the bound: a revision
                if revising:
                    kind = K.EV_CANCEL
                elif u >= base and exc > 0.0:
                    # a pending offspring of the clustering fires (kernel k's at rate beta_k
                    # each): a submission or a cancellation (a rounding past a kernel's share
                    # falls to the next one that has offspring)
                    v = u - base
                    e0 = fp[P_CLUSTER_A0 + 1] * fs.pend_c0
                    if fs.pend_c0 > 0 and (v < e0 or fs.pend_c1 + fs.pend_c2 == 0):
                        fs.pend_c0 -= 1
                    elif fs.pend_c1 > 0 and (v < e0 + fp[P_CLUSTER_A0 + 3] * fs.pend_c1 or fs.pend_c2 == 0):
                        fs.pend_c1 -= 1
                    else:
                        fs.pend_c2 -= 1
                    excited = True
                    if R.uniform(rs) < fp[P_CLUSTER_LIMIT]:
                        kind = K.EV_LIMIT
                    elif n_live > 0:
                        kind = K.EV_CANCEL
                    else:
                        continue  # nothing to cancel
                elif u < lam_lo * act:
                    kind = K.EV_LIMIT
                elif u >= lam_hi * act and u < lam_lo * act + lam_cancel:
                    kind = K.EV_CANCEL
                else:
                    tod = _tod(fp, t) * act
                    lam_lim = fp[P_LAM_TOTAL] * tod
                    lam_side = mu * tod
                    if fp[P_MO_SPREAD_N] > 0.0:
                        lam_side *= _spread_factor(fp, sc)
                    if u < lam_lim:
                        kind = K.EV_LIMIT
                    elif u < lam_lim + lam_cancel:
                        kind = K.EV_CANCEL
                    elif u < lam_lim + lam_cancel + 2.0 * lam_side:
                        kind = K.EV_MARKET
                        direction = 1 if u < lam_lim + lam_cancel + lam_side else -1
                    elif u < lam_lim + lam_cancel + 2.0 * lam_side + fp[P_HIDDEN_RATE] * tod:
                        kind = K.EV_HIDDEN
                    else:
                        continue  # thinning: a rejected proposal
            time_ns = np.int64(t * 1e9)
            if kind == K.EV_LIMIT:
                direction = 1 if R.uniform(rs) < fp[P_P_BUY] else -1
                price = -1
                if fp[P_BEST_FRAC] > 0.0 and (excited or fp[P_BEST_EXCITED] == 0.0) and R.uniform(rs) < fp[P_BEST_FRAC]:
                    price = _best_price(rs, fp, fs, sc, direction, t)
                if price < 0:
                    price = _profile_price(rs, fp, fs, sc, cum_w, t, direction)
                    if excited and fp[P_CL_LEVELS] > 0.0:
                        price = _near_profile_price(rs, fp, fs, sc, lvl, cum_w, t, direction, price)
                if fp[P_IN_N] > 0.0:
                    price = _inside_price(rs, fp, fs, sc, direction, price)
                if excited and fp[P_CL_JOIN] + fp[P_CL_IMPROVE] > 0.0:
                    price = _fleeting_price(rs, fp, sc, direction, price)
                if price < 1:
                    price = 1
                if follow:
                    direction, price = _follow_side(rs, fp, fs, sc, direction, price)
                if fp[P_IN_N] > 0.0:
                    _plan_flicker(rs, fp, fs, sc, direction, price)
                if fp[P_CL_LEVELS] > 0.0:
                    fs.far = _far(fs, sc, lvl, direction, price, fp[P_CL_LEVELS])
                _put_event(evbuf, K.EV_LIMIT, fs.next_id, direction, price,
                           _size_lots(rs, fp, sizes, _limit_row(fp, sc, direction, price), P_P_LIMIT, P_LIMIT_LOTS,
                                      log_q_limit) * lot, time_ns)
                fs.next_id += 1
            elif kind == K.EV_HIDDEN:
                # against a hidden order strictly inside the spread (none at one tick: thinned)
                s_ticks = _spread_ticks(sc)
                if s_ticks < 2:
                    continue
                direction = 1 if R.uniform(rs) < 0.5 else -1
                price = sc[K.S_BASE] + sc[K.S_BEST_BID] + 1 + R.uniform_below(rs, s_ticks - 1)
                _put_event(evbuf, K.EV_HIDDEN, 0, direction, price, _table_lots(rs, sizes, SZ_HIDDEN) * lot, time_ns)
            elif kind == K.EV_CANCEL:
                # a revision cancels a uniformly chosen live order (proposed at the larger rate,
                # accepted at its own); a cancellation takes a uniformly chosen entry of the
                # live list. An entry whose order was filled meanwhile (stale) is dropped and
                # the cancellation rejected: for a base one that is thinning (each resting
                # order is cancelled at exactly theta, drawing again would raise it); an
                # excited one (a point of the clustering) is lost with it, so the realised
                # branching ratio falls with the share of stale entries, unless it draws
                # again (P_CL_REDRAW: until an order rests or the list is empty)
                newest = not revising and excited and fp[P_CL_NEWEST] > 0.0 and R.uniform(rs) < fp[P_CL_NEWEST] and (
                    fs.last_id > 0 and orders[fs.last_slot].id == fs.last_id)
                slot = -1  # the cancelled order's slot (each path below sets it, or draws again)
                near = False  # drawn among the orders within the clustering's reach
                if revising:
                    if fs.rev_size > 0:
                        continue  # one revision at a time (its re-post is pending)
                    j = R.uniform_below(rs, n_live)
                    oid, slot = _live_order(orders, live[j])
                    if slot == -1 or _plan_revision(rs, fp, fs, sc, orders, slot):
                        # filled meanwhile (a stale entry) or revised: it leaves the list
                        _drop_at(fs, live, cap, split, j)
                        if split and slot != -1:
                            _unlist_top(fs, live, cap, oid, slot)
                    if slot == -1 or fs.rev_size == 0:
                        continue
                elif newest:
                    # a fleeting order: the newest background submission, while it rests; its
                    # live entry leaves the list now (not as a rejected proposal later)
                    oid = fs.last_id
                    slot = fs.last_slot
                    fs.last_id = 0
                    if split:
                        _unlist(fs, live, cap, oid, slot)
                    else:
                        _drop_live(fs, live, oid)
                elif excited and fp[P_CL_LEVELS] > 0.0:
                    slot = _near_order(rs, fp, fs, sc, lvl, orders)
                    if slot == -1:
                        continue
                    oid = orders[slot].id
                    near = True
                    if split:
                        _unlist(fs, live, cap, oid, slot)
                else:
                    # the near stream, the top list (the split) or the live list
                    w = R.uniform(rs) * lam_cancel if not excited and lam_near + lam_top > 0.0 else math.inf
                    if w < lam_near:
                        # the near stream: an order resting near its best (its live entry stays,
                        # stale, until a draw drops it; with the split it leaves its lists now)
                        slot = _near_stream_slot(rs, fp, sc, lvl, orders, fs.view_near[0], fs.view_near[1])
                        if slot == -1:
                            continue
                        oid = orders[slot].id
                        if split:
                            _unlist(fs, live, cap, oid, slot)
                    elif w < lam_near + lam_top:
                        # the top list: an order of a group of the largest factor, at that factor
                        # less the live list's (accepted unless stale or regrouped since)
                        i = R.uniform_below(rs, fs.n_top)
                        oid, slot = _live_order(orders, live[cap + i])
                        _drop_top_at(fs, live, cap, i)
                        if slot == -1 or _group_factor(fp, orders, slot) <= fp[P_CSZ_ACC]:
                            continue
                        _unlist_live(fs, live, cap, oid, slot)
                    else:
                        redraw = excited and fp[P_CL_REDRAW] == 1.0
                        kept = False
                        while True:
                            j = R.uniform_below(rs, fs.n_live)
                            oid, slot = _live_order(orders, live[j])
                            rests = slot != -1
                            if rests and not excited and fp[P_CSZ_N] > 0.0 and R.uniform(rs) * fp[P_CSZ_ACC] >= \
                                    _cancel_size_factor(fp, sc, orders, slot):
                                kept = True  # cancellation by size: a proposal rejected, the order rests on
                                break
                            _drop_at(fs, live, cap, split, j)
                            if split and rests:
                                _unlist_top(fs, live, cap, oid, slot)
                            if rests or not redraw or fs.n_live == 0:
                                break
                        if not rests or kept:
                            continue
                if near:
                    fs.far = False
                elif fp[P_CL_LEVELS] > 0.0:
                    fs.far = _far(fs, sc, lvl, orders[slot].side, orders[slot].price_ticks, fp[P_CL_LEVELS])
                _put_cancel(evbuf, oid, slot, time_ns)
            else:
                if fp[P_RUN_SHARE] > 0.0:
                    direction = _run_sign(rs, fp, fs, direction)
                _put_event(evbuf, K.EV_MARKET, fs.next_id, direction, 0,
                           _market_lots(rs, fp, sizes, sc, lvl, direction, log_q_market) * lot, time_ns)
                fs.next_id += 1
                if fp[P_ALPHA] > 0.0:
                    # the excitation jumps: its next point is drawn again
                    _excitation_now(fp, fs)
                    if direction > 0:
                        fs.exc_buy_per_s += fp[P_ALPHA]
                    else:
                        fs.exc_sell_per_s += fp[P_ALPHA]
                    fs.mo_next_s = -1.0
        n_fills_before = sc[K.S_N_FILLS]
        # what the event touches, for the view of the book (_note_event): a submission's
        # order, a cancelled one (if it rests); nothing for a market order or a hidden execution
        kind = evbuf[0, K.E_TYPE]
        v_side = 0
        v_price = 0
        v_delta = 0
        if kind == K.EV_LIMIT:
            v_side, v_price, v_delta = evbuf[0, K.E_SIDE], evbuf[0, K.E_PRICE], 1
        elif kind == K.EV_CANCEL:
            v_delta = -1
            if fs.view_reach[0] >= 0 or fs.view_reach[1] >= 0 or fs.view_near[0] >= 0 or fs.view_near[1] >= 0:
                v_slot = evbuf[0, K.E_OWNER]  # the cancelled order's slot (_put_cancel; also when pending)
                v_side, v_price = orders[v_slot].side, orders[v_slot].price_ticks
        bb0 = sc[K.S_BEST_BID]
        ba0 = sc[K.S_BEST_ASK]
        maker = -evbuf[0, K.E_SIDE]  # the side a trade takes from (the aggressor's opposite)
        _, status = K.process_inline(sc, lvl, orders, htab, fills, log, evbuf, 0)
        if status != K.OK:
            fs.pending = True
            return status
        fs.pending = False
        fs.n_bg_events += 1
        if uses_view:
            traded = sc[K.S_N_FILLS] != n_fills_before
            if traded and kind == K.EV_LIMIT:
                v_side = 0  # a submission that crossed: whether it rests, and where, is not read here
            _note_event(fs, fp, sc, lvl, v_side, v_price, v_delta, (sc[K.S_BEST_BID] != bb0, sc[K.S_BEST_ASK] != ba0),
                        (traded and maker != -1, traded and maker != 1))
        if follow:
            kind = evbuf[0, K.E_TYPE]
            _note_change(fs, sc, 0 if kind == K.EV_LIMIT else (2 if kind == K.EV_MARKET else 1))
        signed = 0
        filled = 0
        for f in range(n_fills_before, sc[K.S_N_FILLS]):
            signed += fills[f, K.F_SIZE] * fills[f, K.F_AGG_SIDE]
            filled += fills[f, K.F_SIZE]
            fs.vol_shares += fills[f, K.F_SIZE]
            fs.value_tick_shares += fills[f, K.F_SIZE] * fills[f, K.F_PRICE]
        # only market orders carry impact (with the opposite-best anchor a background limit
        # order can still cross; it is a quote repositioning, not information)
        if signed != 0 and evbuf[0, K.E_TYPE] == K.EV_MARKET:
            apply_impact(fs, fp, signed)
        if split and sc[K.S_N_FILLS] != n_fills_before:
            # the order a trade left partly filled may change its size group (room for it: the
            # check before the event)
            regroup_resting(fp, fs, live, sc, lvl, orders, fills, n_fills_before, sc[K.S_N_FILLS])
        if evbuf[0, K.E_TYPE] == K.EV_LIMIT and filled < evbuf[0, K.E_SIZE]:  # what it did not fill rests
            oid = evbuf[0, K.E_ID]
            slot = sc[K.S_LAST_SLOT]  # where the book rested it (its ids are unmapped: no lookup)
            _list_order(fp, fs, live, cap, split, orders, oid, slot)
            fs.last_id = oid
            fs.last_slot = slot
            if fs.flick_plan_s >= 0.0 and not fs.quiet:
                if fs.flick_n >= fp[P_IN_SLOTS] and (fp[P_IN_SLOTS] > 1.0 or fp[P_IN_LIFE_NQ] > 0.0):
                    _purge_flickers(fs, orders)  # free the slots of quotes filled or cancelled since
                if fs.flick_n < fp[P_IN_SLOTS]:
                    _push_flicker(fs, _live_entry(oid, slot), fs.t_s + fs.flick_plan_s, fs.flick_plan_take)
        fs.flick_plan_s = -1.0
        fs.flick_plan_take = False
        ev_type = evbuf[0, K.E_TYPE]
        if (fp[P_CLUSTER_ON] == 1.0 and (ev_type == K.EV_LIMIT or ev_type == K.EV_CANCEL) and not fs.quiet
                and fs.rev_size == 0 and not fs.far):
            # submissions and cancellations excite; a revision (its cancellation, its re-post)
            # does not: it moves an order, and exciting both halves makes the clustering explosive
            if fp[P_CL_NBRANCH] > 0.0:
                _spawn(rs, fp, fs)


@njit(**HOT_INLINE)
def _excitation_now(fp, fs):
    """Decay the market orders' Hawkes excitations from ``fs.exc_t_s`` to the clock (lazily,
    when they are read: one exponential per read, not one per proposal; the transient impact
    decays the same way, :func:`transient`; the clustering's pending offspring do not decay)."""
    if fs.exc_buy_per_s != 0.0 or fs.exc_sell_per_s != 0.0:  # zero stays zero (no Hawkes, or none yet)
        decay = math.exp(-fp[P_BETA] * (fs.t_s - fs.exc_t_s))
        fs.exc_buy_per_s *= decay
        fs.exc_sell_per_s *= decay
    fs.exc_t_s = fs.t_s


@njit(**HOT_INLINE)
def _log_normal_step(rd, fp, first, x):
    """One grid step of a log-normal factor whose parameters start at ``fp[first]`` (sigma,
    then its log's decay over the step and the innovation's scale): the AR(1) step of its
    standardised log ``x`` (an Ornstein-Uhlenbeck process, a normal from the diffusion's
    stream ``rd``) and the factor ``exp(sigma x - sigma^2 / 2)``."""
    x = fp[first + 1] * x + fp[first + 2] * R.normal(rd)
    sig = fp[first]
    return x, math.exp(sig * x - 0.5 * sig * sig)


@njit(**HOT_INLINE)
def _advance_to(rd, fp, fs, t_new):
    """Move the clock to ``t_new``: a diffusion step and a step of the random clock and of
    the liquidity-provision regime (those that are on) at each grid time passed (the
    excitations decay when they are read: :func:`_excitation_now`)."""
    # the grid time first: most calls fall between grid times (without the grid's processes
    # it stays where it started, and the parameters say so)
    if fs.next_grid_s <= t_new and (fp[P_SIGMA] > 0.0 or fp[P_ACT_SIGMA] > 0.0 or fp[P_INR_SIGMA] > 0.0):
        step = fp[P_DIFF_STEP]
        scale = fp[P_SIGMA] * math.sqrt(step)
        while fs.next_grid_s <= t_new:
            if fp[P_SIGMA] > 0.0:
                fs.fund_ticks += scale * R.normal(rd)
            if fp[P_ACT_SIGMA] > 0.0:
                fs.act_x, fs.activity = _log_normal_step(rd, fp, P_ACT_SIGMA, fs.act_x)
            if fp[P_INR_SIGMA] > 0.0:  # the liquidity-provision regime's, after the clock's
                fs.inr_y, fs.inside_factor = _log_normal_step(rd, fp, P_INR_SIGMA, fs.inr_y)
            fs.next_grid_s += step
    fs.t_s = t_new


@njit(**HOT_DISJOINT)
def run_flow_flat(rs, rd, fp, cum_w, sizes, state, live, sc, lvl, orders, htab, fills, log, evbuf, t_end):
    """:func:`run_flow` with its arguments flat, for Python callers (numba types plain
    arrays several times faster than tuples of them); ``state`` is a ``(1,)``
    :data:`FLOW_STATE_DTYPE` array."""
    return run_flow((rs, rd), (fp, cum_w, sizes, state[0], live), (sc, lvl, orders, htab, fills, log), evbuf, t_end)


def new_flow_state(t0_s: float, mid_ticks: float, diffusion_step_s: float, n: int = 1) -> np.ndarray:
    """``n`` fresh flow states (:func:`start_state`) as a ``(n,)`` :data:`FLOW_STATE_DTYPE` array."""
    states = np.zeros(n, dtype=FLOW_STATE_DTYPE)
    for i in range(n):
        _start_one(states, i, t0_s, mid_ticks, diffusion_step_s)
    return states


@njit(cache=True)
def _start_one(states, i, t0_s, mid_ticks, diffusion_step_s):
    start_state(states[i], t0_s, mid_ticks, diffusion_step_s)


@njit(**HOT_DISJOINT)
def open_interval(rs, rd, fp, cum_w, sizes, state, live, sc, lvl, orders, htab, fills, log, evbuf, dt_s, owner,
                  times, counts):
    """Open a decision interval of ``dt_s`` seconds on ``state[0]`` and run the flow through
    it, for Python callers (one call instead of several): zero the interval's volume and
    value, write its start and end (s) to ``times[0:2]`` and the background event count to
    ``counts[0]``, and return :func:`run_flow_flat`'s status. OK: the interval is closed too
    (:func:`close_interval` over the fills in the buffer, all of the interval's); not OK: make
    room, run the flow to ``times[1]`` and close it over every fill taken since."""
    fs = state[0]
    fs.vol_shares = 0.0
    fs.value_tick_shares = 0.0
    times[0] = fs.t_s
    times[1] = fs.t_s + dt_s
    counts[0] = fs.n_bg_events
    status = run_flow((rs, rd), (fp, cum_w, sizes, fs, live), (sc, lvl, orders, htab, fills, log), evbuf, times[1])
    if status == K.OK:
        close_interval(fp, state, sc, fills[:sc[K.S_N_FILLS]], owner, times, counts)
    return status


@njit(cache=True)
def close_interval(fp, state, sc, fills, owner, times, counts):
    """What a decision interval ends with, for Python callers: ``state[0]``'s clock (s) and
    reference price (fundamental + transient, ticks) to ``times[2:4]``; its background event
    count, the book's best bid and ask (ticks; -1 for an empty side) and the totals of the
    ``(n, 8)`` fill array ``fills`` (:func:`~execgym.envs.market.simulation._book_kernels.fill_totals`
    for ``owner``: shares and tick-shares, in all and with ``owner`` on either side) to
    ``counts[1:8]``."""
    fs = state[0]
    times[2] = fs.t_s
    times[3] = fs.fund_ticks + transient(fp, fs)
    bb = sc[K.S_BEST_BID]
    ba = sc[K.S_BEST_ASK]
    counts[1] = fs.n_bg_events
    counts[2] = sc[K.S_BASE] + bb if bb >= 0 else -1
    counts[3] = sc[K.S_BASE] + ba if ba < sc[K.S_N_LEVELS] else -1
    counts[4], counts[5], counts[6], counts[7] = K.fill_totals(fills, owner)


@njit(cache=True)
def transient_flat(fp, state):
    """:func:`transient` of ``state[0]`` (a ``(1,)`` :data:`FLOW_STATE_DTYPE` array), for Python callers."""
    return transient(fp, state[0])


@njit(cache=True)
def apply_impact_flat(state, fp, signed_volume):
    """:func:`apply_impact` on ``state[0]`` (a ``(1,)`` :data:`FLOW_STATE_DTYPE` array), for Python callers."""
    apply_impact(state[0], fp, signed_volume)
