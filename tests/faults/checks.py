"""What the fault suite checks after every fault: what the index lists is on
disk and in TensorBoard (read by TensorBoard's own EventAccumulator), and what
earlier runs wrote is still there, byte for byte, in the same inode."""
import hashlib
import json
import os
import re
import time

from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import ReportLayout
from saliency_ext.sinks.events import whole_records
from saliency_ext.sinks.tensorboard import picture_tags
from tests.faults import child

STEP_DIR = re.compile(r'epoch_\d+-iter_\d+(-s\d+)?')


def layout_of(out):
    return ReportLayout(os.path.join(out, 'saliency'))


def shown_images(logdir):
    """``{(tag, step)}`` of every picture in the log folder."""
    if not os.path.isdir(logdir):
        return set()
    events = EventAccumulator(logdir, size_guidance={'images': 0})
    events.Reload()
    return {(tag, event.step) for tag in events.Tags()['images']
            for event in events.Images(tag)}


def run_child(server, out, style, result, **kwargs):
    """Starts :func:`child.train` in a process forked from ``server``."""
    process = server.Process(target=child.train, args=(str(out), style),
                             kwargs=dict(result=result, **kwargs))
    process.start()
    return process


def session_of(out, pid):
    """The session a child wrote, from the report folder's lock file."""
    try:
        with open(layout_of(out).lock_path) as f:
            holder = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return holder.get('session') if holder.get('pid') == pid else None


def started(process, out, deadline=60):
    """Waits until the child holds the report folder's lock (its imports and
    the start-up check are done)."""
    lock = layout_of(out).lock_path
    end = time.monotonic() + deadline
    while time.monotonic() < end and process.is_alive():
        try:
            with open(lock) as f:
                if json.load(f).get('pid') == process.pid:
                    return True
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.002)
    return False


def lost_records(out):
    """The index records whose files or TensorBoard pictures are missing
    (pictures whose writing to TensorBoard failed and was recorded
    excepted)."""
    layout = layout_of(out)
    shown = shown_images(os.path.join(out, 'tensorboard'))
    lost = []
    for record in layout.records():
        wanted = picture_tags(record)
        if any(f['what'] == 'tensorboard' for f in record['failed']):
            wanted = set()
        if not all(os.path.isfile(layout.path(f)) for f in record['files']) \
                or not wanted <= shown:
            lost.append(record)
    return lost


def leftovers(out):
    """Temporary files, and report folders no record names."""
    layout = layout_of(out)
    listed = {os.path.dirname(f) for r in layout.records() for f in r['files']}
    found = []
    for folder, dirs, files in os.walk(layout.root):
        found += [os.path.join(folder, f) for f in files if f.endswith('.tmp')]
        found += [os.path.join(folder, d) for d in dirs if STEP_DIR.fullmatch(d)
                  and os.path.relpath(os.path.join(folder, d), layout.root)
                  not in listed]
    return found


def _digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class Promises(object):
    """What the runs so far wrote and must never change: the files the index
    names, the probe files, the index's lines and the whole records of the
    event files."""

    def __init__(self, out):
        self.out = out
        self.files, self.index, self.events = {}, b'', {}

    def take(self):
        layout = layout_of(self.out)
        for path in [f for r in layout.records() for f in r['files']] + \
                layout.probe_files():
            full = layout.path(path)
            if os.path.isfile(full):  # a lost one is counted as lost
                stat = os.stat(full)
                self.files[full] = (_digest(full), stat.st_ino,
                                    stat.st_mtime_ns)
        if os.path.isfile(layout.index.path):
            with open(layout.index.path, 'rb') as f:
                data = f.read()
            self.index = data[:data.rfind(b'\n') + 1]
        logdir = os.path.join(self.out, 'tensorboard')
        for name in os.listdir(logdir) if os.path.isdir(logdir) else []:
            path = os.path.join(logdir, name)
            with open(path, 'rb') as f:
                self.events[path] = f.read(whole_records(path)[1])

    def broken(self):
        """The promised files that changed or went."""
        broken = []
        for path, (digest, inode, mtime) in self.files.items():
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                broken.append('gone: ' + path)
                continue
            if (_digest(path), stat.st_ino, stat.st_mtime_ns) != \
                    (digest, inode, mtime):
                broken.append('rewritten: ' + path)
        index = layout_of(self.out).index.path
        if self.index:
            with open(index, 'rb') as f:
                if not f.read().startswith(self.index):
                    broken.append('index lines changed')
        for path, data in self.events.items():
            with open(path, 'rb') as f:
                if not f.read().startswith(data):
                    broken.append('event records changed: ' + path)
        return broken


def outcome(result):
    """What a child wrote about its run (``{}`` if it was killed first)."""
    try:
        with open(result) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}
