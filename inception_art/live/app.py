"""The live dream, wired together.

::

    optimiser process ──keyframes──► frame clock (25 fps, interpolates)
          ▲                                │ each frame once
          │ subject                        ▼
    director ◄── request queue ◄── chat   frame hub ──JPEG once──► page viewers (MJPEG)
     (every --hold s)              ▲  ▲        └──raw, bounded──► RTMP (ffmpeg) ──► Twitch
                                   │  └── IRC (Twitch chat)
                          web page ┘
    watchdog: restarts a stuck optimiser; status endpoint: JSON

:class:`LiveApp` takes its whole configuration as keyword arguments
(:data:`DEFAULTS`); ``python -m inception_art.live`` is a thin command line
over it, and the tests build it directly.
"""
import collections
import itertools
import logging
import random
import threading
import time

from ..video import dream as keyframes
from .. import recipes
from ..imagenet import parse_subject, subject_text
from ..video.interpolate import Interpolator
from ..loop import check
from ..settings import Setting, above, at_least, between, defaults, validate
from ..video.zoom import Motion
from . import twitch
from .chat import RateLimits, RequestQueue, clean_name, clean_text
from .clock import FrameClock
from .events import EventBus
from .hub import FrameHub
from .irc import IRCChat, check_settings as check_irc_settings
from .rtmp import RTMPOutput
from .server import LiveServer
from .watchdog import Watchdog
from .worker import KeyframeWorker

log = logging.getLogger(__name__)

#: Subjects to start with when none is given (one is drawn at random).
START_SUBJECTS = ('volcano', 'jellyfish', 'coral reef', 'peacock', 'daisy', 'monarch',
                  'goldfish', 'bubble', 'cliff', 'valley')

#: The live mode's own settings. ``budget`` and the keyframe period below
#: are chosen so that a 2-core machine keeps 25 fps with a new 840x472
#: keyframe every 3 s, even while other work slows the optimiser down
#: (docs/live.md). The settings without a flag are for the library and the
#: tests.
SETTINGS = (
    Setting('host', '127.0.0.1', 'address to serve on'),
    Setting('port', 8080, 'port to serve on, 0 for any free one', type=int,
            check=between(0, 65535)),
    Setting('hold', 60.0, 'seconds a subject stays at least; then a waiting request is '
                          'picked at random', type=float, check=at_least(0)),
    Setting('subject', None, 'the first subject, e.g. volcano or volcano+jellyfish '
                             '(default: one of a few, at random)', metavar='NAME'),
    Setting('source', 'dream', 'dream: the network; stand-in: synthetic keyframes without '
                               'a network, to try the page or a Twitch set-up quickly',
            choices=('dream', 'stand-in')),
    Setting('budget', 0.6, 'share of --keyframe-seconds one keyframe may take; fewer steps '
                           'are made when they would take longer, 0 = always --steps',
            type=float, check=between(0, 1)),
    Setting('min_steps', 1, 'fewest steps per keyframe when the machine is busy', type=int,
            check=at_least(1)),
    Setting('nice', 10, 'how much to lower the optimiser\'s CPU priority, so the video '
                        'always gets its share', type=int, check=between(0, 19)),
    Setting('stall_timeout', 60.0, 'seconds without a keyframe before the watchdog restarts '
                                   'the optimiser', type=float, check=above(0)),
    Setting('coast', 10.0, 'while a keyframe is late (a busy machine, a restarted optimiser) '
                           'the video zooms on into the last one, slowing down: its time '
                           'constant in seconds, 0 = hold the last frame still',
            type=float, check=at_least(0)),
    Setting('twitch', False, 'also stream to Twitch and read its chat (settings from the '
                             'environment)', type=bool),
    Setting('twitch_stream', True, 'with twitch: stream the video (False: chat only)',
            flag=False),
    Setting('rtmp_url', twitch.RTMP_URL, 'RTMP server; the stream key is appended'),
    Setting('irc_server', twitch.IRC_SERVER, 'chat server, ircs://HOST:PORT (TLS) or '
                                             'irc://HOST:PORT'),
    Setting('bitrate_kbps', 3000, 'video bit rate of the stream', type=int,
            check=at_least(1), metavar='KBPS'),
    Setting('reply_interval', 3.0, 'seconds between two chat replies on Twitch',
            type=float, check=at_least(0)),
    Setting('lookahead', 1, 'keyframes made ahead of the video', type=int, check=at_least(1),
            flag=False),
    Setting('jpeg_quality', 80, 'JPEG quality of the page\'s video', type=int,
            check=between(1, 100), flag=False),
    Setting('source_options', None, 'extra keyword arguments of the source', flag=False),
    Setting('chat_rate', 1.0, 'web chat posts a second per client address on average '
                              '(None: no limit)', flag=False),
    Setting('chat_burst', 10, 'web chat posts at once per client address', flag=False),
    Setting('rtmp_backoff', (1.0, 60.0), 'RTMP reconnect delays, first and longest',
            flag=False),
    Setting('irc_backoff', (1.0, 60.0), 'IRC reconnect delays, first and longest',
            flag=False),
    Setting('environ', None, 'where the Twitch settings are read (None: os.environ)',
            flag=False),
)
#: The keyframe loop's settings (frames, motion, a keyframe every 3 s of
#: video) and the live recipe (:data:`inception_art.recipes.RECIPES`).
MOTION = dict(keyframes.DEFAULTS, recipe='live')
#: Every keyword argument of :class:`LiveApp` and its default: the live
#: settings, the motion, and the render settings a keyframe takes (None:
#: the recipe's).
DEFAULTS = dict(defaults(SETTINGS), **MOTION,
                **{s.name: None for s in recipes.SETTINGS if s.name not in keyframes.NOT_KEYFRAME})


class LiveApp:
    """The live mode: keyword arguments as in :data:`DEFAULTS`.

    Call :meth:`start`, then :meth:`wait` (returns when something fatal
    happens) or :meth:`stop`. Every check of the configuration runs in the
    constructor, before anything starts.
    """

    def __init__(self, **config):
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise TypeError('unknown live option(s): %s' % ', '.join(sorted(unknown)))
        c = dict(DEFAULTS, **config)
        self.config = c
        validate(c, SETTINGS + keyframes.SETTINGS + recipes.SETTINGS)
        # The keyframes' render settings, resolved once: the recipe's, with
        # those given (not None) over them; checked before anything starts.
        self.keyframe = keyframes.keyframe_settings(
            c['recipe'], c['frame_size'], c['canvas'],
            **{k: c[k] for k in DEFAULTS if k in recipes.DEFAULTS and k != 'canvas'})
        if c['source'] == 'dream':
            check(self.keyframe)
        self.steps, self.seed, self.model = (self.keyframe['steps'], self.keyframe['seed'],
                                             self.keyframe['model'])
        if c['min_steps'] > self.steps:
            raise ValueError('--min-steps %d is more than --steps %d'
                             % (c['min_steps'], self.steps))
        if c['chat_rate'] is not None and (c['chat_rate'] <= 0 or c['chat_burst'] < 1):
            raise ValueError('chat_rate must be > 0 (or None) and chat_burst >= 1')
        rng = random.Random(self.seed)
        classes = parse_subject(c['subject'] or rng.choice(START_SUBJECTS))
        self.twitch = (twitch.from_environment(c['environ'], stream=c['twitch_stream'])
                       if c['twitch'] else None)
        self.secrets = twitch.secrets(self.twitch) if self.twitch else []
        if self.twitch is not None:
            self._check_twitch()
        self.subject_ids = itertools.count(1)
        start = self._subject(classes, user=None)
        self.hub = FrameHub(jpeg_quality=c['jpeg_quality'])
        self.events = EventBus()
        self.requests = RequestQueue(hold=c['hold'], seed=self.seed)
        # Chat messages taken, and those answered (queued or "unknown"), by
        # source: with the queue's own accounts, nothing taken goes missing.
        self.messages, self.answered = collections.Counter(), collections.Counter()
        self.chat_lock = threading.Lock()
        self.chat_limits = RateLimits(c['chat_rate'], c['chat_burst'])
        options = dict({k: c[k] for k in keyframes.MOTION}, settings=self.keyframe)
        options.update(c['source_options'] or {})
        self.worker = KeyframeWorker(c['source'], options, start, nice=c['nice'],
                                     stall_timeout=c['stall_timeout'],
                                     budget=c['budget'] * c['keyframe_seconds'] or None,
                                     min_steps=c['min_steps'])
        motion = Motion(c['zoom'], c['degrees_per_frame'] * c['fps'])
        self.interpolator = Interpolator(motion, self.keyframe['canvas'], tuple(c['frame_size']))
        self.clock = FrameClock(self.worker, self.hub, self.interpolator, fps=c['fps'],
                                keyframe_seconds=c['keyframe_seconds'],
                                lookahead=c['lookahead'], on_subject=self._on_subject,
                                waiting_text='starting the network...', coast=c['coast'])
        # A restarted optimiser goes on from where the coasting video will be.
        self.worker.resume_image = self.clock.resume_image
        self.watchdog = Watchdog(self.worker, self.clock, self._fatal)
        self.server = None
        self.irc = self.rtmp = None
        self.subject = None           # on screen
        self.next_subject = start     # given to the optimiser, not yet shown
        self.started = None
        self.done = threading.Event()
        self.fatal_reason = None
        self.stopping = False
        self.director = threading.Thread(target=self._direct, name='director', daemon=True)

    def _check_twitch(self):
        # Everything the RTMP and IRC parts would refuse, checked before
        # anything starts.
        c, t = self.config, self.twitch
        if c['twitch_stream']:
            h, w = c['frame_size']
            if h % 2 or w % 2:
                raise ValueError('--twitch streams yuv420p video: --frame-size needs an even '
                                 'width and height, got %dx%d' % (w, h))
        if t.channel:
            check_irc_settings(t.channel, c['irc_server'], t.nick, t.token)

    def _subject(self, classes, user):
        return {'id': next(self.subject_ids), 'classes': list(classes),
                'text': subject_text(classes), 'user': user}

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        """Start everything; returns at once (the network compiles in the
        background while the page already shows a waiting picture)."""
        c = self.config
        self.started = time.monotonic()
        try:
            self.server = LiveServer(self, c['host'], c['port']).start()
        except OSError as e:
            raise OSError('cannot serve on %s:%s (%s); choose another --port or --host'
                          % (c['host'], c['port'], e.strerror or e)) from None
        self.worker.start()
        self.clock.start()
        self.watchdog.start()
        self.requests.changed()
        self.director.start()
        if self.twitch is not None:
            self._start_twitch()
        log.info('live: serving %s', self.server.url)
        return self

    def _start_twitch(self):
        c, t = self.config, self.twitch
        if c['twitch_stream']:
            self.rtmp = RTMPOutput(self.hub, twitch.stream_url(c['rtmp_url'], t.key),
                                   tuple(c['frame_size']), fps=c['fps'],
                                   bitrate_kbps=c['bitrate_kbps'], secrets=self.secrets,
                                   backoff=c['rtmp_backoff'])
            self.rtmp.start()
            log.info('live: streaming to %s', self.rtmp.public_url)
        if t.channel:
            self.irc = IRCChat(t.channel, server=c['irc_server'], nick=t.nick, token=t.token,
                               on_message=lambda name, text: self.chat('irc', name, text),
                               reply_interval=c['reply_interval'], backoff=c['irc_backoff'])
            self.irc.start()
        else:
            log.warning('live: %s is not set: no Twitch chat', twitch.ENV['channel'])

    def stop(self):
        """Stop everything (idempotent), within a few seconds: the command
        promises an end within 5 s of SIGTERM or Ctrl-C."""
        if self.stopping:
            return
        self.stopping = True
        for part in (self.watchdog, self.clock, self.irc):
            if part is not None:
                part.stop()
        if self.rtmp is not None:
            self.rtmp.stop(timeout=2.0)
        # The keyframe in progress is of no use now: 1 s to end by itself
        # (it does at once while it waits for a credit), then SIGKILL.
        self.worker.stop(timeout=1.0)
        self.hub.close()
        self.events.close()
        if self.server is not None:
            self.server.stop()
        self.done.set()

    def wait(self, timeout=None):
        """Block until stopped or failed; returns the fatal reason or None."""
        self.done.wait(timeout)
        return self.fatal_reason

    def _fatal(self, reason):
        if self.fatal_reason is None:
            log.error('live: %s', reason)
            self.fatal_reason = reason
        self.done.set()

    # -- the subject -------------------------------------------------------

    def _direct(self):
        """Every 0.2 s: if a request is due, hand it to the optimiser."""
        while not self.done.wait(0.2):
            try:
                request = self.requests.due()
                if request is not None:
                    self.pick(request)
            except Exception:
                log.exception('director failed')

    def pick(self, request):
        """Make ``request`` (a :class:`~inception_art.live.chat.Request`) the
        next subject: the optimiser takes it from its next keyframe on."""
        subject = self._subject(request.classes, request.user)
        self.next_subject = subject
        self.worker.set_subject(subject)
        text = 'next: %s, asked by %s' % (subject['text'], request.user)
        self.events.publish({'type': 'bot', 'text': text})
        if self.irc is not None:
            self.irc.say('Dreaming of %s next, as %s asked' % (subject['text'], request.user))

    def _on_subject(self, subject):
        # From the frame clock: the video starts fading into this subject.
        self.subject = subject
        self.events.publish({'type': 'subject', 'text': subject['text']}, keep=False)

    def status_subject(self):
        return self.subject

    # -- chat --------------------------------------------------------------

    def chat(self, source, name, text, client=None, address=None):
        """One chat message from the page (``'web'``) or IRC (``'irc'``).

        ``address`` is the web client's IP address: one request per address
        waits at most (a name is free text, so anybody could pose as many
        viewers); without it, one per name. Returns the bot's reply text, or
        None for an empty message. Never raises on any input.
        """
        with self.chat_lock:
            self.messages[source] += 1
        name, text = clean_name(name), clean_text(text)
        if not text:
            return None
        self.events.publish({'type': 'chat', 'user': name, 'text': text, 'source': source})
        key = (source, 'address', str(address)) if address else (source, name)
        reply = self.requests.offer(name, text, key=key)
        if reply is None:
            return None
        with self.chat_lock:
            self.answered[source] += 1
        if source == 'irc':
            # On Twitch most lines are conversation, not requests: answer an
            # unknown word only when it looks like a misspelt class.
            if self.irc is not None and (reply.kind == 'queued' or reply.suggestions):
                self.irc.say(reply.text)
            if reply.kind == 'queued':
                self.events.publish({'type': 'bot', 'text': reply.text})
        elif reply.kind == 'queued':
            self.events.publish({'type': 'bot', 'text': reply.text})
        elif client:
            # Only the viewer who typed it needs to see "unknown" (a client
            # without a page, a script, has the reply in the response).
            self.events.publish({'type': 'bot', 'text': reply.text, 'private': True},
                                to=str(client)[:40], keep=False)
        return reply.text

    def chat_accounts(self):
        """The request queue's accounts (:meth:`RequestQueue.accounts`) and
        the messages taken and answered by source (``web``, ``irc``): every
        message answered is queued or unknown to the queue."""
        out = self.requests.accounts()
        with self.chat_lock:
            out['messages'] = {k: self.messages[k] for k in ('web', 'irc')}
            out['answered'] = {k: self.answered[k] for k in ('web', 'irc')}
        return out

    # -- status ------------------------------------------------------------

    def status(self):
        """Everything the ``/status`` endpoint reports (JSON-able)."""
        c = self.config
        out = self.clock.status()
        h, w = c['frame_size']
        out.update({
            'subject': self.subject and {k: self.subject[k] for k in ('text', 'user', 'id')},
            'next_subject': {k: self.next_subject[k] for k in ('text', 'user', 'id')},
            'viewers': self.hub.viewers,
            'pages': len(self.events),
            'jpeg_encoded': self.hub.encoded,
            'queue': self.requests.snapshot(),
            'hold_s': c['hold'],
            'chat': self.chat_accounts(),
            'worker': self.worker.status(),
            'watchdog_restarts': self.watchdog.restarts,
            'source': c['source'],
            'model': self.model if c['source'] == 'dream' else None,
            'frame_size': '%dx%d' % (w, h),
            'canvas': '%dx%d' % tuple(self.keyframe['canvas'])[::-1],
            'steps_max': self.steps,
            'uptime_s': round(time.monotonic() - self.started, 1) if self.started else 0.0,
            'twitch': None if self.twitch is None else {
                'rtmp': self.rtmp.status() if self.rtmp else None,
                'irc': self.irc.status() if self.irc else None},
        })
        return out
