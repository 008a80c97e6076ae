"""VanillaGrad and gradient x input (SmoothGrad and BayesGrad through
``compute(noise_sampler=..., train=True)``)."""
from saliency_ext.calculators.base import BaseCalculator


class GradientCalculator(BaseCalculator):
    """Saliency as the gradient of the explained value w.r.t. the target.

    Args:
        model (chainer.Link): The model to explain.
        multiply_target (bool): Multiply the gradient by the target value
            (gradient x input); with noise, by the noised target.
        **kwargs: The options of
            :class:`~saliency_ext.calculators.base.BaseCalculator`:
            ``eval_fun``, ``target_extractor``, ``output_extractor``,
            ``device``, ``target``, ``label_index``, ``max_batch``.
    """

    n_blocks = 1

    def __init__(self, model, *, multiply_target=False, **kwargs):
        super(GradientCalculator, self).__init__(model, **kwargs)
        self.multiply_target = bool(multiply_target)

    def settings(self):
        settings = super(GradientCalculator, self).settings()
        settings.update(multiply_target=self.multiply_target)
        return settings

    def _plan(self, group, train):
        return self

    def transform(self, point, ks):
        return point

    def contribution(self, point, ks, values, grads):
        return grads * point if self.multiply_target else grads
