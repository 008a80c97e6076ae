"""The lock of a report folder: one writer at a time.

Two processes (or two reports of one trainer) writing into one report folder would both
start the same session and overwrite each other's files and records. The writer holds an
exclusive ``flock`` on the folder's lock file while it runs. The operating system releases
it when the process ends, however it ends, so the lock of a killed run is simply taken over
by the next one; the file also says who holds it (or last held it), for the error message
of a second writer and for the clean-up of a killed run's leftovers.
"""
import json
import os
import socket
import sys
import time
import weakref

try:
    import fcntl
except ImportError:  # not POSIX: folders are not locked
    fcntl = None


class FolderInUseError(RuntimeError):
    """Another writer holds the report folder's lock."""


class FolderLock(object):
    """An exclusive lock on a report folder, held through its lock file.

    Args:
        path (str): The lock file, inside the folder it guards.
        owner (str): Who takes it, for the messages (for example the extension's name).
    """

    def __init__(self, path, owner):
        self.path = os.fspath(path)
        self.owner = owner
        self._fd = None

    @property
    def held(self):
        """bool: Whether this object holds the lock."""
        return self._fd is not None

    def fileno(self):
        """The descriptor holding the lock (None when not held): a child
        process forked meanwhile closes it, so that the lock ends with this
        process."""
        return self._fd

    def acquire(self):
        """Takes the lock, or raises :class:`FolderInUseError` naming the folder and who
        holds it.

        Returns:
            dict: What the lock file said of its last holder (``pid``, ``host``, ``owner``,
            ``session``, ``started``, ``released``), or ``{}`` for a new folder. A holder
            that has not ``released`` it ended without finishing (it was killed).

        Raises:
            FolderInUseError: When another process, or another report of this process,
                holds the lock.
            OSError: When the lock file cannot be written.
        """
        if self.held:
            raise RuntimeError('{} is already held by this object'.format(self.path))
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise FolderInUseError(self._in_use(_read(fd))) from None
            previous = _read(fd)
            # the previous session stays named until update() names this
            # one: a run killed while it clears that session's leftovers
            # leaves them to the next run to clear
            _write(fd, dict(pid=os.getpid(), host=socket.gethostname(),
                            owner=self.owner, started=time.time(),
                            argv=sys.argv[:8], released=False,
                            session=previous.get('session')))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        # a lock dropped unreleased (a trainer whose start failed) lets go
        self._close = weakref.finalize(self, os.close, fd)
        return previous

    def update(self, **info):
        """Adds ``info`` (such as the session) to what the lock file says."""
        _write(self._fd, dict(_read(self._fd), **info))

    def release(self):
        """Marks the lock released and lets it go. Never raises: a lock file that cannot
        be written (a full disk) is still unlocked when its descriptor is closed."""
        if not self.held:
            return
        try:
            self.update(released=True)
        except OSError:
            pass
        finally:
            self._close()
            self._fd = None

    def _in_use(self, holder):
        folder = os.path.dirname(self.path)
        if holder.get('pid') == os.getpid() and holder.get('host') == \
                socket.gethostname():
            return ('the report folder {} is already written by {} of this process: give '
                    'each SaliencyReport of a trainer its own out_dir'.format(
                        folder, holder.get('owner', 'another report')))
        who = 'process {} on {}'.format(holder['pid'], holder.get('host', '?')) \
            if 'pid' in holder else 'another process'
        since = ' since {}'.format(time.strftime(
            '%Y-%m-%d %H:%M:%S', time.localtime(holder['started']))) \
            if 'started' in holder else ''
        command = ' ({})'.format(' '.join(holder['argv'])) if holder.get('argv') else ''
        return ('the report folder {} is in use by {}{}{}: two runs cannot write one '
                'report folder at once; give this run another trainer out or out_dir, or '
                'wait for that run to end (lock file {})'.format(
                    folder, who, since, command, self.path))


def _read(fd):
    size = os.fstat(fd).st_size
    try:
        info = json.loads(os.pread(fd, size, 0).decode('utf-8')) if size else {}
    except ValueError:  # cut off by a kill while it was written
        return {}
    return info if isinstance(info, dict) else {}


def _write(fd, info):
    """Replaces what the file says in one write, never cutting it first (a
    reader would see it empty): a shorter text is padded with spaces."""
    data = json.dumps(info).encode('utf-8')
    os.pwrite(fd, data.ljust(os.fstat(fd).st_size), 0)
