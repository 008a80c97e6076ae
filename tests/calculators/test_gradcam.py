"""Grad-CAM and LayerCAM: closed forms on a CNN with set weights, the resizing
against PIL, noise on the input, and a trained CNN that must look at the
quadrant its class names."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from saliency_ext import (GaussianNoiseSampler, GradCAMCalculator,
                          VariableMonitorLinkHook)
from saliency_ext.calculators.resize import resize_bilinear

#: Weights of the two 2 x 2 / stride 2 filters of :class:`SetCNN`.
FILTERS = numpy.array([1., -0.5], numpy.float32)
#: Class -> channel -> (2, 2) weights of the linear head on the activations.
HEAD = numpy.array([
    [[[1., 2.], [-1., 0.5]], [[-2., 1.], [0.5, 0.5]]],
    [[[-1., 0.], [3., -1.]], [[1., -3.], [2., 1.]]]], numpy.float32)
#: Upsampling one axis from 2 to 4 pixels with half-pixel centres: output
#: centres fall at input coordinates -0.25 (clamped), 0.25, 0.75, 1.25
#: (clamped).
UP = numpy.array([[1., 0.], [.75, .25], [.25, .75], [0., 1.]])


class SetCNN(chainer.Chain):
    """4 x 4 images -> two 2 x 2 maps (filters of ones times ``FILTERS``,
    stride 2, no bias) -> a linear head with weights ``HEAD``: the class
    scores are linear in the activations, so their gradient is ``HEAD``."""

    def __init__(self):
        super(SetCNN, self).__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(1, 2, ksize=2, stride=2, nobias=True)
            self.head = L.Linear(8, 2, nobias=True)
        self.conv.W.array[...] = FILTERS[:, None, None, None] * numpy.ones(
            (2, 1, 2, 2), numpy.float32)
        self.head.W.array[...] = HEAD.reshape(2, 8)

    def forward(self, x):
        return self.head(self.conv(x))


def activations(x):
    """``(N, 2, 2, 2)``: each filter times the sum of each 2 x 2 block."""
    blocks = x[:, 0].reshape(len(x), 2, 2, 2, 2).sum(axis=(2, 4))
    return FILTERS[None, :, None, None] * blocks[:, None]


def closed_form(x, classes, mode):
    a = activations(x.astype(numpy.float64))
    g = HEAD[classes].astype(numpy.float64)  # d score / d activation
    weights = g.mean(axis=(2, 3), keepdims=True) if mode == 'gradcam' \
        else numpy.maximum(g, 0)
    cam = numpy.maximum((weights * a).sum(axis=1), 0)
    return UP @ cam @ UP.T


def images(n=5, seed=0):
    return numpy.random.RandomState(seed).randn(n, 1, 4, 4).astype(
        numpy.float32)


def calculator(model, **kwargs):
    return GradCAMCalculator(
        model, target_extractor=VariableMonitorLinkHook(model.conv), **kwargs)


@pytest.mark.parametrize('mode', ['gradcam', 'layercam'])
@pytest.mark.parametrize('target', [0, 1, 'top'])
def test_closed_form(mode, target):
    model, x = SetCNN(), images()
    samples = calculator(model, mode=mode, target=target).compute(x)
    assert samples.shape == (1, 5, 4, 4)
    classes = model(x).array.argmax(axis=1) if target == 'top' else \
        numpy.full(len(x), target)
    expected = closed_form(x, classes, mode)
    numpy.testing.assert_allclose(samples[0], expected, rtol=1e-5,
                                  atol=1e-5)


def test_closed_form_is_not_trivial():
    """The set weights exercise both ReLUs and differ between the modes."""
    x = images()
    a = activations(x)
    for k in (0, 1):
        raw = (HEAD[k].mean(axis=(1, 2))[None, :, None, None] * a).sum(1)
        assert (raw < 0).any() and (raw > 0).any()
    assert not numpy.allclose(closed_form(x, [0] * 5, 'gradcam'),
                              closed_form(x, [0] * 5, 'layercam'))


def test_resize_matches_pil_when_enlarging():
    image = pytest.importorskip('PIL.Image')
    maps = numpy.random.RandomState(1).rand(3, 5).astype(numpy.float32)
    for size in [(7, 12), (3, 10), (9, 5), (6, 10)]:
        ours = resize_bilinear(maps, size)
        pil = numpy.asarray(image.fromarray(maps).resize(
            (size[1], size[0]), image.BILINEAR))
        numpy.testing.assert_allclose(ours, pil, rtol=1e-5, atol=1e-6)


def test_resize_closed_form_and_batch_axes():
    maps = numpy.arange(8, dtype=numpy.float32).reshape(2, 2, 2)
    numpy.testing.assert_allclose(resize_bilinear(maps, (4, 4)),
                                  UP @ maps @ UP.T, rtol=1e-6)
    assert resize_bilinear(maps, (2, 2)) is maps


class ConstantNoise(object):
    def sample(self, target):
        return numpy.full_like(target, 0.25)


def test_noise_goes_to_the_input():
    model, x = SetCNN(), images()
    calc = calculator(model, target=0)
    noised = calc.compute(x, noise_sampler=ConstantNoise())
    numpy.testing.assert_allclose(noised, calc.compute(x + 0.25), rtol=1e-5,
                                  atol=1e-6)


def test_smoothed_gradcam_averages_noisy_maps():
    model, x = SetCNN(), images()
    calc = calculator(model, target=0)
    numpy.random.seed(0)
    samples = calc.compute(x, M=8, noise_sampler=GaussianNoiseSampler())
    assert samples.shape == (8, 5, 4, 4)
    assert not numpy.allclose(samples[0], samples[1])
    expected = numpy.mean([closed_form(x + noise, [0] * 5, 'gradcam')
                           for noise in noisy_inputs(x, 8)], axis=0)
    numpy.testing.assert_allclose(calc.aggregate(samples), expected,
                                  rtol=1e-4, atol=1e-4)


def noisy_inputs(x, M):
    """The noise the calculator drew with seed 0: one draw shaped (M, N, ...)
    as the batched core draws it."""
    numpy.random.seed(0)
    tiled = numpy.broadcast_to(x, (M,) + x.shape).reshape((-1,) + x.shape[1:])
    return GaussianNoiseSampler().sample(tiled).reshape((M,) + x.shape)


def test_rows_per_pass_do_not_change_the_maps():
    model, x = SetCNN(), images(7)
    one = calculator(model, target='top', max_batch=1).compute(
        x, batchsize=1)
    many = calculator(model, target='top').compute(x, batchsize=7)
    numpy.testing.assert_allclose(one, many, rtol=1e-6)


def test_settings():
    model = SetCNN()
    settings = calculator(model, mode='layercam', target='top').settings()
    assert settings['mode'] == 'layercam'
    assert settings['input_index'] == 0
    assert settings['target_extractor'] == "output of link '/conv'"


def test_needs_a_link_hook():
    with pytest.raises(TypeError, match='VariableMonitorLinkHook'):
        GradCAMCalculator(SetCNN())


def test_unknown_mode():
    with pytest.raises(ValueError, match="'gradcam', 'layercam'"):
        calculator(SetCNN(), mode='cam++')


def test_activations_must_be_convolutional():
    model = SetCNN()
    calc = GradCAMCalculator(
        model, target_extractor=VariableMonitorLinkHook(model.head),
        target=0)
    with pytest.raises(ValueError, match="link '/head'"):
        calc.compute(images())


def test_input_must_be_images():
    model = SetCNN()
    calc = calculator(model, target=0)
    with pytest.raises(ValueError, match='model input 0'):
        calc.compute(images().reshape(5, 16))


# -- a trained CNN must look where its class is --------------------------
#
# Images of 16 x 16 pixels: uniform background noise, a Gaussian blob in one
# quadrant (the class: 0 top left, 1 top right, 2 bottom left, 3 bottom
# right) and, as distractors, single-pixel spikes brighter than the blob
# anywhere. An untrained CNN's maps are drawn to the spikes; a trained one's
# must peak in the blob's quadrant.
#
# Grad-CAM weights each channel by its gradient averaged over the whole map,
# so it needs a head whose class evidence is per channel (as the global
# average pooling of CAM): here each class scores its own quadrant's pooled
# channels. With a linear head on the activations the class is a position,
# not a channel; the averaged weights then cancel (its maps are empty after
# training), while LayerCAM, which weights each position by its own
# gradient, still finds the blob: each mode is tested on the head it suits.

SIDE, HALF = 16, 8


def quadrant_images(n, seed, spikes=6):
    rng = numpy.random.RandomState(seed)
    labels = rng.randint(0, 4, n).astype(numpy.int32)
    x = rng.uniform(0, 0.5, (n, 1, SIDE, SIDE))
    yy, xx = numpy.mgrid[:SIDE, :SIDE]
    for i, label in enumerate(labels):
        cy = rng.uniform(1.5, HALF - 2.5) + HALF * (label // 2)
        cx = rng.uniform(1.5, HALF - 2.5) + HALF * (label % 2)
        x[i, 0] += numpy.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.)
        x[i, 0].flat[rng.choice(SIDE * SIDE, spikes, replace=False)] += 1.5
    return x.astype(numpy.float32), labels


class QuadrantCNN(chainer.Chain):
    """Two 3 x 3 convolutions, then either a score per quadrant from that
    quadrant's max-pooled channels (``head='quadrants'``) or a linear layer
    on all max-pooled activations (``head='linear'``)."""

    def __init__(self, head):
        super(QuadrantCNN, self).__init__()
        self.head = head
        with self.init_scope():
            self.conv1 = L.Convolution2D(1, 8, 3, pad=1)
            self.conv2 = L.Convolution2D(8, 16, 3, pad=1)
            self.out = L.Linear(16, 1) if head == 'quadrants' else \
                L.Linear(16 * HALF * HALF, 4)

    def forward(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        if self.head == 'linear':
            return self.out(F.max_pooling_2d(h, 2))
        pooled = F.max_pooling_2d(h, HALF)  # (N, C, 2, 2): the quadrants
        n, c = pooled.shape[:2]
        per_quadrant = F.transpose(F.reshape(pooled, (n, c, 4)), (0, 2, 1))
        return F.reshape(self.out(per_quadrant, n_batch_axes=2), (n, 4))


def train(model, epochs=3):
    optimizer = chainer.optimizers.Adam(alpha=0.003)
    optimizer.setup(model)
    x, t = quadrant_images(512, seed=1)
    rng = numpy.random.RandomState(2)
    for epoch in range(epochs):
        for batch in numpy.array_split(rng.permutation(len(x)), 16):
            loss = F.softmax_cross_entropy(model(x[batch]), t[batch])
            model.cleargrads()
            loss.backward()
            optimizer.update()
    return model


def quadrant_hits(model, mode):
    """The share of 100 held-out images whose map for the predicted class
    peaks in the blob's quadrant."""
    x, t = quadrant_images(100, seed=3)
    calc = GradCAMCalculator(
        model, mode=mode, target='top',
        target_extractor=VariableMonitorLinkHook(model.conv2))
    maps = calc.aggregate(calc.compute(x, batchsize=50))
    assert maps.shape == (100, SIDE, SIDE)
    peaks = maps.reshape(100, -1).argmax(axis=1)
    rows, cols = numpy.unravel_index(peaks, (SIDE, SIDE))
    return ((rows // HALF) * 2 + cols // HALF == t).mean()


@pytest.mark.parametrize('mode,head', [('gradcam', 'quadrants'),
                                       ('layercam', 'linear')])
def test_trained_cnn_looks_at_the_quadrant(mode, head):
    numpy.random.seed(0)
    model = QuadrantCNN(head)
    untrained = quadrant_hits(model, mode)
    train(model)
    x, t = quadrant_images(100, seed=3)
    with chainer.using_config('train', False):
        assert (model(x).array.argmax(axis=1) == t).mean() >= 0.9
    assert untrained < 0.6  # the spikes draw the untrained model's maps
    assert quadrant_hits(model, mode) >= 0.9
