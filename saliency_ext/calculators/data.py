"""What the calculators do with their data before and after the passes:
accepting arrays or datasets, converting them in groups, and joining the
groups' samples again."""
import contextlib

import chainer
import numpy
from chainer.dataset import concat_examples


def as_dataset(data, name='data'):
    """Accepts an array, a tuple of arrays or a dataset; returns a dataset.
    ``name`` is what the messages call ``data`` (``'probe'`` in a report).
    """
    if isinstance(data, (dict, str, bytes)):
        raise TypeError(
            '{} must be an array, a tuple of arrays such as (x, t), or a '
            'dataset whose items are arrays or tuples of arrays; got a {} '
            '{}. For named arrays pass them as a tuple, for example '
            "(data['x'], data['t'])".format(
                name, type(data).__name__, _short_repr(data)))
    if isinstance(data, tuple):
        data = chainer.datasets.TupleDataset(*data)
    if len(data) == 0:
        raise ValueError('{} is empty: nothing to explain'.format(name))
    return data


def _short_repr(value, limit=60):
    text = ' '.join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def describe_arrays(arrays):
    """The dtypes and shapes of converted arrays, for messages."""
    return ', '.join('{} {}'.format(getattr(a, 'dtype', type(a).__name__),
                                    tuple(getattr(a, 'shape', ())))
                     for a in arrays)


def converted_groups(data, dataset, size, converter, device):
    """Yields each group's converted arrays and its number of items.
    Arrays handed over as such are sliced, not split into items and
    stacked again by ``concat_examples``."""
    arrays = data if isinstance(data, tuple) else (data,)
    sliceable = converter is concat_examples and all(
        isinstance(a, chainer.get_array_types()) for a in arrays)
    for start in range(0, len(dataset), size):
        stop = min(start + size, len(dataset))
        if sliceable:
            converted = tuple(chainer.dataset.to_device(device, a[start:stop])
                              for a in arrays)
            yield converted if isinstance(data, tuple) else converted[0], \
                stop - start
        else:
            yield converter([dataset[i] for i in range(start, stop)],
                            device), stop - start


def split_label(converted, label_index):
    """Separates the label from the model inputs of a converted group:
    returns ``(inputs, labels)``, ``labels`` None without ``label_index``."""
    if isinstance(converted, dict):
        raise TypeError('the converter returned a dict; calculators take '
                        'an array or a tuple of arrays')
    arrays = list(converted) if isinstance(converted, (tuple, list)) \
        else [converted]
    labels = None
    if label_index is not None:
        if not -len(arrays) <= label_index < len(arrays):
            raise IndexError(
                'label_index {} is out of range: the converter returned '
                '{} arrays ({})'.format(label_index, len(arrays),
                                        describe_arrays(arrays)))
        if len(arrays) == 1:
            raise ValueError(
                'label_index={} takes the only array the converter returned '
                '({}), which leaves no model input: the data holds inputs '
                'only. Leave label_index (and target=\'label\') out, or give '
                '(input, label) items'.format(label_index,
                                              describe_arrays(arrays)))
        labels = arrays.pop(label_index)
    if not arrays:
        raise ValueError('the converter returned no arrays')
    return tuple(arrays), labels


def concat_padded(results, axis=1):
    """Concatenates arrays along the item ``axis`` (1 for samples shaped
    (M, B_i, ...), 0 for inputs), zero-padding the axes after it to the
    largest size (molecules of different sizes)."""
    if len(results) == 1:
        return results[0]
    ndim = {r.ndim for r in results}
    if len(ndim) != 1:
        raise ValueError('groups gave arrays of different ranks: {}'.format(
            sorted(ndim)))
    shape = numpy.max([r.shape for r in results], axis=0)
    padded = [numpy.pad(r, [(0, 0)] * (axis + 1) + [
        (0, int(s) - d) for s, d in zip(shape[axis + 1:], r.shape[axis + 1:])])
        for r in results]
    return numpy.concatenate(padded, axis=axis)


@contextlib.contextmanager
def progress_bar(show, total):
    """A tqdm bar over ``total`` items when ``show``, else one that does
    nothing."""
    if not show:
        yield _NoBar()
        return
    from tqdm import tqdm  # a dependency; imported only when shown
    with tqdm(total=total, unit='item', desc='saliency') as bar:
        yield bar


class _NoBar(object):
    def update(self, n):
        pass
