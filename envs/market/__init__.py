"""Market models of execgym: order flow, intraday volume and impact.

Nothing here knows about reinforcement learning (no gymnasium, torch or hydra):
the Gymnasium environments in :mod:`envs` compose these models.
"""
