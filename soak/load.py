"""The audience of the soak (:mod:`soak.run`): page viewers, a watcher
that times every freeze of the video, and chat on the page and on IRC.

Each simulated person has a loopback address of its own (127.0.1.N for
page viewers, 127.0.2.N for chatters): the live server limits chat posts
and waiting requests per client address, as it would for people on
different machines. All of them stop when ``stop`` (a
:class:`threading.Event`) is set.
"""
import collections
import http.client
import json
import random
import selectors
import socket
import struct
import threading
import time

from testkit.hostile import hostile_body, hostile_text, irc_line

#: What the simulated viewers ask for, and say besides.
REQUESTS = ['volcano', 'jellyfish', 'tabby cat', 'coral reef', 'daisy', 'goldfish',
            'peacock', 'monarch', 'jellyfish + daisy', 'volcano+coral reef', '980',
            'vulcano', 'jelyfish', 'tabby', 'bubble', 'valley', 'cliff']
CHATTER = ['wow', 'so trippy', 'hello everyone', 'what is this?', 'more dogs please',
           'that looks like a face', 'lol', ':)', 'is this live?', 'gg']
#: Seconds a page viewer that stops reading keeps its sockets open: longer
#: than the server's 15 s socket timeout, so the server must drop it.
STUCK_SECONDS = 20.0
_RESET = struct.pack('ii', 1, 0)       # SO_LINGER on, 0 s: close sends a TCP reset


def _connect(port, source, timeout=10.0, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(('127.0.0.1', port))
    return s


class PageViewers:
    """``n`` page viewers who arrive and leave at random.

    A visit loads the page, opens its event stream and its video, and reads
    both as a browser does, for ``present`` seconds (a random range); then
    the viewer leaves: most close their connections, some reset them (TCP
    RST), and some stop reading and hold their sockets open for
    :data:`STUCK_SECONDS` first. Between visits a viewer is away for
    ``away`` seconds.
    """

    def __init__(self, port, stop, n=20, present=(10.0, 90.0), away=(2.0, 40.0),
                 seed=0):
        self.port, self.stop, self.n = port, stop, n
        self.present, self.away = present, away
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.threads = []

    def start(self):
        for i in range(self.n):
            t = threading.Thread(target=self._viewer, args=(i, random.Random(self.rng.random())),
                                 name='viewer-%d' % i, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def _viewer(self, i, rng):
        source = '127.0.1.%d' % (i + 1)
        buffer = bytearray(1 << 20)
        while not self.stop.wait(rng.uniform(*self.away)):
            try:
                self._visit(i, source, rng, buffer)
            except OSError:
                self._count('connection_errors')

    def _visit(self, i, source, rng, buffer):
        page = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10,
                                          source_address=(source, 0))
        try:
            page.request('GET', '/')
            page.getresponse().read()
        except http.client.HTTPException:
            self._count('page_errors')
            return
        finally:
            page.close()
        # Stuck viewers get small receive buffers, so that the server's
        # writes block soon after they stop reading (as over a real network).
        leave = rng.choices(['close', 'reset', 'stuck'], weights=[6, 2, 2])[0]
        rcvbuf = 16384 if leave == 'stuck' else None
        socks = []
        try:
            for path in ('/events?client=v%d' % i, '/video.mjpg'):
                s = _connect(self.port, source, rcvbuf=rcvbuf)
                s.sendall(b'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n'
                          % (path.encode(), self.port))
                s.setblocking(False)
                socks.append(s)
            self._count('visits')
            self._read_for(socks, rng.uniform(*self.present), buffer)
            if leave == 'stuck':
                self.stop.wait(STUCK_SECONDS)
            elif leave == 'reset':
                for s in socks:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            self._count('left_' + leave)
        finally:
            for s in socks:
                s.close()

    def _read_for(self, socks, seconds, buffer):
        end = time.monotonic() + seconds
        with selectors.DefaultSelector() as sel:
            for s in socks:
                sel.register(s, selectors.EVENT_READ)
            while not self.stop.is_set() and time.monotonic() < end:
                for key, _ in sel.select(timeout=0.5):
                    try:
                        n = key.fileobj.recv_into(buffer)
                    except BlockingIOError:
                        continue
                    except OSError:
                        n = 0
                    if not n:                       # the server closed it
                        sel.unregister(key.fileobj)
                        self._count('closed_by_server')
                    self._count('bytes', n)
                if not sel.get_map():
                    return


class FreezeWatcher:
    """One viewer that stays all along and times every freeze it sees.

    A freeze is a run of identical JPEGs (the frame clock repeating its
    last frame); a pause with no frame at all is timed too (the stream
    itself stalled). While a keyframe is late the clock coasts, zooming on
    slower and slower: that is not a freeze here, and the app's status
    counts it instead (``coasts``, ``longest_coast_s``). Each
    freeze of ``min_seconds`` or more is kept as ``(start, seconds)`` in
    wall-clock time.
    """

    def __init__(self, port, stop, min_seconds=0.5):
        self.port, self.stop, self.min_seconds = port, stop, float(min_seconds)
        self.freezes, self.gaps = [], []
        self.frames = 0
        self.reconnects = 0
        self.thread = threading.Thread(target=self._run, name='freeze-watcher', daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stop.is_set():
            try:
                self._watch()
            except (OSError, http.client.HTTPException, ValueError):
                self.reconnects += 1
                self.stop.wait(1.0)

    def _watch(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        try:
            conn.request('GET', '/video.mjpg')
            response = conn.getresponse()   # kept: collected, it closes its stream
            stream = response.fp
            last, changed, repeated, arrived = None, None, False, None
            while not self.stop.is_set():
                line = stream.readline()
                if not line:
                    raise ValueError('the stream ended')
                if not line.lower().startswith(b'content-length:'):
                    continue
                stream.readline()
                data = stream.read(int(line.split(b':')[1]))
                now = time.time()
                self.frames += 1
                if arrived is not None and now - arrived >= self.min_seconds:
                    self.gaps.append((round(arrived, 2), round(now - arrived, 2)))
                arrived = now
                if data == last:
                    repeated = True
                    continue
                if repeated and changed is not None and now - changed >= self.min_seconds:
                    self.freezes.append((round(changed, 2), round(now - changed, 2)))
                last, changed, repeated = data, now, False
        finally:
            conn.close()


class WebChat:
    """Chatters on the page: each posts now and then (requests, misspelt
    names, chatter), and at random times a burst of hostile messages comes
    from all of them at once.

    Counts what the server answered: ``sent``, ``accepted`` (200),
    ``answered`` (200 with the bot's reply), each refusal by status, and
    connection errors. ``burst_every`` is the mean time between bursts.
    """

    def __init__(self, port, stop, addresses, every=(10.0, 60.0), burst_every=300.0,
                 burst_size=300, seed=0):
        self.port, self.stop = port, stop
        self.addresses = list(addresses)
        self.every, self.burst_every, self.burst_size = every, burst_every, burst_size
        self.rng = random.Random(seed)
        self.hostile_rng = random.Random(seed + 1)
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.bursts = []
        self.local = threading.local()
        self.threads = []

    def start(self):
        for i, address in enumerate(self.addresses):
            self.threads.append(threading.Thread(
                target=self._chatter, args=(i, address, random.Random(self.rng.random())),
                name='chatter-%d' % i, daemon=True))
        self.threads.append(threading.Thread(target=self._bursts, name='bursts', daemon=True))
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout=30.0):
        """Wait (after ``stop``) until no post is under way."""
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))

    def post(self, address, body):
        """One chat post from ``address``; returns the HTTP status or None."""
        conns = self.local.__dict__.setdefault('conns', {})
        for attempt in range(2):
            conn = conns.get(address)
            reused = conn is not None
            if conn is None:
                conn = conns[address] = http.client.HTTPConnection(
                    '127.0.0.1', self.port, timeout=20, source_address=(address, 0))
            try:
                conn.request('POST', '/chat', body=body,
                             headers={'Content-Type': 'application/json'})
                response = conn.getresponse()
                data = response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conns.pop(address)
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conns.pop(address, None)
                if reused and attempt == 0:
                    # The server closes a kept-alive connection idle for 15 s
                    # (before reading anything from it): as a browser does,
                    # send again on a new one.
                    self._count('resent_after_idle_close')
                    continue
                self._count('connection_errors')
                return None
        self._count('sent')
        self._count('status_%d' % status)
        if status == 200:
            self._count('accepted')
            try:
                if json.loads(data).get('reply') is not None:
                    self._count('answered')
            except ValueError:
                self._count('bad_answers')
        return status

    def _count(self, key):
        with self.lock:
            self.counts[key] += 1

    def _send_all(self, numbered):
        for j, body in numbered:
            if self.stop.is_set():
                break
            self.post(self.addresses[j % len(self.addresses)], body)
        for conn in self.local.__dict__.get('conns', {}).values():
            conn.close()

    def _chatter(self, i, address, rng):
        while not self.stop.wait(rng.uniform(*self.every)):
            words = rng.choice([REQUESTS, REQUESTS, CHATTER])
            body = json.dumps({'name': 'viewer%d' % i, 'text': rng.choice(words),
                               'client': 'c%d' % i}).encode()
            self.post(address, body)

    def _bursts(self):
        while not self.stop.wait(self.rng.expovariate(1.0 / self.burst_every)):
            self.burst()

    def burst(self):
        """``burst_size`` hostile posts, spread over every address, from
        four connections at once."""
        t0 = time.time()
        bodies = [hostile_body(self.hostile_rng, i) for i in range(self.burst_size)]
        threads = [threading.Thread(target=self._send_all, args=(
            list(enumerate(bodies))[k::4],)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.bursts.append((round(t0, 2), round(time.time() - t0, 2), len(bodies)))


class IRCChatter(threading.Thread):
    """A person in the IRC channel: logs in, joins, says something now and
    then (sometimes hostile text, as far as one IRC line can carry it) and
    comes back when the server restarts.

    ``sent`` counts the lines sent while joined; ``acks`` the bot's
    "queued" replies addressed to this nick.
    """

    def __init__(self, port, password, channel, nick, stop, every=(10.0, 60.0), seed=0,
                 bot='dreambot'):
        super().__init__(name='irc-' + nick, daemon=True)
        self.port, self.password, self.channel = port, password, '#' + channel
        self.nick, self.stop, self.every, self.bot = nick, stop, every, bot
        self.rng = random.Random(seed)
        self.sent = self.acks = self.sessions = 0
        self.sock = None

    def run(self):
        while not self.stop.is_set():
            try:
                self._session()
            except OSError:
                pass
            finally:
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
            self.stop.wait(self.rng.uniform(0.5, 2.0))

    def _send(self, line):
        self.sock.sendall(line.encode('utf-8', 'replace') + b'\r\n')

    def _session(self):
        self.sock = socket.create_connection(('127.0.0.1', self.port), timeout=1.0)
        self._send('PASS ' + self.password)
        self._send('NICK ' + self.nick)
        self._send('USER %s 0 * :%s' % (self.nick, self.nick))
        buffer, joined = b'', False
        next_say = time.monotonic() + self.rng.uniform(*self.every)
        while not self.stop.is_set():
            try:
                data = self.sock.recv(65536)
                if not data:
                    return
                buffer += data
            except TimeoutError:
                pass
            while b'\r\n' in buffer:
                raw, buffer = buffer.split(b'\r\n', 1)
                line = raw.decode('utf-8', 'replace')
                parts = line.split(' ')
                if line.startswith('PING'):
                    self._send('PONG' + line[4:])
                elif len(parts) > 1 and parts[1] == '001':
                    self._send('JOIN ' + self.channel)
                elif len(parts) > 1 and parts[1] == '433':        # nick still held
                    self.nick = self.nick[:25] + '_'
                    self._send('NICK ' + self.nick)
                elif len(parts) > 1 and parts[1] == '366':        # end of NAMES: joined
                    joined = True
                    self.sessions += 1
                elif (parts[0].startswith(':%s!' % self.bot) and 'PRIVMSG' in parts[1:2]
                      and ('@%s: queued' % self.nick) in line):
                    self.acks += 1
            if joined and time.monotonic() >= next_say:
                self._send('PRIVMSG %s :%s' % (self.channel, self._text()))
                self.sent += 1
                next_say = time.monotonic() + self.rng.uniform(*self.every)

    def _text(self):
        kind = self.rng.random()
        if kind < 0.15:
            return irc_line(hostile_text(self.rng, self.rng.randint(0, 4)))
        return self.rng.choice(REQUESTS if kind < 0.7 else CHATTER)
