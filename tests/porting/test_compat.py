"""Chainer Chemistry's call shapes beyond the article: positional arguments,
its keyword arguments, PIL images, ``red_blue_cmap`` and the hook's methods."""
import chainer
import chainer.functions as F
import numpy as np
import pytest
from chainer.dataset import concat_examples
from PIL import Image

from saliency_ext import (GradientCalculator, ImageVisualizer,
                          IntegratedGradientsCalculator, OcclusionCalculator,
                          SmilesVisualizer, TableVisualizer,
                          VariableMonitorLinkHook, normalize_scaler,
                          red_blue_cmap)
from saliency_ext.visualizers import red_blue
from tests.calculators.models import MLP, data

NAMES = ['sepal length', 'sepal width', 'petal length', 'petal width']
SALIENCY = np.array([0.1, -0.2, 0.6, 0.3])


def _read(path):
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def test_table_visualizer_third_positional_argument_is_the_save_path(tmp_path):
    path = tmp_path / 'f.png'
    rgb = TableVisualizer().visualize(SALIENCY, NAMES, str(path))
    np.testing.assert_array_equal(_read(path), rgb)
    # every argument positionally, in Chainer Chemistry's order
    svg = tmp_path / 'all.svg'
    TableVisualizer().visualize(SALIENCY, NAMES, str(svg), 2, normalize_scaler,
                                'descending', 'Feature Importance', 'b', 'Importance',
                                'tight')
    text = svg.read_text()
    assert '>Feature Importance<' in text and '>Importance<' in text
    assert '>petal length<' in text and '>sepal length<' not in text  # num_visualize=2


def test_table_visualizer_title_color_and_xlabel():
    visualizer = TableVisualizer()
    plain = visualizer.visualize(SALIENCY)
    styled = visualizer.visualize(SALIENCY, title='Feature Importance', color='b',
                                  xlabel='Importance')
    assert styled.shape[0] > plain.shape[0] and styled.shape[1] == plain.shape[1]
    pure_blue = np.all(styled == (0, 0, 255), axis=-1)
    assert pure_blue.sum() > 200  # every bar, whatever its sign, is 'b'
    reds = (styled[..., 0] > 200) & (styled[..., 1] < 80)
    assert not reds.any()
    with pytest.raises(ValueError, match="color must be a matplotlib colour.*'nope'"):
        visualizer.visualize(SALIENCY, color='nope')


@pytest.mark.parametrize('visualizer, saliency', [
    (TableVisualizer(), SALIENCY), (ImageVisualizer(), np.ones((4, 4)))])
def test_bbox_inches_tight_is_taken_and_others_name_the_alternative(visualizer, saliency):
    assert visualizer.visualize(saliency, bbox_inches='tight').ndim == 3
    assert visualizer.visualize(saliency, bbox_inches=None).ndim == 3
    with pytest.raises(ValueError, match=r"bbox_inches=\(0, 0, 1, 1\).*crop the returned"):
        visualizer.visualize(saliency, bbox_inches=(0, 0, 1, 1))


def _transparent_left_half():
    """8 x 8 RGBA: left half transparent red, right half opaque blue."""
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[:, :4] = (255, 0, 0, 0)
    pixels[:, 4:] = (0, 0, 255, 255)
    return pixels


@pytest.mark.parametrize('image', [
    Image.fromarray(_transparent_left_half(), 'RGBA'),
    _transparent_left_half(),
    _transparent_left_half().transpose(2, 0, 1),
    _transparent_left_half().astype(np.float32) / 255,
])
def test_rgba_images_are_composited_over_white(image):
    rgb = ImageVisualizer().visualize(np.ones((8, 8)), image, alpha=0.0)
    assert np.all(rgb[:, :4] == 255) and np.all(rgb[:, 4:] == (0, 0, 255))


def test_half_transparent_pixels_blend_with_white():
    pixels = np.zeros((4, 4, 2), np.uint8)  # grey + alpha (LA)
    pixels[..., 1] = 128
    rgb = ImageVisualizer().visualize(np.ones((4, 4)), pixels, alpha=0.0)
    np.testing.assert_allclose(rgb, 127, atol=1)
    la = Image.fromarray(pixels, 'LA')
    np.testing.assert_array_equal(ImageVisualizer().visualize(np.ones((4, 4)), la, alpha=0.0),
                                  rgb)


@pytest.mark.parametrize('mode', ['RGB', 'L', 'P', 'I;16', 'F'])
def test_pil_images_of_any_mode_match_their_arrays(mode):
    rng = np.random.RandomState(0)
    rgb_pixels = rng.randint(0, 256, (6, 10, 3)).astype(np.uint8)
    image = Image.fromarray(rgb_pixels, 'RGB')
    if mode != 'RGB':
        image = image.convert('L').convert(mode)
    saliency = rng.rand(6, 10)
    drawn = ImageVisualizer().visualize(saliency, image, alpha=0.0)
    expected = np.asarray(image.convert('RGB')) if mode in ('RGB', 'L', 'P') else None
    if expected is not None:
        np.testing.assert_array_equal(drawn, expected)
    else:  # wide greys are stretched from their minimum to their maximum, as float arrays
        grey = np.asarray(image, np.float64)
        stretched = np.rint((grey - grey.min()) / (grey.max() - grey.min()) * 255)
        np.testing.assert_allclose(drawn[..., 0], stretched, atol=1)


def test_compute_preprocess_postprocess_and_retain_inputs(device):
    model = MLP().to_device(device)  # the functions get the device's arrays
    x = data(n=20)
    t = np.arange(20, dtype=np.int32) % 3
    calculator = GradientCalculator(model, target='label', label_index=-1)
    plain = calculator.compute((2 * x, t), batchsize=8)

    def double(inputs, labels):
        return 2 * inputs, labels

    samples = calculator.compute((x, t), batchsize=8, preprocess_fn=double,
                                 postprocess_fn=lambda s: chainer.Variable(abs(s)),
                                 retain_inputs=True)
    np.testing.assert_allclose(samples, np.abs(plain), rtol=1e-6)
    assert len(calculator.inputs) == 2  # the converted arrays, label included
    np.testing.assert_array_equal(calculator.inputs[0], 2 * x)
    np.testing.assert_array_equal(calculator.inputs[1], t)
    # Chainer Chemistry's positional order
    positional = calculator.compute((x, t), 1, 8, concat_examples, False, double)
    np.testing.assert_allclose(positional, plain, rtol=1e-6)
    with pytest.raises(TypeError, match='preprocess_fn must be callable'):
        calculator.compute((x, t), preprocess_fn=3)


def test_integrated_gradients_take_the_same_compute_arguments():
    model, x = MLP(), data()
    calculator = IntegratedGradientsCalculator(model, target=0, steps=4)
    halved = calculator.compute(x, postprocess_fn=lambda s: s / 2)
    np.testing.assert_allclose(halved, calculator.compute(x) / 2, rtol=1e-6)


class RecordsBackprop(chainer.Chain):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(chainer.config.enable_backprop)
        return F.sum(x, axis=1)


@pytest.mark.parametrize('enable_backprop', [False, True])
def test_occlusion_enable_backprop(enable_backprop):
    model = RecordsBackprop()
    calculator = OcclusionCalculator(model, slide_axis=1, enable_backprop=enable_backprop)
    x = data(n=2)
    samples = calculator.compute(x)
    np.testing.assert_allclose(samples[0], x, rtol=1e-6)  # a sum: each value is its own part
    assert set(model.seen) == {enable_backprop}
    assert calculator.settings()['size'] == [1]


def test_red_blue_cmap_is_exported_and_colours_molecules():
    for value in (-1.0, -0.3, 0.0, 0.5, 1.0):
        np.testing.assert_array_equal(red_blue_cmap(value), red_blue(value))
    rgb = SmilesVisualizer().visualize(np.array([1.0, -1.0, 0.0]), 'CCO', color_fn=red_blue_cmap)
    assert rgb.ndim == 3


def test_hook_get_variable_add_process_and_delete_process():
    model, x = MLP(), data()
    hook = VariableMonitorLinkHook(model.l1)
    assert hook.get_variable() is None
    seen = []
    hook.add_process('scale', lambda h, args, variable: seen.append(
        (h, args.link, variable)))
    hook.add_process('zero', lambda h, args, variable: variable.array.fill(0))
    with hook:
        zeroed = model(x).array
    assert seen[0][0] is hook and seen[0][1] is model.l1
    assert seen[0][2] is hook.get_variable()
    np.testing.assert_allclose(zeroed, np.broadcast_to(model.l2.b.array, zeroed.shape),
                               rtol=1e-6)
    hook.delete_process('zero')
    with hook:
        assert not np.allclose(model(x).array, zeroed)
    with pytest.raises(KeyError, match="'zero'"):
        hook.delete_process('zero')
    # a calculator still owns the hook's substitution; user processes run after it
    calculator = GradientCalculator(model, target=0, target_extractor=hook)
    before = len(seen)
    calculator.compute(x)
    assert len(seen) > before and not model.l1.local_link_hooks
