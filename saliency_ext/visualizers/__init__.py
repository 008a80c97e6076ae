"""Visualizers: turn a saliency array into an RGB picture (tables, images, molecules)."""

from saliency_ext.visualizers.base import BaseVisualizer  # NOQA
from saliency_ext.visualizers.colors import red_blue  # NOQA
from saliency_ext.visualizers.colors import red_blue_cmap  # NOQA
from saliency_ext.visualizers.image import ImageVisualizer  # NOQA
from saliency_ext.visualizers.mol import MolVisualizer  # NOQA
from saliency_ext.visualizers.mol import SmilesVisualizer  # NOQA
from saliency_ext.visualizers.scalers import abs_max_scaler  # NOQA
from saliency_ext.visualizers.scalers import FixedScaler  # NOQA
from saliency_ext.visualizers.scalers import min_max_scaler  # NOQA
from saliency_ext.visualizers.scalers import normalize_scaler  # NOQA
from saliency_ext.visualizers.scalers import Scaler  # NOQA
from saliency_ext.visualizers.table import TableVisualizer  # NOQA
