"""Data-parallel training with ChainerMN: each test starts ``mpiexec -n 2``
on a scenario of ``scenarios.py`` (or on the replay's command, or the ESOL
example) and checks what every process saw and what rank 0 wrote against a
one-process run. ``make install`` puts mpi4py and MPICH's ``mpiexec`` in the
virtual environment; these tests fail, never skip, without them."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy
import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import ReportLayout
from saliency_ext.datasets import concat_mols
from saliency_ext.replay.cli import main as replay_main
from saliency_ext.metrics import mean_rank_correlation
from tests.distributed import scenarios
from tests.replay.test_replay import EPOCHS, trained  # noqa: F401 (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PROCESSES = 2
TIMEOUT = 300  # seconds: a process left waiting fails the test, not CI
REPLAY_CONFIG = 'tests.distributed.scenarios:replay_config'


def mpiexec():
    found = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    found = found if os.path.isfile(found) else shutil.which('mpiexec')
    if found is None:
        pytest.fail('mpiexec not found: `make install` installs MPICH into '
                    'the virtual environment')
    return found


def launch(*command):
    """Runs ``mpiexec -n 2 <python> <command>`` from the repository root;
    returns its output, failing the test when it fails or hangs."""
    process = subprocess.Popen(
        [mpiexec(), '-n', str(PROCESSES), sys.executable] +
        [str(c) for c in command], cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env=dict(os.environ, MPLBACKEND='Agg'))
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail('mpiexec did not finish in {} s (a process waiting in '
                    'a collective?):\n{}'.format(TIMEOUT, output[-4000:]))
    assert process.returncode == 0, output[-4000:]
    return output


def scenario(name, out):
    """Runs a scenario; returns what each rank saw (its JSON)."""
    launch('-m', 'tests.distributed.scenarios', name, out)
    seen = []
    for rank in range(PROCESSES):
        with open(os.path.join(str(out), 'rank{}.json'.format(rank))) as f:
            seen.append(json.load(f))
    return seen


def test_two_processes_give_the_maps_of_one_and_only_rank_0_writes(
        tmp_path):
    seen = scenario('maps', tmp_path)
    two = numpy.load(str(tmp_path / 'rank0.npz'))
    one = scenarios.make_maps(str(tmp_path / 'one'))
    assert sorted(two.files) == sorted(one) and len(one) == 10
    for key, maps in one.items():  # the same groups: bit for bit
        numpy.testing.assert_array_equal(two[key], maps, err_msg=key)
    # the seeds make a difference: noise and dropout differ by item
    assert not numpy.allclose(one['iris/smoothgrad'], one['iris/vanilla'])
    assert not numpy.allclose(one['esol/bayesgrad'][0],
                              one['esol/bayesgrad'][1])
    # padded atoms of the smaller molecules have zero saliency: exactly for
    # the gradient methods; occlusion's f(x) - f(occluded) is zero there up
    # to float32 rounding of f, which depends on a row's place in a pass
    report = scenarios.map_reports(None)['esol']
    atoms = concat_mols(report.probe_examples)[0]
    for name in ('vanilla', 'smoothgrad', 'bayesgrad', 'integrated_gradients'):
        padded = two['esol/' + name][atoms == 0]
        assert padded.size and not padded.any(), name
    occlusion = two['esol/occlusion']
    assert numpy.abs(occlusion[atoms == 0]).max() <= \
        1e-5 * numpy.abs(occlusion).max()
    # rank 0 wrote the reports, TensorBoard included; rank 1 nothing at all
    assert 'iris/saliency/index.jsonl' in seen[0]['files']
    assert any(f.startswith('esol/tensorboard/events.out.tfevents')
               for f in seen[0]['files'])
    assert seen[1]['files'] == []
    # BayesGrad refuses ChainerMN's batch normalization, by name
    for rank in seen:
        assert "link '/norm' is a MultiNodeBatchNormalization" in \
            rank['refused']


def test_training_is_neutral_in_every_process(tmp_path):
    seen = scenario('neutral', tmp_path)
    for rank in range(PROCESSES):
        params = numpy.load(str(tmp_path / 'rank{}.npz'.format(rank)))
        names = [n[len('False'):] for n in params.files
                 if n.startswith('False')]
        assert len(names) == 4
        for name in names:
            numpy.testing.assert_array_equal(
                params['True' + name], params['False' + name],
                err_msg='rank {} {}'.format(rank, name))
    assert 'saliency/index.jsonl' in seen[0]['files']
    assert seen[1]['files'] == []


def test_a_failure_in_one_process_stops_every_process(tmp_path):
    seen = scenario('failures', tmp_path)  # returned: nobody was left waiting
    # the start-up check fails in rank 1 only: every rank stops, naming the
    # entry, the item and (elsewhere) the rank that failed
    assert seen[1]['picky']['type'] == 'SaliencyReportError'
    assert re.match(r"SaliencyReport entry 'picky' failed at start on probe "
                    r"item 0 \(dataset index \d+\): ValueError: no drawing "
                    r"here$", seen[1]['picky']['message'])
    assert seen[0]['picky']['type'] == 'SaliencyReportError'
    assert seen[0]['picky']['message'] == seen[1]['picky']['message'] + \
        '\n(in the process of rank 1)'
    for rank in seen:  # the scattered shard given as the probe
        assert rank['shard']['type'] == 'SaliencyReportError'
        assert 'not its scatter_dataset shard' in rank['shard']['message']
    # a strict report whose maps of rank 1's items are NaN stops every rank
    for rank in seen:
        assert rank['nan']['type'] == 'SaliencyReportError'
        assert "entry 'nan' at epoch 0: saliency holds NaN in probe items " \
            '[2, 3]' in rank['nan']['message']
    assert seen[1]['nan']['message'].endswith('(stopped in the process of '
                                              'rank 0)')


@pytest.fixture(scope='module')
def resumed(tmp_path_factory):
    """The resume styles, run once for the tests below."""
    out = tmp_path_factory.mktemp('resume')
    scenario('resume', out)
    return out


@pytest.mark.parametrize('style', scenarios.RESUME_STYLES)
def test_resume_continues_the_series(resumed, style):
    out = resumed
    layout = ReportLayout(out / style / 'saliency')
    records = layout.records()
    for name in ('vanilla', 'smooth bayes', 'ig'):
        mine = [r for r in records if r['entry'] == name]
        # as on one process: epochs 0-2, then a new session from epoch 3,
        # with no report of an untrained model in between
        assert [(r['epoch'], r['session']) for r in mine] == [
            (0, 0), (1, 0), (2, 0), (3, 1), (4, 1)]
        assert all(r['error'] is None for r in mine)
        at2, at3 = [layout.read_arrays(r)['saliency'] for r in mine[2:4]]
        assert mine[3]['rank_corr'] == pytest.approx(
            mean_rank_correlation(at2, at3))
    assert not [f for f in os.listdir(out / style / 'saliency')
                if f.endswith('.tmp')]


def read_all(out):
    """A replay's records (without times), arrays and pictures."""
    layout = ReportLayout(out / 'saliency')
    records = [{k: v for k, v in r.items() if k not in ('time', 'seconds')}
               for r in layout.records()]
    files = {f: (out / 'saliency' / f).read_bytes()
             for r in layout.records() for f in r['files']}
    return records, files


def image_steps(logdir):
    events = EventAccumulator(str(logdir), size_guidance={'images': 0})
    events.Reload()
    return {tag: [(e.step, e.encoded_image_string)
                  for e in events.Images(tag)]
            for tag in events.Tags()['images']}


def test_replay_under_mpiexec_equals_one_process(trained, tmp_path,  # noqa
                                                 capsys):
    args = [str(trained), '--config', REPLAY_CONFIG, '--no-progress']
    assert replay_main(args + ['--out', str(tmp_path / 'one')]) == 0
    output = launch('-m', 'saliency_ext.replay.cli', *args,
                    '--out', tmp_path / 'two')
    assert output.count('{} snapshots replayed'.format(EPOCHS)) == 1
    one, two = read_all(tmp_path / 'one'), read_all(tmp_path / 'two')
    assert two[0] == one[0]
    assert two[1] == one[1]  # every picture and array, byte for byte
    assert image_steps(tmp_path / 'two' / 'tensorboard') == \
        image_steps(tmp_path / 'one' / 'tensorboard')
    strips = 'saliency/vanilla/evolution/mean.png'
    assert (tmp_path / 'two' / strips).read_bytes() == \
        (tmp_path / 'one' / strips).read_bytes()
    with open(tmp_path / 'two' / 'saliency' / 'replay.json') as f:
        run, = json.load(f)['runs']
    assert run['processes'] == 2
    assert sorted(run['done']) == sorted(set(run['done']))
    assert len(run['done']) == EPOCHS  # each snapshot explained once
    assert run['explained_by'] == [i % 2 for i in range(EPOCHS)]


def test_the_esol_example_trains_data_parallel(tmp_path):
    out = tmp_path / 'esol'
    output = launch(os.path.join('examples', 'esol', 'train_esol.py'),
                    '--epochs', 1, '--communicator', 'naive', '--out', out)
    assert output.count('findings written to') == 1  # by rank 0 only
    with open(out / 'saliency' / 'findings.json') as f:
        assert json.load(f)['n_items'] == 64
    records = ReportLayout(out / 'saliency').records()
    assert sorted((r['entry'], r['epoch']) for r in records) == [
        ('bayes_grad', 0), ('bayes_grad', 1),
        ('integrated_gradients', 0), ('integrated_gradients', 1)]
    assert all(r['error'] is None for r in records)
