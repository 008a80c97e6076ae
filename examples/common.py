"""What the example training scripts share: the command line, the device, the
trainer around a model, and the findings read back from a report's files.

The scripts add their folder's parent (``examples/``) to ``sys.path`` and
``import common``; nothing here is specific to one data set.
"""
import argparse
import json
import math
import os
import random

import chainer
import numpy
from chainer import training
from chainer.dataset import concat_examples
from chainer.training import extensions

from saliency_ext import ReportLayout

ARGS_FILE = 'args.json'
FINDINGS_FILE = 'findings.json'
REPORT_DIR = 'saliency'  # SaliencyReport's default out_dir


# -- command line and device --------------------------------------------------

def parse_args(description, *, name, epochs, argv=None, data_parallel=False):
    """The options every example takes: ``--epochs``, ``--out``, ``--device``
    and ``--seed`` (and ``--communicator`` for one that can train
    data-parallel); the output folder defaults to ``result/<name>``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--epochs', type=int, default=epochs,
                        help='training epochs (default: %(default)s)')
    parser.add_argument('--out', default=os.path.join('result', name),
                        help='output folder: log, snapshots, saliency '
                        'pictures and TensorBoard events (default: '
                        '%(default)s)')
    parser.add_argument('--device', default='-1',
                        help='-1 for the CPU, a GPU id (needs cupy) or a '
                        'chainer device specifier such as @cupy:0 '
                        '(default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of the initial weights, dropout '
                        'and the batch order; the data split and the probe '
                        'are fixed (default: %(default)s)')
    if data_parallel:
        parser.add_argument('--communicator', metavar='NAME',
                            help='train data-parallel with ChainerMN, one '
                            'process per mpiexec rank, with this '
                            'communicator (naive on CPUs, pure_nccl on '
                            'GPUs, where each process takes the GPU of its '
                            'rank on the node); default: one process')
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error('--epochs must be >= 1, got {}'.format(args.epochs))
    return args


def start(description, *, name, epochs, argv=None):
    """What every example does first: parses the command line, picks and
    seeds the device and saves the options; returns ``(args, device)``."""
    args = parse_args(description, name=name, epochs=epochs, argv=argv)
    device = get_device(args.device)
    seed_everything(args.seed, device)
    save_args(args)
    return args, device


def start_data_parallel(description, *, name, epochs, argv=None):
    """:func:`start` for an example that can train data-parallel: returns
    ``(args, device, comm)``, ``comm`` being the ChainerMN communicator of
    ``--communicator`` (None without it)."""
    args = parse_args(description, name=name, epochs=epochs, argv=argv,
                      data_parallel=True)
    comm, spec = None, str(args.device)
    if args.communicator is not None:
        import chainermn  # needs mpi4py and an MPI: make install has both
        chainermn.global_except_hook.add_hook()  # an error stops them all
        comm = chainermn.create_communicator(args.communicator)
        if spec.lstrip('-').isdigit() and int(spec) >= 0:
            spec = str(comm.intra_rank)  # one GPU per process of the node
    device = get_device(spec)
    seed_everything(args.seed, device)
    if comm is None or comm.rank == 0:
        save_args(args)
    return args, device, comm


def get_device(spec):
    """A Chainer device from ``-1`` (CPU), a GPU id or a device specifier,
    with a clear message when a GPU is asked for and cupy is missing."""
    spec = str(spec)
    try:
        spec = int(spec)
    except ValueError:
        pass
    if isinstance(spec, int):
        spec = '@numpy' if spec < 0 else '@cupy:{}'.format(spec)
    if spec.startswith('@cupy') and not chainer.backends.cuda.available:
        raise SystemExit('--device {} needs a GPU with cupy installed; use '
                         '--device -1 for the CPU'.format(spec))
    device = chainer.get_device(spec)
    device.use()
    return device


def seed_everything(seed, device=None):
    """Seeds Python's, numpy's (and on a GPU cupy's) random numbers, which
    draw the initial weights, dropout and the batch order."""
    random.seed(seed)
    numpy.random.seed(seed)
    if device is not None and device.xp is not numpy:
        device.xp.random.seed(seed)


def save_args(args):
    """Writes the run's options to ``<out>/args.json``, where the replay
    configuration finds the epochs the report was scheduled for."""
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, ARGS_FILE), 'w') as f:
        json.dump(vars(args), f, indent=1, sort_keys=True)


def trained_epochs(out, default):
    """The ``--epochs`` of the run in ``out`` (``default`` if unknown)."""
    if out is None:
        return default
    try:
        with open(os.path.join(out, ARGS_FILE)) as f:
            return int(json.load(f)['epochs'])
    except (OSError, ValueError, KeyError):
        return default


# -- training -----------------------------------------------------------------

def report_epochs(epochs):
    """Epochs at which to report: roughly doubling (1, 2, 5, 10, 20, 50, ...)
    and always the last one, so that the last report shows the trained
    model. The initial report (epoch 0) comes on top."""
    marks, scale = set(), 1
    while scale <= epochs:
        marks.update(m * scale for m in (1, 2, 5) if m * scale <= epochs)
        scale *= 10
    return sorted(marks | {epochs})


def make_trainer(model, train, args, device, *, batchsize, lr,
                 snapshot_every, valid=None, converter=concat_examples,
                 print_keys=('main/loss',), comm=None,
                 log_trigger=(1, 'epoch')):
    """An ordinary Chainer trainer: Adam, a shuffling iterator, a standard
    updater, an evaluator on ``valid``, a log (every ``log_trigger``), a
    progress printout and a snapshot every ``snapshot_every`` epochs and at
    the end.

    ``model`` is the link the optimizer trains (a ``Classifier`` around the
    predictor), so a snapshot stores its parameters under
    ``updater/model:main/``. The caller adds its ``SaliencyReport`` with
    ``trainer.extend`` and runs the trainer.

    With a ChainerMN ``comm``, every process trains on its shard of
    ``train`` (and evaluates its shard of ``valid``), the gradients are
    averaged across processes, and rank 0 alone logs, prints and snapshots.
    """
    optimizer = chainer.optimizers.Adam(alpha=lr)
    if comm is not None:
        import chainermn
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
        train, valid = (None if x is None else chainermn.scatter_dataset(
            x if comm.rank == 0 else None, comm, shuffle=True, seed=args.seed)
            for x in (train, valid))
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(train, batchsize)
    updater = training.StandardUpdater(iterator, optimizer,
                                       converter=converter, device=device)
    trainer = training.Trainer(updater, (args.epochs, 'epoch'), out=args.out)
    keys = ['epoch'] + list(print_keys)
    if valid is not None:
        valid_iter = chainer.iterators.SerialIterator(
            valid, 256, repeat=False, shuffle=False)
        evaluator = extensions.Evaluator(valid_iter, model,
                                         converter=converter, device=device)
        if comm is not None:
            import chainermn
            evaluator = chainermn.create_multi_node_evaluator(evaluator, comm)
        trainer.extend(evaluator)
        keys += ['validation/' + k for k in print_keys]
    if comm is not None and comm.rank != 0:
        return trainer
    trainer.extend(extensions.LogReport(trigger=log_trigger))
    trainer.extend(extensions.PrintReport(
        keys + ['saliency/seconds', 'elapsed_time']), trigger=log_trigger)
    trainer.extend(extensions.snapshot(
        filename='snapshot_epoch_{.updater.epoch}'),
        trigger=snapshot_trigger(args.epochs, snapshot_every))
    return trainer


def snapshot_trigger(epochs, every):
    """Every ``every`` epochs and after the last one, so that the trained
    model is always in a snapshot."""
    marks = set(range(every, epochs + 1, every)) | {epochs}
    return training.triggers.ManualScheduleTrigger(sorted(marks), 'epoch')


# -- findings -----------------------------------------------------------------

def read_report(out, entry, position=-1):
    """One report of ``entry`` in the run ``out`` (by default the last; 0
    is the first): ``(record, saliency)``, its index record and the
    aggregated maps ``(N, ...)`` of the probe items, read from the report's
    own files (``index.jsonl`` and the entry's ``saliency.npz``), not
    recomputed. Reports that failed are skipped; when the folder holds
    several runs (sessions), only the last one counts."""
    layout = ReportLayout(os.path.join(out, REPORT_DIR))
    records = read_records(out, entry)
    if not records:
        raise RuntimeError('no successful report of {!r} in {}'.format(
            entry, layout.root))
    record = records[position]
    return record, layout.read_arrays(record)['saliency']


def read_records(out, entry):
    """The index records of ``entry``'s successful reports in the last
    session of the run ``out``, oldest first: each has the report's
    ``metrics``."""
    layout = ReportLayout(os.path.join(out, REPORT_DIR))
    return [r for r in layout.records(entry, session=layout.last_session())
            if r.get('error') is None]


def read_fragments(out, entry):
    """The ``fragments.csv`` of every successful report of ``entry`` in the
    last run (session) in ``out``: ``[(record, rows)]`` in report order,
    ``rows`` best ranked first (see ``ReportLayout.read_fragments``)."""
    layout = ReportLayout(os.path.join(out, REPORT_DIR))
    return [(record, layout.read_fragments(record))
            for record in read_records(out, entry)]


def read_probe(out):
    """The probe of the run ``out`` as the report saved it: its dataset
    indices and its converted arrays (``converter(probe examples)``)."""
    return ReportLayout(os.path.join(out, REPORT_DIR)).read_probe()


def finite(value):
    """``value`` as a float, checked to be finite."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError('a finding is not a finite number: {}'.format(value))
    return value


def conclude(out, example, findings, show, *, folder=REPORT_DIR):
    """What every example does last: writes its ``findings`` (made from
    the finished run's report files), prints them with ``show(findings)``
    and says where they are; returns them."""
    path = write_findings(out, example, findings, folder=folder)
    show(findings)
    print('findings written to {}'.format(path))
    return findings


def write_findings(out, example, findings, *, folder=REPORT_DIR):
    """Writes ``findings`` (a JSON-serialisable dict) with the example's
    name under ``'example'`` to ``<out>/<folder>/findings.json`` (the
    report folder by default); returns the path."""
    path = os.path.join(out, folder, FINDINGS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(findings, example=example), f, indent=1)
        f.write('\n')
    os.replace(tmp, path)
    return path


def show(value, fmt='{:.3f}'):
    """A metric's value as text: ``-`` where it is undefined (None)."""
    return '-' if value is None else fmt.format(value)


def print_metrics(reports, names):
    """Prints the metrics ``names`` of each report (dicts with ``epoch``
    and the record's metrics) as a table, one row per report."""
    rows = {'epoch {}'.format(r['epoch']): {n: show(r.get(n)) for n in names}
            for r in reports}
    print_table('report', rows, names)


def print_table(title, rows, columns, fmt='{:+.4f}'):
    """Prints ``rows`` (``label -> {column: value}``) as an aligned table."""
    label_width = max([len(title)] + [len(label) for label in rows])
    widths = [max(len(c), 9) for c in columns]
    print(title.ljust(label_width) + '  ' + '  '.join(
        c.rjust(w) for c, w in zip(columns, widths)))
    for label, values in rows.items():
        cells = []
        for column, width in zip(columns, widths):
            value = values.get(column, '-')
            text = fmt.format(value) if isinstance(value, float) else \
                str(value)
            cells.append(text.rjust(width))
        print(label.ljust(label_width) + '  ' + '  '.join(cells))
