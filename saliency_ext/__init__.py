"""saliency_ext: saliency maps for Chainer models, computed while they train."""
from saliency_ext.calculators import (  # NOQA
    BaseCalculator, GaussianNoiseSampler, GradCAMCalculator,
    GradientCalculator, IntegratedGradientsCalculator, OcclusionCalculator,
    aggregate, spread)
from saliency_ext.hooks import VariableMonitorLinkHook  # NOQA
from saliency_ext.report import (  # NOQA
    EntrySeries, ExplanationShiftTrigger, ReportEntry, SaliencyReport,
    SaliencyReportError)
from saliency_ext.sinks import FolderInUseError, ReportLayout, ReportSink  # NOQA
from saliency_ext.visualizers import (  # NOQA
    FixedScaler, ImageVisualizer, MolVisualizer, SmilesVisualizer,
    TableVisualizer, abs_max_scaler, min_max_scaler, normalize_scaler,
    red_blue_cmap)
