"""Chat: cleaning what viewers type, and the queue of their requests.

Viewers name classes (``volcano``, ``tabby cat``, ``980``) or two joined by
``+``; :func:`inception_art.imagenet.parse_request` reads them. As in 2015,
requests wait in a queue and one of them, picked at random, becomes the
subject; a subject then stays for at least ``hold`` seconds. The queue
keeps one request per viewer (a new one replaces the old), so one person
typing fast cannot crowd out everybody else.

Everything here takes hostile text: any string, of any length, with control
characters, markup or IRC commands in it. :func:`clean_text` is applied to
every message before anything else looks at it; what it returns is plain
text without control characters. It is still *text*: whoever shows it in
HTML must escape it (the page sets ``textContent``).
"""
import collections
import random
import re
import threading
import time
import unicodedata

from .. import imagenet
from ..imagenet import subject_text

#: Longest message kept (characters); the rest is cut off.
MAX_MESSAGE_CHARS = 300
#: Longest viewer name kept.
MAX_NAME_CHARS = 25
#: Requests kept waiting at most; the oldest goes first when it is full.
MAX_QUEUED = 200

# Unicode categories dropped from chat text: controls (Cc: NUL, CR, LF,
# ESC, ...), format characters (Cf: bidi overrides that would reverse the
# rest of a chat line, zero-width characters), surrogates, private use and
# unassigned code points.
_DROPPED_CATEGORIES = frozenset(('Cc', 'Cf', 'Cs', 'Co', 'Cn'))
_NAME_RE = re.compile(r'[^\w-]+')


def clean_text(text, limit=MAX_MESSAGE_CHARS):
    """Plain, one-line text from anything a viewer sent.

    Control and format characters become spaces, runs of white space one
    space, and the result is cut to ``limit`` characters.

    Parameters
    ----------
    text : object
        Usually a str; bytes are decoded as UTF-8 (bad bytes replaced),
        anything else gives ``''``.
    limit : int
        Most characters returned.

    Returns
    -------
    str
    """
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not isinstance(text, str):
        return ''
    # Look at a bounded prefix only: a megabyte of input costs no more than
    # a few times the limit.
    text = text[:4 * limit + 16]
    kept = ''.join(' ' if unicodedata.category(ch) in _DROPPED_CATEGORIES else ch
                   for ch in text)
    return ' '.join(kept.split())[:limit]


def clean_name(name, default='viewer'):
    """A viewer name: letters, digits, ``_`` and ``-`` only, at most
    :data:`MAX_NAME_CHARS`; ``default`` when nothing is left."""
    name = _NAME_RE.sub('', clean_text(name, 4 * MAX_NAME_CHARS))[:MAX_NAME_CHARS]
    return name or default


Request = collections.namedtuple('Request', 'user classes text time')
Request.__doc__ = """A viewer's request: who asked, the class indices, how
they are shown (``'volcano + jellyfish'``) and when (monotonic seconds)."""

Reply = collections.namedtuple('Reply', 'kind text request suggestions')
Reply.__doc__ = """The bot's answer to one message: ``kind`` is ``'queued'``
or ``'unknown'``; ``request`` is the :class:`Request` when queued;
``suggestions`` the class names offered for an unknown word (maybe none)."""


class TokenBucket:
    """At most ``rate`` events a second on average, ``burst`` at once.

    Parameters
    ----------
    rate : float
        Tokens added per second.
    burst : float
        Most tokens held.
    clock : callable
        Monotonic time in seconds (replaceable in tests).
    """

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self.tokens, self.stamp = float(burst), clock()
        self.lock = threading.Lock()

    def take(self):
        """Spend a token if there is one; returns whether there was."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class RateLimits:
    """One :class:`TokenBucket` per key (a client address): whether a key
    may act now.

    Parameters
    ----------
    rate, burst : float
        As for :class:`TokenBucket`, for each key; ``rate`` None: no limit.
    max_keys : int
        Buckets kept at most; the least recently used goes first beyond
        (a forgotten key starts again with a full bucket).
    clock : callable
        Monotonic time in seconds.
    """

    def __init__(self, rate, burst, max_keys=10000, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.max_keys = int(max_keys)
        self.buckets = collections.OrderedDict()
        self.lock = threading.Lock()

    def allow(self, key):
        """Spend one of ``key``'s tokens if it has one; returns whether it had."""
        if self.rate is None:
            return True
        with self.lock:
            bucket = self.buckets.pop(key, None)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, self.clock)
            self.buckets[key] = bucket
            while len(self.buckets) > self.max_keys:
                self.buckets.popitem(last=False)
        return bucket.take()


class RequestQueue:
    """Viewers' requests, and the random pick every ``hold`` seconds.

    Thread-safe: the web server and the IRC client offer messages from
    their own threads while the director asks :meth:`due`.

    Parameters
    ----------
    hold : float
        Seconds a subject stays at least (60 in 2015). A request arriving
        later than that after the last change is picked at once.
    max_queued : int
        Requests kept waiting at most.
    suggestions_per_second : float
        Budget for "did you mean" suggestions, which cost a few
        milliseconds each (a fuzzy match against 2,000 names): a flood of
        unknown words gets replies without them rather than eating the
        CPU the video needs.
    seed : int, optional
        Seed of the random pick.
    clock : callable
        Monotonic time in seconds.
    """

    def __init__(self, hold=60.0, max_queued=MAX_QUEUED, suggestions_per_second=5.0,
                 seed=None, clock=time.monotonic):
        if hold < 0:
            raise ValueError('hold must be >= 0 seconds, got %r' % (hold,))
        self.hold, self.max_queued, self.clock = float(hold), int(max_queued), clock
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.waiting = collections.OrderedDict()   # user -> Request, oldest first
        self.last_change = None
        self.suggestion_budget = TokenBucket(suggestions_per_second,
                                             max(1.0, 2 * suggestions_per_second), clock)
        self._suggested = {}
        self.counts = collections.Counter()

    def offer(self, user, text, key=None):
        """Read one chat message; queue it if it names classes.

        Parameters
        ----------
        user : str
            The viewer's name, already cleaned (:func:`clean_name`).
        text : str
            The message, already cleaned (:func:`clean_text`).
        key : hashable, optional
            Who the viewer is, for "one request per viewer" (default:
            ``user``); e.g. ``('irc', name)``.

        Returns
        -------
        Reply or None
            None for an empty message.
        """
        if not text:
            return None
        classes = imagenet.parse_request(text)
        if classes is None:
            with self.lock:
                self.counts['unknown'] += 1
            names = self._suggestions(text)
            return Reply('unknown', self._unknown_text(user, text, names), None, names)
        request = Request(user, tuple(classes), subject_text(classes), self.clock())
        key = user if key is None else key
        with self.lock:
            if self.waiting.pop(key, None) is not None:
                self.counts['replaced'] += 1
            self.waiting[key] = request
            while len(self.waiting) > self.max_queued:
                self.waiting.popitem(last=False)
                self.counts['evicted'] += 1
            position = len(self.waiting)
            wait = self._seconds_to_next_pick()
            self.counts['queued'] += 1
        when = 'the next pick is now' if wait < 1 else 'next pick in %d s' % round(wait)
        return Reply('queued', '@%s: queued %s (%d waiting; %s)'
                     % (user, request.text, position, when), request, [])

    def _suggestions(self, text):
        """Up to 3 class names spelled like ``text`` (cached; rationed)."""
        key = text.casefold()[:100]
        names = self._suggested.get(key)
        if names is None and self.suggestion_budget.take():
            names = []
            for index, _ in imagenet.suggest(text, n=3):
                name = imagenet.short_name(index)
                if name not in names:
                    names.append(name)
            if len(self._suggested) > 5000:   # a bounded cache
                self._suggested.clear()
            self._suggested[key] = names
        return names or []

    @staticmethod
    def _unknown_text(user, text, names):
        shown = text if len(text) <= 40 else text[:40] + '...'
        hint = ('did you mean %s?' % ', '.join(names) if names else
                'try an ImageNet class such as volcano, tabby, or jellyfish + coral reef')
        return '@%s: no ImageNet class in "%s"; %s' % (user, shown, hint)

    def _seconds_to_next_pick(self):
        if self.last_change is None:
            return 0.0
        return max(0.0, self.last_change + self.hold - self.clock())

    def seconds_to_next_pick(self):
        """Seconds until a waiting request may become the subject."""
        with self.lock:
            return self._seconds_to_next_pick()

    def due(self):
        """The request to dream next, or None.

        A request is picked, at random among those waiting, once ``hold``
        seconds have passed since the last change of subject; the pick
        counts as a change.
        """
        with self.lock:
            if not self.waiting or self._seconds_to_next_pick() > 0:
                return None
            key = self.rng.choice(list(self.waiting))
            request = self.waiting.pop(key)
            self.last_change = self.clock()
            self.counts['picked'] += 1
            return request

    def changed(self):
        """Note a change of subject made elsewhere (the start subject)."""
        with self.lock:
            self.last_change = self.clock()

    def __len__(self):
        with self.lock:
            return len(self.waiting)

    def snapshot(self):
        """What the status endpoint shows: the waiting requests, in order."""
        with self.lock:
            return {'waiting': [r.text for r in self.waiting.values()],
                    'next_pick_s': round(self._seconds_to_next_pick(), 1)}

    def accounts(self):
        """The counts of :attr:`counts` (``queued``, ``unknown``, ``picked``,
        ``replaced``: by the same viewer's next request, ``evicted``: the
        oldest when more than ``max_queued`` wait) and ``waiting``, taken at
        one instant. Every request queued is picked, replaced, evicted or
        still waiting: ``queued == picked + replaced + evicted + waiting``."""
        with self.lock:
            out = {k: self.counts[k] for k in ('queued', 'unknown', 'picked', 'replaced',
                                                'evicted')}
            out['waiting'] = len(self.waiting)
            return out
