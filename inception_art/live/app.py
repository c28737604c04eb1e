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
import itertools
import logging
import random
import threading
import time

from .. import nets, recipes
from ..imagenet import parse_subject, subject_text
from ..interpolate import Interpolator
from ..zoom import Motion
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

#: The configuration and its defaults. ``opt_size``, ``steps``, ``budget``
#: and ``keyframe_seconds`` are chosen so that a 2-core machine keeps 25 fps
#: with a new keyframe every 2.5 s, even while other work slows the
#: optimiser down (README, "Live").
DEFAULTS = dict(
    host='127.0.0.1', port=8080,          # where the page is served
    hold=60.0,                            # seconds a subject stays at least
    subject=None,                         # start subject (None: a random one)
    source='dream',                       # 'dream' (the network) or 'stand-in'
    recipe='keyframes',                   # render settings of the keyframes
    model=nets.DEFAULT,
    size=(576, 1024),                     # output frames (h, w)
    opt_size=(252, 448),                  # optimised keyframes (h, w)
    steps=10,                             # steps per keyframe, at most
    keyframe_seconds=2.5,                 # video seconds between keyframes
    budget=0.6,                           # share of keyframe_seconds a keyframe
                                          # may take (fewer steps when busy; 0: off)
    min_steps=1,                          # fewest steps per keyframe
    warmup_steps=100,                     # steps of the first keyframe (from the
                                          # recipe's start image)
    blur_every=None,                      # the render's blur, every N steps (None:
                                          # the recipe's)
    fps=25.0,
    zoom=1.05,                            # magnification per second
    degrees_per_frame=0.01,               # rotation per output frame
    prior=None, prior_strength=None,      # None: the recipe's
    seed=0,
    lookahead=1,                          # keyframes made ahead of the video
    nice=10,                              # CPU priority drop of the optimiser
    stall_timeout=60.0,                   # seconds before the watchdog acts
    jpeg_quality=80,
    source_options=None,                  # extra keyword arguments of the source
    twitch=False,                         # stream to Twitch and read its chat
    twitch_stream=True,                   # False: Twitch chat only, no video out
    rtmp_url=twitch.RTMP_URL,
    irc_server=twitch.IRC_SERVER,
    bitrate_kbps=3000,
    reply_interval=3.0,                   # seconds between two bot replies on IRC
    chat_rate=1.0, chat_burst=10,         # web chat posts per client address: at
                                          # most chat_rate a second on average,
                                          # chat_burst at once (None: no limit)
    rtmp_backoff=(1.0, 60.0), irc_backoff=(1.0, 60.0),
    environ=None,                         # where the Twitch settings are read
)


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
        if c['hold'] < 0 or c['fps'] <= 0 or c['keyframe_seconds'] <= 0 or c['zoom'] <= 0 \
                or c['steps'] < 1 or c['lookahead'] < 1 or not 0 <= c['budget'] <= 1 \
                or not 1 <= c['min_steps'] <= c['steps']:
            raise ValueError('--hold must be >= 0; --fps, --keyframe-seconds, --zoom > 0; '
                             '--steps, --min-steps and --lookahead >= 1, --min-steps at '
                             'most --steps; --budget 0 to 1')
        if c['warmup_steps'] < 0 or (c['blur_every'] or 0) < 0:
            raise ValueError('--warmup-steps and --blur-every must be >= 0')
        (h, w), (oh, ow) = c['size'], c['opt_size']
        if abs(w / h - ow / oh) > 0.02 * w / h:
            raise ValueError('--opt-size %dx%d and --size %dx%d must have the same aspect '
                             'ratio' % (ow, oh, w, h))
        recipes.settings(c['recipe'])      # an unknown recipe fails here, in one line
        if c['source'] not in ('dream', 'stand-in'):
            raise ValueError('unknown source %r: use dream or stand-in' % c['source'])
        if c['chat_rate'] is not None and (c['chat_rate'] <= 0 or c['chat_burst'] < 1):
            raise ValueError('chat_rate must be > 0 (or None) and chat_burst >= 1')
        rng = random.Random(c['seed'])
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
        self.requests = RequestQueue(hold=c['hold'], seed=c['seed'])
        self.chat_limits = RateLimits(c['chat_rate'], c['chat_burst'])
        options = dict(opt_size=tuple(c['opt_size']), steps=c['steps'], zoom=c['zoom'],
                       degrees_per_frame=c['degrees_per_frame'], fps=c['fps'],
                       keyframe_seconds=c['keyframe_seconds'], seed=c['seed'])
        if c['source'] == 'dream':
            options.update(recipe=c['recipe'], model=c['model'],
                           warmup_steps=c['warmup_steps'])
            options.update({k: c[k] for k in ('prior', 'prior_strength', 'blur_every')
                            if c[k] is not None})
        options.update(c['source_options'] or {})
        self.worker = KeyframeWorker(c['source'], options, start, nice=c['nice'],
                                     stall_timeout=c['stall_timeout'],
                                     budget=c['budget'] * c['keyframe_seconds'] or None,
                                     min_steps=c['min_steps'])
        motion = Motion(c['zoom'], c['degrees_per_frame'] * c['fps'])
        self.interpolator = Interpolator(motion, tuple(options['opt_size']), tuple(c['size']))
        self.clock = FrameClock(self.worker, self.hub, self.interpolator, fps=c['fps'],
                                keyframe_seconds=c['keyframe_seconds'],
                                lookahead=c['lookahead'], on_subject=self._on_subject,
                                waiting_text='starting the network...')
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
            h, w = c['size']
            if h % 2 or w % 2:
                raise ValueError('--twitch streams yuv420p video: --size needs an even '
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
                                   tuple(c['size']), fps=c['fps'],
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
        """Stop everything (idempotent)."""
        if self.stopping:
            return
        self.stopping = True
        for part in (self.watchdog, self.clock, self.irc):
            if part is not None:
                part.stop()
        if self.rtmp is not None:
            self.rtmp.stop()
        self.worker.stop()
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
        name, text = clean_name(name), clean_text(text)
        if not text:
            return None
        self.events.publish({'type': 'chat', 'user': name, 'text': text, 'source': source})
        key = (source, 'address', str(address)) if address else (source, name)
        reply = self.requests.offer(name, text, key=key)
        if reply is None:
            return None
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

    # -- status ------------------------------------------------------------

    def status(self):
        """Everything the ``/status`` endpoint reports (JSON-able)."""
        c = self.config
        out = self.clock.status()
        h, w = c['size']
        out.update({
            'subject': self.subject and {k: self.subject[k] for k in ('text', 'user', 'id')},
            'next_subject': {k: self.next_subject[k] for k in ('text', 'user', 'id')},
            'viewers': self.hub.viewers,
            'pages': len(self.events),
            'jpeg_encoded': self.hub.encoded,
            'queue': self.requests.snapshot(),
            'hold_s': c['hold'],
            'chat': dict(self.requests.counts),
            'worker': self.worker.status(),
            'watchdog_restarts': self.watchdog.restarts,
            'source': c['source'],
            'model': c['model'] if c['source'] == 'dream' else None,
            'size': '%dx%d' % (w, h),
            'opt_size': '%dx%d' % tuple(c['opt_size'])[::-1],
            'steps_max': c['steps'],
            'uptime_s': round(time.monotonic() - self.started, 1) if self.started else 0.0,
            'twitch': None if self.twitch is None else {
                'rtmp': self.rtmp.status() if self.rtmp else None,
                'irc': self.irc.status() if self.irc else None},
        })
        return out
