"""Measures the report's blocking time in data-parallel training.

Run under ``mpiexec -n 2``. The workload of ``benchmark_report.py``: a gated
graph network regresses ESOL solubility, and the report explains 16 probe
molecules with Integrated Gradients (25 steps) and SmoothGrad (M=30) at the
embedding, drawing molecule pictures and writing TensorBoard events, every
epoch. In one launch, so that both figures come from the same run:

- n=1: rank 0 alone trains on all of ESOL with the report (the other
  processes wait without using a core);
- n=N: every process trains on its shard (ChainerMN, gradients averaged)
  with the report split across the processes (``comm``).

Printed: the median over reports of the blocking time (how long the report
holds training; with N processes the slowest rank's), their ratio, and the
seconds per epoch.

Usage: mpiexec -n 2 python scripts/benchmark_report_mn.py [--epochs 6]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import chainer
import chainer.functions as F
import chainer.links as L
import chainermn
import numpy
from chainer import training

from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GraphRegressor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_report import make_report  # noqa: E402


def train(esol, epochs, out, comm=None):
    """Trains with the report every epoch; returns the report's blocking
    seconds per call and the training's seconds per epoch."""
    numpy.random.seed(0)
    predictor = GraphRegressor()
    model = L.Classifier(predictor, lossfun=F.mean_squared_error)
    model.compute_accuracy = False
    optimizer = chainer.optimizers.Adam()
    dataset = esol.dataset
    if comm is not None:
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
        dataset = chainermn.scatter_dataset(
            dataset if comm.rank == 0 else None, comm, shuffle=True, seed=0)
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(dataset, 32)
    updater = training.StandardUpdater(iterator, optimizer,
                                       converter=concat_mols)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=out)
    report = make_report(predictor, esol, (1, 'epoch'), 'saliency', comm)
    trainer.extend(report)
    start = time.perf_counter()
    trainer.run()
    return report.blocking, (time.perf_counter() - start) / epochs


def wait_idle(comm):
    """Waits for every process without keeping a core busy (a blocking MPI
    call polls)."""
    request = comm.mpi_comm.Ibarrier()
    while not request.Test():
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=int, default=6)
    args = parser.parse_args()
    comm = chainermn.create_communicator('naive')
    esol = load_esol()
    out = tempfile.mkdtemp(prefix='saliency-bench-mn-')
    one = None
    if comm.rank == 0:
        one = train(esol, args.epochs, os.path.join(out, 'n1'))
    wait_idle(comm)
    blocking, epoch = train(esol, args.epochs, os.path.join(
        out, 'n{}-rank{}'.format(comm.size, comm.rank)), comm)
    ranks = comm.gather_obj(blocking)
    if comm.rank != 0:
        return
    slowest = [max(per_rank) for per_rank in zip(*ranks)]
    n1, nn = statistics.median(one[0]), statistics.median(slowest)
    print('ESOL GGNN, report of 16 molecules (IG 25 steps, SmoothGrad M=30) '
          'every epoch, {} epochs; median over reports'.format(args.epochs))
    print('{:<12} {:>12} {:>12}'.format('processes', 'blocking s', 's/epoch'))
    print('{:<12} {:>12.3f} {:>12.2f}'.format(1, n1, one[1]))
    print('{:<12} {:>12.3f} {:>12.2f}   (slowest rank per report)'.format(
        comm.size, nn, epoch))
    print('blocking at n={} / n=1: {:.2f}'.format(comm.size, nn / n1))


if __name__ == '__main__':
    main()
