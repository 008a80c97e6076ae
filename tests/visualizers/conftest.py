"""Pixel helpers shared by the visualizer tests."""

import numpy as np
import pytest


def _red(rgb):
    rgb = rgb.astype(int)
    return (rgb[..., 0] > rgb[..., 1] + 60) & (rgb[..., 0] > rgb[..., 2] + 60)


def _blue(rgb):
    rgb = rgb.astype(int)
    return (rgb[..., 2] > rgb[..., 0] + 60) & (rgb[..., 2] > rgb[..., 1] + 40)


@pytest.fixture
def red():
    """Mask of the clearly red pixels of an RGB array."""
    return _red


@pytest.fixture
def blue():
    """Mask of the clearly blue pixels of an RGB array."""
    return _blue


@pytest.fixture
def read_png():
    """Read a PNG file back as an RGB array."""
    from PIL import Image

    def read(path):
        with Image.open(path) as image:
            return np.asarray(image.convert('RGB'))
    return read
