"""The built-in sink that writes pictures and arrays into the report folder
(see :mod:`saliency_ext.sinks.layout`)."""
from saliency_ext.sinks.base import ReportSink


class FilesSink(ReportSink):
    """Writes each report's pictures (PNG) and arrays (``saliency.npz``)
    where the layout names them, atomically.

    Args:
        layout (ReportLayout): The report folder.
    """

    def __init__(self, layout):
        self.layout = layout

    def write(self, record, pictures, arrays):
        self.layout.write_report(record, pictures, arrays)
