"""How far an explanation moved between two reports."""
import numpy


def _ranks(values):
    order = numpy.argsort(values, kind='stable')
    ranks = numpy.empty(len(values))
    ranks[order] = numpy.arange(len(values))
    return ranks


def rank_correlation(a, b):
    """Spearman rank correlation of two saliency maps of one item.

    Args:
        a, b (numpy.ndarray): Maps of the same shape (flattened here).

    Returns:
        float: In [-1, 1]; NaN when either map is constant or not finite.
    """
    a, b = numpy.ravel(a), numpy.ravel(b)
    if a.shape != b.shape:
        raise ValueError('maps of shapes {} and {} cannot be compared'.format(
            a.shape, b.shape))
    if not (numpy.isfinite(a).all() and numpy.isfinite(b).all()) or \
            a.min() == a.max() or b.min() == b.max():
        return float('nan')
    return float(numpy.corrcoef(_ranks(a), _ranks(b))[0, 1])


def mean_rank_correlation(previous, current):
    """Rank correlation of each item's maps, averaged over the items
    (items of shape ``(N, ...)``); NaN items are left out."""
    values = [rank_correlation(p, c) for p, c in zip(previous, current)]
    finite = [v for v in values if v == v]
    return float(numpy.mean(finite)) if finite else float('nan')
