import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from saliency_ext.sinks import storage as files
from tests.faults.disk import FullDisk
from saliency_ext.sinks.storage import (
    ReportIndex, atomic_write_bytes, encode_png, read_npz, resolve_inside, safe_name, write_json,
    write_npz, write_png)

NASTY_NAMES = [
    '', '.', '..', '...', '../../etc', '/etc/passwd', 'a/b', 'a\\b', 'a?b', 'a_b', 'a b',
    'C:\\Windows', '.hidden', 'IG (25 steps)', 'saliency\x00.png', 'line\nbreak',
    'Sättigung', '日本語', '\udcff', '-rf', 'x' * 1000, 'x' * 1001,
]


def _raise(*args, **kwargs):
    raise OSError('disk full')


# safe_name ---------------------------------------------------------------------------

@pytest.mark.parametrize('name', NASTY_NAMES)
def test_safe_name_stays_inside_root(tmp_path, name):
    result = safe_name(name)
    assert result not in ('', '.', '..') and not result.startswith('.')
    assert len(result) <= 80
    assert all(c.isascii() and (c.isalnum() or c in '._-') for c in result)
    path = os.path.realpath(tmp_path / result)
    assert os.path.dirname(path) == os.path.realpath(tmp_path)


def test_safe_name_never_collides():
    # Including the results themselves: a user may name an entry like a changed name.
    names = NASTY_NAMES + [safe_name(name) for name in NASTY_NAMES]
    names = list(dict.fromkeys(names))
    assert len({safe_name(name) for name in names}) == len(names)


@pytest.mark.parametrize('name', ['gradient', 'IG-25.v2', 'occlusion_3x3', '_x'])
def test_safe_name_keeps_safe_names(name):
    assert safe_name(name) == name


def test_safe_name_is_stable_and_readable():
    assert safe_name('IG (25 steps)') == safe_name('IG (25 steps)')
    assert safe_name('IG (25 steps)').startswith('IG_25_steps_')


@pytest.mark.parametrize('name', [None, b'abc', 3, ['a']])
def test_safe_name_rejects_non_str(name):
    with pytest.raises(TypeError, match='must be a str'):
        safe_name(name)


# resolve_inside ----------------------------------------------------------------------

def test_resolve_inside_joins_parts(tmp_path):
    assert resolve_inside(tmp_path, 'a', 'b.png') == os.path.join(
        os.path.realpath(tmp_path), 'a', 'b.png')


@pytest.mark.parametrize('parts', [('..', 'x'), ('a', '..', '..', 'x'), ('/etc',)])
def test_resolve_inside_refuses_escapes(tmp_path, parts):
    with pytest.raises(ValueError, match='outside'):
        resolve_inside(tmp_path, *parts)


def test_resolve_inside_refuses_symlink_out(tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    (root / 'link').symlink_to(tmp_path)
    with pytest.raises(ValueError, match='link'):
        resolve_inside(root, 'link', 'x.png')


# atomic_write_bytes ------------------------------------------------------------------

def test_atomic_write_creates_parents_and_replaces(tmp_path):
    path = tmp_path / 'a' / 'b' / 'data.bin'
    atomic_write_bytes(path, b'old')
    atomic_write_bytes(path, b'new')
    assert path.read_bytes() == b'new'
    assert os.listdir(path.parent) == ['data.bin']


@pytest.mark.parametrize('failing', ['fsync', 'replace'])
def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / 'data.bin'
    path.write_bytes(b'old content')
    monkeypatch.setattr(files.os, failing, _raise)
    with pytest.raises(OSError, match='disk full'):
        atomic_write_bytes(path, b'new content that never lands')
    assert path.read_bytes() == b'old content'
    assert os.listdir(tmp_path) == ['data.bin']


def test_atomic_write_failure_on_new_file_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, 'replace', _raise)
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / 'data.bin', b'x')
    assert os.listdir(tmp_path) == []


# PNG, NPZ, JSON ----------------------------------------------------------------------

@pytest.fixture(params=['isal', 'zlib'])
def deflater(request, monkeypatch):
    """PNG files deflated by ISA-L (where installed, the default) and by zlib: both must
    give files any reader takes."""
    if request.param == 'isal':
        compress = pytest.importorskip('isal.isal_zlib').compress
        assert files._deflate is compress  # installed, so the one used
    else:
        monkeypatch.setattr(files, '_deflate', zlib.compress)
    return request.param


def test_png_round_trip_is_pixel_exact(tmp_path, deflater):
    rgb = np.random.RandomState(0).randint(0, 256, size=(7, 5, 3)).astype(np.uint8)
    path = tmp_path / 'x.png'
    write_png(path, rgb[:, ::-1])  # A non-contiguous view must work too.
    with Image.open(path) as image:
        assert image.format == 'PNG' and image.mode == 'RGB'
        np.testing.assert_array_equal(np.asarray(image), rgb[:, ::-1])


def test_png_chunks_are_well_formed_and_flat_pictures_small(deflater):
    rgb = np.full((300, 400, 3), 255, np.uint8)
    rgb[100:200, 50:150] = (220, 20, 20)
    png = encode_png(rgb)
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    chunks, at = [], 8
    while at < len(png):
        length, kind = struct.unpack('>I4s', png[at:at + 8])
        data = png[at + 8:at + 8 + length]
        (crc,) = struct.unpack('>I', png[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks.append((kind, data))
        at += 12 + length
    assert [k for k, _ in chunks] == [b'IHDR', b'IDAT', b'IEND']
    assert struct.unpack('>IIBBBBB', chunks[0][1]) == (400, 300, 8, 2, 0, 0, 0)
    assert len(png) < 3600  # under 1 % of the 360 kB of pixels
    with Image.open(io.BytesIO(png)) as image:
        np.testing.assert_array_equal(np.asarray(image), rgb)


def test_decode_png_gives_back_the_pixels_of_encode_png(deflater):
    rng = np.random.RandomState(1)
    for shape in ((1, 1, 3), (7, 5, 3), (393, 360, 3)):
        rgb = rng.randint(0, 256, size=shape).astype(np.uint8)
        decoded = files.decode_png(encode_png(rgb))
        assert decoded.dtype == np.uint8
        np.testing.assert_array_equal(decoded, rgb)


def test_decode_png_refuses_other_png_files():
    # a ramp, whose rows Pillow's adaptive filtering stores with the Sub filter
    rgb = np.repeat(np.arange(0, 240, 10, dtype=np.uint8).reshape(1, 8, 3), 6, axis=0)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format='PNG')
    grey = io.BytesIO()
    Image.fromarray(rgb[..., 0]).save(grey, format='PNG')
    for png in (buffer.getvalue(), grey.getvalue(), b'not a png'):
        with pytest.raises(ValueError, match='not a PNG file of encode_png'):
            files.decode_png(png)


@pytest.mark.parametrize('rgb, error, quoted', [
    (np.zeros((4, 4, 3), np.float32), TypeError, 'float32'),
    (np.zeros((4, 4), np.uint8), ValueError, r'\(4, 4\)'),
    (np.zeros((4, 4, 4), np.uint8), ValueError, r'\(4, 4, 4\)'),
    (np.zeros((0, 4, 3), np.uint8), ValueError, r'\(0, 4, 3\)'),
    ([[[0, 0, 0]]], TypeError, 'list'),
])
def test_png_refuses_bad_images(tmp_path, rgb, error, quoted):
    with pytest.raises(error, match=quoted):
        write_png(tmp_path / 'x.png', rgb)
    assert os.listdir(tmp_path) == []


def test_npz_round_trip(tmp_path):
    arrays = {
        'saliency': np.random.RandomState(0).randn(2, 3, 4).astype(np.float32),
        'labels': np.arange(2, dtype=np.int64),
        'file': np.array(1.5),  # Names that clash with numpy's and our own arguments.
        'path': np.array([True, False]),
    }
    path = tmp_path / 'raw.npz'
    write_npz(path, **arrays)
    loaded = read_npz(path)
    assert sorted(loaded) == sorted(arrays)
    for key, array in arrays.items():
        assert loaded[key].dtype == array.dtype
        np.testing.assert_array_equal(loaded[key], array)


def test_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="'bad'"):
        write_npz(tmp_path / 'raw.npz', good=np.zeros(2), bad=np.array([{}], dtype=object))
    assert os.listdir(tmp_path) == []


def test_json_converts_numpy(tmp_path):
    path = tmp_path / 'meta.json'
    write_json(path, {'loss': np.float32(0.5), 'n': np.int64(3), 'shape': np.array([2, 3])})
    assert json.loads(path.read_text(encoding='utf-8')) == {
        'loss': 0.5, 'n': 3, 'shape': [2, 3]}


# ReportIndex -------------------------------------------------------------------------

def test_index_missing_file_has_no_records(tmp_path):
    assert ReportIndex(tmp_path / 'index.jsonl').records() == []


def test_index_round_trip(tmp_path):
    index = ReportIndex(tmp_path / 'index.jsonl')
    index.append({'epoch': np.int64(1), 'name': 'IG (25 steps)', 'max': np.float32(0.25)})
    index.append_many([{'epoch': 2, 'text': 'a\nb'}, {'epoch': 3, 'files': ['x.png']}])
    index.append_many([])
    assert index.records() == [
        {'epoch': 1, 'name': 'IG (25 steps)', 'max': 0.25},
        {'epoch': 2, 'text': 'a\nb'},
        {'epoch': 3, 'files': ['x.png']},
    ]
    assert len((tmp_path / 'index.jsonl').read_text(encoding='utf-8').splitlines()) == 3


@pytest.mark.parametrize('records, quoted', [
    ([{'epoch': 2, 'model': object()}], "'model'"),
    ([{'epoch': 2}, {'epoch': 3, 'when': {1, 2}}], "'when'"),  # All or nothing.
    ([{1: 'int key'}], 'keys must be str'),
    ([['not', 'a', 'dict']], 'must be a dict'),
])
def test_index_refuses_bad_records_without_touching_file(tmp_path, records, quoted):
    path = tmp_path / 'index.jsonl'
    index = ReportIndex(path)
    index.append({'epoch': 1})
    before = path.read_bytes()
    with pytest.raises(TypeError, match=quoted):
        index.append_many(records)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['index.jsonl']


def test_index_refuses_bad_record_without_creating_file(tmp_path):
    path = tmp_path / 'index.jsonl'
    with pytest.raises(TypeError, match="'x'"):
        ReportIndex(path).append({'x': object()})
    assert not path.exists()


def test_index_append_that_fails_changes_nothing_and_waits(tmp_path, monkeypatch):
    path = tmp_path / 'index.jsonl'
    index = ReportIndex(path)
    index.append({'epoch': 1})
    before = path.read_bytes()
    disk = FullDisk(monkeypatch, tmp_path, room=5)  # part of the line lands, then the disk is full
    with pytest.raises(OSError, match='No space left.*index.jsonl'):
        index.append({'epoch': 2})
    assert path.read_bytes() == before  # cut back to its old length
    with pytest.raises(OSError):
        index.append({'epoch': 3})
    assert len(index.pending) == 2 and ReportIndex(path).records() == [{'epoch': 1}]
    disk.room = 10 ** 6  # space again: the waiting records are written first
    index.append({'epoch': 4})
    assert index.pending == []
    assert [r['epoch'] for r in ReportIndex(path).records()] == [1, 2, 3, 4]


def test_index_is_appended_never_rewritten(tmp_path):
    path = tmp_path / 'index.jsonl'
    index = ReportIndex(path)
    index.append({'epoch': 1})
    inode, before = os.stat(path).st_ino, path.read_bytes()
    for epoch in range(2, 50):
        index.append({'epoch': epoch})
    assert os.stat(path).st_ino == inode  # the same file, not a replacement
    assert path.read_bytes().startswith(before)


def test_index_skips_a_record_cut_off_by_a_kill_and_the_next_append_removes_it(tmp_path):
    path = tmp_path / 'index.jsonl'
    path.write_bytes(b'{"epoch": 1}\n{"epoch": 2, "fi')
    index = ReportIndex(path)
    assert index.records() == [{'epoch': 1}]
    index.append({'epoch': 3})
    assert path.read_bytes() == b'{"epoch": 1}\n{"epoch": 3}\n'


def test_index_appends_after_missing_final_newline(tmp_path):
    path = tmp_path / 'index.jsonl'
    path.write_text('{"epoch": 1}', encoding='utf-8')
    ReportIndex(path).append({'epoch': 2})
    assert ReportIndex(path).records() == [{'epoch': 1}, {'epoch': 2}]


def test_index_names_corrupt_line(tmp_path):
    path = tmp_path / 'index.jsonl'
    path.write_text('{"epoch": 1}\n{"epoch": \n', encoding='utf-8')
    with pytest.raises(ValueError, match='line 2'):
        ReportIndex(path).records()


def test_a_full_disk_names_the_file_and_leaves_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / 'a' / 'item_00.png'
    FullDisk(monkeypatch, tmp_path, room=3)
    with pytest.raises(OSError, match=r"No space left on device: '.*item_00\.png'") as raised:
        atomic_write_bytes(path, b'0123456789')
    assert raised.value.filename == str(path)
    assert os.listdir(tmp_path / 'a') == []
