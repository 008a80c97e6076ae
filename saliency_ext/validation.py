"""Argument checks shared by the modules that validate user input."""
import numpy


def is_int(value):
    """Whether ``value`` is a Python or numpy integer (``bool`` is not)."""
    return isinstance(value, (int, numpy.integer)) and not isinstance(
        value, bool)
