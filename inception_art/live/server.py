"""The web server: the page, the video, the chat and the status.

Routes
------
``GET /``             the page (one static file, no build step)
``GET /video.mjpg``   the video as MJPEG (``multipart/x-mixed-replace``)
``GET /frame.jpg``    the newest frame as one JPEG
``GET /events``       Server-Sent Events: chat lines, bot replies, subject
``POST /chat``        a chat message: JSON ``{"client", "name", "text"}``

A chat post must be ``Content-Type: application/json`` (else 415), and one
that carries an ``Origin`` must come from this server's own page (Origin
matching Host, else 403): a page elsewhere cannot post in a viewer's name
(HTML forms cannot send JSON; cross-site JSON needs a preflight, which is
refused). Each client address may post ``chat_rate`` messages a second
on average (the live app's setting; 429 beyond), and has one waiting
request at most, whatever names it types.
``GET /status``       JSON: fps, keyframe period, underflows, viewers, subject

Standard-library threads, one per connection: a handful of viewers on a
home machine is the use, and each streaming connection spends its time
blocked in a socket write or waiting for the next frame. Sockets time out,
so a client that stops reading is dropped instead of holding a thread; a
client that goes away mid-stream just ends its own loop.

The page is served with a Content-Security-Policy that allows only its
own inline script and style (by hash): even if viewer text ever got into
the page as markup, no script in it would run.
"""
import base64
import hashlib
import http.server
import json
import logging
import re
import sys
import threading
import urllib.parse
from pathlib import Path

from .chat import MAX_MESSAGE_CHARS

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name('page.html')
#: Largest request body taken (bytes); a chat message is far smaller.
MAX_BODY = 4096
#: Longest a client may leave a socket unread before it is dropped.
SOCKET_TIMEOUT = 15.0
_BOUNDARY = b'frame'


def _csp(html):
    """A Content-Security-Policy allowing exactly the page's inline blocks."""
    hashes = {}
    for tag in ('script', 'style'):
        blocks = re.findall(r'<%s>(.*?)</%s>' % (tag, tag), html, re.S)
        hashes[tag] = ' '.join("'sha256-%s'" % base64.b64encode(
            hashlib.sha256(b.encode('utf-8')).digest()).decode() for b in blocks)
    return ("default-src 'none'; script-src %s; style-src %s; img-src 'self'; "
            "connect-src 'self'; form-action 'none'; base-uri 'none'; "
            "frame-ancestors 'none'" % (hashes['script'], hashes['style']))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'       # keep-alive for chat posts
    timeout = SOCKET_TIMEOUT
    # Headers and body go out in two writes; with Nagle's algorithm the
    # second waits for the client's delayed ACK: 40 ms per chat message.
    disable_nagle_algorithm = True
    server_version = 'inception_art-live'
    sys_version = ''

    # The live server sets these on a subclass.
    live = None

    def log_message(self, fmt, *args):
        log.debug('%s %s', self.address_string(), fmt % args)

    # -- helpers -----------------------------------------------------------

    def _send(self, code, body, content_type, headers=()):
        self.send_response(code)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _json(self, code, obj):
        self._send(code, json.dumps(obj).encode(), 'application/json')

    def _stream_headers(self, content_type):
        self.close_connection = True
        self.send_response(200)
        self.send_header('Content-Type', content_type)
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.send_header('Connection', 'close')
        self.end_headers()

    # -- routes ------------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        route = {'/': self._page, '/index.html': self._page, '/video.mjpg': self._mjpeg,
                 '/frame.jpg': self._frame, '/events': self._events,
                 '/status': self._status}.get(url.path)
        if route is None:
            self._send(404, b'not found\n', 'text/plain; charset=utf-8')
            return
        try:
            route(urllib.parse.parse_qs(url.query))
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True    # the client went away: nothing to do

    do_HEAD = do_GET

    def _page(self, query):
        server = self.server
        self._send(200, server.page, 'text/html; charset=utf-8',
                   [('Content-Security-Policy', server.csp),
                    ('Referrer-Policy', 'no-referrer')])

    def _status(self, query):
        self._json(200, self.live.status())

    def _frame(self, query):
        seq, frame = self.live.hub.latest()
        if frame is None:
            self._send(503, b'no frame yet\n', 'text/plain; charset=utf-8')
            return
        self._send(200, self.live.hub.jpeg(frame), 'image/jpeg')

    def _mjpeg(self, query):
        hub = self.live.hub
        if not self.server.admit():
            self._send(503, b'too many viewers\n', 'text/plain; charset=utf-8')
            return
        hub.add_viewer(+1)
        try:
            self._stream_headers('multipart/x-mixed-replace; boundary=' + _BOUNDARY.decode())
            if self.command == 'HEAD':
                return
            seq = 0
            while not self.server.stopping:
                # Always the newest frame: a slow viewer skips frames.
                seq, frame = hub.wait_next(seq, timeout=2.0)
                if frame is None:
                    continue
                data = hub.jpeg(frame)
                self.wfile.write(b'--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'
                                 % (_BOUNDARY, len(data)) + data + b'\r\n')
                self.wfile.flush()
        finally:
            hub.add_viewer(-1)
            self.server.leave()

    def _events(self, query):
        if not self.server.admit():
            self._send(503, b'too many viewers\n', 'text/plain; charset=utf-8')
            return
        client = (query.get('client') or [''])[0][:40]
        sub = self.live.events.subscribe(client)
        try:
            self._stream_headers('text/event-stream; charset=utf-8')
            if self.command == 'HEAD':
                return
            self.wfile.write(b'retry: 2000\n\n')
            # The page's subject line is right from the first moment.
            subject = self.live.status_subject()
            if subject:
                from .events import encode
                self.wfile.write(b'data: %s\n\n' % encode(
                    {'type': 'subject', 'text': subject['text']}).encode())
            self.wfile.flush()
            while not self.server.stopping:
                events = sub.get_all(timeout=10.0)
                if sub.closed:
                    break
                if not events:
                    self.wfile.write(b': keep-alive\n\n')   # finds dead connections
                else:
                    self.wfile.write(b''.join(b'data: %s\n\n' % e.encode() for e in events))
                self.wfile.flush()
        finally:
            self.live.events.unsubscribe(sub)
            self.server.leave()

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != '/chat':
            self._send(404, b'not found\n', 'text/plain; charset=utf-8')
            return
        try:
            length = int(self.headers.get('Content-Length') or -1)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(411, b'length required\n', 'text/plain; charset=utf-8')
            return
        if length > MAX_BODY:
            # Not read: close rather than leave it in the stream.
            self.close_connection = True
            self._send(413, b'message too long\n', 'text/plain; charset=utf-8')
            return
        try:
            body = self.rfile.read(length)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True
            return
        if not _same_origin(self.headers.get('Origin'), self.headers.get('Host')):
            self._json(403, {'ok': False, 'error': 'post from this server\'s page only'})
            return
        media_type = (self.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        if media_type != 'application/json':
            self._json(415, {'ok': False, 'error': 'send Content-Type: application/json'})
            return
        address = self.client_address[0]
        if not self.live.chat_limits.allow(address):
            self._json(429, {'ok': False, 'error': 'too many messages: wait a little'})
            return
        message = _parse_chat_body(body)
        if message is None:
            self._json(400, {'ok': False, 'error': 'send JSON {"name": ..., "text": ...}'})
            return
        try:
            reply = self.live.chat('web', message.get('name'), message.get('text'),
                                   client=message.get('client'), address=address)
        except Exception:
            # A message that breaks something is a bug to log, never a reason
            # to drop the connection of everyone else.
            log.exception('chat message failed')
            self._json(500, {'ok': False, 'error': 'internal error'})
            return
        self._json(200, {'ok': True, 'reply': reply})


def _same_origin(origin, host):
    """Whether a request with these ``Origin`` and ``Host`` headers may post:
    no Origin (not a browser's cross-site request), or the same host and
    port as Host (``'null'``, other schemes or hosts: no)."""
    if origin is None:
        return True
    try:
        parts = urllib.parse.urlsplit(origin.strip())
        parts.port  # noqa: B018 - a bad port raises ValueError
    except ValueError:
        return False
    return (parts.scheme in ('http', 'https') and bool(host)
            and parts.netloc.lower() == host.strip().lower())


def _parse_chat_body(body):
    """``{'name', 'text', 'client'}`` from a JSON body, or None."""
    text = body.decode('utf-8', 'replace')
    try:
        fields = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(fields, dict):
        return None
    out = {}
    for key in ('name', 'text', 'client'):
        value = fields.get(key)
        out[key] = value[:4 * MAX_MESSAGE_CHARS] if isinstance(value, str) else None
    return out if out['text'] is not None else None


class LiveServer(http.server.ThreadingHTTPServer):
    """The HTTP server for one :class:`~inception_art.live.app.LiveApp`.

    Parameters
    ----------
    live : LiveApp
        Provides ``hub``, ``events``, ``status()``, ``status_subject()``,
        ``chat(source, name, text, client=, address=)`` and ``chat_limits``
        (:class:`~inception_art.live.chat.RateLimits`, keyed by client address).
    host, port : str, int
        Where to listen (port 0: any free port; see :attr:`url`).
    max_streams : int
        Streaming connections (video and events) served at once.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, live, host='127.0.0.1', port=8080, max_streams=200):
        handler = type('Handler', (_Handler,), {'live': live})
        super().__init__((host, port), handler)
        html = PAGE.read_text(encoding='utf-8')
        self.page, self.csp = html.encode('utf-8'), _csp(html)
        self.max_streams = int(max_streams)
        self.streams = 0
        self.stopping = False
        self.lock = threading.Lock()
        self.thread = None

    @property
    def url(self):
        host, port = self.server_address[:2]
        return 'http://%s:%d/' % (host, port)

    def admit(self):
        with self.lock:
            if self.streams >= self.max_streams:
                return False
            self.streams += 1
            return True

    def leave(self):
        with self.lock:
            self.streams -= 1

    def handle_error(self, request, client_address):
        # A client that vanished mid-request is ordinary here; log the rest.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug('client %s went away', client_address[0])
        else:
            log.exception('request from %s failed', client_address[0])

    def start(self):
        self.thread = threading.Thread(target=self.serve_forever, name='http',
                                       kwargs={'poll_interval': 0.2}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.shutdown()
        self.server_close()
