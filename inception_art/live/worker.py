"""The optimiser, in a process of its own.

Why a process and not a thread: Theano runs a whole compiled step in C
*holding the GIL*. Measured on this machine, a Lite0 step running in a
thread delayed a 5 ms timer loop in the main thread by up to 390 ms, ten
frames at 25 fps. In a child process the step cannot stall the video; the
child also runs at a lower CPU priority (``nice``), so on a 2-core machine
the frame clock gets its CPU the moment it needs it.

The parent hands out *credits*: the child makes one keyframe per credit and
waits when it has none. The frame clock grants a credit each time it takes
a keyframe, so the child works at most ``lookahead`` keyframes ahead of the
video, and a new subject reaches the screen after at most that many
keyframes instead of after a long backlog. Every keyframe carries the
subject it was made for.

If the child hangs (no keyframe for ``stall_timeout`` seconds while it owes
one) or dies, :meth:`KeyframeWorker.restart` kills it and starts a fresh one
that continues from the last keyframe received, with the same subject; the
credits it owed are handed out again.
"""
import logging
import multiprocessing
import os
import queue
import threading
import time
import traceback

log = logging.getLogger(__name__)

#: How long a fresh child may take to be ready (compiling the network with a
#: cold cache takes about a minute on 2 cores).
STARTUP_TIMEOUT = 600.0


def make_source(source, options):
    """Build the keyframe maker named ``source``: ``'dream'`` (the network,
    :class:`inception_art.video.dream.Dream`) or ``'stand-in'``
    (:class:`inception_art.live.standin.StandInDream`).

    Both offer what the child uses: ``set_subject(classes)``,
    ``continue_from(keyframe)``, ``next_keyframe()``, ``keyframe`` (the
    last one, None before the first), ``steps`` (per keyframe, which the
    pacer sets) and ``next_steps`` (what the next keyframe will take).
    """
    if source == 'dream':
        from ..video.dream import Dream
        return Dream(**options)
    if source == 'stand-in':
        from .standin import StandInDream
        return StandInDream(**options)
    raise ValueError('unknown keyframe source %r' % (source,))


class StepPacer:
    """Adam steps per keyframe that fit a time budget.

    A keyframe must be ready before the video reaches it. How long a step
    takes depends on what else runs on the machine, so the number of steps
    follows the measured time per step (rising at once with a slower step,
    falling slowly): as many as fit in ``budget`` seconds, between
    ``min_steps`` and ``max_steps``. On an idle machine that is
    ``max_steps``; on a busy one fewer, and the dream converges over more
    keyframes instead of stalling the video.

    Parameters
    ----------
    max_steps, min_steps : int
    budget : float or None
        Seconds a keyframe may take; None: always ``max_steps``.
    """

    def __init__(self, max_steps, min_steps=1, budget=None):
        self.max_steps, self.min_steps = int(max_steps), max(1, int(min_steps))
        self.budget = budget
        self.per_step = None
        self.steps = self.max_steps

    def update(self, seconds, steps):
        """Account for a keyframe of ``steps`` steps that took ``seconds``;
        returns the steps for the next one."""
        if not self.budget:
            return self.steps
        per_step = seconds / max(1, steps)
        # Up at once, down slowly: a keyframe that misses the video costs a
        # visible pause, one step too few costs nothing anyone sees.
        self.per_step = per_step if self.per_step is None \
            else max(per_step, 0.7 * self.per_step + 0.3 * per_step)
        self.steps = int(max(self.min_steps, min(self.max_steps,
                                                 self.budget // self.per_step)))
        return self.steps


def _child(source, options, start_image, subject, nice, pace, commands, results,
           busy_since):
    """The child process: build the source, then one keyframe per credit.

    ``pace`` is ``(min_steps, budget)`` for :class:`StepPacer`.
    ``busy_since`` (shared) holds the wall-clock time the current keyframe
    was started, or 0 while the child waits for a credit.
    """
    try:
        if nice:
            os.nice(nice)
        t0 = time.time()
        dream = make_source(source, options)
        dream.set_subject(subject['classes'])
        if start_image is not None:
            # Continue the dream where the previous child left it: the next
            # keyframe then starts from this one zoomed forward.
            dream.continue_from(start_image)
        results.put(('ready', time.time() - t0))
        pacer = StepPacer(dream.steps, *pace)
        credits = 0
        while True:
            busy_since.value = 0.0
            try:
                command = commands.get(timeout=None if credits == 0 else 0)
            except queue.Empty:
                command = None
            if command is not None:
                kind = command[0]
                if kind == 'stop':
                    return
                if kind == 'credit':
                    credits += command[1]
                elif kind == 'subject':
                    subject = command[1]
                    dream.set_subject(subject['classes'])
                continue            # read every waiting command before working
            busy_since.value = time.time()
            t = time.perf_counter()
            steps = dream.next_steps
            key = dream.next_keyframe()
            seconds = time.perf_counter() - t
            results.put(('keyframe', key, subject, seconds, steps))
            dream.steps = pacer.update(seconds, steps)
            credits -= 1
    except KeyboardInterrupt:
        pass
    except BaseException as e:  # noqa: BLE001 - report it; the parent decides what next
        results.put(('error', '%s: %s' % (type(e).__name__, e), traceback.format_exc()))


class Keyframe:
    """A keyframe from the child: the image, the subject it was made for,
    its number, the seconds and Adam steps the child spent on it and when
    it arrived."""

    __slots__ = ('image', 'subject', 'number', 'seconds', 'steps', 'arrived')

    def __init__(self, image, subject, number, seconds, steps, arrived):
        self.image, self.subject, self.number = image, subject, number
        self.seconds, self.steps, self.arrived = seconds, steps, arrived


class KeyframeWorker:
    """The keyframe-making child process, seen from the parent.

    Parameters
    ----------
    source : {'dream', 'stand-in'}
        What makes keyframes (see :func:`make_source`).
    options : dict
        Keyword arguments of the source.
    subject : dict
        The starting subject: ``{'classes': [...], 'text': ..., 'user': ...}``.
    nice : int
        How much to lower the child's CPU priority (0: not at all).
    stall_timeout : float
        Seconds a keyframe may take before the child counts as stuck.
    startup_timeout : float
        Seconds a fresh child may take to build and compile.
    budget : float, optional
        Seconds a keyframe may take: the child then makes as many Adam steps
        as fit, up to the source's ``steps`` (see :class:`StepPacer`).
    min_steps : int
        Fewest steps per keyframe when pacing.

    Use :meth:`start`, then :meth:`grant` credits and :meth:`poll` for
    keyframes; :meth:`stop` at the end. Not thread-safe: one thread (the
    frame clock) polls and grants; :meth:`set_subject` may come from
    another, and :meth:`restart` from the watchdog (it takes the lock).
    """

    def __init__(self, source, options, subject, nice=10, stall_timeout=60.0,
                 startup_timeout=STARTUP_TIMEOUT, budget=None, min_steps=1):
        self.source, self.options = source, dict(options)
        self.subject = dict(subject)
        self.nice = int(nice)
        self.pace = (int(min_steps), budget)
        self.last_steps = None
        self.stall_timeout, self.startup_timeout = float(stall_timeout), float(startup_timeout)
        self.ctx = multiprocessing.get_context('spawn')
        self.lock = threading.RLock()
        self.process = None
        self.owed = 0               # credits granted and not yet paid with a keyframe
        self.received = 0
        self.restarts = 0
        self.failed_starts = 0
        self.ready = False
        self.ever_ready = False
        self.started_at = None
        self.compile_seconds = None
        self.last_image = None
        self.last_error = None
        #: Set when a child fails before it was ever ready (bad model,
        #: missing weights): restarting would not help.
        self.fatal = None
        self.stopped = False

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        """Start the child (returns at once; it gets ready in the background)."""
        with self.lock:
            self.commands = self.ctx.Queue()
            self.results = self.ctx.Queue()
            self.busy_since = self.ctx.Value('d', 0.0, lock=False)
            self.ready = False
            self.started_at = time.time()
            self.busy_since.value = self.started_at
            self.process = self.ctx.Process(
                target=_child, name='inception_art-optimiser', daemon=True,
                args=(self.source, self.options, self.last_image, self.subject,
                      self.nice, self.pace, self.commands, self.results, self.busy_since))
            self.process.start()
            if self.owed:
                self.commands.put(('credit', self.owed))

    def stop(self, timeout=5.0):
        """Ask the child to stop; kill it if it does not within ``timeout``."""
        with self.lock:
            self.stopped = True
            self._end(timeout)

    def _end(self, timeout):
        process, self.process = self.process, None
        if process is None:
            return
        if process.is_alive():
            try:
                self.commands.put(('stop',))
            except (OSError, ValueError):
                pass
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(5)
        for q in (self.commands, self.results):
            q.cancel_join_thread()   # never wait on a dead child's pipe
            q.close()

    def restart(self, reason):
        """Kill the child and start a fresh one where it left off."""
        with self.lock:
            if self.stopped:
                return
            # A child that keeps dying before it is ready (out of memory
            # while compiling, say) would be restarted forever.
            self.failed_starts = 0 if self.ready else self.failed_starts + 1
            if self.failed_starts >= 3:
                self.fatal = 'the optimiser failed to start 3 times: %s' % reason
                self._end(timeout=0.5)
                return
            log.warning('optimiser restarted: %s', reason)
            self.restarts += 1
            self._end(timeout=0.5)
            self.start()

    # -- talking to it -----------------------------------------------------

    def grant(self, n=1):
        """Allow the child ``n`` more keyframes."""
        with self.lock:
            self.owed += n
            if self.process is not None:
                self.commands.put(('credit', n))

    def set_subject(self, subject):
        """Dream ``subject`` (a dict with ``classes``) from the next keyframe
        the child starts."""
        with self.lock:
            self.subject = dict(subject)
            if self.process is not None:
                self.commands.put(('subject', self.subject))

    def poll(self, timeout=0.0):
        """The next keyframe if one has come, else None (waits up to
        ``timeout`` seconds). Also takes the child's other messages; an
        error before the first child was ever ready sets :attr:`fatal`."""
        with self.lock:
            if self.process is None:
                return None
            results = self.results
        try:
            message = results.get(timeout=timeout) if timeout else results.get_nowait()
        except (queue.Empty, OSError, ValueError, EOFError):
            return None
        kind = message[0]
        with self.lock:
            if results is not self.results:       # restarted meanwhile
                return None
            if kind == 'ready':
                self.ready = self.ever_ready = True
                self.compile_seconds = message[1]
                log.info('optimiser ready after %.1f s', message[1])
                return None
            if kind == 'error':
                self.last_error = message[1]
                log.error('optimiser failed: %s\n%s', message[1], message[2])
                if not self.ever_ready:
                    self.fatal = message[1]
                return None
            _, image, subject, seconds, steps = message
            self.owed = max(0, self.owed - 1)
            self.received += 1
            self.last_image = image
            self.last_steps = steps
            return Keyframe(image, subject, self.received, seconds, steps, time.monotonic())

    def problem(self, now=None):
        """Why the child needs a restart, or None while it is healthy."""
        with self.lock:
            if self.process is None or self.stopped or self.fatal:
                return None
            if not self.process.is_alive():
                return 'the optimiser process exited (code %s)' % self.process.exitcode
            now = time.time() if now is None else now
            busy = self.busy_since.value
            limit = self.stall_timeout if self.ready else self.startup_timeout
            if self.ready and self.last_image is None:
                # The first keyframe of all takes the warm-up steps: as many
                # times longer as it has steps (a restarted child carries on
                # from the last keyframe and has none).
                limit *= max(1.0, self.options.get('warmup_steps', 0)
                             / float(self.options.get('steps') or 1))
            if busy and now - busy > limit:
                return ('no keyframe for %.0f s (limit %.0f s)' % (now - busy, limit))
            return None

    def status(self):
        with self.lock:
            return {'ready': self.ready, 'restarts': self.restarts, 'steps': self.last_steps,
                    'compile_s': None if self.compile_seconds is None
                    else round(self.compile_seconds, 2),
                    'pid': self.process.pid if self.process is not None else None,
                    'last_error': self.last_error}

