"""Captions, legends and tiles: what is kept between pictures changes no pixel."""
import numpy as np
import pytest

from saliency_ext.visualizers import compose


def fresh_legend(*args, **kwargs):
    compose._legend_without_ticks.cache_clear()
    return compose.legend(*args, **kwargs)


def test_a_legend_drawn_from_the_kept_strip_equals_a_fresh_one():
    first = compose.legend(360, (-2.5, 2.5), True)
    kept = compose._legend_without_ticks.cache_info()
    other = compose.legend(360, (-0.125, 0.125), True)
    assert compose._legend_without_ticks.cache_info().hits == kept.hits + 1
    again = compose.legend(360, (-2.5, 2.5), True)
    np.testing.assert_array_equal(again, first)  # the other's ticks did not stay
    np.testing.assert_array_equal(other, fresh_legend(360, (-0.125, 0.125), True))
    assert (other != first).any()


@pytest.mark.parametrize('limits, signed, note', [
    ((0., 3.), False, None), (None, True, 'one scale for every tile'),
    ((-1., 1.), True, 'right: the std over the 30 samples')])
def test_legends_of_every_kind_equal_fresh_ones(limits, signed, note):
    compose.legend(400, limits, signed, note=note)  # keeps its strip
    kept = compose.legend(400, limits, signed, note=note)
    np.testing.assert_array_equal(kept, fresh_legend(400, limits, signed, note=note))
    assert kept.shape[1] == 400 and kept.dtype == np.uint8
    ticks = kept[compose.PAD + compose.BAR_HEIGHT + 1:compose.PAD + compose.BAR_HEIGHT + 3]
    assert (ticks == 0).any() == (limits is not None)  # black tick marks
