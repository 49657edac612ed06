"""Microstructure analytics on LOBSTER-format days, real or simulated (no RL here).

One module per analytic: :mod:`.frames` (quotes, signed executions, mirrored days), :mod:`.signing`
(tick rule, Lee-Ready), :mod:`.kyle` (Kyle's lambda with OLS and Newey-West errors),
:mod:`.impact_law` (metaorder impact and the square-root law), :mod:`.impact_model`
(predicting an order's impact), :mod:`.fill_probability` (queue-position fill
probability), :mod:`.manipulation` (injected quote stuffing and layering, and their
detectors).
"""
