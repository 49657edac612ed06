"""Days of messages and books: the LOBSTER readers (:mod:`.lobster`) and loader
(:mod:`.lobster_data`), the historical replay market (:mod:`.replay`), the simulator recorded as
LOBSTER files (:mod:`.simulated_day`) and synthetic event streams (:mod:`.synthetic`).
Builds on :mod:`..simulation`; imports nothing from :mod:`..analysis`."""
