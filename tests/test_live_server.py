"""Live mode through its HTTP server: the page, MJPEG to several viewers,
the status endpoint, chat requests, disconnects, slow viewers, 10,000
hostile messages, underflow and the watchdog.

The keyframes come from :class:`~inception_art.live.standin.StandInDream`,
a network-free stand-in (its own process, like the real optimiser): these
tests are about the server and the pipeline, not the network.
``test_live_browser.py`` runs the real network.
"""
import http.client
import json
import logging
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from inception_art.live.app import LiveApp
from testkit.hostile import hostile_body
from testkit.loopback import Nginx
from testkit.procs import alive, command_line, descendants
from live_support import (assert_full_rate, frame_rate, free_port, get_json, read_mjpeg,
                          wait_for)

SIZE = (288, 512)


def stand_in_app(**overrides):
    options = dict(source='stand-in', port=free_port(), hold=0.3, frame_size=SIZE,
                   canvas=(90, 160), keyframe_seconds=1.0, subject='daisy',
                   stall_timeout=5.0)
    options.update(overrides)
    return LiveApp(**options)


@pytest.fixture(scope='module')
def live():
    # No rate limit: these tests post thousands of messages from 127.0.0.1
    # (test_chat_posts_are_rate_limited_per_address sets one).
    app = stand_in_app(chat_rate=None).start()
    wait_for(lambda: app.clock.keyframes_shown >= 1, 60, message='the first keyframes')
    yield app
    app.stop()


def connect(app):
    return http.client.HTTPConnection('127.0.0.1', app.server.server_address[1], timeout=20)


def post_chat(conn, payload, content_type='application/json', headers=()):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    conn.request('POST', '/chat', body=body,
                 headers=dict({'Content-Type': content_type}, **dict(headers)))
    response = conn.getresponse()
    return response.status, response.read()


def test_page_is_served_with_a_strict_policy(live):
    conn = connect(live)
    conn.request('GET', '/')
    response = conn.getresponse()
    html = response.read().decode()
    assert response.status == 200
    assert 'id="video"' in html and 'id="subject"' in html and 'id="text"' in html
    csp = response.getheader('Content-Security-Policy')
    assert "script-src 'sha256-" in csp and "default-src 'none'" in csp
    assert 'unsafe-inline' not in csp
    conn.request('GET', '/nope')
    response = conn.getresponse()
    response.read()
    assert response.status == 404


def test_several_viewers_see_the_same_moving_video(live):
    port = live.server.server_address[1]
    results = {}
    encoded, seq = live.hub.encoded, live.hub.seq

    def viewer(name):
        results[name] = read_mjpeg('127.0.0.1', port, 12)

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    frames = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in results[0]]
    assert all(f.shape == SIZE + (3,) for f in frames)
    # The picture moves: frames of one viewer differ (zoom, cross-fade).
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:])) > 0.1
    # Every viewer got bytes the others got too: one encoding per frame.
    shared = set(results[0]) & set(results[1]) & set(results[2])
    assert len(shared) >= 6
    assert live.hub.encoded - encoded <= live.hub.seq - seq + 1


def test_status_endpoint(live):
    """The values, checked against the app's configuration and its parts."""
    # The viewers of the test before have gone once the server notices.
    wait_for(lambda: live.hub.viewers == 0, 15, message='earlier viewers to go')
    before = live.clock.frames
    status = get_json(live.server.url)
    after = live.clock.frames
    assert (status['frame_size'], status['canvas'], status['hold_s']) == ('512x288', '160x90', 0.3)
    assert (status['source'], status['model'], status['twitch']) == ('stand-in', None, None)
    assert (status['fps_target'], status['keyframe_seconds']) == (25.0, 1.0)
    assert before <= status['frames'] <= after
    assert status['keyframes'] >= 1 and status['underflows'] == live.clock.underflows
    assert status['subject']['text'] == 'daisy'
    assert status['viewers'] == live.hub.viewers == 0
    assert status['queue']['waiting'] == []
    worker = status['worker']
    assert worker['ready'] is True and worker['restarts'] == 0
    assert worker['pid'] == live.worker.process.pid and live.worker.process.is_alive()
    assert_full_rate(status['fps'], status['fps_target'])
    # The keyframe period is the keyframes' video time, once two have shown.
    period = wait_for(lambda: get_json(live.server.url)['keyframe_period_s'], 10)
    assert period == pytest.approx(1.0, rel=0.3)


def test_a_request_becomes_the_subject_within_one_keyframe(live):
    conn = connect(live)
    status, body = post_chat(conn, {'name': 'ann', 'text': 'volcano', 'client': 'x'})
    reply = json.loads(body)['reply']
    shown_before = live.clock.keyframes_shown
    assert status == 200 and 'queued volcano' in reply
    wait_for(lambda: (live.subject or {}).get('text') == 'volcano', 10,
             message='the subject to change')
    # The optimiser may be finishing one keyframe of the old subject; the
    # next one it starts is the new subject's, faded in right after it.
    assert live.clock.keyframes_shown - shown_before <= 2
    assert get_json(live.server.url)['subject'] == {'text': 'volcano', 'user': 'ann',
                                                    'id': live.subject['id']}


def test_a_subject_is_held_for_hold_seconds():
    """``--hold 3``: a request waiting behind the current subject does not
    take over before the subject has had its 3 seconds (a lower bound,
    which a busy machine can only lengthen), and does take over after."""
    hold = 3.0
    app = stand_in_app(hold=hold, chat_rate=None).start()
    try:
        wait_for(lambda: app.clock.keyframes_shown >= 1, 60, message='the first keyframe')
        conn = connect(app)
        assert 'queued volcano' in json.loads(post_chat(conn, {'name': 'ann',
                                                               'text': 'volcano'})[1])['reply']
        wait_for(lambda: (app.subject or {}).get('text') == 'volcano', 30, interval=0.02,
                 message='the first request to be taken')
        taken = time.monotonic()
        post_chat(conn, {'name': 'bob', 'text': 'goldfish'})
        wait_for(lambda: (app.subject or {}).get('text') == 'goldfish', hold + 30,
                 interval=0.02, message='the second request after the hold')
        assert time.monotonic() - taken >= hold - 0.1
    finally:
        app.stop()


def test_unknown_word_gets_a_friendly_reply(live):
    status, body = post_chat(connect(live), {'name': 'bob', 'text': 'vulcano'})
    assert status == 200
    assert 'did you mean volcano' in json.loads(body)['reply']


def test_bad_requests(live):
    conn = connect(live)
    assert post_chat(conn, b'not json')[0] == 400
    assert post_chat(conn, b'[1, 2]')[0] == 400
    assert post_chat(conn, {'text': 'x' * 10000})[0] == 413
    conn = connect(live)                       # 413 closes the connection
    # JSON only: a form (which any site can make a browser post) is refused.
    assert post_chat(conn, b'name=carl&text=jellyfish',
                     'application/x-www-form-urlencoded')[0] == 415
    assert post_chat(conn, {'text': 'jellyfish'}, 'text/plain')[0] == 415
    assert post_chat(conn, {'text': 'jellyfish'}, 'application/json; charset=utf-8')[0] == 200
    # A page elsewhere cannot post; the server's own page can.
    port = live.server.server_address[1]
    host = [('Host', '127.0.0.1:%d' % port)]
    for origin in ('http://evil.example', 'null', 'http://127.0.0.1:%d' % (port + 1),
                   'https://127.0.0.1:%d:x' % port):
        assert post_chat(conn, {'text': 'jellyfish'},
                         headers=host + [('Origin', origin)])[0] == 403, origin
    assert post_chat(conn, {'text': 'jellyfish'},
                     headers=host + [('Origin', 'http://127.0.0.1:%d' % port)])[0] == 200


def test_chat_posts_are_rate_limited_per_address(live):
    from inception_art.live.chat import RateLimits
    clock = [0.0]
    limits, live.chat_limits = live.chat_limits, RateLimits(1.0, 3, clock=lambda: clock[0])
    try:
        conn = connect(live)
        statuses = [post_chat(conn, {'name': 'n%d' % i, 'text': 'hello'})[0]
                    for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]      # names do not matter
        clock[0] = 1.0
        assert post_chat(conn, {'text': 'hello'})[0] == 200
        assert post_chat(conn, {'text': 'hello'})[0] == 429
    finally:
        live.chat_limits = limits


def test_one_waiting_request_per_address_whatever_the_name():
    app = stand_in_app(hold=1000)              # never started: nothing picks
    app.requests.changed()
    app.chat('web', 'ann', 'volcano', address='10.0.0.1')
    app.chat('web', 'bob', 'jellyfish', address='10.0.0.1')
    assert app.requests.snapshot()['waiting'] == ['jellyfish']
    app.chat('web', 'ann', 'daisy', address='10.0.0.2')
    app.chat('irc', 'ann', 'volcano')
    app.chat('irc', 'bob', 'coral reef')
    assert app.requests.snapshot()['waiting'] == ['jellyfish', 'daisy', 'volcano',
                                                  'coral reef']


def test_the_app_accounts_for_every_chat_message():
    """Messages taken and answered, by source, match the queue's accounts:
    an empty message (nothing left after cleaning) is taken, not answered."""
    app = stand_in_app(hold=1000)              # never started: nothing picks
    app.requests.changed()
    app.chat('web', 'ann', 'volcano', address='10.0.0.1')
    app.chat('web', 'ann', '\x00\u202e ', address='10.0.0.1')
    app.chat('web', 'bob', 'vulcano', address='10.0.0.2')
    app.chat('irc', 'cy', 'jellyfish')
    app.chat('irc', 'cy', 'daisy')
    a = app.chat_accounts()
    assert a['messages'] == {'web': 3, 'irc': 2} and a['answered'] == {'web': 2, 'irc': 2}
    assert (a['queued'], a['unknown'], a['replaced'], a['waiting']) == (3, 1, 1, 2)
    assert app.status()['chat'] == a


def test_twitch_settings_are_checked_before_anything_starts():
    env = {'TWITCH_STREAM_KEY': 'live_123', 'TWITCH_CHANNEL': 'somebody'}
    with pytest.raises(ValueError, match='even width and height, got 511x288'):
        stand_in_app(twitch=True, frame_size=(288, 511), canvas=(90, 160), environ=env)
    # Chat only: no video goes out, so any size does.
    stand_in_app(twitch=True, twitch_stream=False, frame_size=(288, 511), canvas=(90, 160),
                 environ=env)
    with pytest.raises(ValueError, match='IRC server'):
        stand_in_app(twitch=True, irc_server='http://irc.example', environ=env)
    with pytest.raises(ValueError, match='IRC channel name'):
        stand_in_app(twitch=True, environ=dict(env, TWITCH_CHANNEL='so me/body'))
    with pytest.raises(ValueError, match='bot account name'):
        stand_in_app(twitch=True, environ=dict(env, TWITCH_OAUTH='oauth:x',
                                               TWITCH_NICK='bad nick'))


def test_clients_that_disconnect_mid_stream_do_no_harm(live):
    port = live.server.server_address[1]
    frames_before, underflows = live.clock.frames, live.clock.underflows
    for i in range(30):
        s = socket.create_connection(('127.0.0.1', port))
        path = '/video.mjpg' if i % 2 else '/events?client=c%d' % i
        s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
        s.recv(random.randint(1, 20000))
        if i % 3 == 0:       # reset instead of an orderly close
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
    # Half a request, then gone.
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'POST /chat HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"te')
    s.close()
    wait_for(lambda: live.hub.viewers == 0 and len(live.events) == 0, 15,
             message='the server to notice the disconnects')
    assert len(read_mjpeg('127.0.0.1', port, 3)) == 3
    assert live.clock.frames > frames_before
    assert live.clock.underflows == underflows


def test_a_viewer_that_stops_reading_stalls_nobody(live):
    port = live.server.server_address[1]
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(('127.0.0.1', port))
    stuck.sendall(b'GET /video.mjpg HTTP/1.1\r\nHost: x\r\n\r\n')
    try:
        time.sleep(1.0)                          # its buffers fill up
        t0, frames0 = time.monotonic(), live.clock.frames
        got = read_mjpeg('127.0.0.1', port, 25)
        elapsed = time.monotonic() - t0
        published = live.clock.frames - frames0
        # The reader got at least half the frames the clock published
        # meanwhile (a hub stalled by the stuck viewer would starve it while
        # the clock went on), and the clock went on at its rate.
        assert len(got) == 25 and published <= 2 * 25, published
        assert_full_rate(published / elapsed, live.clock.fps)
    finally:
        stuck.close()


def test_ten_thousand_hostile_messages(live, caplog):
    """Random and hostile chat never crashes or stalls the stream, and
    what another viewer receives holds no markup."""
    rng = random.Random(5)
    bodies = [hostile_body(rng, i) for i in range(10000)]

    port = live.server.server_address[1]
    other = socket.create_connection(('127.0.0.1', port))
    other.sendall(b'GET /events?client=other HTTP/1.1\r\nHost: x\r\n\r\n')
    received = bytearray()
    reading = threading.Event()

    def read_other():
        other.settimeout(0.5)
        while not reading.is_set():
            try:
                data = other.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            received.extend(data)

    reader = threading.Thread(target=read_other)
    reader.start()
    statuses = []

    def sender(chunk):
        conn = connect(live)
        for body in chunk:
            try:
                statuses.append(post_chat(conn, body)[0])
            except (http.client.HTTPException, OSError):
                conn = connect(live)
                statuses.append(None)

    frames0, misses0 = live.clock.frames, live.clock.deadline_misses
    t0 = time.monotonic()
    caplog.set_level(logging.ERROR)
    senders = [threading.Thread(target=sender, args=(bodies[i::4],)) for i in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(300)
    time.sleep(1.0)
    reading.set()
    reader.join(5)
    other.close()

    assert len(statuses) == 10000
    assert set(statuses) <= {200, 400, 413}, set(statuses)
    assert statuses.count(200) > 9000
    # The stream went on at full rate the whole time.
    assert_full_rate((live.clock.frames - frames0) / (time.monotonic() - t0), live.clock.fps)
    frames = live.clock.frames - frames0
    assert live.clock.deadline_misses - misses0 <= max(3, 0.02 * frames)
    assert live.clock.is_alive() and live.worker.process.is_alive()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # What the other viewer got: plenty of chat, no markup, no raw controls.
    text = received.decode('utf-8')
    assert text.count('"type":"chat"') > 100
    body = text.split('\r\n\r\n', 1)[1]
    assert not set('<>&') & set(body) and body.isascii()
    for line in body.split('\n'):
        assert not line or line.startswith(('data: {', 'retry:', ': keep-alive')) \
            or set(line) <= set('0123456789abcdefABCDEF\r'), line[:80]


def test_underflow_coasts_at_the_full_frame_rate():
    # Keyframes (0.8 s each) slower than the video needs them (every 0.4 s):
    # the clock coasts through each wait (tests/test_live_clock.py: how).
    app = stand_in_app(keyframe_seconds=0.4, source_options={'seconds': 0.8}).start()
    try:
        wait_for(lambda: app.clock.underflows > 20, 30, message='underflows')
        assert_full_rate(frame_rate(app, 1.5), app.clock.fps)
        status = get_json(app.server.url)
        assert status['underflows'] > 20 and status['keyframe_period_s'] > 0.6
        assert status['coasts'] >= 2 and 0.2 < status['longest_coast_s'] < 2
    finally:
        app.stop()


def test_the_warm_up_keyframe_gets_its_time_before_the_watchdog_acts():
    """The first keyframe of all makes the warm-up steps (100 against 10 a
    keyframe): the watchdog allows it ten times the stall timeout, and only
    it."""
    from inception_art.live.worker import KeyframeWorker

    class Alive:
        def is_alive(self):
            return True

    from inception_art.video.dream import keyframe_settings
    worker = KeyframeWorker('dream', dict(settings=keyframe_settings(steps=10), warmup_steps=100),
                            {'classes': (980,)}, stall_timeout=60)
    worker.process, worker.ready, worker.ready_at = Alive(), True, 1000.0
    worker.owed, worker.owed_since = 3, 990.0                   # owed while compiling
    assert worker.problem(now=1000.0 + 500) is None             # warming up: 600 s allowed
    assert 'no keyframe for 601 s' in worker.problem(now=1000.0 + 601)
    worker.last_image = np.zeros((2, 2, 3), np.uint8)          # a keyframe has come
    assert 'limit 60 s' in worker.problem(now=1000.0 + 61)
    worker.owed = 0                                             # nothing owed: all is well
    assert worker.problem(now=1000.0 + 1000) is None


def test_watchdog_restarts_a_stuck_optimiser():
    app = stand_in_app(stall_timeout=1.5, source_options={'hang_at': 4}).start()
    try:
        wait_for(lambda: app.watchdog.restarts >= 1, 30, message='a watchdog restart')
        shown = app.clock.keyframes_shown
        # The new optimiser carries on (and, being the same stand-in, hangs
        # again at its 4th keyframe: new keyframes come before that).
        wait_for(lambda: app.clock.keyframes_shown > shown, 30, message='keyframes after it')
        assert_full_rate(frame_rate(app, 1.0), app.clock.fps)
        assert get_json(app.server.url)['watchdog_restarts'] >= 1
    finally:
        app.stop()


def test_watchdog_restarts_a_stopped_optimiser():
    """SIGSTOP, as a debugger, a suspended container or a swapped-out
    process would: the optimiser cannot say it is stuck. It is mostly idle
    between keyframes (the stand-in takes 50 ms of each 1 s), so it is
    stopped while waiting for a credit, and never learns of the next one;
    the parent notices the keyframe it owes and restarts it, and keyframes
    come again."""
    app = stand_in_app(stall_timeout=1.5).start()
    try:
        wait_for(lambda: app.clock.keyframes_shown >= 2, 60, message='the first keyframes')
        # Stopped while waiting for a credit (it owes nothing, for about 1 s).
        wait_for(lambda: app.worker.owed == 0, 10, interval=0.01, message='an idle optimiser')
        pid = app.worker.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            stopped, shown = time.monotonic(), app.clock.keyframes_shown
            wait_for(lambda: app.worker.status()['pid'] not in (pid, None), 20,
                     message='a watchdog restart')
            assert time.monotonic() - stopped < 1.5 + 1.0 + 2.0      # one keyframe's wait
            assert app.watchdog.restarts == 1
            wait_for(lambda: app.clock.keyframes_shown > shown + 1, 30,
                     message='keyframes after the restart')
            assert_full_rate(frame_rate(app, 1.0), app.clock.fps)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    finally:
        app.stop()


def run_cli(*args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith('TWITCH_')}
    return subprocess.run([sys.executable, '-m', 'inception_art.live', *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_command_line_errors(live):
    result = run_cli('--subject', 'no such thing at all')
    assert result.returncode == 2
    assert result.stderr.startswith('error: unknown ImageNet class')
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli('--source', 'stand-in', '--port', str(live.server.server_address[1]))
    assert result.returncode == 2 and 'choose another --port' in result.stderr
    result = run_cli('--twitch', '--source', 'stand-in', '--port', '0')
    assert result.returncode == 2 and 'TWITCH_STREAM_KEY' in result.stderr
    result = run_cli('--recipe', 'nope')
    assert result.returncode == 2 and result.stderr.count('\n') == 1
    assert result.stderr.startswith('error: argument --recipe: invalid choice')


def test_command_flags_reach_the_app_and_its_parts(monkeypatch):
    """What ``python -m inception_art.live`` hands to LiveApp for each flag,
    and where LiveApp puts it (no server is started)."""
    from inception_art.live import __main__ as command
    given = {}

    class Recorder:
        def __init__(self, **kwargs):
            given.update(kwargs)
            raise KeyboardInterrupt          # stop before anything starts

    monkeypatch.setattr(command, 'LiveApp', Recorder)
    with pytest.raises(KeyboardInterrupt):
        command.main(['--nice', '5', '--budget', '0.5', '--min-steps', '2',
                      '--twitch-chat-only', '--rtmp-url', 'rtmp://127.0.0.1:1935/app',
                      '--reply-interval', '1.5', '--hold', '7', '--canvas', '160x90'])
    assert (given['nice'], given['budget'], given['min_steps']) == (5, 0.5, 2)
    assert given['twitch'] is True and given['twitch_stream'] is False
    assert given['rtmp_url'] == 'rtmp://127.0.0.1:1935/app'
    assert (given['reply_interval'], given['hold'], given['canvas']) == (1.5, 7.0, (90, 160))

    app = stand_in_app(nice=5, budget=0.5, min_steps=2, keyframe_seconds=2.0, hold=7)
    assert app.worker.nice == 5
    assert app.worker.pace == (2, 1.0)          # the budget is a share of a keyframe's time
    assert app.requests.hold == 7.0


@pytest.fixture(scope='module')
def nginx(tmp_path_factory):
    server = Nginx(tmp_path_factory.mktemp('nginx'), record=False)
    server.start()
    yield server
    if server.running():
        server.stop()


def start_streaming_command(nginx, key, output=subprocess.PIPE):
    """The live command (stand-in, small) streaming to ``nginx`` with the
    stream key ``key``, in a session of its own; returns the process once
    it streams."""
    port = free_port()
    env = dict({k: v for k, v in os.environ.items() if not k.startswith('TWITCH_')},
               TWITCH_STREAM_KEY=key)
    proc = subprocess.Popen([sys.executable, '-m', 'inception_art.live', '--source', 'stand-in',
                             '--port', str(port), '--frame-size', '512x288', '--canvas', '160x90',
                             '--twitch', '--rtmp-url',
                             'rtmp://127.0.0.1:%d/app' % nginx.rtmp_port],
                            stdout=output, stderr=output, start_new_session=True, env=env)

    def streaming():
        assert proc.poll() is None, proc.communicate()[1]
        try:
            status = get_json('http://127.0.0.1:%d/' % port)
        except OSError:
            return False
        rtmp = status['twitch']['rtmp']
        return status['keyframes'] >= 1 and rtmp['state'] == 'streaming' \
            and rtmp['frames_sent'] >= 25
    try:
        wait_for(streaming, 120, interval=0.2, message='the live command to stream')
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc


@pytest.mark.parametrize('sig, status', [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_ctrl_c_and_sigterm_stop_the_command_and_its_children(sig, status, nginx):
    """Ctrl-C as a terminal sends it (SIGINT to the whole process group,
    the optimiser's process included) and SIGTERM to the command alone,
    while it streams over RTMP (ffmpeg runs in a session of its own, out of
    Ctrl-C's reach): the program ends with 130 and 0, quietly, within 5 s,
    and leaves no process behind, ffmpeg included."""
    proc = start_streaming_command(nginx, 'live_stop_test')
    try:
        children = descendants(proc.pid)
        names = [os.path.basename((command_line(pid) or ['?'])[0]) for pid in children]
        assert any(n.startswith('ffmpeg') for n in names), names
        assert any(n.startswith('python') for n in names), names     # the optimiser
        t0 = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        wait_for(lambda: not [p for p in children if alive(p)], 10,
                 message='the children to end')
        assert time.monotonic() - t0 <= 5.0
        assert proc.returncode == status, err.decode()[-800:]
        assert b'Traceback' not in err, err.decode()[-800:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_killed_command_leaves_no_process_behind(nginx):
    """SIGKILL (the kernel's OOM killer, a supervisor's last resort) gives
    the command no chance to stop its children: the optimiser, waiting for
    its next credit, notices it is orphaned and ends; ffmpeg ends at the end
    of its input."""
    proc = start_streaming_command(nginx, 'live_kill_test', output=subprocess.DEVNULL)
    children = []
    try:
        children = descendants(proc.pid)
        assert len(children) >= 3            # the optimiser, ffmpeg, the resource tracker
        proc.kill()
        proc.wait(10)
        wait_for(lambda: not [p for p in children if alive(p)], 10,
                 message='the orphaned processes to end')
    finally:
        for pid in [proc.pid] + children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


ARENAS_DRIVER = '''
import ctypes, os, sys, tempfile, threading
from inception_art.live import __main__ as command

class Stop(Exception):
    pass

def no_app(**config):
    raise Stop                  # after main() has set up the process, before any work
command.LiveApp = no_app
try:
    command.main(['--source', 'stand-in'])
except Stop:
    pass
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(8)

def work():                     # 8 threads allocating at once, as viewers do
    barrier.wait()
    for _ in range(200):
        libc.free(libc.malloc(100000))
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with tempfile.TemporaryFile() as f:
    libc.fdopen.restype = ctypes.c_void_p
    stream = ctypes.c_void_p(libc.fdopen(os.dup(f.fileno()), b'w'))
    libc.malloc_info(0, stream)
    libc.fflush(stream)
    f.seek(0)
    print(f.read().decode().count('<heap nr='))
'''


def test_the_live_command_keeps_malloc_to_two_arenas():
    """The command caps glibc's malloc arenas at 2 before any thread starts
    (memory.py: with a thread per viewer, the default 8 a core let the main
    process's memory creep up); glibc's own report (malloc_info) counts the
    heaps after 8 threads allocated at once."""
    result = subprocess.run([sys.executable, '-c', ARENAS_DRIVER], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 2


def test_the_live_command_does_not_import_theano():
    # The frame clock runs in the parent process: Theano (and its compile
    # lock and memory) belongs in the optimiser's child process only. The
    # app's up-front checks (settings, canvas, prior file) run there too.
    code = ('import sys, inception_art.live.__main__, inception_art.cli, '
            'inception_art.imagenet; from inception_art.live.app import LiveApp; '
            'LiveApp(source="dream", port=0, prior_strength=5.0); '
            'print(sorted(m for m in sys.modules if m.split(".")[0] == "theano"))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
