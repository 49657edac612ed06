"""The simulation engine: order book (:mod:`.book`, kernels in :mod:`._book_kernels`), order
flow and its impact mechanism (:mod:`.flow`), one market (:mod:`.simulator`), several venues
(:mod:`.venues`), seeded random streams for compiled code (:mod:`.rng`) and intraday volume
(:mod:`.volume`). Imports nothing from :mod:`..data` or :mod:`..analysis`."""
