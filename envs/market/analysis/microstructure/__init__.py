"""Microstructure analytics on LOBSTER-format days, real or simulated (no RL here).

One module per analytic: :mod:`.frames` (quotes, signed executions, mirrored days), :mod:`.signing`
(tick rule, Lee-Ready), :mod:`.kyle` (Kyle's lambda with OLS and Newey-West errors),
:mod:`.fill_probability` (queue-position fill
probability), :mod:`.manipulation` (injected quote stuffing and layering, and their
detectors). Metaorder impact, the square-root law and impact predictors are in
:mod:`execgym.envs.market.analysis.impact`.
"""
