"""The fixed probe batch a report explains at every trigger."""
import numpy

from saliency_ext.calculators.data import as_dataset
from saliency_ext.validation import is_int


def choose_probe(data, *, size=16, seed=0, indices=None):
    """Chooses the probe items once.

    Args:
        data: An array, a tuple of arrays or a dataset.
        size (int): How many items to draw when ``indices`` is not given;
            all items when the data has no more than that.
        seed (int): Seed of the draw, so a rerun explains the same items.
        indices (sequence of int): The dataset positions to use instead.

    Returns:
        tuple: The dataset, the chosen positions (sorted when drawn) and
        the chosen examples.
    """
    dataset = as_dataset(data)
    n = len(dataset)
    if indices is None:
        if not is_int(size) or size < 1:
            raise ValueError('probe size must be an int >= 1, got {!r}'
                             .format(size))
        indices = numpy.arange(n) if n <= size else numpy.sort(
            numpy.random.RandomState(seed).choice(n, size, replace=False))
    else:
        indices = numpy.asarray(indices)
        if indices.ndim != 1 or not len(indices) or \
                indices.dtype.kind not in 'iu':
            raise ValueError('probe indices must be a non-empty sequence of '
                             'ints, got {!r}'.format(indices))
        bad = indices[(indices < 0) | (indices >= n)]
        if len(bad):
            raise ValueError('probe indices {} are out of range for a dataset '
                             'of {} items'.format(bad.tolist(), n))
    indices = [int(i) for i in indices]
    return dataset, indices, [dataset[i] for i in indices]
