"""The experiments' library: what the Hydra scripts in :mod:`execgym.experiments` share.

:mod:`.builders` (envs, baselines and routers from configs), :mod:`.agents` (trainable agents
and checkpoints), :mod:`.evaluation` (episodes on common random numbers, summaries),
:mod:`.statistics` (the one t-interval, paired differences, IQM over seeds),
:mod:`.tables` (result tables), :mod:`.runner` (the one comparison runner),
:mod:`.seeding`, :mod:`.tensorboard_eval` (periodic evaluation), :mod:`.report` (plots of a
comparison), :mod:`.hydra_callbacks` (multirun aggregation) and :mod:`.schemas` (the config
dataclasses as Hydra structured configs, registered on import). The scripts import this
library, never each other.
"""

from execgym.experiments.lib import schemas as _schemas  # noqa: F401  (registers the structured configs)
