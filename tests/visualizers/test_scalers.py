import numpy as np
import pytest

from saliency_ext.visualizers import FixedScaler, abs_max_scaler, min_max_scaler, \
    normalize_scaler
from saliency_ext.visualizers.scalers import apply_scaler, clip_percentile


def test_abs_max_scaler_divides_by_largest_magnitude():
    saliency = np.array([-2.0, 1.0, 0.0])
    np.testing.assert_allclose(abs_max_scaler(saliency), [-1.0, 0.5, 0.0])
    assert abs_max_scaler.limits(saliency) == (-2.0, 2.0)
    assert abs_max_scaler.signed


def test_min_max_scaler_maps_to_unit_interval():
    saliency = np.array([1.0, 3.0, 2.0])
    np.testing.assert_allclose(min_max_scaler(saliency), [0.0, 1.0, 0.5])
    assert min_max_scaler.limits(saliency) == (1.0, 3.0)
    assert not min_max_scaler.signed


def test_normalize_scaler_makes_magnitudes_sum_to_one():
    scaled = normalize_scaler(np.array([1.0, -3.0]))
    np.testing.assert_allclose(scaled, [0.25, -0.75])


@pytest.mark.parametrize('scaler', [abs_max_scaler, min_max_scaler, normalize_scaler])
def test_map_of_zeros_scales_to_zeros(scaler):
    np.testing.assert_array_equal(scaler(np.zeros(4)), np.zeros(4))


def test_min_max_scaler_maps_a_constant_map_to_zeros():
    np.testing.assert_array_equal(min_max_scaler(np.full(4, 5.0)), np.zeros(4))


def test_scalers_ignore_nan_and_infinity_when_fitting():
    saliency = np.array([np.nan, 2.0, -1.0, np.inf])
    assert abs_max_scaler.limits(saliency) == (-2.0, 2.0)
    assert min_max_scaler.limits(saliency) == (-1.0, 2.0)
    np.testing.assert_allclose(abs_max_scaler(saliency)[1:3], [1.0, -0.5])


def test_all_missing_map_gets_a_valid_scale():
    for scaler in (abs_max_scaler, min_max_scaler, normalize_scaler):
        lo, hi = scaler.limits(np.full(3, np.nan))
        assert lo < hi


def test_fixed_unsigned_scale():
    scaler = FixedScaler(0, 2)
    assert not scaler.signed
    assert scaler.limits(np.zeros(1)) == (0.0, 2.0)
    np.testing.assert_allclose(scaler(np.array([1.0, 2.0, 4.0])), [0.5, 1.0, 2.0])


def test_fixed_signed_scale_is_symmetric_around_zero():
    scaler = FixedScaler(-1, 3)
    assert scaler.signed
    assert scaler.limits(np.zeros(1)) == (-3.0, 3.0)
    np.testing.assert_allclose(scaler(np.array([1.5, -3.0, 0.0])), [0.5, -1.0, 0.0])


def test_fixed_scale_does_not_depend_on_the_map():
    value = np.array([0.5])
    small = FixedScaler(-2, 2)(np.concatenate([value, [1.0]]))
    large = FixedScaler(-2, 2)(np.concatenate([value, [100.0]]))
    assert small[0] == large[0] == 0.25


@pytest.mark.parametrize('vmin, vmax, error', [
    (1, 1, ValueError), (2, 1, ValueError), (0, float('nan'), ValueError),
    ('0', 1, TypeError), (0, True, TypeError)])
def test_fixed_scaler_rejects_bad_bounds(vmin, vmax, error):
    with pytest.raises(error, match='vmin|vmax'):
        FixedScaler(vmin, vmax)


def test_apply_scaler_with_a_plain_function_infers_sign():
    values, limits, signed = apply_scaler(np.array([-2.0, 1.0]), lambda s: s / 4)
    np.testing.assert_allclose(values, [-0.5, 0.25])
    assert (limits, signed) == ((-1.0, 1.0), True)
    values, limits, signed = apply_scaler(np.array([2.0, 1.0]), None)
    assert (limits, signed) == ((0.0, 1.0), False)


def test_apply_scaler_gives_plain_functions_zeros_for_missing_values():
    values, _, _ = apply_scaler(np.array([np.nan, 2.0, -1.0]),
                                lambda s: s / np.abs(s).max())
    np.testing.assert_allclose(values, [0.0, 1.0, -0.5])


def test_apply_scaler_rejects_bad_scalers():
    with pytest.raises(TypeError, match="'abs'"):
        apply_scaler(np.zeros(3), 'abs')
    with pytest.raises(ValueError, match=r'shape \(1,\)'):
        apply_scaler(np.zeros(3), lambda s: s[:1])


def test_clip_percentile_limits_outliers_and_keeps_signs():
    saliency = np.concatenate([np.linspace(-1, 1, 99), [1000.0, np.inf]])
    clipped = clip_percentile(saliency, 99)
    bound = np.percentile(np.abs(saliency[:100]), 99)
    assert clipped[99] == pytest.approx(bound)
    assert clipped[0] == -1.0
    assert clipped[100] == np.inf  # stays missing rather than becoming the bound
    np.testing.assert_array_equal(clip_percentile(saliency, 100)[:100], saliency[:100])


@pytest.mark.parametrize('percentile', [0, -5, 101, 'high'])
def test_clip_percentile_rejects_bad_percentiles(percentile):
    with pytest.raises(ValueError, match=repr(percentile)):
        clip_percentile(np.ones(3), percentile)
