"""The interface of a report's destinations (sinks)."""
import math

#: Picture names beside the maps (``item_NN``): every probe item at once, and
#: every report so far; and the mean map over the probe.
OVERVIEW, HISTORY, MEAN = 'overview', 'history', 'mean'


class ReportSink(object):
    """A destination of reports: the extension decides what to write, a
    sink where it goes.

    For every report and entry, each sink of a ``SaliencyReport`` is handed
    the same three things, on the report's writer thread, in report order:

    - ``record`` (dict): what the index lists: ``entry``, ``epoch``,
      ``iteration``, ``session``, ``step`` (``'epoch'`` or ``'iteration'``,
      the step TensorBoard counts), ``folder`` (the entry's), ``tag`` (its
      TensorBoard card group), ``probe`` (the session's probe file),
      ``files`` (relative to the report folder), ``settings``, ``seconds``,
      ``rank_corr``, ``metrics`` (name -> value, such as ``deletion_auc``
      or ``mass/<group>``; None where undefined), ``metrics_seconds``,
      ``warnings`` (list of str), ``error``, ``failed_items`` and
      ``failed``;
    - ``pictures`` (mapping): picture name -> RGB ``uint8`` array
      ``(H, W, 3)``: each map (``'item_00'``, ..., ``'mean'``), then
      ``'overview'`` (every probe item tiled under one colour legend) and
      ``'history'`` (every report so far); each value is a
      :class:`~saliency_ext.sinks.storage.Picture`, the array itself whose
      ``png`` attribute holds its PNG file, encoded once for every sink
      (do not change the pixels in place). Pictures drawn in the drawing
      process arrive as their PNG files and are decoded where a sink looks
      one up; a sink that only writes files takes them undecoded with
      :func:`~saliency_ext.sinks.storage.png_files`;
    - ``arrays`` (dict): the saved arrays (``'saliency'``: the aggregated
      maps ``(N, ...)``; with ``M > 1`` samples ``'saliency_std'``, their
      standard deviation over the samples; ``'metrics/<name>'``: the
      metrics per item, and the deletion and insertion curves); empty when
      the computation failed.

    After every sink has written a report, each is flushed, and then the
    record is appended to the index: what the index lists is in every sink.
    A sink that raises in :meth:`write` or :meth:`flush` does not stop the
    others: the failure is recorded in the index record (``failed``: what
    failed, which path, why), warned about, and raised with
    ``strict=True``. Subclasses implement :meth:`write` and may override the
    others.
    """

    def open(self, out):
        """Called once when the report starts, with the trainer's ``out``
        folder."""

    def files(self, record, pictures, arrays):
        """The files, relative to the report folder, that :meth:`write`
        will write for this report: the record lists those of every sink
        (``record['files']``). None by default."""
        return []

    def write(self, record, pictures, arrays):
        """Takes one report of one entry."""
        raise NotImplementedError

    def flush(self):
        """Makes what was written so far durable or visible."""

    def missing(self, records):
        """The records among ``records`` (of earlier runs) whose report this
        sink does not hold, lost or never written: ``saliency-replay
        --resume`` makes them again. By default none."""
        return []

    def close(self):
        """Called at the end of training (``finalize``)."""


def scalars(record):
    """The finite scalar values of a record by name (``seconds``,
    ``rank_corr``, ``metrics_seconds`` and the ``metrics``, such as
    ``deletion_auc`` or ``mass/<group>``): what a sink shows as curves."""
    values = {key: record.get(key) for key in ('seconds', 'rank_corr',
                                               'metrics_seconds')}
    values.update(record.get('metrics') or {})
    return {key: float(value) for key, value in values.items()
            if value is not None and math.isfinite(value)}
