"""A real full disk: a 4 MB tmpfs mounted by the test (it needs root, which CI
has; skipped with the reason otherwise), filled while a training subprocess
reports to files and TensorBoard. Training never hangs; every failure is
recorded in the index once it is writable again (at the end of training at the
latest); what the index lists is whole; no partial report folder or cut-off
event record stays; the files of earlier runs are untouched; ``strict=True``
raises naming the entry."""
import os
import subprocess
import time

import pytest

from saliency_ext.sinks.events import whole_records
from tests.faults.checks import (Promises, layout_of, leftovers, lost_records,
                                 outcome, run_child, started)
from tests.faults.child import REPORT_EVERY, reached

pytestmark = pytest.mark.slow

FULL = dict(entries=('vanilla', 'smooth bayes', 'ig'), probe_size=6)


@pytest.fixture
def disk(tmp_path):
    """A 4 MB tmpfs: room for the earlier run (about 2.2 MB) and a filler."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root (CI runs the tests as root)')
    mount = tmp_path / 'disk'
    mount.mkdir()
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs',
                           str(mount)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip('cannot mount a tmpfs here: ' + done.stderr.strip())
    yield mount
    subprocess.run(['umount', '-l', str(mount)], check=True)


def fill(mount, leave):
    """Fills the disk but ``leave`` bytes with a file; returns its path."""
    path = mount / 'filler'
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with open(path, 'wb') as f:
        f.write(b'\0' * max(0, free - leave))
    return path


def wait_until(condition, deadline=120):
    end = time.monotonic() + deadline
    while time.monotonic() < end and not condition():
        time.sleep(0.05)
    return condition()


def records_of(out):
    try:
        return layout_of(out).records()
    except FileNotFoundError:
        return []


def test_a_full_disk_is_recorded_once_writable_and_never_hangs(
        server, disk, tmp_path, capsys):
    out = disk / 'run'
    # an earlier run, whose files must stay as they are
    first = run_child(server, out, None, str(tmp_path / 'first.json'),
                      epochs=1, **FULL)
    first.join(120)
    assert first.exitcode == 0, outcome(tmp_path / 'first.json')
    promises = Promises(out)
    promises.take()

    filler = fill(disk, leave=120 * 1024)
    stop, result = tmp_path / 'stop', str(tmp_path / 'second.json')
    second = run_child(server, out, None, result, epochs=10 ** 6,
                       stop=str(stop), **FULL)
    assert started(second, out)
    # full: reports fail for a while, the index cannot be written either
    assert wait_until(lambda: os.statvfs(disk).f_bavail < 4)
    # training goes on (not stopped, not hung) for four reports more, so
    # that with two reports waiting at most, one was written on a full disk
    full_at = reached(str(stop))
    assert wait_until(lambda: reached(str(stop)) > full_at +
                      4 * REPORT_EVERY)
    assert second.is_alive()
    os.remove(filler)  # space again: what waited in memory is written
    stop.touch()
    second.join(120)
    assert second.exitcode == 0, outcome(result)

    records = layout_of(out).records(session=1)
    failed = [r for r in records if r['failed']]
    assert failed, 'no failure was recorded'
    for record in failed:
        for failure in record['failed']:
            assert failure['what'] in ('files', 'tensorboard')
            assert failure['path'].startswith(str(out))
            assert 'No space left on device' in failure['error']
    kinds = [f['what'] for r in failed for f in r['failed']]
    with capsys.disabled():
        print('\nfull disk: {} records, {} with their failures recorded ({} '
              'files, {} tensorboard), {} lost, {} earlier files changed'.format(
                  len(records), len(failed), kinds.count('files'),
                  kinds.count('tensorboard'), len(lost_records(out)),
                  len(promises.broken())))
    assert lost_records(out) == [] and leftovers(out) == []
    assert promises.broken() == []
    for name in os.listdir(out / 'tensorboard'):
        path = str(out / 'tensorboard' / name)
        assert whole_records(path)[1] == os.path.getsize(path)


def test_strict_raises_on_a_full_disk_naming_the_entry(server, disk,
                                                       tmp_path):
    out = disk / 'run'
    fill(disk, leave=150 * 1024)
    result = str(tmp_path / 'strict.json')
    process = run_child(server, out, None, result, epochs=10 ** 6,
                        strict=True, **FULL)
    process.join(120)
    assert process.exitcode == 1, 'training did not stop'
    said = outcome(result)
    assert said['error'] == 'SaliencyReportError'
    assert said['message'].startswith('SaliencyReport entry ')
    assert 'No space left on device' in said['message']
