"""What a report computed for one entry: the maps of some probe items, or
why they are missing, and how long it took; shares computed by several
processes join into one."""
import dataclasses

import numpy


@dataclasses.dataclass
class Explained(object):
    """One entry's maps of a run of consecutive probe items.

    Attributes:
        saliency (numpy.ndarray): The aggregated maps ``(n, ...)``; None
            when the computation failed or the share was empty.
        error (str): ``'Type: message'`` of the failure, or None.
        seconds (float): How long the computation took.
        exception (Exception): The failure itself, in the process that
            raised it (it does not travel between processes).
        outputs (dict): What the maps explain, from the same model (the
            calculator's ``explain_outputs``: ``values``, ``classes``,
            ``labels``), for the pictures' labels; None when unavailable.
        spread (numpy.ndarray): With ``M > 1`` samples, their standard
            deviation, shaped as ``saliency``; else None.
    """
    saliency: object = None
    error: str = None
    seconds: float = 0.
    exception: Exception = dataclasses.field(default=None, compare=False)
    outputs: dict = None
    spread: object = None

    @classmethod
    def failed(cls, exception, seconds):
        return cls(None, '{}: {}'.format(type(exception).__name__, exception),
                   seconds, exception)

    def portable(self):
        """A copy that can be sent to another process (no exception)."""
        return dataclasses.replace(self, exception=None)


def join(shares, *, ranked=False):
    """Joins the shares of consecutive items, in order, into one
    :class:`Explained`: the maps concatenated, the first failure (naming
    the process's rank when ``ranked``), the slowest share's seconds."""
    seconds = max(share.seconds for share in shares)
    for rank, share in enumerate(shares):
        if share.error is not None:
            error = share.error if not ranked else '{} (in the process of ' \
                'rank {})'.format(share.error, rank)
            return Explained(None, error, seconds, share.exception)
    kept = [share for share in shares if share.saliency is not None]
    spread = None
    if all(share.spread is not None for share in kept):
        spread = numpy.concatenate([share.spread for share in kept])
    return Explained(numpy.concatenate([share.saliency for share in kept]),
                     None, seconds, outputs=_joined_outputs(kept),
                     spread=spread)


def _joined_outputs(shares):
    """The shares' outputs joined item by item; a key is None when a share
    lacks it, and the whole is None when a share has none."""
    if any(share.outputs is None for share in shares):
        return None
    return {key: None if any(share.outputs[key] is None for share in shares)
            else numpy.concatenate([share.outputs[key] for share in shares])
            for key in shares[0].outputs}
