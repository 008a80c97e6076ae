"""What the calculators do with their data before and after the passes:
accepting arrays or datasets, converting them in groups, and joining the
groups' samples again."""
import contextlib

import chainer
import numpy
from chainer.dataset import concat_examples


def as_dataset(data):
    """Accepts an array, a tuple of arrays or a dataset; returns a dataset."""
    if isinstance(data, tuple):
        data = chainer.datasets.TupleDataset(*data)
    if len(data) == 0:
        raise ValueError('data is empty: nothing to explain')
    return data


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
                '{} arrays'.format(label_index, len(arrays)))
        labels = arrays.pop(label_index)
    if not arrays:
        raise ValueError('no model inputs left after taking the label')
    return tuple(arrays), labels


def concat_padded(results):
    """Concatenates (M, B_i, ...) arrays along the item axis, zero-padding
    the trailing axes to the largest size (molecules of different sizes)."""
    if len(results) == 1:
        return results[0]
    ndim = {r.ndim for r in results}
    if len(ndim) != 1:
        raise ValueError('groups gave targets of different ranks: {}'.format(
            sorted(ndim)))
    shape = numpy.max([r.shape for r in results], axis=0)
    padded = [numpy.pad(r, [(0, 0), (0, 0)] + [
        (0, int(s) - d) for s, d in zip(shape[2:], r.shape[2:])])
        for r in results]
    return numpy.concatenate(padded, axis=1)


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
