import multiprocessing

import pytest


@pytest.fixture(scope='session')
def server():
    """Children forked from a server that imported the training code and
    trained once (tests/faults/warm.py): each starts in milliseconds."""
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload(['tests.faults.child', 'tests.faults.warm'])
    return context
