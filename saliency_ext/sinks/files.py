"""The built-in sink that writes pictures and arrays into the report folder
(see :mod:`saliency_ext.sinks.layout`)."""
import os

from saliency_ext.sinks.base import ReportSink


class FilesSink(ReportSink):
    """Writes each report's pictures (PNG) and arrays (``saliency.npz``)
    where the layout names them, atomically; a report that cannot be
    written whole leaves no folder.

    Args:
        layout (ReportLayout): The report folder.
    """

    def __init__(self, layout):
        self.layout = layout

    def files(self, record, pictures, arrays):
        return self.layout.report_files(
            record['entry'], record['epoch'], record['iteration'],
            record['session'], pictures, arrays)

    def write(self, record, pictures, arrays):
        try:
            self.layout.write_report(record, pictures, arrays)
        except OSError:
            self.layout.remove_report(record)  # no partial report stays
            raise

    def missing(self, records):
        return [r for r in records
                if not all(os.path.isfile(self.layout.path(f))
                           for f in r['files'])]
