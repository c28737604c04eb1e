"""Live mode's stream out, into a real RTMP server: Debian's nginx with
libnginx-mod-rtmp on a free loopback port, recording what arrives.

The stream must arrive as H.264 video of the right size with an audio
track, come back after the server restarts, and never show the stream key
in the log or the status.
"""
import json
import logging
import re
import subprocess
import time

import pytest

from inception_art.video.encode import ffmpeg_exe
from inception_art.live.app import LiveApp
from testkit.loopback import Nginx
from live_support import assert_full_rate, free_port, wait_for

KEY = 'live_123456_SecretStreamKey'
SIZE = (288, 512)


def probe(path):
    """Frame count, and the stream descriptions, of a video file."""
    result = subprocess.run([ffmpeg_exe(), '-hide_banner', '-i', str(path), '-f', 'null', '-'],
                            capture_output=True, text=True, timeout=60)
    frames = re.findall(r'frame=\s*(\d+)', result.stderr)
    streams = re.findall(r'Stream #\S+ (.*)', result.stderr)
    return int(frames[-1]) if frames else 0, streams


@pytest.fixture(scope='module')
def nginx(tmp_path_factory):
    server = Nginx(tmp_path_factory.mktemp('nginx'))
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture(scope='module')
def live(nginx):
    app = LiveApp(source='stand-in', port=free_port(), frame_size=SIZE, canvas=(90, 160),
                  keyframe_seconds=1.0, subject='jellyfish', twitch=True,
                  rtmp_url='rtmp://127.0.0.1:%d/app' % nginx.rtmp_port,
                  environ={'TWITCH_STREAM_KEY': KEY}, rtmp_backoff=(0.3, 1.0),
                  bitrate_kbps=800).start()
    yield app
    app.stop()


def test_the_stream_arrives(live, nginx):
    wait_for(lambda: live.rtmp.frames_sent >= 100, 30, message='100 frames sent')
    stat = nginx.stat()
    assert '<name>%s</name>' % KEY in stat                 # the server sees the stream
    assert '<codec>H264</codec>' in stat and '<codec>AAC</codec>' in stat
    assert '<width>%d</width>' % SIZE[1] in stat and '<height>%d</height>' % SIZE[0] in stat
    frames, streams = probe(nginx.recordings()[-1])
    assert frames >= 50
    assert any('h264' in s and '%dx%d' % SIZE[::-1] in s for s in streams)
    assert any('aac' in s for s in streams)


def test_the_stream_comes_back_after_the_server_restarts(live, nginx):
    wait_for(lambda: live.rtmp.state == 'streaming', 20)
    connects, recordings = live.rtmp.connects, len(nginx.recordings())
    nginx.stop()
    wait_for(lambda: live.rtmp.state != 'streaming', 20, message='the output to notice')
    # While it waits to reconnect it holds no frames for later (they would be
    # stale; at 1024x576 a full queue is 88 MB).
    held, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 3.0:
        before = (live.rtmp.connects, live.rtmp.state)
        queued = len(live.rtmp.frames)
        if before[1].startswith('waiting') and (live.rtmp.connects, live.rtmp.state) == before:
            held.append(queued)
        time.sleep(0.01)
    assert held and max(held) == 0, held
    nginx.start()
    wait_for(lambda: live.rtmp.state == 'streaming' and live.rtmp.connects > connects, 30,
             message='the output to reconnect')
    sent = live.rtmp.frames_sent
    wait_for(lambda: live.rtmp.frames_sent > sent + 50, 20)
    wait_for(lambda: len(nginx.recordings()) > recordings, 10, message='a new recording')
    # The video for the page never stopped meanwhile.
    assert live.clock.underflows == 0
    assert_full_rate(live.status()['fps'], live.clock.fps)


def test_the_stream_key_is_never_logged_or_shown(live, nginx, caplog):
    caplog.set_level(logging.DEBUG)
    nginx.stop()                    # failures, whose messages name the address
    wait_for(lambda: 'RTMP: stream to' in caplog.text, 20, message='a failure logged')
    nginx.start()
    status = json.dumps(live.status())
    assert KEY not in status and '/app/***' in status
    assert KEY not in caplog.text and '/app/***' in caplog.text
