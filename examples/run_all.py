"""Runs the four examples with their default settings, one after the other,
then says where their pictures are and how to watch them in TensorBoard.

Each example runs in its own Python process, as ``python
examples/<name>/train_<name>.py --out <root>/<name> --device <device>``, and
prints its findings at the end (also in ``findings.json`` under
``<root>/<name>/``).

Usage::

    python examples/run_all.py [--out result] [--device -1] \
        [--examples iris digits esol shortcut]
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = ('iris', 'digits', 'esol', 'shortcut')
#: Pictures per TensorBoard card to keep (its --samples_per_plugin images=N).
KEEP_IMAGES = 1000


def last_picture_folders(out):
    """The folder of each entry's last report under ``out`` (or under its
    runs, ``out/<run>/``): one picture per probe item (and ``mean.png``
    where the entry draws the mean)."""
    folders = []
    for pattern in (('saliency', '*', ''), ('*', 'saliency', '*', '')):
        for entry in sorted(glob.glob(os.path.join(out, *pattern))):
            steps = sorted(glob.glob(os.path.join(entry, 'epoch_*')))
            if steps:
                folders.append(steps[-1])
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='result',
                        help='parent of the examples\' output folders '
                        '(default: %(default)s)')
    parser.add_argument('--device', default='-1',
                        help='-1 for the CPU or a GPU id (default: '
                        '%(default)s)')
    parser.add_argument('--examples', nargs='+', choices=EXAMPLES,
                        default=list(EXAMPLES),
                        help='which examples to run (default: all)')
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.setdefault('MPLBACKEND', 'Agg')
    seconds = {}
    for name in args.examples:
        out = os.path.join(args.out, name)
        command = [sys.executable,
                   os.path.join(HERE, name, 'train_{}.py'.format(name)),
                   '--out', out, '--device', str(args.device)]
        print('\n=== {}: {}'.format(name, ' '.join(command)), flush=True)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True)
        seconds[name] = time.perf_counter() - start

    print('\n=== done')
    for name in args.examples:
        out = os.path.join(args.out, name)
        print('\n{} ({:.0f} s): findings in {}'.format(
            name, seconds[name], ', '.join(sorted(glob.glob(os.path.join(
                out, '**', 'findings.json'), recursive=True)))))
        print('  pictures of the last report:')
        for folder in last_picture_folders(out):
            print('    ' + folder)
    print('\nTo watch every report of every example in TensorBoard, run:\n\n'
          '    {} --logdir {} --samples_per_plugin images={}\n\n'
          'and open its Time Series tab: one card group per example and '
          'method\n(saliency.<method>: overview, history and curves; '
          'saliency.<method>.items: each\nprobe item). By default TensorBoard '
          'keeps only 10 pictures per card, so early\nreports drop off the '
          'step slider; the flag keeps up to {} (images=0, documented\nas '
          '"keep all", makes TensorBoard 2.21 show no picture at all). The '
          'history card\nshows every report either way.\n'.format(
              tensorboard_command(), args.out, KEEP_IMAGES, KEEP_IMAGES))


def tensorboard_command():
    """``tensorboard``, or its path next to this Python where it is not on
    the ``PATH`` (a virtual environment that is not activated)."""
    beside = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
    if os.path.isfile(beside) and shutil.which('tensorboard') != beside:
        return os.path.relpath(beside) if not os.path.relpath(
            beside).startswith('..') else beside
    return 'tensorboard'


if __name__ == '__main__':
    main()
