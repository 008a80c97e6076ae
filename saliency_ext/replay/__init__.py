"""The replay: a SaliencyReport run over the snapshots of a finished
training run (see :mod:`saliency_ext.replay.runner`), its snapshot reader,
its evolution strips and its command line, ``saliency-replay``."""
from saliency_ext.replay.evolution import write_evolution  # NOQA
from saliency_ext.replay.runner import (  # NOQA
    ReplayError, ReplaySummary, replay)
from saliency_ext.replay.snapshots import (  # NOQA
    DEFAULT_PATTERNS, TRAINER_EPOCH, TRAINER_ITERATION, TRAINER_MODEL,
    Snapshot, SnapshotError, find_snapshots, load_model_params, model_keys,
    open_snapshot, order_snapshots, read_snapshot, steps_from_name)
