"""The processes of a data-parallel (ChainerMN) run, as the report and the
replay see them: who computes which share, who writes, and the few
collectives that keep every process in step."""
import os

from saliency_ext.optional import require

#: Environment variables by which MPI launchers (MPICH's and Intel's Hydra,
#: Open MPI, PMIx, Slurm's PMI) tell a process the size of its world.
LAUNCHER_SIZE_VARIABLES = ('PMI_SIZE', 'OMPI_COMM_WORLD_SIZE',
                           'PMIX_SIZE', 'MPI_LOCALNRANKS')
_COLLECTIVES = ('gather_obj', 'bcast_obj')


def check_comm(comm):
    """Raises unless ``comm`` is None or a ChainerMN communicator (anything
    with ``rank``, ``size``, ``gather_obj`` and ``bcast_obj``)."""
    if comm is None:
        return comm
    if not all(hasattr(comm, name) for name in ('rank', 'size')) or \
            not all(callable(getattr(comm, name, None))
                    for name in _COLLECTIVES):
        raise TypeError(
            'comm must be a ChainerMN communicator (chainermn.'
            'create_communicator(...)), got {!r}'.format(
                type(comm).__name__))
    return comm


class Ranks(object):
    """The processes that share a report's work; one process when ``comm``
    is None, and every method then returns at once.

    Rank 0, the root, alone writes; every collective here must be called by
    every rank, in the same order.

    Args:
        comm: A ChainerMN communicator, or None.
    """

    def __init__(self, comm=None):
        self.comm = check_comm(comm)
        self.rank = 0 if comm is None else int(comm.rank)
        self.size = 1 if comm is None else int(comm.size)

    @property
    def is_root(self):
        """bool: Whether this process writes (rank 0)."""
        return self.rank == 0

    def share(self, n):
        """This rank's part of ``n`` items: a ``range`` of consecutive
        positions; the ranks' parts, in rank order, cover ``0..n-1`` and
        differ in length by at most one."""
        return range(self.rank * n // self.size,
                     (self.rank + 1) * n // self.size)

    def gather(self, value):
        """Every rank's ``value`` in rank order on the root; None
        elsewhere."""
        if self.comm is None:
            return [value]
        return self.comm.gather_obj(value)

    def agree(self, value):
        """The root's ``value``, on every rank."""
        if self.comm is None:
            return value
        # ChainerMN's bcast_obj takes None from the others only, and never
        # from the root: the value travels in a tuple
        return self.comm.bcast_obj((value,) if self.is_root else None)[0]

    def allgather(self, value):
        """Every rank's ``value`` in rank order, on every rank."""
        return self.agree(self.gather(value))


def launcher_world_size(environ=None):
    """The number of processes an MPI launcher (``mpiexec -n N``) started,
    read from its environment variables; 1 when none is set."""
    environ = os.environ if environ is None else environ
    for name in LAUNCHER_SIZE_VARIABLES:
        value = environ.get(name, '')
        if value.isdigit():
            return int(value)
    return 1


def world_communicator():
    """A ChainerMN communicator over all MPI processes when an MPI launcher
    started more than one (MPI's world size checked by mpi4py); None for a
    single process, without touching MPI. An exception that nothing catches
    then aborts every process (ChainerMN's hook), instead of leaving the
    others waiting."""
    if launcher_world_size() < 2:
        return None
    require('mpi4py.MPI', 'running under mpiexec')
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_size() < 2:
        return None
    import chainermn
    chainermn.global_except_hook.add_hook()
    return chainermn.create_communicator('naive')
