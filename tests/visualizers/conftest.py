"""Pixel helpers shared by the visualizer tests."""

import numpy as np
import pytest

from tests.pixels import blue_mask, red_mask


@pytest.fixture
def red():
    """Mask of the clearly red pixels of an RGB array."""
    return red_mask


@pytest.fixture
def blue():
    """Mask of the clearly blue pixels of an RGB array."""
    return blue_mask


@pytest.fixture
def read_png():
    """Read a PNG file back as an RGB array."""
    from PIL import Image

    def read(path):
        with Image.open(path) as image:
            return np.asarray(image.convert('RGB'))
    return read
