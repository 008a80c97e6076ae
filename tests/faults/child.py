"""The training run the fault suite kills, fills and doubles: a real trainer on
iris with the report, resumed in one of the ways Chainer and ChainerMN offer.
It runs in a child process forked from a server that imported everything
once (multiprocessing's forkserver), so a start costs milliseconds."""
import json
import os
import traceback

from tests.report.training import add_resume, make_trainer

#: Reports every 2 iterations, snapshots every 3 (iris: 5 iterations/epoch).
REPORT_EVERY = 2
SNAPSHOT_EVERY = 3


def train(out, style='autoload', epochs=8, result=None, stop=None,
          **report_kwargs):
    """Trains into ``out``, resuming from its latest snapshot in the way
    ``style`` names (None: no snapshots), until ``epochs`` or until the file
    ``stop`` exists; writes what happened (or the error) to ``result``."""
    outcome = dict(pid=os.getpid())
    try:
        kwargs = dict(trigger=(REPORT_EVERY, 'iteration'), step='iteration')
        kwargs.update(report_kwargs)
        trainer, _ = make_trainer(out, epochs=epochs, log=False, **kwargs)
        if style is not None:
            add_resume(trainer, style, (SNAPSHOT_EVERY, 'iteration'))
        if stop is not None:
            trainer.stop_trigger = _Stop(stop, trainer.stop_trigger)
        trainer.run()
        outcome.update(iteration=trainer.updater.iteration)
    except BaseException as error:
        outcome.update(error=type(error).__name__, message=str(error),
                       traceback=traceback.format_exc())
    if result is not None:
        with open(result, 'w') as f:
            json.dump(outcome, f)
    os._exit(1 if 'error' in outcome else 0)


def iteration_file(stop):
    """Where a run with a ``stop`` file says which iteration it reached."""
    return stop + '.iteration'


def reached(stop):
    """The iteration a run with a ``stop`` file reached (-1 before the
    first)."""
    try:
        with open(iteration_file(stop)) as f:
            return int(f.read() or -1)
    except FileNotFoundError:
        return -1


class _Stop(object):
    """Stops training when a file appears (or at the usual end); says at
    each iteration which one it reached."""

    def __init__(self, path, usual):
        self.path, self.usual = path, usual

    def __call__(self, trainer):
        with open(iteration_file(self.path), 'w') as f:
            f.write(str(trainer.updater.iteration))
        return os.path.exists(self.path) or self.usual(trainer)
