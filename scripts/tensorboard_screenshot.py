"""Photographs TensorBoard as a user sees it: serves a log folder with the
real ``tensorboard`` on 127.0.0.1 and takes a screenshot of a dashboard tab
with headless Chromium (Debian's ``chromium`` package).

Usage::

    python scripts/tensorboard_screenshot.py LOGDIR OUT.png \
        [--tab timeseries|images|scalars] [--size 1400x1000] [--wait 20] \
        [--card-width 600] [--actual-size]

TensorBoard is started with ``--samples_per_plugin images=1000``, as the
README advises (``images=0``, documented as "keep all", shows no picture in
TensorBoard 2.21). Not run by CI: it needs Chromium.
"""
import argparse
import base64
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# TensorBoard 2.21 serves no picture at all with images=0 (documented as
# "keep all"): keep this many per tag instead.
KEEP_IMAGES = 1000
CHROMIUM = ('chromium', 'chromium-browser', 'google-chrome')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until_served(url, process, seconds=60):
    """Waits until TensorBoard answers and has read its runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit('tensorboard exited with {}'.format(
                process.returncode))
        try:
            with urllib.request.urlopen(url + '/data/runs', timeout=2) as r:
                if r.read().strip() not in (b'', b'[]'):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit('tensorboard did not serve {} within {} s'.format(
        url, seconds))


def tensorboard_command():
    beside = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
    return beside if os.path.isfile(beside) else 'tensorboard'


class DevTools(object):
    """Chromium's DevTools protocol over ``--remote-debugging-pipe`` (file
    descriptors 3 and 4 of the browser): JSON messages ending in NUL."""

    def __init__(self, browser, profile):
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def pipes():  # in the child: the browser reads fd 3, writes fd 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
                    for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [browser, '--headless', '--no-sandbox', '--disable-gpu',
             '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync',
             '--hide-scrollbars', '--remote-debugging-pipe',
             '--user-data-dir=' + profile, 'about:blank'],
            close_fds=False, preexec_fn=pipes,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b''
        self._id = 0

    def call(self, method, session=None, **params):
        self._id += 1
        message = dict(id=self._id, method=method, params=params)
        if session:
            message['sessionId'] = session
        os.write(self._write, json.dumps(message).encode() + b'\0')
        while True:
            reply = self._next()
            if reply.get('id') == self._id:
                if 'error' in reply:
                    raise RuntimeError('{}: {}'.format(method, reply['error']))
                return reply.get('result', {})

    def _next(self):
        while b'\0' not in self._buffer:
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError('the browser closed its pipe')
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message)

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        os.close(self._write)
        os.close(self._read)


# Ticks "Show actual image size" in the settings pane that a fresh profile
# opens beside the cards, then closes the pane.
ACTUAL_SIZE = """
for (const box of document.querySelectorAll('mat-checkbox')) {
  if (box.textContent.includes('Show actual image size')) {
    box.querySelector('input').click();
  }
}
"""
CLOSE_SETTINGS = """
for (const b of document.querySelectorAll('button')) {
  if ((b.getAttribute('aria-label') || '').match(/close/i)) { b.click(); }
}
"""


# TensorBoard keeps its settings in the page's local storage.
CARD_WIDTH = """
localStorage.setItem('_tb_global_settings',
                     JSON.stringify({timeSeriesCardMinWidth: %d}));
"""


def screenshot(logdir, out, *, tab='timeseries', size='1400x1000', wait=20,
               card_width=None, actual_size=False):
    """Serves ``logdir`` and writes a screenshot of ``tab`` to ``out``."""
    browser = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)),
                   None)
    if browser is None:
        raise SystemExit('no Chromium found: apt-get install -y chromium')
    port = free_port()
    url = 'http://127.0.0.1:{}'.format(port)
    server = subprocess.Popen(
        [tensorboard_command(), '--logdir', logdir, '--host', '127.0.0.1',
         '--port', str(port), '--samples_per_plugin', 'images={}'.format(KEEP_IMAGES)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    width, height = (int(v) for v in size.split('x'))
    try:
        wait_until_served(url, server)
        with tempfile.TemporaryDirectory() as profile:
            tools = DevTools(browser, profile)
            try:
                target = tools.call('Target.createTarget',
                                    url='about:blank')['targetId']
                session = tools.call('Target.attachToTarget',
                                     targetId=target,
                                     flatten=True)['sessionId']
                tools.call('Emulation.setDeviceMetricsOverride', session,
                           width=width, height=height, deviceScaleFactor=1,
                           mobile=False)
                tools.call('Page.navigate', session,
                           url='{}/#{}'.format(url, tab))
                if card_width:
                    time.sleep(2)
                    tools.call('Runtime.evaluate', session,
                               expression=CARD_WIDTH % card_width)
                    tools.call('Page.reload', session)
                time.sleep(wait / 2)
                if actual_size:
                    tools.call('Runtime.evaluate', session,
                               expression=ACTUAL_SIZE)
                tools.call('Runtime.evaluate', session,
                           expression=CLOSE_SETTINGS)
                time.sleep(wait / 2)
                shot = tools.call('Page.captureScreenshot', session,
                                  format='png')
            finally:
                tools.close()
        with open(out, 'wb') as f:
            f.write(base64.b64decode(shot['data']))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('logdir')
    parser.add_argument('out')
    parser.add_argument('--tab', default='timeseries',
                        choices=('timeseries', 'images', 'scalars'))
    parser.add_argument('--size', default='1400x1000',
                        help='window WIDTHxHEIGHT (default: %(default)s)')
    parser.add_argument('--card-width', type=int, default=None,
                        help='Time Series cards at least this many pixels '
                        'wide (TensorBoard\'s own setting)')
    parser.add_argument('--actual-size', action='store_true',
                        help='show pictures at their own size')
    parser.add_argument('--wait', type=float, default=20,
                        help='seconds of page time before the shot '
                        '(default: %(default)s)')
    args = parser.parse_args(argv)
    screenshot(args.logdir, args.out, tab=args.tab, size=args.size,
               wait=args.wait, card_width=args.card_width,
               actual_size=args.actual_size)


if __name__ == '__main__':
    main()
