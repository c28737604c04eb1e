"""Live mode in a real browser: headless Debian Chromium, driven by
playwright through ``executable_path`` (no browser is downloaded).

With the network-free stand-in keyframe source: the video plays and
changes, two viewers see the same stream and each other's chat, hostile
text shows as text and runs nothing, a viewer leaving harms nobody.

With the real pipeline (``python -m inception_art.live`` and the embedded
EfficientNet-Lite0): typing "volcano" changes the subject within one
keyframe.
"""
import http.client
import json
import signal
import subprocess
import sys
import time

import pytest

from inception_art.live.app import LiveApp
from live_support import assert_full_rate, chromium, free_port, get_json, wait_for

HOSTILE = ['<img src=x onerror="window.__pwned=1">',
           '<script>window.__pwned=2</script>',
           '"><svg onload="window.__pwned=3">',
           '</div><iframe src="javascript:window.parent.__pwned=4">',
           '&lt;b&gt;not bold&lt;/b&gt; \u202e reversed \u0000 nul']


@pytest.fixture(scope='module')
def live():
    # No chat rate limit: every viewer here is 127.0.0.1, and one test
    # floods the chat on purpose.
    app = LiveApp(source='stand-in', port=free_port(), hold=0.3, frame_size=(288, 512),
                  canvas=(90, 160), keyframe_seconds=1.0, subject='daisy',
                  chat_rate=None).start()
    wait_for(lambda: app.clock.keyframes_shown >= 1, 60)
    yield app
    app.stop()


@pytest.fixture(scope='module')
def browser():
    with chromium() as context:
        yield context


def open_page(browser, url, name):
    page = browser.new_page()
    page.goto(url)
    page.fill('#name', name)
    wait_for(lambda: page.evaluate('document.getElementById("video").naturalWidth') > 0, 20,
             message='the video to show')
    return page


def assert_video_moves(page):
    """The picture on ``page`` changes within a few seconds."""
    shot = page.locator('#video').screenshot()
    wait_for(lambda: page.locator('#video').screenshot() != shot, 10,
             message='the picture to change')


def say(page, text):
    page.fill('#text', text)
    page.click('#send')


def log_texts(page):
    return page.evaluate('[...document.querySelectorAll("#log > div")].map(d => d.textContent)')


def test_video_plays_and_changes(live, browser):
    page = open_page(browser, live.server.url, 'ann')
    try:
        assert page.evaluate('document.getElementById("video").naturalWidth') == 512
        assert_video_moves(page)
        wait_for(lambda: 'fps' in page.text_content('#status'), 10)
        assert page.text_content('#subject') == 'daisy'
    finally:
        page.close()


def test_two_viewers_chat_and_see_the_subject_change(live, browser):
    ann = open_page(browser, live.server.url, 'ann')
    bob = open_page(browser, live.server.url, 'bob')
    try:
        wait_for(lambda: get_json(live.server.url)['viewers'] == 2, 10)
        say(ann, 'tabby + jellyfish')
        wait_for(lambda: 'ann: tabby + jellyfish' in log_texts(bob), 10,
                 message="ann's line on bob's page")
        wait_for(lambda: any('queued tabby + jellyfish' in t for t in log_texts(bob)), 10)
        for page in (ann, bob):
            wait_for(lambda: page.text_content('#subject') == 'tabby + jellyfish', 15,  # noqa: B023
                     message='the subject on both pages')
        # An unknown word: a friendly reply, to the one who typed it only.
        say(bob, 'vulcano')
        wait_for(lambda: any('did you mean volcano' in t for t in log_texts(bob)), 10)
        time.sleep(0.5)
        assert not any('did you mean' in t for t in log_texts(ann))
    finally:
        ann.close()
        bob.close()


def test_hostile_text_is_shown_as_text_and_runs_nothing(live, browser):
    victim = open_page(browser, live.server.url, 'victim')
    attacker = open_page(browser, live.server.url, 'mallory')
    try:
        for text in HOSTILE:
            say(attacker, text)
        wait_for(lambda: any(t.startswith('mallory: &lt;b&gt;') for t in log_texts(victim)), 10)
        texts = log_texts(victim)
        assert 'mallory: <img src=x onerror="window.__pwned=1">' in texts
        assert 'mallory: <script>window.__pwned=2</script>' in texts
        # And a flood straight at the server, names included.
        conn = http.client.HTTPConnection('127.0.0.1', live.server.server_address[1])
        for i in range(300):
            body = json.dumps({'name': HOSTILE[i % 5], 'text': HOSTILE[(i + 1) % 5] + str(i)})
            conn.request('POST', '/chat', body, {'Content-Type': 'application/json'})
            conn.getresponse().read()
        wait_for(lambda: any(t.endswith('299') for t in log_texts(victim)), 15,
                 message='the flood to arrive')
        assert victim.evaluate('window.__pwned') is None
        assert attacker.evaluate('window.__pwned') is None
        # Only the page's own elements in the chat log: divs and name spans.
        tags = victim.evaluate('[...document.querySelectorAll("#log *")].map(e => e.tagName)')
        assert set(tags) <= {'DIV', 'SPAN'}
        assert victim.evaluate('document.querySelectorAll("img, iframe, svg, script").length') \
            == 2           # the video and the page's own script
        # The video still plays.
        assert_video_moves(victim)
    finally:
        victim.close()
        attacker.close()


def test_a_viewer_leaving_mid_stream_harms_nobody(live, browser):
    stays = open_page(browser, live.server.url, 'stays')
    leaves = open_page(browser, live.server.url, 'leaves')
    wait_for(lambda: get_json(live.server.url)['viewers'] == 2, 10)
    leaves.close()
    wait_for(lambda: get_json(live.server.url)['viewers'] == 1, 15)
    try:
        assert_video_moves(stays)
        say(stays, 'goldfish')
        wait_for(lambda: any('queued goldfish' in t for t in log_texts(stays)), 10)
    finally:
        stays.close()


@pytest.mark.full_network
def test_real_network_typing_volcano_changes_the_subject_within_one_keyframe(browser, tmp_path):
    """The whole pipeline as a user runs it: the command, the embedded
    Lite0 optimiser in its own process, the interpolating clock, the page."""
    port = free_port()
    log = open(tmp_path / 'live.log', 'w')
    process = subprocess.Popen([sys.executable, '-m', 'inception_art.live', '--port', str(port),
                                '--hold', '0', '--subject', 'daisy'],
                               stdout=log, stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:%d/' % port
    try:
        def ready():
            assert process.poll() is None, (tmp_path / 'live.log').read_text()
            try:
                return get_json(url)['keyframes'] >= 2
            except OSError:
                return False
        # Compiling the network takes a few seconds with a warm cache, a
        # minute or more with a cold one on a busy machine.
        wait_for(ready, 600, interval=0.5, message='the network to start')
        page = open_page(browser, url, 'tester')
        assert page.text_content('#subject') == 'daisy'
        assert_video_moves(page)
        status = get_json(url)
        keyframe_seconds = status['keyframe_seconds']
        shown = status['keyframes']
        say(page, 'volcano')
        wait_for(lambda: page.text_content('#subject') == 'volcano',
                 3 * keyframe_seconds + 4 * status['keyframe_compute_s'] + 10, interval=0.1,
                 message='the subject to change')
        status = get_json(url)
        # The optimiser finishes the keyframe it is on; the next one it
        # starts is volcano, and the video fades into it next.
        assert status['keyframes'] - shown <= 2, (status, shown)
        assert status['subject']['user'] == 'tester'
        assert_full_rate(status['fps'], status['fps_target'])
        page.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
