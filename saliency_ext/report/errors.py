"""The one error a report raises for what went wrong in an entry or the probe,
and how its messages name items and non-finite values.

A report wraps the error it caught instead of rebuilding it: the wrapper
names the entry and the probe items, carries the original message (for
Chainer's ``InvalidType``, its Expect and Actual lines) in its own, and is
raised ``from`` the original, so the traceback shows both.
"""
import numpy


def describe(error):
    """An exception in one line of text for messages and index records:
    ``'TypeName: message'``."""
    return '{}: {}'.format(type(error).__name__, error)


def describe_items(items, indices):
    """Probe positions and their dataset indices in words."""
    items, indices = list(items), list(indices)
    if len(items) == 1:
        return 'probe item {} (dataset index {})'.format(items[0], indices[0])
    return 'probe items {} (dataset indices {})'.format(items, indices)


class SaliencyReportError(Exception):
    """A report entry or its probe failed; raised from the original error.

    Args:
        message (str): What failed and what to do; when there is an
            original error, :func:`wrap` appends its type and message.
        entry (str): The entry's name, or None for the whole probe.
        items (list of int): The probe positions concerned.
        indices (list of int): Their dataset indices.

    Attributes:
        entry, items, indices: As given.
    """

    def __init__(self, message, *, entry=None, items=(), indices=()):
        super(SaliencyReportError, self).__init__(message)
        self.entry = entry
        self.items = list(items)
        self.indices = list(indices)


def subject(entry):
    """How messages name the report or one of its entries."""
    return 'SaliencyReport' if entry is None else \
        'SaliencyReport entry {!r}'.format(entry)


def wrap(error, what, *, entry=None, items=(), indices=(), fix=None):
    """A :class:`SaliencyReportError` around ``error``; raise it ``from``
    ``error``.

    Its message reads ``SaliencyReport entry '<entry>' <what>: <TypeName>:
    <original message>``, then ``fix`` on a line of its own. ``{items}`` in
    ``what`` is replaced by the probe items and their dataset indices.
    """
    what = what.format(items=describe_items(items, indices) if items else '')
    message = '{} {}: {}'.format(subject(entry), what, describe(error))
    if fix:
        message += '\n' + fix
    return SaliencyReportError(message, entry=entry, items=items,
                               indices=indices)


def nonfinite_items(array):
    """The rows of ``array`` ``(N, ...)`` holding NaN, and those holding an
    infinite value, as two lists of positions (empty for integer arrays)."""
    if array.dtype.kind not in 'fc':
        return [], []
    flat = array.reshape(len(array), -1)
    return (numpy.flatnonzero(numpy.isnan(flat).any(axis=1)).tolist(),
            numpy.flatnonzero(numpy.isinf(flat).any(axis=1)).tolist())


def describe_nonfinite(nan, inf, indices):
    """Which items hold NaN and which infinite values, in words;
    ``indices`` maps probe positions to dataset indices."""
    parts = ['{} in {}'.format(kind, describe_items(
        items, [indices[i] for i in items]))
        for kind, items in (('NaN', nan), ('infinite values', inf)) if items]
    return ' and '.join(parts)
