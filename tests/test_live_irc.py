"""Live mode's chat over IRC.

Against a real IRC server (Debian's ngircd, on a free loopback port): the
bot logs in, joins, acknowledges a viewer's request, announces the pick,
limits its reply rate, keeps web viewers' names from injecting IRC
commands, and comes back after the server restarts.

Lines that only Twitch sends (tags with a display name, ``PING
:tmi.twitch.tv``, ``RECONNECT``, the login-failure ``NOTICE``) and the exact
Twitch login (``PASS oauth:``, ``NICK``, ``CAP REQ :twitch.tv/tags
twitch.tv/commands``, ``JOIN``) are tested against :class:`FakeTwitchIRC`,
a small in-process stand-in for Twitch's chat server, named as such.
"""
import http.client
import json
import logging
import socket
import threading
import time

import pytest

from inception_art.live.app import LiveApp
from inception_art.live.chat import clean_name
from inception_art.live.irc import IRCChat, parse_line
from testkit.loopback import NgIRCd
from live_support import free_port, wait_for

TOKEN = 'oauth:s3cr3t-test-token'
CHANNEL = 'dreamchannel'


# -- a real IRC server -------------------------------------------------------

def read_lines(sock):
    """Yield the lines (CR LF removed) a socket receives, until it closes."""
    buffer = b''
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        buffer += data
        while b'\r\n' in buffer:
            line, buffer = buffer.split(b'\r\n', 1)
            yield line.decode('utf-8', 'replace')


class Viewer:
    """A plain IRC client standing for a person in the channel."""

    def __init__(self, port, nick='viewer1'):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.nick = nick
        self.lines = []
        self.lock = threading.Lock()
        self.send('PASS ' + TOKEN)
        self.send('NICK ' + nick)
        self.send('USER %s 0 * :%s' % (nick, nick))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        wait_for(lambda: self.find('001'), 20, message='the viewer to register')
        self.send('JOIN #' + CHANNEL)
        wait_for(lambda: self.find('366'), 20, message='the viewer to join')

    def send(self, line):
        self.sock.sendall(line.encode() + b'\r\n')

    def _read(self):
        for text in read_lines(self.sock):
            if text.startswith('PING'):
                self.send('PONG' + text[4:])
            with self.lock:
                self.lines.append((time.monotonic(), text))

    def find(self, command, text=''):
        with self.lock:
            return [(t, m) for t, m in ((t, parse_line(l)) for t, l in self.lines)
                    if m and m.command == command and text in ' '.join(m.params)]

    def close(self):
        self.sock.close()


@pytest.fixture(scope='module')
def ircd(tmp_path_factory):
    server = NgIRCd(tmp_path_factory.mktemp('ngircd'), free_port(), TOKEN)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def live(ircd):
    app = LiveApp(source='stand-in', port=free_port(), hold=0.5, frame_size=(144, 256),
                  canvas=(72, 128), keyframe_seconds=0.6, subject='daisy',
                  twitch=True, twitch_stream=False, irc_server='irc://127.0.0.1:%d' % ircd.port,
                  environ={'TWITCH_CHANNEL': CHANNEL, 'TWITCH_OAUTH': TOKEN,
                           'TWITCH_NICK': 'dreambot'},
                  reply_interval=0.5, irc_backoff=(0.2, 1.0)).start()
    wait_for(lambda: app.irc.state == 'connected', 20, message='the bot to join')
    yield app
    app.stop()


_viewers = iter(range(1, 1000))


@pytest.fixture
def viewer(ircd, live):
    # A fresh nick each time: the server may still hold the last one's.
    v = Viewer(ircd.port, 'viewer%d' % next(_viewers))
    yield v
    v.close()


def bot_lines(viewer, text=''):
    return [(t, m) for t, m in viewer.find('PRIVMSG', text) if m.nick == 'dreambot']


def test_request_from_irc_is_acknowledged_and_dreamt(live, viewer):
    viewer.send('PRIVMSG #%s :volcano' % CHANNEL)
    wait_for(lambda: bot_lines(viewer, '@%s: queued volcano' % viewer.nick), 10,
             message='the ack')
    wait_for(lambda: bot_lines(viewer, 'Dreaming of volcano next, as %s asked' % viewer.nick),
             10, message='the announcement')
    wait_for(lambda: (live.subject or {}).get('text') == 'volcano', 10)
    assert live.subject['user'] == viewer.nick


def test_irc_chat_reaches_the_page(live, viewer):
    sub = live.events.subscribe('page')
    try:
        viewer.send('PRIVMSG #%s :hello <b>page</b>' % CHANNEL)
        events = []
        wait_for(lambda: events.extend(json.loads(e) for e in sub.get_all(0.2)) or
                 [e for e in events if e.get('user') == viewer.nick], 10)
        chat = [e for e in events if e.get('user') == viewer.nick][0]
        assert chat == {'type': 'chat', 'user': viewer.nick, 'text': 'hello <b>page</b>',
                        'source': 'irc'}
    finally:
        live.events.unsubscribe(sub)


def test_chatter_gets_no_reply_but_a_misspelt_class_does(live, viewer):
    viewer.send('PRIVMSG #%s :what a lovely stream' % CHANNEL)
    viewer.send('PRIVMSG #%s :jelyfish' % CHANNEL)
    wait_for(lambda: bot_lines(viewer, 'did you mean jellyfish'), 10)
    assert not bot_lines(viewer, 'lovely')


def test_web_names_cannot_inject_irc_commands(live, viewer):
    conn = http.client.HTTPConnection('127.0.0.1', live.server.server_address[1], timeout=10)
    name = 'evil\r\nPRIVMSG #%s :pwned\r\nQUIT' % CHANNEL
    conn.request('POST', '/chat', json.dumps({'name': name, 'text': 'goldfish'}),
                 {'Content-Type': 'application/json'})
    assert conn.getresponse().status == 200
    announced = wait_for(lambda: bot_lines(viewer, 'Dreaming of goldfish'), 10)
    assert announced[0][1].params == ['#' + CHANNEL, 'Dreaming of goldfish next, as '
                                      '%s asked' % clean_name(name)]
    time.sleep(0.5)
    assert not viewer.find('PRIVMSG', 'pwned') or all(
        m.params[1] != 'pwned' for _, m in viewer.find('PRIVMSG', 'pwned'))
    assert live.irc.state == 'connected'


def test_replies_are_rate_limited(live, viewer):
    interval = live.irc.reply_interval
    before = len(bot_lines(viewer))
    for animal in ('tabby', 'goldfish', 'daisy', 'jellyfish', 'monarch', 'peacock', 'volcano'):
        live.irc.say('reply about %s' % animal)
    wait_for(lambda: len(bot_lines(viewer, 'reply about')) >= 5, 15)
    time.sleep(2 * interval)
    times = [t for t, _ in bot_lines(viewer)][before:]
    # At most 5 wait; the oldest were dropped (the first may have gone out
    # before the rest were queued).
    assert 5 <= len(bot_lines(viewer, 'reply about')) <= 6
    assert live.irc.replies_dropped >= 1
    assert min(b - a for a, b in zip(times, times[1:])) > 0.8 * interval


def test_bot_comes_back_after_the_server_restarts(live, ircd):
    connects = live.irc.connects
    ircd.stop()
    wait_for(lambda: live.irc.state != 'connected', 10, message='the bot to notice')
    ircd.start()
    wait_for(lambda: live.irc.state == 'connected' and live.irc.connects > connects, 20,
             message='the bot to reconnect')


def test_token_and_channel_are_never_logged(live, caplog):
    caplog.set_level(logging.DEBUG)
    live.irc.stop()                   # a disconnect and its log lines
    wait_for(lambda: live.irc.state == 'stopped', 10)
    assert 's3cr3t' not in json.dumps(live.status())
    assert 's3cr3t' not in caplog.text and CHANNEL not in caplog.text


# -- Twitch-only lines: an in-process stand-in for Twitch's chat server ------

class FakeTwitchIRC:
    """A minimal fake of Twitch's IRC server, for the lines only Twitch
    sends. It answers the login as Twitch does (CAP ACK, 001-376 with no
    CAP END needed, JOIN echo) and lets a test send anything."""

    def __init__(self, accept_token=TOKEN):
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.accept_token = accept_token
        self.connections = []       # one list of received lines per connection
        self.socks = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            lines = []
            with self.lock:
                self.connections.append(lines)
                self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock, lines), daemon=True).start()

    def _serve(self, sock, lines):
        password, nick = None, None
        for line in read_lines(sock):
            lines.append(line)
            m = parse_line(line)
            if m.command == 'CAP' and m.params[:1] == ['REQ']:
                self._send(sock, ':tmi.twitch.tv CAP * ACK :' + m.params[-1])
            elif m.command == 'PASS':
                password = m.params[0]
            elif m.command == 'NICK':
                nick = m.params[0]
                if password != self.accept_token and not nick.startswith('justinfan'):
                    self._send(sock, ':tmi.twitch.tv NOTICE * :Login authentication failed')
                    continue
                for code, text in (('001', 'Welcome, GLHF!'),
                                   ('002', 'Your host is tmi.twitch.tv'),
                                   ('372', 'You are in a maze of twisty passages.'),
                                   ('376', '>')):
                    self._send(sock, ':tmi.twitch.tv %s %s :%s' % (code, nick, text))
            elif m.command == 'JOIN':
                self._send(sock, ':%s!%s@%s.tmi.twitch.tv JOIN %s'
                           % (nick, nick, nick, m.params[0]))

    @staticmethod
    def _send(sock, line):
        try:
            sock.sendall(line.encode() + b'\r\n')
        except OSError:
            pass

    def send(self, line, connection=-1):
        self._send(self.socks[connection], line)

    def lines(self, connection=-1):
        with self.lock:
            return list(self.connections[connection]) if self.connections else []

    def close(self):
        self.listener.close()
        for sock in self.socks:
            sock.close()


@pytest.fixture
def twitch_server():
    server = FakeTwitchIRC()
    yield server
    server.close()


def twitch_bot(server, **kwargs):
    received = []
    options = dict(server='irc://127.0.0.1:%d' % server.port, nick='DreamBot', token=TOKEN,
                   on_message=lambda name, text: received.append((name, text)),
                   reply_interval=0.3, backoff=(0.1, 0.5))
    options.update(kwargs)
    bot = IRCChat(CHANNEL, **options)
    bot.received_messages = received
    bot.start()
    return bot


def test_twitch_login_tags_ping_and_messages(twitch_server):
    bot = twitch_bot(twitch_server)
    try:
        wait_for(lambda: bot.state == 'connected', 10)
        lines = twitch_server.lines()
        assert lines[:3] == ['CAP REQ :twitch.tv/tags twitch.tv/commands', 'PASS ' + TOKEN,
                             'NICK dreambot']
        assert 'JOIN #' + CHANNEL in lines
        twitch_server.send('PING :tmi.twitch.tv')
        wait_for(lambda: 'PONG :tmi.twitch.tv' in twitch_server.lines(), 5)
        twitch_server.send('@badge-info=;badges=;color=;display-name=Ann\\sLee;emotes=;'
                           'id=1;mod=0;room-id=1;subscriber=0;tmi-sent-ts=1;turbo=0;'
                           'user-id=1;user-type= :ann!ann@ann.tmi.twitch.tv PRIVMSG #%s '
                           ':volcano + jellyfish' % CHANNEL)
        twitch_server.send(':tmi.twitch.tv USERNOTICE #%s :ignored' % CHANNEL)
        twitch_server.send(':bob!bob@bob.tmi.twitch.tv PRIVMSG #%s :\x01ACTION tabby\x01'
                           % CHANNEL)
        wait_for(lambda: len(bot.received_messages) == 2, 5)
        assert bot.received_messages == [('AnnLee', 'volcano + jellyfish'), ('bob', 'tabby')]
    finally:
        bot.stop()


def test_twitch_reconnect_command(twitch_server):
    bot = twitch_bot(twitch_server)
    try:
        wait_for(lambda: bot.state == 'connected', 10)
        twitch_server.send(':tmi.twitch.tv RECONNECT')
        wait_for(lambda: len(twitch_server.connections) == 2 and bot.state == 'connected', 10,
                 message='a second login')
        assert 'PASS ' + TOKEN in twitch_server.lines()
    finally:
        bot.stop()


def test_twitch_login_failure_backs_off_and_hides_the_token(twitch_server, caplog):
    caplog.set_level(logging.INFO)
    bot = twitch_bot(twitch_server, token='oauth:wrong-token-xyz')
    try:
        wait_for(lambda: len(twitch_server.connections) >= 3, 10, message='retries')
        assert 'login failed' in bot.status()['last_error']
        assert bot.state != 'connected'
        assert 'wrong-token-xyz' not in caplog.text and 'wrong-token-xyz' not in str(bot.status())
    finally:
        bot.stop()


def test_twitch_reply_rate_and_one_line_replies(twitch_server):
    bot = twitch_bot(twitch_server, replies_waiting=3)
    try:
        wait_for(lambda: bot.state == 'connected', 10)
        for i in range(6):
            bot.say('reply %d\r\nPRIVMSG #%s :injected' % (i, CHANNEL))
        wait_for(lambda: len([l for l in twitch_server.lines() if 'reply' in l]) == 3, 10)
        time.sleep(0.5)
        sent = [l for l in twitch_server.lines() if l.startswith('PRIVMSG')]
        # The newest three wait, the older ones are dropped (the very first
        # may have gone out before the others were queued).
        assert sent[-3:] == ['PRIVMSG #%s :reply %d PRIVMSG #%s :injected' % (CHANNEL, i, CHANNEL)
                             for i in (3, 4, 5)]
        assert len(sent) <= 4 and bot.replies_dropped >= 2
    finally:
        bot.stop()


def test_anonymous_reading(twitch_server):
    bot = twitch_bot(twitch_server, token=None, nick=None)
    try:
        wait_for(lambda: bot.state == 'connected', 10)
        lines = twitch_server.lines()
        assert not [l for l in lines if l.startswith('PASS')]
        assert [l for l in lines if l.startswith('NICK justinfan')]
        bot.say('nobody hears this')
        time.sleep(0.5)
        assert not [l for l in twitch_server.lines() if l.startswith('PRIVMSG')]
    finally:
        bot.stop()
