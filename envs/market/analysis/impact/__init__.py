"""Price impact, measured (the mechanism itself is the flow's, :mod:`...simulation.flow`): a
metaorder's mean impact path in the simulator against paired control runs (:mod:`.metaorder`),
metaorder impact and the square-root law on LOBSTER days (:mod:`.law`) and predictors of an
order's impact (:mod:`.model`)."""
