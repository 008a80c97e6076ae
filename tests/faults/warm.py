"""Imported by the fault suite's fork server only: trains once with the report
into a scratch folder, so that every child forked from the server starts with
everything imported and used once (Chainer's functions, fonts, protocol
buffers) and reaches its first report in a fraction of a second."""
import shutil
import tempfile
import warnings

from tests.report.training import make_trainer


def _warm():
    scratch = tempfile.mkdtemp(prefix='saliency-warm-')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            make_trainer(scratch, epochs=1, log=False, probe_size=2,
                         entries=('vanilla', 'ig'))[0].run()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_warm()
