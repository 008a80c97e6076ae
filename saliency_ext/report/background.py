"""A single background thread that draws and writes reports in order, with a
bounded queue: when drawing falls behind, the caller waits instead of
memory growing."""
import concurrent.futures
import time

#: Seconds of waiting after which a progress bar of the pictures left shows.
PROGRESS_AFTER = 2.0


class BackgroundWriter(object):
    """Runs jobs one at a time, in submission order, off the caller's thread.

    One worker keeps the index in report order and never writes two files
    at once. At most ``max_pending`` jobs wait or run at once: a further
    :meth:`submit` blocks until the oldest is done (back-pressure), and
    calls ``on_wait(label)`` with the label of the job it waits for.
    Exceptions raised by jobs are kept and handed back by :meth:`drain`, so
    the caller decides whether they are fatal.

    Args:
        enabled (bool): ``False`` runs every job at once in the caller's
            thread (debugging, or when the caller must wait anyway).
        max_pending (int): The most jobs queued or running; None for no
            bound.
        on_wait (callable): Called with a job's label whenever a submit
            has to wait for that job.
    """

    def __init__(self, enabled=True, *, max_pending=None, on_wait=None):
        self.enabled = enabled
        self.max_pending = max_pending
        self.on_wait = on_wait
        self._executor = None
        self._pending = []  # (future, label, pictures)

    def submit(self, fn, *args, label=None, pictures=1):
        """Queues ``fn(*args)``; ``pictures`` is how many pictures it draws
        (for the progress bar), ``label`` names it when a submit waits."""
        if not self.enabled:
            future = concurrent.futures.Future()
            try:
                future.set_result(fn(*args))
            except Exception as error:  # handed back by drain()
                future.set_exception(error)
        else:
            self._wait_for_room()
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix='saliency-writer')
            future = self._executor.submit(fn, *args)
        self._pending.append((future, label, pictures))

    def _wait_for_room(self):
        if self.max_pending is None:
            return
        waiting = [job for job in self._pending if not job[0].done()]
        while len(waiting) >= self.max_pending:
            future, label, _ = waiting[0]
            if self.on_wait is not None:
                self.on_wait(label)
            concurrent.futures.wait([future])
            waiting = waiting[1:]

    @property
    def pending(self):
        """int: Jobs queued or running."""
        return sum(not job[0].done() for job in self._pending)

    def drain(self):
        """Waits for every submitted job, with a progress bar of the
        pictures left once the wait passes ``PROGRESS_AFTER`` seconds;
        returns the exceptions the jobs raised, oldest first."""
        pending, self._pending = self._pending, []
        deadline = time.monotonic() + PROGRESS_AFTER
        bar = None
        for k, (future, _, pictures) in enumerate(pending):
            if bar is None:
                done, _ = concurrent.futures.wait(
                    [future], timeout=max(0., deadline - time.monotonic()))
                if not done:
                    from tqdm import tqdm  # a dependency; only when shown
                    bar = tqdm(total=sum(job[2] for job in pending[k:]),
                               desc='saliency pictures left to write',
                               unit='picture')
            if bar is not None:
                concurrent.futures.wait([future])
                bar.update(pictures)
        if bar is not None:
            bar.close()
        return _errors([job[0] for job in pending])

    def collect(self):
        """Returns the exceptions of the jobs done so far without waiting."""
        done = [job for job in self._pending if job[0].done()]
        self._pending = [job for job in self._pending if not job[0].done()]
        return _errors([job[0] for job in done])

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
