"""Durable report files: safe names, atomic writes, PNG/NPZ/JSON and the report index.

Every write goes to a temporary file in the destination directory that is moved into place
with ``os.replace``, so a crash or a full disk leaves either the old file or the new one,
never a truncated mix. What cannot be made again (arrays, the index) is also fsynced before
the move, so it survives a power loss; pictures, which can be redrawn from the arrays, are
not (an fsync per picture cost more than drawing it). A failed write raises ``OSError``
naming the destination file. The index is only ever appended to. Only the standard library
and numpy are used.
"""

import collections.abc
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import struct
import zipfile
import zlib

import numpy as np

try:  # ISA-L deflates pictures 7 times faster than zlib at level 1, to the same size
    from isal.isal_zlib import compress as _deflate
except ImportError:
    from zlib import compress as _deflate

_MAX_NAME_LEN = 80
_UNSAFE_RUN = re.compile(r'[^A-Za-z0-9._-]+')
_SAFE_NAME = re.compile(r'[A-Za-z0-9_-][A-Za-z0-9._-]*')
# The suffix `safe_name` appends to changed names. Safe names that already end like this are
# changed too, so that no kept name can equal a changed one.
_HASH_LEN = 12
_HASH_SUFFIX = re.compile(r'_[0-9a-f]{%d}$' % _HASH_LEN)
#: The names of the temporary files of :func:`atomic_write_bytes` (hidden, ``.tmp``).
TEMPORARY = re.compile(r'\..+\.[0-9a-f]{8}\.tmp')
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def safe_name(name, *, reserved=None):
    """Turns a user-given entry name into a single safe path component.

    A name of at most 80 characters from ``[A-Za-z0-9._-]`` that does not start with a dot
    (and does not end like a hash suffix, ``_`` and 12 hex digits) is kept as it is. Any
    other name has its unsafe characters replaced, is shortened, and gets a stable hash of
    the original appended, so that two different names give different results (barring a
    48-bit hash collision). Case is kept: on a case-insensitive file system ``'A'`` and
    ``'a'`` still name the same file.

    Args:
        name (str): The name to convert, for example ``'IG (25 steps)'`` or ``'../x'``.
        reserved (re.Pattern): Safe names that must be changed too, because they are taken
            by other files (matched in full, ignoring case, as case-insensitive file systems
            do).

    Returns:
        str: A non-empty name of at most 80 characters from ``[A-Za-z0-9._-]`` that does not
        start with a dot (so it is never ``'.'`` or ``'..'``).

    Raises:
        TypeError: If ``name`` is not a ``str``.
    """
    if not isinstance(name, str):
        raise TypeError(f'name must be a str, got {type(name).__name__}: {name!r}')
    if (len(name) <= _MAX_NAME_LEN and _SAFE_NAME.fullmatch(name)
            and not _HASH_SUFFIX.search(name)
            and not (reserved is not None and reserved.fullmatch(name.lower()))):
        return name
    # surrogatepass: names decoded from file systems may hold lone surrogates.
    digest = hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()
    stem = _UNSAFE_RUN.sub('_', name).lstrip('.')
    return f'{stem[:_MAX_NAME_LEN - _HASH_LEN - 1]}_{digest[:_HASH_LEN]}'


def resolve_inside(root, *parts):
    """Joins path parts to a root and checks that the result stays inside it.

    Symbolic links are resolved before the check, so neither ``'..'``, an absolute part nor
    a link that points elsewhere can lead outside ``root``.

    Args:
        root (str or os.PathLike): The directory the result must stay inside.
        *parts (str or os.PathLike): Path components to join below ``root``.

    Returns:
        str: The resolved absolute path.

    Raises:
        ValueError: If the joined path resolves outside ``root``.
    """
    real_root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, path]) != real_root:
        joined = os.path.join(os.fspath(root), *map(os.fspath, parts))
        raise ValueError(f'path {joined!r} resolves to {path!r}, outside {real_root!r}')
    return path


def write_all(fd, data):
    """Writes all of ``data`` to the file descriptor ``fd``, going on after short writes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def naming(error, path):
    """The OSError ``error`` again, naming ``path`` (the file the caller meant to write, not
    a temporary one)."""
    if error.errno is None:
        return OSError(f'{error}: {os.fspath(path)!r}')
    return OSError(error.errno, error.strerror, os.fspath(path))


def atomic_write_bytes(path, data, *, durable=True):
    """Writes bytes to a file so that readers see either the old or the new content.

    Creates missing parent directories. On any failure the temporary file is removed and an
    existing file at ``path`` is left untouched.

    Args:
        path (str or os.PathLike): The destination file.
        data (bytes-like): The complete new content.
        durable (bool): Also fsync the file and its directory, so that the new content
            survives a power loss; ``False`` for what can be made again.

    Raises:
        OSError: If the file cannot be written (a full disk, no permission), naming ``path``.
    """
    directory, base = os.path.split(os.path.abspath(path))
    # A hidden name in the same directory: os.replace is atomic only within a file system,
    # and a directory scan for the real files does not pick up the temporary one.
    tmp = os.path.join(directory, f'.{base[:64]}.{secrets.token_hex(4)}.tmp')
    try:
        os.makedirs(directory, exist_ok=True)
        # O_EXCL never reuses another file; mode 0o666 lets the umask decide, like open().
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0),
                     0o666)
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable:
            _fsync_directory(directory)
    except OSError as error:
        with contextlib.suppress(OSError):  # Keep the original error, not a cleanup one.
            os.unlink(tmp)
        raise naming(error, path) from error


def _fsync_directory(directory):
    """Makes a rename in ``directory`` survive a power loss (POSIX only)."""
    if os.name != 'posix':
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_rgb(rgb):
    """Checks that an image is a uint8 RGB numpy array.

    Args:
        rgb: The image to check.

    Returns:
        numpy.ndarray: ``rgb`` itself.

    Raises:
        TypeError: If ``rgb`` is not a numpy array of dtype uint8.
        ValueError: If its shape is not ``(H, W, 3)`` with ``H, W > 0``.
    """
    expected = 'expected a numpy uint8 RGB image of shape (H, W, 3)'
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f'{expected}, got {type(rgb).__name__}')
    if rgb.dtype != np.uint8:
        raise TypeError(f'{expected}, got dtype {rgb.dtype}: scale it to 0..255 and convert '
                        f'it with astype(numpy.uint8)')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f'{expected}, got shape {rgb.shape}')
    return rgb


def _png_chunk(kind, data):
    """One PNG chunk: its length, type, data and CRC."""
    return b''.join([struct.pack('>I', len(data)), kind, data,
                     struct.pack('>I', zlib.crc32(data, zlib.crc32(kind)))])


def encode_png(rgb):
    """The PNG file of an RGB image, as bytes.

    The rows are not filtered and are deflated at level 1: the pictures are
    mostly flat white and flat colours, which deflate takes as they are, so
    this encodes 2 to 3 times faster than Pillow (which tries every filter on
    each row) and the files come out smaller still. Reports encode many
    pictures while training runs, so the deflating is ISA-L's where the
    ``isal`` package is installed (7 times faster than zlib's, files of the
    same size), zlib's otherwise.

    Args:
        rgb (numpy.ndarray): A uint8 array of shape ``(H, W, 3)``.

    Raises:
        TypeError: If ``rgb`` is not a uint8 numpy array.
        ValueError: If ``rgb`` is not shaped ``(H, W, 3)``.
    """
    height, width = check_rgb(rgb).shape[:2]
    rows = np.zeros((height, 1 + 3 * width), np.uint8)  # filter 0 (none)
    rows[:, 1:] = rgb.reshape(height, 3 * width)
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b''.join([_PNG_SIGNATURE, _png_chunk(b'IHDR', header),
                     _png_chunk(b'IDAT', _deflate(rows, 1)),
                     _png_chunk(b'IEND', b'')])


def decode_png(png):
    """The RGB pixels of a PNG file that :func:`encode_png` wrote (8-bit RGB, rows without
    filters, one IDAT chunk): a drawing process sends its pictures so, 25 times smaller than
    their pixels, which cost more to pickle and pipe than to inflate.

    Args:
        png (bytes): The file.

    Returns:
        numpy.ndarray: uint8 ``(H, W, 3)``.

    Raises:
        ValueError: If ``png`` is not such a file.
    """
    if png[:8] != _PNG_SIGNATURE or png[12:16] != b'IHDR' or png[37:41] != b'IDAT' or \
            png[24:29] != b'\x08\x02\x00\x00\x00':  # 8-bit RGB, no interlace
        raise ValueError('not a PNG file of encode_png (8-bit RGB, one IDAT chunk)')
    height, width = png_size(png)
    size = struct.unpack('>I', png[33:37])[0]
    rows = np.frombuffer(zlib.decompress(png[41:41 + size]), np.uint8)
    rows = rows.reshape(height, 1 + 3 * width)
    if rows[:, 0].any():
        raise ValueError('PNG rows with filters: not a PNG file of encode_png')
    return rows[:, 1:].reshape(height, width, 3)


class Picture(np.ndarray):
    """An RGB picture that is encoded to PNG once, however many sinks take it.

    It is the ``uint8`` array ``(H, W, 3)`` itself, so a sink that wants pixels uses it as
    any array; :attr:`png` holds its PNG file, encoded at the first use and kept, which the
    files and TensorBoard sinks both write. Do not change its pixels in place.
    """

    @classmethod
    def of(cls, rgb, png=None):
        """``rgb`` (checked to be uint8 ``(H, W, 3)``) as a :class:`Picture`;
        ``png``, its PNG file when it was already encoded."""
        picture = np.ascontiguousarray(check_rgb(rgb)).view(cls)
        picture._png = png
        return picture

    def __array_finalize__(self, obj):
        self._png = None  # a view or a result of arithmetic encodes its own pixels

    @property
    def png(self):
        """bytes: The picture's PNG file."""
        if self._png is None:
            self._png = encode_png(self.view(np.ndarray))
        return self._png


def png_bytes(rgb):
    """The PNG file of a picture: a :class:`Picture`'s own, else encoded now."""
    return rgb.png if isinstance(rgb, Picture) else encode_png(rgb)


def png_size(png):
    """The ``(height, width)`` of a PNG file, read from its header."""
    width, height = struct.unpack('>II', png[16:24])
    return height, width


class EncodedPictures(collections.abc.Mapping):
    """Pictures by name, kept as the PNG files of :func:`encode_png` and decoded into a
    :class:`Picture` only where one is looked up: the built-in sinks write the files as
    they are (:func:`png_files`), so pictures drawn in another process are decoded only
    for a sink that reads their pixels.

    Args:
        files (dict): name -> PNG file (bytes).
    """

    def __init__(self, files):
        self._files = dict(files)
        self._decoded = {}

    def __getitem__(self, name):
        if name not in self._decoded:
            png = self._files[name]
            self._decoded[name] = Picture.of(decode_png(png), png=png)
        return self._decoded[name]

    def __iter__(self):
        return iter(self._files)

    def __len__(self):
        return len(self._files)

    def png(self, name):
        """bytes: The PNG file of the picture ``name``."""
        return self._files[name]


def png_files(pictures):
    """``(name, PNG file)`` of each of a sink's ``pictures`` (name -> RGB array), without
    decoding :class:`EncodedPictures`."""
    if isinstance(pictures, EncodedPictures):
        return [(name, pictures.png(name)) for name in pictures]
    return [(name, png_bytes(rgb)) for name, rgb in pictures.items()]


def write_png(path, rgb, *, durable=False):
    """Writes an RGB image as a PNG file, atomically.

    Args:
        path (str or os.PathLike): The destination file.
        rgb (numpy.ndarray): A uint8 array of shape ``(H, W, 3)`` (a :class:`Picture` is
            not encoded again).
        durable (bool): fsync it (see :func:`atomic_write_bytes`); pictures can be redrawn
            from the arrays, so by default they are not.

    Raises:
        TypeError: If ``rgb`` is not a uint8 numpy array.
        ValueError: If ``rgb`` is not shaped ``(H, W, 3)``.
    """
    atomic_write_bytes(path, png_bytes(check_rgb(rgb)), durable=durable)


def write_npz(path, /, **arrays):
    """Writes named arrays to a compressed ``.npz`` file, atomically.

    Any name is allowed, including ``path`` and ``file``. The file is readable with
    ``numpy.load(path, allow_pickle=False)``.

    Args:
        path (str or os.PathLike): The destination file.
        **arrays (numpy.ndarray): The arrays to store, by name; CPU arrays only (move device
            arrays to the CPU first).

    Raises:
        TypeError: If an array has an object dtype (it could only be stored by pickling).
    """
    buffer = io.BytesIO()
    # Written entry by entry like numpy.savez_compressed, whose own `file` argument would
    # clash with an array named 'file'.
    with zipfile.ZipFile(buffer, 'w', compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(f'array {key!r} has dtype {array.dtype}, which cannot be '
                                f'stored without pickling')
            with archive.open(f'{key}.npy', 'w', force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def read_npz(path):
    """Reads all arrays of a ``.npz`` file, refusing pickled objects.

    Args:
        path (str or os.PathLike): The file to read.

    Returns:
        dict: Array name to ``numpy.ndarray``.
    """
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _to_builtin(value):
    """``json`` default hook: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f'{type(value).__name__} {value!r} is not JSON-serialisable')


def _dumps(obj):
    return json.dumps(obj, default=_to_builtin, ensure_ascii=False)


def write_json(path, obj):
    """Writes an object as a UTF-8 JSON file, atomically.

    Args:
        path (str or os.PathLike): The destination file.
        obj: A JSON-serialisable object; numpy scalars and arrays are converted.

    Raises:
        TypeError: If ``obj`` holds a value that is not JSON-serialisable.
    """
    atomic_write_bytes(path, _dumps(obj).encode('utf-8'))


def _record_line(record):
    """Serialises one index record to a JSON line, naming the key that cannot be."""
    if not isinstance(record, dict):
        raise TypeError(f'an index record must be a dict, got {type(record).__name__}')
    for key, value in record.items():
        if not isinstance(key, str):
            raise TypeError(f'index record keys must be str, got {key!r}')
        try:
            _dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f'index record key {key!r} is not JSON-serialisable: {e}') from e
    # json escapes newlines inside strings, so one record is always one line.
    return _dumps(record) + '\n'


class ReportIndex:
    """The index of reports: a JSON-lines file with one record (a dict) per line.

    The file is only ever appended to: each append writes its lines at the end in one write
    and makes them durable (fsync), so its cost does not grow with the file. A failed append
    cuts the file back to its old length and keeps its records in :attr:`pending`, in
    memory; the next append writes them first, so they are written once the file is
    writable again. A last line without its newline is a record being written, or one cut
    off by a killed writer: readers skip it unless it is a whole record, and the next append
    removes it. Meant for a single writer process (the report folder's lock sees to that).

    Args:
        path (str or os.PathLike): The index file; created on the first append.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        #: list of str: Lines of records whose append failed, oldest first.
        self.pending = []

    def records(self):
        """Reads all records.

        Returns:
            list of dict: The records in the order they were appended; ``[]`` when the
            file does not exist yet.

        Raises:
            ValueError: If a line other than an unfinished last one is not valid JSON.
        """
        try:
            with open(self.path, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            return []
        lines = data.split(b'\n')
        records = [self._parse(number, line)
                   for number, line in enumerate(lines[:-1], start=1) if line.strip()]
        last = _whole_record(lines[-1])
        return records if last is None else records + [last]

    def _parse(self, number, line):
        try:
            return json.loads(line.decode('utf-8'))
        except ValueError as e:
            raise ValueError(f'{self.path}, line {number}: not a JSON record: {e}') from e

    def append(self, record):
        """Adds one record (see :meth:`append_many`)."""
        self.append_many([record])

    def append_many(self, records):
        """Adds records, after any that are pending.

        Args:
            records (iterable of dict): JSON-serialisable values by str key; numpy scalars
                are converted.

        Raises:
            TypeError: If a record cannot be serialised; nothing is written or kept.
            OSError: If the file cannot be written (naming it); the file is as it was and
                the records are kept in :attr:`pending`.
        """
        self.pending += [_record_line(record) for record in records]
        self.write_pending()

    def write_pending(self):
        """Appends the pending records, if any.

        Raises:
            OSError: As :meth:`append_many`.
        """
        if not self.pending:
            return
        data = ''.join(self.pending).encode('utf-8')
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT |
                         getattr(os, 'O_BINARY', 0), 0o666)
        except OSError as error:
            raise naming(error, self.path) from error
        try:
            self._append(fd, data)
        finally:
            os.close(fd)
        self.pending = []

    def _append(self, fd, data):
        size = os.fstat(fd).st_size
        start, tail = _last_line(fd, size)
        try:
            if tail and _whole_record(tail) is not None:
                data = b'\n' + data  # A hand-edited file may lack the final newline.
            elif tail:
                os.ftruncate(fd, start)  # A record cut off by a killed writer.
                size = start
            write_all(fd, data)
            os.fsync(fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise naming(error, self.path) from error


def _last_line(fd, size, chunk=65536):
    """Where the text after the file's last newline starts, and that text."""
    if not size or os.pread(fd, 1, size - 1) == b'\n':
        return size, b''  # the usual case: one byte read
    end = size
    while end > 0:
        start = max(0, end - chunk)
        block = os.pread(fd, end - start, start)
        newline = block.rfind(b'\n')
        if newline >= 0:
            start += newline + 1
            break
        end = start
    else:
        start = 0
    return start, os.pread(fd, size - start, start) if size > start else b''


def _whole_record(line):
    """The record a line without its newline holds, or None when it is unfinished."""
    if not line.strip():
        return None
    try:
        record = json.loads(line.decode('utf-8'))
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
