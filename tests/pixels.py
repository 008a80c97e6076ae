"""Colour masks shared by the tests that look at pictures."""


def red_mask(rgb):
    """Mask of the clearly red pixels of an RGB array."""
    rgb = rgb.astype(int)
    return (rgb[..., 0] > rgb[..., 1] + 60) & (rgb[..., 0] > rgb[..., 2] + 60)


def blue_mask(rgb):
    """Mask of the clearly blue pixels of an RGB array."""
    rgb = rgb.astype(int)
    return (rgb[..., 2] > rgb[..., 0] + 60) & (rgb[..., 2] > rgb[..., 1] + 40)
