"""The report folder's lock: one writer at a time, a clear error for the
second, and a killed holder's lock taken over."""
import gc
import json
import multiprocessing
import os
import signal

import pytest

from saliency_ext.sinks.lock import FolderInUseError, FolderLock


def hold(path, ready):
    lock = FolderLock(path, 'the test holder')
    lock.acquire()
    ready.set()
    while lock.held:
        signal.pause()


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path/report``."""
    context = multiprocessing.get_context('fork')
    ready = context.Event()
    path = str(tmp_path / 'report' / '.lock')
    process = context.Process(target=hold, args=(path, ready), daemon=True)
    process.start()
    assert ready.wait(60)
    yield process, path
    process.kill()
    process.join()


def test_a_second_process_is_refused_by_name(holder):
    process, path = holder
    with pytest.raises(FolderInUseError) as raised:
        FolderLock(path, 'me').acquire()
    message = str(raised.value)
    assert os.path.dirname(path) in message
    assert 'in use by process {}'.format(process.pid) in message
    assert 'the test holder' not in message  # that is for this process


def test_a_killed_holders_lock_is_taken_over(holder):
    process, path = holder
    process.kill()
    process.join()
    lock = FolderLock(path, 'me')
    previous = lock.acquire()
    assert previous['pid'] == process.pid and previous['released'] is False
    lock.release()
    assert FolderLock(path, 'next').acquire()['released'] is True


def test_a_second_report_of_this_process_is_told_to_change_out_dir(tmp_path):
    path = str(tmp_path / '.lock')
    first = FolderLock(path, "the SaliencyReport 'SaliencyReport'")
    first.acquire()
    with pytest.raises(FolderInUseError, match="already written by the "
                       "SaliencyReport 'SaliencyReport' of this process: "
                       "give each SaliencyReport of a trainer its own "
                       "out_dir"):
        FolderLock(path, 'second').acquire()
    first.release()
    FolderLock(path, 'second').acquire()


def test_the_lock_names_the_session_it_writes(tmp_path):
    path = tmp_path / '.lock'
    lock = FolderLock(str(path), 'me')
    lock.acquire()
    lock.update(session=3)
    lock.release()
    again = FolderLock(str(path), 'me')
    assert again.acquire()['session'] == 3
    # until it names its own session, the lock keeps naming the last one:
    # a run killed while clearing session 3's leftovers leaves them named
    assert json.loads(path.read_text())['session'] == 3
    assert json.loads(path.read_text())['pid'] == os.getpid()


def test_a_lock_dropped_without_release_lets_go(tmp_path):
    path = str(tmp_path / '.lock')
    lock = FolderLock(path, 'dropped')
    lock.acquire()
    del lock
    gc.collect()
    FolderLock(path, 'next').acquire()
