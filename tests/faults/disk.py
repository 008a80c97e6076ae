"""Injected write failures: ``os.write`` that fails as a full disk does, for the files
under one folder only (the test's own), so the code under test meets the error where the
operating system would raise it."""
import errno
import os


class FullDisk(object):
    """Replaces ``os.write`` while installed: writes into files under ``folder`` get
    ``room`` more bytes (a short write), then fail with ENOSPC; ``room = None`` lets
    everything through again.

    Args:
        monkeypatch: pytest's fixture.
        folder: Only files below it fail (None: every file).
        room (int): Bytes still written before the disk is full.
        only (str): Only files whose path contains this fail.
    """

    def __init__(self, monkeypatch, folder=None, room=0, only=''):
        self.folder = None if folder is None else os.path.realpath(folder)
        self.room, self.only, self.failures = room, only, []
        self._write = os.write
        monkeypatch.setattr(os, 'write', self)

    def _hits(self, fd):
        try:
            path = os.readlink('/proc/self/fd/{}'.format(fd))
        except OSError:
            return False
        return (self.folder is None or path.startswith(self.folder + os.sep)) and \
            self.only in path

    def __call__(self, fd, data):
        if self.room is None or not self._hits(fd):
            return self._write(fd, data)
        if self.room <= 0:
            self.failures.append(os.readlink('/proc/self/fd/{}'.format(fd)))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self._write(fd, bytes(data[:self.room]))
        self.room -= written
        return written
