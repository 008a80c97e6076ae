"""Example models whose predictions the library explains."""

from saliency_ext.models.ggnn import GGNN, GraphRegressor  # NOQA
