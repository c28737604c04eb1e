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
that continues from the last keyframe received (or, where the video has
zoomed on past it meanwhile, from what the video shows: see
:attr:`KeyframeWorker.resume_image`), with the same subject; the credits it
owed are handed out again. The parent times the debt itself:
a child that is stopped or stuck cannot report that it is busy.

Keyframes come back through a pipe whose only write end is the child's,
read by a thread of the parent's own: when the child dies, even in the
middle of sending a keyframe, the thread reads the end of the file and
exits. Nothing the child does can block the frame clock, which only looks
at what the thread has received.
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


#: Seconds between the checks of an idle child that its parent still lives.
ORPHAN_CHECK_SECONDS = 1.0


def _child(source, options, start_image, subject, nice, pace, commands, results, parent):
    """The child process: build the source, then one keyframe per credit.

    ``pace`` is ``(min_steps, budget)`` for :class:`StepPacer`; ``results``
    the write end of a pipe to the parent (process id ``parent``). After it
    reports ready, the child waits for the parent's ``('begin', image)``:
    the image to continue from, where the video has moved on past
    ``start_image`` while this child was starting (None: ``start_image``).
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
        results.send(('ready', time.time() - t0))
        pacer = StepPacer(dream.steps, *pace)
        credits, begun = 0, False
        while True:
            try:
                command = commands.get(timeout=ORPHAN_CHECK_SECONDS
                                       if credits == 0 or not begun else 0)
            except queue.Empty:
                command = None
                # A parent killed outright (SIGKILL, the kernel's OOM killer)
                # cannot stop its child: an idle child that finds itself
                # orphaned ends, rather than wait for credits for ever.
                if os.getppid() != parent:
                    return
                if credits == 0 or not begun:
                    continue
            if command is not None:
                kind = command[0]
                if kind == 'stop':
                    return
                if kind == 'credit':
                    credits += command[1]
                elif kind == 'subject':
                    subject = command[1]
                    dream.set_subject(subject['classes'])
                elif kind == 'begin':
                    begun = True
                    if command[1] is not None:
                        dream.continue_from(command[1])
                continue            # read every waiting command before working
            t = time.perf_counter()
            steps = dream.next_steps
            key = dream.next_keyframe()
            seconds = time.perf_counter() - t
            results.send(('keyframe', key, subject, seconds, steps))
            dream.steps = pacer.update(seconds, steps)
            credits -= 1
    except (KeyboardInterrupt, BrokenPipeError):
        pass                        # Ctrl-C, or the parent has gone
    except BaseException as e:  # noqa: BLE001 - report it; the parent decides what next
        try:
            results.send(('error', '%s: %s' % (type(e).__name__, e), traceback.format_exc()))
        except OSError:
            pass


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

    Attributes
    ----------
    resume_image : callable or None
        Called (from the polling thread) when a child is ready; returns the
        keyframe it continues from, or None for the last one received. The
        app sets it to :meth:`FrameClock.resume_image`: while a new child
        starts, the video zooms on past the last keyframe, and the dream
        should go on from there.

    Use :meth:`start`, then :meth:`grant` credits and :meth:`poll` for
    keyframes; :meth:`stop` at the end. One thread (the frame clock) polls
    and grants; :meth:`set_subject` may come from another, and
    :meth:`restart` from the watchdog (each takes the lock).
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
        self.commands = None
        # What the children send, tagged with the child's generation (one
        # per start): a message of a child since replaced is dropped.
        self.inbox = queue.Queue()
        self.generation = 0
        self.owed = 0               # credits granted and not yet paid with a keyframe
        self.owed_since = None      # monotonic: when the child last owed with no progress
        self.ready_at = None        # monotonic: when the current child got ready
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
        self.resume_image = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        """Start the child (returns at once; it gets ready in the background)."""
        with self.lock:
            self.generation += 1
            self.commands = self.ctx.Queue()
            reader, writer = self.ctx.Pipe(duplex=False)
            self.ready = False
            self.ready_at = None
            self.started_at = time.monotonic()
            self.process = self.ctx.Process(
                target=_child, name='inception_art-optimiser', daemon=True,
                args=(self.source, self.options, self.last_image, self.subject,
                      self.nice, self.pace, self.commands, writer, os.getpid()))
            try:
                self.process.start()
            finally:
                # The child holds the only write end now: its end is our EOF.
                writer.close()
            threading.Thread(target=self._receive, args=(reader, self.generation),
                             name='optimiser-results', daemon=True).start()
            if self.owed:
                self.commands.put(('credit', self.owed))

    def _receive(self, reader, generation):
        """Move one child's messages into :attr:`inbox` until it ends."""
        try:
            while True:
                try:
                    message = reader.recv()
                except (EOFError, OSError):
                    return          # the child ended (maybe mid-message)
                self.inbox.put((generation, message))
        finally:
            reader.close()

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
        self.commands.cancel_join_thread()   # never wait on a dead child's pipe
        self.commands.close()
        if process.exitcode is not None:
            process.close()         # its sentinel's file descriptor, now

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
            if not self.owed:
                self.owed_since = time.monotonic()
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
        error before the first child was ever ready sets :attr:`fatal`.
        Never blocks longer than ``timeout``, whatever the child does."""
        try:
            generation, message = (self.inbox.get(timeout=timeout) if timeout
                                   else self.inbox.get_nowait())
        except queue.Empty:
            return None
        kind = message[0]
        with self.lock:
            if generation != self.generation or self.process is None:
                return None         # from a child since replaced or stopped
            if kind == 'ready':
                self.ready = self.ever_ready = True
                self.ready_at = time.monotonic()
                self.compile_seconds = message[1]
                log.info('optimiser ready after %.1f s', message[1])
                image = None
                if self.resume_image is not None:
                    try:
                        image = self.resume_image()
                    except Exception:   # the child must begin whatever happens here
                        log.exception('no view to resume from; the last keyframe instead')
                self.commands.put(('begin', image))
                return None
            if kind == 'error':
                self.last_error = message[1]
                log.error('optimiser failed: %s\n%s', message[1], message[2])
                if not self.ever_ready:
                    self.fatal = message[1]
                return None
            _, image, subject, seconds, steps = message
            self.owed = max(0, self.owed - 1)
            self.owed_since = time.monotonic() if self.owed else None
            self.received += 1
            self.last_image = image
            self.last_steps = steps
            return Keyframe(image, subject, self.received, seconds, steps, time.monotonic())

    def problem(self, now=None):
        """Why the child needs a restart, or None while it is healthy.

        A child that is not ready ``startup_timeout`` seconds after its
        start, or that owes a keyframe and has sent none for
        ``stall_timeout`` seconds since it got ready (or since its last
        keyframe), is stuck. The parent keeps this time: a child that
        hangs, or is stopped (SIGSTOP), cannot say so itself.
        """
        with self.lock:
            if self.process is None or self.stopped or self.fatal:
                return None
            if not self.process.is_alive():
                return 'the optimiser process exited (code %s)' % self.process.exitcode
            now = time.monotonic() if now is None else now
            if not self.ready:
                waited, limit = now - self.started_at, self.startup_timeout
                if waited > limit:
                    return 'not ready after %.0f s (limit %.0f s)' % (waited, limit)
                return None
            if not self.owed or self.owed_since is None:
                return None
            waited, limit = now - max(self.owed_since, self.ready_at), self.stall_timeout
            if self.last_image is None:
                # The first keyframe of all takes the warm-up steps: as many
                # times longer as it has steps (a restarted child carries on
                # from the last keyframe and has none).
                settings = self.options.get('settings')
                steps = settings['steps'] if settings is not None else 1
                limit *= max(1.0, self.options.get('warmup_steps', 0) / float(steps or 1))
            if waited > limit:
                return 'no keyframe for %.0f s (limit %.0f s)' % (waited, limit)
            return None

    def status(self):
        with self.lock:
            return {'ready': self.ready, 'restarts': self.restarts, 'steps': self.last_steps,
                    'compile_s': None if self.compile_seconds is None
                    else round(self.compile_seconds, 2),
                    'pid': self.process.pid if self.process is not None else None,
                    'last_error': self.last_error}

