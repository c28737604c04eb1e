"""Events for the page: chat lines, the bot's replies, the subject.

Each page holds one Server-Sent Events connection (``/events``). The
:class:`EventBus` gives every connection a bounded queue (the oldest event
is dropped when a page cannot keep up) and keeps the last few chat lines so
that a new viewer sees the conversation so far.

Events are serialised by :func:`encode`: JSON with every non-ASCII
character and ``< > &`` escaped, so that the bytes on the wire hold no
markup at all, whatever viewers typed; the page then puts text in with
``textContent``, never as HTML.
"""
import collections
import itertools
import json
import threading


def encode(event):
    """One event as a line of inert JSON (no ``<``, ``>``, ``&``, no
    non-ASCII, no line breaks)."""
    text = json.dumps(event, ensure_ascii=True, separators=(',', ':'))
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


class Subscription:
    """One page's queue of events.

    Parameters
    ----------
    client : str
        The page's id (private replies go to it).
    maxsize : int
        Events held at most; the oldest is dropped beyond.
    """

    def __init__(self, client, maxsize):
        self.client = client
        self.events = collections.deque(maxlen=maxsize)
        self.cond = threading.Condition()
        self.closed = False

    def put(self, data):
        with self.cond:
            self.events.append(data)
            self.cond.notify()

    def get_all(self, timeout):
        """Every queued event (encoded), after waiting up to ``timeout``
        seconds for one; an empty list when none came or it was closed."""
        with self.cond:
            self.cond.wait_for(lambda: self.events or self.closed, timeout)
            out = list(self.events)
            self.events.clear()
            return out

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify()


class EventBus:
    """Fan-out of page events.

    Parameters
    ----------
    queue_size : int
        Events each page may have waiting.
    history : int
        Chat events replayed to a page that connects.
    """

    def __init__(self, queue_size=200, history=30):
        self.queue_size = int(queue_size)
        self.history = collections.deque(maxlen=history)
        self.lock = threading.Lock()
        self.subs = []
        self.ids = itertools.count(1)
        self.sent = 0

    def subscribe(self, client=''):
        """A :class:`Subscription`, pre-filled with the recent history."""
        sub = Subscription(client, self.queue_size)
        with self.lock:
            for data in self.history:
                sub.put(data)
            self.subs.append(sub)
        return sub

    def unsubscribe(self, sub):
        with self.lock:
            if sub in self.subs:
                self.subs.remove(sub)
        sub.close()

    def publish(self, event, to=None, keep=True):
        """Send ``event`` (a JSON-able dict) to every page, or only to the
        page whose client id is ``to``. ``keep``: remember it for pages that
        connect later (public events only)."""
        data = encode(event)
        with self.lock:
            subs = [s for s in self.subs if to is None or s.client == to]
            if keep and to is None:
                self.history.append(data)
            self.sent += len(subs)
        for sub in subs:
            sub.put(data)

    def __len__(self):
        with self.lock:
            return len(self.subs)

    def close(self):
        with self.lock:
            subs, self.subs = self.subs, []
        for sub in subs:
            sub.close()
