"""Bilinear resizing of maps with half-pixel centres, on numpy or cupy.

Chainer 7.8.1's ``F.resize_images`` cannot be used: it calls ``numpy.float``,
which numpy 1.24 removed. Pixel ``i`` of an axis of length ``n`` has its
centre at ``i + 0.5``; an output pixel takes the linear interpolation of
the two input pixels around its centre, clamped at the borders. Enlarging,
this is what PIL's ``Image.resize(..., BILINEAR)`` computes; shrinking, PIL
also averages (antialiases) and this does not.
"""
import numpy
from chainer import backend


def interpolation_matrix(n_in, n_out):
    """The ``(n_out, n_in)`` float64 matrix that resizes one axis: row ``i``
    holds the weights of the input pixels around output pixel ``i``."""
    centres = (numpy.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    centres = numpy.clip(centres, 0, n_in - 1)
    low = numpy.floor(centres).astype(numpy.int64)
    high = numpy.minimum(low + 1, n_in - 1)
    frac = centres - low
    matrix = numpy.zeros((n_out, n_in))
    rows = numpy.arange(n_out)
    numpy.add.at(matrix, (rows, low), 1 - frac)
    numpy.add.at(matrix, (rows, high), frac)
    return matrix


def resize_bilinear(maps, size):
    """Resizes the last two axes of ``maps`` to ``size``.

    Args:
        maps (numpy.ndarray or cupy.ndarray): Floats shaped ``(..., h, w)``.
        size (tuple of int): The new ``(H, W)``.

    Returns:
        An array of the same kind and dtype shaped ``(..., H, W)``.
    """
    height, width = (int(s) for s in size)
    if maps.shape[-2:] == (height, width):
        return maps
    xp = backend.get_array_module(maps)
    rows = xp.asarray(interpolation_matrix(maps.shape[-2], height),
                      maps.dtype)
    cols = xp.asarray(interpolation_matrix(maps.shape[-1], width).T,
                      maps.dtype)
    return xp.matmul(xp.matmul(rows, maps), cols)
