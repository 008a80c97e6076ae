"""A single background thread that renders and writes reports in order."""
import concurrent.futures


class BackgroundWriter(object):
    """Runs jobs one at a time, in submission order, off the caller's thread.

    One worker keeps the index in report order and never writes two files
    at once. Exceptions raised by jobs are kept and handed back by
    :meth:`drain`, so the caller decides whether they are fatal.

    Args:
        enabled (bool): ``False`` runs every job at once in the caller's
            thread (debugging, or when the caller must wait anyway).
    """

    def __init__(self, enabled=True):
        self.enabled = enabled
        self._executor = None
        self._pending = []

    def submit(self, fn, *args, **kwargs):
        if not self.enabled:
            future = concurrent.futures.Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as error:  # handed back by drain()
                future.set_exception(error)
        else:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix='saliency-writer')
            future = self._executor.submit(fn, *args, **kwargs)
        self._pending.append(future)

    def drain(self):
        """Waits for every submitted job; returns the exceptions they
        raised, oldest first."""
        pending, self._pending = self._pending, []
        return _errors(pending)

    def collect(self):
        """Returns the exceptions of the jobs done so far without waiting."""
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        return _errors(done)

    def close(self):
        """Waits for every job, stops the thread; returns their exceptions."""
        errors = self.drain()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        return errors


def _errors(futures):
    """The exceptions the finished ``futures`` raised, in order."""
    return [f.exception() for f in futures if f.exception() is not None]
