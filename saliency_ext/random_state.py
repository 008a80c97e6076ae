"""Keeping the global random-number state untouched around side work."""
import contextlib

import numpy


@contextlib.contextmanager
def preserved_random_state():
    """Restores numpy's (and cupy's, when imported) global random state on
    exit, so sampling dropout masks or noise for a report does not change
    what training draws next.

    cupy's generator cannot be read back, so a fresh one stands in for it
    meanwhile and the original object, never advanced, is put back.
    """
    state = numpy.random.get_state()
    cupy_random = _cupy_random()
    original = cupy_random.get_random_state() if cupy_random else None
    if cupy_random:
        cupy_random.set_random_state(cupy_random.RandomState(
            int(numpy.random.randint(2 ** 31))))
    try:
        yield
    finally:
        numpy.random.set_state(state)
        if cupy_random:
            cupy_random.set_random_state(original)


def _cupy_random():
    from chainer.backends import cuda
    return cuda.cupy.random if cuda.available else None
