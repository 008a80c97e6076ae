"""Two processes writing into one report folder: the second gets a clear error
naming the folder and the process holding it; started at the same moment,
exactly one runs; a killed holder's lock is taken over."""
import os
import re
import time

from tests.faults.checks import (layout_of, leftovers, lost_records, outcome,
                                 run_child, started)

LIGHT = dict(entries=('vanilla', 'ig'), probe_size=3)


def test_a_second_process_is_refused_naming_the_folder_and_holder(
        server, tmp_path):
    out, stop = tmp_path / 'run', tmp_path / 'stop'
    first = run_child(server, out, None, str(tmp_path / 'first.json'),
                      epochs=10 ** 6, stop=str(stop), **LIGHT)
    assert started(first, out)
    second = run_child(server, out, None, str(tmp_path / 'second.json'),
                       epochs=1, **LIGHT)
    second.join(120)
    refused = outcome(tmp_path / 'second.json')
    assert refused['error'] == 'FolderInUseError'
    assert refused['message'].startswith(
        'the report folder {} is in use by process {} on '.format(
            out / 'saliency', first.pid))
    stop.touch()
    first.join(120)
    assert first.exitcode == 0, outcome(tmp_path / 'first.json')
    assert layout_of(out).sessions() == [0]
    assert lost_records(out) == [] and leftovers(out) == []


def test_two_processes_started_together_one_runs(server, tmp_path):
    out = tmp_path / 'run'
    children = [run_child(server, out, None, str(tmp_path / '{}.json'.format(
        n)), epochs=1, **LIGHT) for n in range(2)]
    for process in children:
        process.join(120)
    said = [outcome(tmp_path / '{}.json'.format(n)) for n in range(2)]
    assert sorted(s.get('error', 'ran') for s in said) == [
        'FolderInUseError', 'ran']
    ran = [s for s in said if 'error' not in s][0]
    refused = [s for s in said if 'error' in s][0]
    assert re.search(r'in use by process {} '.format(ran['pid']),
                     refused['message'])
    layout = layout_of(out)
    assert layout.sessions() == [0]
    records = layout.records()
    assert len(records) == len({(r['entry'], r['iteration'])
                                for r in records})  # none written twice
    assert lost_records(out) == []


def test_a_killed_holders_lock_is_taken_over(server, tmp_path):
    out = tmp_path / 'run'
    killed = run_child(server, out, None, str(tmp_path / 'killed.json'),
                       epochs=10 ** 6, **LIGHT)
    assert started(killed, out)
    index = layout_of(out).index.path
    end = time.monotonic() + 60  # killed once it has listed a report
    while time.monotonic() < end and not os.path.exists(index):
        time.sleep(0.002)
    killed.kill()
    killed.join()
    after = run_child(server, out, None, str(tmp_path / 'after.json'),
                      epochs=1, **LIGHT)
    after.join(120)
    assert after.exitcode == 0, outcome(tmp_path / 'after.json')
    assert layout_of(out).sessions() == [0, 1]
    # what the killed run left unfinished was cleared
    assert lost_records(out) == [] and leftovers(out) == []
