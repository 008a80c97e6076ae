"""The processes of a data-parallel run as the report sees them (the
collectives themselves run under mpiexec in tests/distributed)."""
import pytest

from saliency_ext import SaliencyReport
from saliency_ext.report.ranks import Ranks, launcher_world_size
from tests.report.training import entries, iris, make_trainer


class FakeComm(object):
    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    def gather_obj(self, value):
        raise AssertionError('not called here')

    bcast_obj = gather_obj


@pytest.mark.parametrize('n, size', [(7, 2), (16, 2), (3, 4), (1, 3)])
def test_shares_cover_the_items_in_order(n, size):
    shares = [Ranks(FakeComm(rank, size)).share(n) for rank in range(size)]
    assert [i for share in shares for i in share] == list(range(n))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_one_process_needs_no_communicator():
    ranks = Ranks(None)
    assert (ranks.rank, ranks.size, ranks.is_root) == (0, 1, True)
    assert ranks.gather('x') == ['x'] and ranks.agree('y') == 'y'
    assert ranks.allgather(None) == [None]


@pytest.mark.parametrize('environ, size', [
    ({}, 1), ({'PMI_SIZE': '2'}, 2), ({'OMPI_COMM_WORLD_SIZE': '4'}, 4),
    ({'PMI_SIZE': ''}, 1)])
def test_the_launchers_world_size(environ, size):
    assert launcher_world_size(environ) == size


@pytest.mark.parametrize('kwargs, message', [
    (dict(comm=object()), 'ChainerMN communicator'),
    (dict(group_size=0), 'group_size'),
    (dict(seed=-1), 'seed'),
])
def test_bad_data_parallel_options(kwargs, message):
    predictor = make_trainer('.', report=False)[1]
    with pytest.raises((TypeError, ValueError), match=message):
        SaliencyReport(iris(), entries(predictor), **kwargs)
