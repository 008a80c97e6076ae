"""Saliency calculators: compute samples, then aggregate them."""
from saliency_ext.calculators.aggregation import aggregate, spread  # NOQA
from saliency_ext.calculators.base import BaseCalculator  # NOQA
from saliency_ext.calculators.gradcam import GradCAMCalculator  # NOQA
from saliency_ext.calculators.gradient import GradientCalculator  # NOQA
from saliency_ext.calculators.integrated_gradients import IntegratedGradientsCalculator  # NOQA
from saliency_ext.calculators.noise import GaussianNoiseSampler  # NOQA
from saliency_ext.calculators.occlusion import OcclusionCalculator  # NOQA
