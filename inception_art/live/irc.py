"""Chat over IRC, the way Twitch speaks it.

Twitch chat is IRC (``irc.chat.twitch.tv``, TLS on 6697). A bot logs in
with ``PASS oauth:<token>`` and ``NICK <account>``, asks for Twitch's
capabilities with ``CAP REQ :twitch.tv/tags twitch.tv/commands`` (tags
carry the sender's display name), joins ``#<channel>``, answers every
``PING`` with a ``PONG``, and reconnects when the server sends
``RECONNECT`` (Twitch does before a restart) or the connection drops, with
a growing pause between tries. Without a token it reads anonymously (as
``justinfanNNNNN``, which Twitch allows) and never answers.

The client also speaks to ordinary IRC servers (the tests use ngircd): it
sends ``USER`` and ends the capability negotiation with ``CAP END``,
both of which Twitch ignores.

The bot's replies are rate-limited: at most one every ``reply_interval``
seconds, the rest wait in a short queue and the oldest are dropped when it
is full (2015: "at most one message every few seconds"). Everything sent is
one line: carriage returns, line feeds and every other control character
are removed from the text first, so no message can smuggle a second IRC
command, and lines are cut to IRC's 512 bytes on a character boundary.

The token, the channel and the account name never go into the log.
"""
import collections
import logging
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse

from .chat import clean_name, clean_text

log = logging.getLogger(__name__)

#: IRC's line limit, CR LF included.
MAX_LINE_BYTES = 512
#: Longest line read; longer ones (Twitch's tags are long, but not this
#: long) are dropped rather than buffered without end.
MAX_READ_BYTES = 16384
_CHANNEL_RE = re.compile(r'#?[A-Za-z0-9_]{1,50}')
_NICK_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_\-\[\]\\`^{}|]{0,49}')
_TAG_UNESCAPE = {':': ';', 's': ' ', '\\': '\\', 'r': '\r', 'n': '\n'}


class IRCMessage(collections.namedtuple('IRCMessage', 'tags prefix command params')):
    """A parsed IRC line: tags (dict), prefix, command (upper case), params."""

    @property
    def nick(self):
        """The sender's nick, from the prefix ``nick!user@host``."""
        return (self.prefix or '').split('!', 1)[0]


def _unescape_tag(value):
    out, chars = [], iter(value)
    for ch in chars:
        if ch == '\\':
            nxt = next(chars, '')
            out.append(_TAG_UNESCAPE.get(nxt, nxt))
        else:
            out.append(ch)
    return ''.join(out)


def parse_line(line):
    """Parse one IRC line (without CR LF) into an :class:`IRCMessage`.

    Follows RFC 1459 with IRCv3 message tags. Returns None for a line with
    no command.
    """
    tags, prefix = {}, None
    rest = line
    if rest.startswith('@'):
        raw, _, rest = rest[1:].partition(' ')
        for item in raw.split(';'):
            key, _, value = item.partition('=')
            if key:
                tags[key] = _unescape_tag(value)
        rest = rest.lstrip(' ')
    if rest.startswith(':'):
        prefix, _, rest = rest[1:].partition(' ')
        rest = rest.lstrip(' ')
    if ' :' in rest:
        head, _, trailing = rest.partition(' :')
        params = head.split() + [trailing]
    elif rest.startswith(':'):
        params = [rest[1:]]
    else:
        params = rest.split()
    if not params or not params[0]:
        return None
    return IRCMessage(tags, prefix, params[0].upper(), params[1:])


def one_line(text, prefix_bytes=0):
    """``text`` made safe as the last parameter of one IRC line.

    Control characters (CR, LF, NUL, ...) are removed and the UTF-8 bytes
    cut so that ``prefix_bytes`` plus the text plus CR LF fit in 512.
    """
    text = clean_text(text, limit=MAX_LINE_BYTES)
    data = text.encode('utf-8')[:max(0, MAX_LINE_BYTES - 2 - prefix_bytes)]
    return data.decode('utf-8', 'ignore')


def parse_server(url):
    """``'ircs://host:6697'`` or ``'irc://host:6667'`` -> (host, port, tls)."""
    parts = urllib.parse.urlsplit(url if '://' in url else 'ircs://' + url)
    if parts.scheme not in ('irc', 'ircs') or not parts.hostname:
        raise ValueError('IRC server %r: give irc://HOST:PORT or ircs://HOST:PORT (TLS)' % url)
    tls = parts.scheme == 'ircs'
    return parts.hostname, parts.port or (6697 if tls else 6667), tls


def check_settings(channel, server, nick=None, token=None):
    """Raise ValueError (one line) for settings :class:`IRCChat` refuses;
    returns ``(host, port, tls)`` of ``server``."""
    if not _CHANNEL_RE.fullmatch(channel or ''):
        raise ValueError('IRC channel name must be letters, digits or _ (Twitch: your '
                         'account name)')
    if token and (not nick or not _NICK_RE.fullmatch(nick)):
        raise ValueError('a bot account name (nick) of letters, digits or _ is '
                         'needed with a token')
    return parse_server(server)


class IRCChat(threading.Thread):
    """A chat bot on one IRC channel.

    Parameters
    ----------
    server : str
        ``ircs://irc.chat.twitch.tv:6697`` (Twitch, TLS; the default) or any
        ``irc://`` / ``ircs://`` address.
    channel : str
        Channel to join, with or without ``#`` (Twitch: the streamer's
        account name, lower case).
    nick : str, optional
        The bot's account name; with no ``token`` an anonymous
        ``justinfanNNNNN`` is used and the bot only reads.
    token : str, optional
        OAuth token (``oauth:`` is added when missing), sent as ``PASS``.
    on_message : callable
        ``on_message(name, text)`` for every channel message (name and text
        already cleaned); called from this thread.
    reply_interval : float
        Seconds between two replies at least.
    replies_waiting : int
        Replies kept waiting at most; the oldest is dropped beyond.
    backoff : (float, float)
        First and longest pause between reconnection tries, seconds.
    idle_ping : float
        Send a PING after this many silent seconds, and reconnect after
        twice that.
    tls_context : ssl.SSLContext, optional
        For ``ircs://``; the system's default verification when None.
    """

    def __init__(self, channel, server='ircs://irc.chat.twitch.tv:6697', nick=None,
                 token=None, on_message=None, reply_interval=3.0, replies_waiting=5,
                 backoff=(1.0, 60.0), idle_ping=300.0, connect_timeout=10.0,
                 tls_context=None):
        super().__init__(name='irc', daemon=True)
        self.host, self.port, self.tls = check_settings(channel, server, nick, token)
        self.channel = '#' + channel.lstrip('#').lower()
        self.token = token
        if token:
            self.nick = nick.lower()
            self.password = token if token.startswith('oauth:') else 'oauth:' + token
        else:
            self.nick = 'justinfan%d' % random.randint(10000, 99999)
            self.password = None
        self.on_message = on_message
        self.reply_interval = float(reply_interval)
        self.backoff = tuple(float(b) for b in backoff)
        self.idle_ping, self.connect_timeout = float(idle_ping), float(connect_timeout)
        self.tls_context = tls_context
        self.outbox = collections.deque(maxlen=int(replies_waiting))
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.sock = None
        self.state = 'starting'
        self.registered = self.joined = self.registered_once = False
        self.connects = 0
        self.received = 0
        self.replies_sent = 0
        self.replies_dropped = 0
        self.last_reply = 0.0
        self.last_error = None

    # -- public ------------------------------------------------------------

    @property
    def can_reply(self):
        return self.password is not None

    def say(self, text):
        """Queue a reply to the channel (rate-limited; dropped if anonymous)."""
        if not self.can_reply:
            return
        with self.lock:
            if len(self.outbox) == self.outbox.maxlen:
                self.replies_dropped += 1
            self.outbox.append(text)

    def stop(self):
        self.stop_event.set()
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def status(self):
        return {'state': self.state, 'connects': self.connects,
                'received': self.received, 'replies_sent': self.replies_sent,
                'replies_dropped': self.replies_dropped,
                'replies_waiting': len(self.outbox), 'read_only': not self.can_reply,
                'last_error': self.last_error}

    # -- the connection loop -----------------------------------------------

    def run(self):
        pause = self.backoff[0]
        while not self.stop_event.is_set():
            self.state = 'connecting'
            reason = None
            try:
                reason = self._session()
            except (OSError, ssl.SSLError) as e:
                reason = '%s' % (type(e).__name__,)
                self.last_error = 'connection failed (%s)' % reason
            except Exception as e:      # a bug must not end the chat for good
                log.exception('IRC: session failed')
                reason = type(e).__name__
                self.last_error = 'internal error (%s)' % reason
            finally:
                self._close()
            if self.stop_event.is_set():
                break
            if reason == 'reconnect':        # the server asked: go straight back
                pause = self.backoff[0]
                wait = 0.5
            else:
                if self.registered_once:
                    pause = self.backoff[0]
                wait, pause = pause, min(self.backoff[1], pause * 2)
            self.state = 'waiting %.0f s to reconnect' % wait
            log.info('IRC: disconnected (%s); reconnecting in %.1f s', reason, wait)
            self.stop_event.wait(wait)
        self.state = 'stopped'

    def _close(self):
        sock, self.sock = self.sock, None
        self.registered = self.joined = False
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _send_raw(self, line):
        # Every line we send goes through here: one line, never a CR or LF
        # inside it (callers build lines from cleaned parts only).
        if '\r' in line or '\n' in line:
            raise ValueError('IRC line with a line break')
        self.sock.sendall(line.encode('utf-8')[:MAX_LINE_BYTES - 2] + b'\r\n')

    def _session(self):
        """One connection, until it ends; returns why it ended."""
        self.registered_once = False
        raw = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        if self.tls:
            context = self.tls_context or ssl.create_default_context()
            raw = context.wrap_socket(raw, server_hostname=self.host)
        self.sock = raw
        self.connects += 1
        raw.settimeout(0.25)
        self.state = 'logging in'
        self._send_raw('CAP REQ :twitch.tv/tags twitch.tv/commands')
        if self.password:
            self._send_raw('PASS ' + self.password)
        self._send_raw('NICK ' + self.nick)
        self._send_raw('USER %s 0 * :%s' % (self.nick, self.nick))
        buffer = b''
        last_heard = time.monotonic()
        pinged = False
        while not self.stop_event.is_set():
            try:
                data = raw.recv(65536)
                if not data:
                    return 'closed by the server'
                last_heard = time.monotonic()
                pinged = False
                buffer += data
            except (TimeoutError, ssl.SSLWantReadError):
                pass
            while b'\n' in buffer:
                line, buffer = buffer.split(b'\n', 1)
                if len(line) > MAX_READ_BYTES:
                    continue
                reason = self._handle(line.rstrip(b'\r').decode('utf-8', 'replace'))
                if reason:
                    return reason
            if len(buffer) > MAX_READ_BYTES:
                buffer = b''            # an endless line: drop it
            silent = time.monotonic() - last_heard
            if silent > 2 * self.idle_ping:
                return 'the server went silent'
            if silent > self.idle_ping and not pinged:
                self._send_raw('PING :keepalive')
                pinged = True
            self._flush_replies()
        return 'stopped'

    def _flush_replies(self):
        if not self.joined:
            return
        now = time.monotonic()
        if now - self.last_reply < self.reply_interval:
            return
        with self.lock:
            text = self.outbox.popleft() if self.outbox else None
        if text is None:
            return
        head = 'PRIVMSG %s :' % self.channel
        body = one_line(text, len(head.encode()))
        if body:
            self._send_raw(head + body)
            self.replies_sent += 1
            self.last_reply = now

    def _handle(self, line):
        message = parse_line(line)
        if message is None:
            return None
        command, params = message.command, message.params
        if command == 'PING':
            self._send_raw('PONG :' + one_line(params[-1] if params else '', 6))
        elif command == 'CAP' and len(params) >= 2 and params[1] in ('ACK', 'NAK'):
            if not self.registered:
                self._send_raw('CAP END')
        elif command == '001':
            self.registered = self.registered_once = True
            self.state = 'joining'
            self._send_raw('JOIN ' + self.channel)
        elif command == 'JOIN' and message.nick.lower() == self.nick:
            self.joined = True
            self.state = 'connected'
            self.last_error = None
            log.info('IRC: joined the channel')
        elif command == 'PRIVMSG' and len(params) >= 2 and params[0].lower() == self.channel:
            if message.nick.lower() == self.nick:
                return None
            self.received += 1
            text = params[1]
            if text.startswith('\x01ACTION '):     # "/me volcano"
                text = text[8:].rstrip('\x01')
            name = clean_name(message.tags.get('display-name') or message.nick)
            if self.on_message is not None:
                try:
                    self.on_message(name, clean_text(text))
                except Exception:
                    log.exception('chat handler failed')
        elif command == 'RECONNECT':
            log.info('IRC: the server asked to reconnect')
            return 'reconnect'
        elif command == 'NOTICE' and params and 'authentication failed' in params[-1].lower():
            self.last_error = 'login failed: check TWITCH_OAUTH and TWITCH_NICK'
            log.error('IRC: %s', self.last_error)
            return 'login failed'
        elif command in ('464', '465'):       # wrong password / banned (RFC 1459)
            self.last_error = 'login refused by the server (%s)' % command
            log.error('IRC: %s', self.last_error)
            return 'login refused'
        elif command == '433':               # nick in use (ordinary servers)
            self.last_error = 'nick in use'
            return 'nick in use'
        elif command == 'ERROR':
            return 'server error'
        return None
