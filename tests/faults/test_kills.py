"""Real SIGKILLs of a training subprocess at random moments, resumed each time
in one of the ways Chainer and ChainerMN offer (ChainerMN's without MPI, on a
one-process communicator): after every kill, what the index lists is on disk
and in TensorBoard, nothing an earlier run wrote has changed, and a resumed
run never reports the untrained model; the run then finishes with every
report made once, whole, and nothing left over.

Each series prints ``tried / survived / lost``: kills made, kills after which
every check held, and reports the index lists that were lost."""
import os
import random
import time

import pytest

from saliency_ext import ReportLayout
from tests.faults import child
from tests.faults.checks import (Promises, layout_of, leftovers,
                                 lost_records, outcome, run_child,
                                 session_of, started)
from tests.report.training import latest_snapshot, snapshot_iterations

pytestmark = pytest.mark.slow

KILLS = 20
#: Each killed run lives up to this long (seconds) once it holds the lock:
#: it clears what the last run left, reports every 2 iterations and snapshots
#: every 3, so kills land in each of those.
LIFETIME = 2.0
LIGHT = dict(entries=('vanilla', 'ig'), probe_size=3)
SNAPSHOTS = {'load_npz': r'snapshot_iter_(\d+)', 'autoload':
             r'snapshot_iter_(\d+)', 'chainermn_snapshot':
             r'snapshot_iter_(\d+)\.0', 'chainermn_checkpointer':
             r'checkpoint\.0\.(\d+)'}


def start(server, out, style, result, epochs=10 ** 6, **kwargs):
    return run_child(server, out, style, result, epochs=epochs,
                     **dict(LIGHT, **kwargs))


def killed_at_random(process, out, rng):
    started(process, out)
    time.sleep(rng.uniform(0, LIFETIME))


def killed_just_after_a_listing(process, out, rng):
    """Waits for the index to grow, then kills at once: the report just
    listed must already be in TensorBoard."""
    index = layout_of(out).index.path
    size = os.path.getsize(index) if os.path.exists(index) else 0
    deadline = time.monotonic() + 4 * LIFETIME
    while time.monotonic() < deadline and process.is_alive() and (
            not os.path.exists(index) or os.path.getsize(index) <= size):
        time.sleep(0.0005)


def kill_series(server, out, style, when, kills=KILLS, seed=0):
    """Kills ``kills`` runs; returns the tally and the problems seen."""
    rng = random.Random(seed)
    promises = Promises(out)
    tally, problems, lost = dict(tried=0, survived=0, lost=0), [], set()
    for number in range(kills):
        resumes = latest_snapshot(out, SNAPSHOTS[style]) is not None
        result = os.path.join(out, 'child-{}.json'.format(number))
        process = start(server, out, style, result)
        when(process, out, rng)
        process.kill()
        process.join()
        assert outcome(result).get('error') is None, outcome(result)
        tally['tried'] += 1
        found = ['lost: {entry} at iteration {iteration} (session '
                 '{session})'.format(**r) for r in lost_records(out)]
        found += promises.broken()
        session = session_of(out, process.pid)
        if resumes and session is not None:
            found += ['session {} resumed a snapshot but reported the '
                      'untrained model'.format(session)
                      for r in layout_of(out).records(session=session)
                      if r['iteration'] == 0][:1]
        lost |= {f for f in found if f.startswith('lost')}
        tally['survived'] += not found
        problems += ['kill {}: {}'.format(number, f) for f in found]
        promises.take()
    tally['lost'] = len(lost)
    return tally, problems


def finish(server, out, style):
    """Runs to two epochs past the last snapshot without a kill; returns
    the iteration it ended at."""
    result = os.path.join(out, 'child-final.json')
    found = snapshot_iterations(out, SNAPSHOTS[style])
    epochs = (found[-1][0] if found else 0) * 32 // 150 + 2
    process = start(server, out, style, result, epochs=epochs)
    process.join(300)
    assert process.exitcode == 0, outcome(result)
    return outcome(result)['iteration']


def report(style, how, tally, capsys):
    with capsys.disabled():
        print('\nSIGKILL {} ({}): tried {tried} / survived {survived} / lost '
              '{lost}'.format(style, how, **tally))


@pytest.mark.parametrize('style', ['load_npz', 'autoload',
                                   'chainermn_snapshot',
                                   'chainermn_checkpointer'])
def test_random_kills_with_each_resume_style(server, tmp_path, style, capsys):
    tally, problems = kill_series(server, tmp_path, style, killed_at_random,
                                  seed=len(style))
    report(style, 'at random moments', tally, capsys)
    assert problems == []
    assert tally == dict(tried=KILLS, survived=KILLS, lost=0)
    end = finish(server, tmp_path, style)
    assert lost_records(tmp_path) == [] and leftovers(tmp_path) == []
    # every report the trigger asked for was made, whole, in some session
    layout = ReportLayout(tmp_path / 'saliency')
    made = {r['iteration'] for r in layout.records() if r['error'] is None}
    assert made >= set(range(0, end + 1, child.REPORT_EVERY))


def test_kills_just_after_a_report_is_listed(server, tmp_path, capsys):
    tally, problems = kill_series(server, tmp_path, 'autoload',
                                  killed_just_after_a_listing, kills=8)
    report('autoload', 'just after a report is listed', tally, capsys)
    assert problems == []
    assert tally == dict(tried=8, survived=8, lost=0)
