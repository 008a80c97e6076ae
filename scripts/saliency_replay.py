"""Replays a SaliencyReport over the snapshots of a training run.

The command ``saliency-replay``; all the work is in
:mod:`saliency_ext.replay.runner`. Usage (see ``--help``)::

    python scripts/saliency_replay.py SNAPSHOT... --config FILE.py:FUNC \\
        --out DIR [--tensorboard DIR] [--overwrite | --resume] [--device 0]
"""
import os
import sys

try:
    from saliency_ext.replay.cli import main
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    from saliency_ext.replay.cli import main

if __name__ == '__main__':
    sys.exit(main())
