"""The training extension: SaliencyReport, its entries and their series."""
from saliency_ext.report.entry import ReportEntry  # NOQA
from saliency_ext.report.errors import SaliencyReportError  # NOQA
from saliency_ext.report.extension import SaliencyReport  # NOQA
from saliency_ext.report.series import EntrySeries  # NOQA
from saliency_ext.report.triggers import ExplanationShiftTrigger  # NOQA
