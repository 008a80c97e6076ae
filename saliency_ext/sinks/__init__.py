"""Sinks: where reports go. The files of the report folder (named by
:class:`ReportLayout`), TensorBoard, and any :class:`ReportSink` a user
adds."""
from saliency_ext.sinks.base import (  # NOQA
    HISTORY, MEAN, OVERVIEW, ReportSink, scalars)
from saliency_ext.sinks.files import FilesSink  # NOQA
from saliency_ext.sinks.layout import ReportLayout  # NOQA
from saliency_ext.sinks.lock import FolderInUseError, FolderLock  # NOQA
from saliency_ext.sinks.tensorboard import (  # NOQA
    TensorBoardSink, TensorBoardWriter, entry_group, picture_tag, scalar_tag)
