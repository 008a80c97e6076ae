"""ReportLayout: the names of a report folder and reading it back."""
import os

import numpy

from saliency_ext import ReportLayout


def record(layout, entry, epoch, iteration, session, pictures, arrays):
    files = layout.report_files(entry, epoch, iteration, session, pictures,
                                arrays)
    made = dict(entry=entry, epoch=epoch, iteration=iteration,
                session=session, files=files, settings={'m': 1})
    layout.write_report(made, pictures, arrays)
    layout.append(made)
    return made


def test_names_writes_and_reads_a_report_folder(tmp_path):
    layout = ReportLayout(tmp_path)
    rgb = numpy.zeros((2, 3, 3), numpy.uint8)
    maps = numpy.arange(6.).reshape(2, 3)
    first = record(layout, 'IG (25)', 1, 10, 0, {'item_00': rgb}, {})
    second = record(layout, 'IG (25)', 2, 20, 1, {'item_00': rgb, 'mean': rgb},
                    {'saliency': maps})
    other = record(layout, 'vanilla', 2, 20, 1, {}, {'saliency': maps * 2})
    folder = os.path.join(layout.entry_dir('IG (25)'), 'epoch_0002-iter_'
                          '00000020-s1')
    assert second['files'] == [os.path.join(folder, n) for n in (
        'item_00.png', 'mean.png', 'saliency.npz')]
    assert first['files'] == [os.path.join(layout.entry_dir('IG (25)'),
                                           'epoch_0001-iter_00000010',
                                           'item_00.png')]
    assert all(os.path.isfile(layout.path(f))
               for r in (first, second, other) for f in r['files'])

    assert layout.sessions() == [0, 1]
    assert layout.last_session() == 1
    assert layout.records(session=1) == [second, other]
    assert layout.records('IG (25)') == [first, second]
    assert layout.latest_records('IG (25)') == [second]  # with arrays only
    assert layout.read_arrays(first) is None
    arrays = layout.read_arrays(second)
    numpy.testing.assert_array_equal(arrays['saliency'], maps)
    assert int(arrays['epoch']) == 2
    assert layout.evolution_path('IG (25)', 'item_00') == os.path.join(
        os.path.realpath(tmp_path), layout.entry_dir('IG (25)'), 'evolution',
        'item_00.png')
    assert ReportLayout(tmp_path / 'empty').last_session() is None


def test_recover_clears_what_the_last_session_left_and_names_the_rest(
        tmp_path):
    layout = ReportLayout(tmp_path)
    rgb = numpy.zeros((2, 3, 3), numpy.uint8)
    kept = record(layout, 'ig', 1, 5, 0, {'item_00': rgb}, {})
    unfinished = layout.path('ig', layout.step_dir(2, 10, 1))
    os.makedirs(unfinished)
    open(os.path.join(unfinished, 'item_00.png'), 'wb').close()
    foreign = layout.path('ig', layout.step_dir(2, 10, 4))
    os.makedirs(foreign)
    temporary = layout.path('ig', '.item_00.png.0123abcd.tmp')
    open(temporary, 'wb').close()
    layout.write_probe(numpy.arange(2), [numpy.zeros(2)], session=1)

    removed, unlisted = layout.recover(session=1)
    assert sorted(removed) == sorted([
        os.path.join('ig', '.item_00.png.0123abcd.tmp'),
        os.path.join('ig', layout.step_dir(2, 10, 1))])
    assert unlisted == [os.path.join('ig', layout.step_dir(2, 10, 4))]
    assert not os.path.exists(unfinished) and os.path.isdir(foreign)
    assert all(os.path.isfile(layout.path(f)) for f in kept['files'])
    # past every session on disk: the index's, folders' and probes'
    assert layout.next_session(previous=1) == 5
    assert layout.probe_files() == ['probe-s1.npz']


def test_entry_folders_never_take_the_roots_files():
    for name in ('index.jsonl', 'INDEX.JSONL', 'probe.npz', 'probe-s12.npz',
                 'replay.json'):
        folder = ReportLayout.entry_dir(name)
        assert folder != name and folder.startswith(name.split('.')[0][:5])
    assert ReportLayout.entry_dir('probe') == 'probe'
