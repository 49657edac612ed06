"""The market of execgym: nothing here knows about reinforcement learning (no gymnasium,
torch or hydra); the Gymnasium environments in :mod:`execgym.envs` compose it.

Three sub-packages, imported in this direction only (a test keeps it so):

* :mod:`.simulation`: the engine. The order book and its compiled kernels, the order flow
  and its impact mechanism, the simulator (one market) and the venues (several), random
  streams, intraday volume.
* :mod:`.data`: recorded and generated days. The LOBSTER readers and loader, the historical
  replay (a market over a recorded day), the simulator recorded as LOBSTER files, synthetic
  event streams.
* :mod:`.analysis`: what is measured on a market or a day. Calibration (the flow from a
  LOBSTER day, Almgren-Chriss parameters from a market), impact (metaorder paths, the
  square-root law, impact predictors), microstructure analytics, stylised facts.

:class:`execgym.envs.market.protocol.Market` is what the simulator and the replay both offer
to an environment.
"""
