"""Grad-CAM (Selvaraju et al., 2017) and LayerCAM (Jiang et al., 2021): class
activation maps of a convolution layer, weighted by their gradients and
resized to the input image."""
from chainer import backend

from saliency_ext.calculators import targets
from saliency_ext.calculators.base import BaseCalculator
from saliency_ext.calculators.resize import resize_bilinear
from saliency_ext.hooks import VariableMonitorLinkHook
from saliency_ext.validation import is_int

MODES = ('gradcam', 'layercam')


class GradCAMCalculator(BaseCalculator):
    """Class activation maps of one convolution layer.

    The activations ``A`` (``(C, h, w)`` per item) are the output of the link
    watched by ``target_extractor``, and ``G`` the gradient of the explained
    value with respect to them:

    - ``mode='gradcam'``: ``ReLU(sum_c mean_hw(G_c) * A_c)``, each channel
      weighted by its spatially averaged gradient;
    - ``mode='layercam'``: ``ReLU(sum_c ReLU(G_c) * A_c)``, each position
      weighted by its own positive gradient, which keeps the maps of
      earlier, finer layers sharp.

    The ``(h, w)`` map is resized bilinearly (half-pixel centres, as PIL) to
    the last two axes ``(H, W)`` of model input ``input_index``, so
    ``compute`` returns samples shaped ``(M, N, H, W)``: aggregate them
    without ``ch_axis`` and draw them with ``ImageVisualizer``. A
    ``noise_sampler`` perturbs that input (not the activations): with
    ``M > 1`` the maps of the noisy copies are averaged, a smoothed
    Grad-CAM; ``train=True`` samples dropout as for BayesGrad.

    Args:
        model (chainer.Link): The model to explain.
        target_extractor (VariableMonitorLinkHook): Watches the convolution
            link whose output is explained (usually the last one). Required.
        mode (str): ``'gradcam'`` or ``'layercam'``.
        input_index (int): The model input holding the images: the maps
            take its height and width, and the noise goes to it.
        **kwargs: The other options of
            :class:`~saliency_ext.calculators.base.BaseCalculator`:
            ``eval_fun``, ``output_extractor``, ``device``, ``target``,
            ``label_index``, ``max_batch``.
    """

    def __init__(self, model, *, target_extractor=None, mode='gradcam',
                 input_index=0, **kwargs):
        if not isinstance(target_extractor, VariableMonitorLinkHook):
            raise TypeError(
                'GradCAMCalculator explains the activations of a '
                'convolution layer: give target_extractor='
                'VariableMonitorLinkHook(conv_link), got {!r}'.format(
                    target_extractor))
        super(GradCAMCalculator, self).__init__(
            model, target_extractor=target_extractor, **kwargs)
        if mode not in MODES:
            raise ValueError('mode must be one of {}, got {!r}'.format(
                ', '.join(map(repr, MODES)), mode))
        if not is_int(input_index):
            raise TypeError('input_index must be an int, got {!r}'.format(
                input_index))
        self.mode = mode
        self.input_index = int(input_index)
        self.noise_input = self.input_index

    def settings(self):
        settings = super(GradCAMCalculator, self).settings()
        settings.update(mode=self.mode, input_index=self.input_index)
        return settings

    def _plan(self, group, train):
        inputs = group.inputs
        if not -len(inputs) <= self.input_index < len(inputs):
            raise IndexError('input_index {} is out of range: the model '
                             'takes {} inputs'.format(self.input_index,
                                                      len(inputs)))
        image = inputs[self.input_index]
        if image.ndim < 3 or image.dtype.kind != 'f':
            raise ValueError(
                'Grad-CAM resizes its maps to the height and width of model '
                'input {}, which must be float images (N, ..., H, W); got '
                'dtype {} shape {}'.format(self.input_index, image.dtype,
                                           image.shape))
        return _CAMPlan(self, image.shape[-2:])


class _CAMPlan(object):
    """One block per sample: the map of the activations and gradients."""

    n_blocks = 1

    def __init__(self, calculator, size):
        self.calculator = calculator
        self.size = size

    def transform(self, point, ks):
        return point

    def contribution(self, point, ks, values, grads):
        if point.ndim != 5:
            calc = self.calculator
            raise ValueError(
                'Grad-CAM needs convolution activations (N, C, h, w); the {} '
                'is shaped {} per item'.format(
                    targets.describe_target(calc.model,
                                            calc.target_extractor),
                    point.shape[2:]))
        xp = backend.get_array_module(point)
        if self.calculator.mode == 'gradcam':
            weights = grads.mean(axis=(3, 4), keepdims=True)
        else:
            weights = xp.maximum(grads, 0)
        cam = xp.maximum((weights * point).sum(axis=2), 0)
        return resize_bilinear(cam, self.size)
