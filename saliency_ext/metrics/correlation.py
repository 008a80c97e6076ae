"""How alike two saliency maps of the same items are: Spearman rank
correlation, item by item."""
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
    # Pearson's r of the ranks, without corrcoef's overhead (reports
    # correlate every probe item's maps several times)
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    scale = numpy.sqrt(numpy.dot(ra, ra) * numpy.dot(rb, rb))
    return float(numpy.dot(ra, rb) / scale)


def rank_correlations(previous, current, real=None):
    """The rank correlation of each item's two maps (items along axis 0),
    over the positions ``real`` marks (``(N, ...)`` booleans; all when
    None): ``(N,)``, NaN where undefined."""
    if real is None:
        return numpy.array([rank_correlation(p, c)
                            for p, c in zip(previous, current)])
    return numpy.array([rank_correlation(p[r], c[r])
                        for p, c, r in zip(previous, current, real)])


def nanmean(values):
    """The mean of the finite values, NaN when there are none."""
    values = numpy.asarray(values, dtype=float)
    finite = values[numpy.isfinite(values)]
    return float(finite.mean()) if finite.size else float('nan')


def mean_rank_correlation(previous, current, real=None):
    """Rank correlation of each item's maps, averaged over the items
    (maps shaped ``(N, ...)``); NaN items are left out."""
    return nanmean(rank_correlations(previous, current, real))
