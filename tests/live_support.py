"""Helpers shared by the live-mode tests (``tests/test_live_*.py``).

Everything runs on the loopback interface, on ports chosen free at run
time; nothing is downloaded.
"""
import contextlib
import http.client
import json
import os
import shutil
import tempfile
import time

import pytest

from testkit.loopback import free_port  # noqa: F401 - the tests' one source of ports

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync']


def wait_for(condition, timeout, interval=0.05, message='condition'):
    """Poll ``condition()`` until it is truthy; return its value or fail."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail('timed out after %.0f s waiting for %s' % (timeout, message))
        time.sleep(interval)


#: The share of its target rate that the video must keep, measured over a
#: second or more, for a test to call it "going on". What these tests
#: catch is a stream that stops or falls to half (a blocked clock thread);
#: a busy 2-core machine costs a few frames a second, which a bar of 23 of 25
#: fps (the tests' old one) took for a failure.
FULL_RATE = 0.7


def frame_rate(app, seconds=1.0):
    """Frames the app's clock published per second over ``seconds``."""
    t0, frames0 = time.monotonic(), app.clock.frames
    time.sleep(seconds)
    return (app.clock.frames - frames0) / (time.monotonic() - t0)


def assert_full_rate(rate, fps_target):
    """Fail unless ``rate`` is at least :data:`FULL_RATE` of ``fps_target``."""
    assert rate >= FULL_RATE * fps_target, '%.1f fps of %.1f' % (rate, fps_target)


def need(program, package):
    """Fail with the fix when a Debian program the tests use is missing."""
    path = (program if os.path.isabs(program) and os.access(program, os.X_OK)
            else shutil.which(program))
    if not path:
        pytest.fail('%s not found: the live tests need Debian\'s %s (make install-dev '
                    'installs it)' % (program, package))
    return path


def get_json(url_base, path='/status', timeout=10):
    host, port = url_base.split('//')[1].rstrip('/').split(':')
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request('GET', path)
        response = conn.getresponse()
        return json.loads(response.read())
    finally:
        conn.close()


def read_mjpeg(host, port, frames, timeout=20, path='/video.mjpg'):
    """Read ``frames`` JPEG parts from an MJPEG stream; returns the bytes."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.request('GET', path)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader('Content-Type').startswith('multipart/x-mixed-replace')
    out = []
    try:
        while len(out) < frames:
            line = response.fp.readline()
            if not line.startswith(b'--frame'):
                continue
            headers = {}
            while True:
                line = response.fp.readline().strip()
                if not line:
                    break
                key, _, value = line.decode().partition(':')
                headers[key.lower()] = value.strip()
            assert headers['content-type'] == 'image/jpeg'
            out.append(response.fp.read(int(headers['content-length'])))
    finally:
        conn.close()
    return out


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium driven by playwright (never downloads a
    browser: ``executable_path`` is the system one), fresh profile."""
    need(CHROMIUM, 'chromium')
    sync_api = pytest.importorskip('playwright.sync_api')
    profile = tempfile.mkdtemp(prefix='chromium-profile-')
    try:
        with sync_api.sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
                viewport={'width': 1280, 'height': 720})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
