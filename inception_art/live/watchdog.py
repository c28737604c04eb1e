"""The watchdog: a stuck optimiser is restarted, a stuck video ends the program.

The 2015 stream hung after 2 to 10 hours and a watchdog restarted it when
frames stopped coming. Here the part that can hang is the optimiser (a
long C call, a deadlock in a BLAS library, the process killed by the
kernel): it lives in its own process, so the watchdog kills it and starts
a fresh one that continues from the last keyframe
(:meth:`KeyframeWorker.restart`). The video meanwhile repeats its last
frame, so viewers see a pause, never a dead stream.

The frame clock itself never waits on anything; should it still stop
(a bug), nothing in-process can safely revive a stuck thread, so the
watchdog reports it through ``on_fatal`` and the command exits with an
error for a supervisor (systemd, a shell loop) to restart.
"""
import logging
import threading
import time

log = logging.getLogger(__name__)


class Watchdog(threading.Thread):
    """Checks the optimiser and the frame clock every ``interval`` seconds.

    Parameters
    ----------
    worker : KeyframeWorker
        ``problem()`` says why it needs a restart; ``restart(reason)``;
        ``fatal`` is set when restarting cannot help.
    clock : FrameClock
        Its ``last_publish`` (monotonic) must keep moving.
    on_fatal : callable
        ``on_fatal(reason)`` when the program cannot go on.
    interval : float
        Seconds between checks.
    clock_timeout : float
        Seconds without a frame after which the clock counts as stopped.
    """

    def __init__(self, worker, clock, on_fatal, interval=1.0, clock_timeout=10.0):
        super().__init__(name='watchdog', daemon=True)
        self.worker, self.clock, self.on_fatal = worker, clock, on_fatal
        self.interval, self.clock_timeout = float(interval), float(clock_timeout)
        self.stop_event = threading.Event()
        self.restarts = 0
        self.last_reason = None

    def check(self):
        """One round of checks (also callable directly)."""
        if self.worker.fatal:
            self.on_fatal(self.worker.fatal)
            return
        reason = self.worker.problem()
        if reason:
            self.restarts += 1
            self.last_reason = reason
            self.worker.restart(reason)
        last = self.clock.last_publish
        if self.clock.is_alive() and last is not None \
                and time.monotonic() - last > self.clock_timeout:
            self.on_fatal('no video frame for %.0f s' % (time.monotonic() - last))
        elif not self.clock.is_alive() and last is not None \
                and not self.clock.stop_event.is_set():
            self.on_fatal('the frame clock stopped')

    def run(self):
        while not self.stop_event.wait(self.interval):
            try:
                self.check()
            except Exception:            # the watchdog must outlive its own bugs
                log.exception('watchdog check failed')

    def stop(self):
        self.stop_event.set()
