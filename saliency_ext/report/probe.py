"""The fixed probe batch a report explains at every trigger."""
import chainer
import numpy
from chainer import backend
from chainer.dataset import concat_examples

from saliency_ext.calculators.data import as_dataset
from saliency_ext.report.errors import SaliencyReportError, describe_items, \
    wrap
from saliency_ext.validation import is_int

PADDING_HINT = ('items of different sizes (molecules of different atom '
                'counts) need a converter that pads them, such as '
                'converter=concat_mols')


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
    dataset = as_dataset(data, name='probe')
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


def describe_example(example):
    """The dtypes and shapes of one dataset item, for messages."""
    parts = example if isinstance(example, (tuple, list)) else (example,)
    return '({})'.format(', '.join(
        '{} {}'.format(getattr(p, 'dtype', type(p).__name__),
                       tuple(getattr(p, 'shape', ()))) for p in parts))


class Probe(object):
    """The probe items, converted once when the report starts.

    Args:
        indices (list of int): The items' dataset indices.
        examples (list): The items, as the dataset holds them.
        converter (callable): Turns a list of items into model inputs.

    Attributes:
        indices, examples, converter: As given.
        arrays (tuple): The converted probe on the CPU, one array per
            model input or label (after :meth:`convert`).
    """

    def __init__(self, indices, examples, converter):
        if not callable(converter):
            raise TypeError('converter must be callable, got {!r}'.format(
                converter))
        self.indices = list(indices)
        self.examples = list(examples)
        self.converter = converter
        self.arrays = None
        self._single = False

    def __len__(self):
        return len(self.examples)

    def convert(self):
        """Converts the whole probe at once; a converter that cannot stops
        the run here, naming the items it fails on."""
        try:
            converted = self.converter(self.examples, None)
        except Exception as error:
            items = self._failing_items()
            raise wrap(error, 'could not convert {} with converter {}'.format(
                '{items} of the probe' if items else 'the probe',
                _name(self.converter)), items=items,
                       indices=[self.indices[i] for i in items],
                       fix=self._conversion_hint(items)) from error
        if isinstance(converted, dict) or not all(
                isinstance(a, chainer.get_array_types()) for a in
                _as_tuple(converted)):
            raise SaliencyReportError(
                'SaliencyReport: converter {} returned {}; calculators take '
                'an array or a tuple of arrays, one per model input or '
                'label'.format(_name(self.converter),
                               type(converted).__name__))
        self.arrays = tuple(backend.CpuDevice().send(a)
                            for a in _as_tuple(converted))
        self._single = not isinstance(converted, (tuple, list))
        return self.arrays

    def data(self, items=None):
        """What ``calculator.compute`` takes for the probe positions
        ``items`` (all by default), already converted: returns
        ``(data, converter)``."""
        arrays = self.arrays if items is None else tuple(
            a[numpy.asarray(items)] for a in self.arrays)
        return (arrays[0] if self._single else arrays), concat_examples

    def describe(self, items):
        """Probe positions and their dataset indices in words."""
        return describe_items(items, [self.indices[i] for i in items])

    def _failing_items(self):
        """The first item that cannot be converted alone or together with
        item 0: ``[i]`` or ``[0, i]``; ``[]`` when each pair converts."""
        for i in range(len(self.examples)):
            batch = [self.examples[i]] if i == 0 else \
                [self.examples[0], self.examples[i]]
            try:
                self.converter(batch, None)
            except Exception:
                return [i] if i == 0 else [0, i]
        return []

    def _conversion_hint(self, items):
        shapes = ['item {}: {}'.format(i, describe_example(self.examples[i]))
                  for i in items]
        hint = 'The items are ' + '; '.join(shapes) if shapes else ''
        if len(items) == 2 and describe_example(self.examples[0]) != \
                describe_example(self.examples[items[1]]):
            hint += '. ' + PADDING_HINT
        return hint + '.' if hint else None


def _as_tuple(converted):
    return tuple(converted) if isinstance(converted, (tuple, list)) else \
        (converted,)


def _name(function):
    if function is concat_examples:  # an object: Chainer wraps its converters
        return 'concat_examples (the default)'
    return getattr(function, '__name__', type(function).__name__)
