"""The frame clock: 25 frames a second, whatever the optimiser does.

A thread that wakes at every frame's slot, makes the frame by
interpolating between the two newest keyframes (the older one zoomed
forward, the newer one zoomed back, cross-faded), and publishes it to the
:class:`~inception_art.live.hub.FrameHub`.

Timing: frame ``k`` belongs to the slot ``[t0 + k/fps, t0 + (k+1)/fps)``.
The clock makes frames a little ahead (``buffer`` frames, 160 ms by
default), publishes each at its slot's start, and counts a *deadline
miss* when one is published after its slot's end. Rendering ahead absorbs
the moments when other work on a 2-core machine delays the 10-15 ms a
frame takes. After a hiccup the clock catches up by publishing the late
frames back to back; more than a second behind (the machine was
suspended, say) it gives up on those and starts afresh.

Each keyframe stands for ``keyframe_seconds`` of video. When the clock
reaches the end of a segment and the next keyframe has not arrived, it
counts an underflow and *coasts*: it zooms on into the newer keyframe,
slowing down as it goes (after ``coast`` seconds at 37% of the pace, never
further than ``coast`` seconds of motion), so that a late keyframe, or the
6-11 s a replaced optimiser takes to start, is a slow zoom rather than a
still picture. The next keyframe's segment starts from the view the coast
reached, and a new optimiser is told to continue from where the video
will be when its first keyframe comes (:meth:`FrameClock.resume_image`).
With ``coast=0`` it repeats the last frame instead. Taking a keyframe for
a new segment grants the optimiser one more (see
:mod:`inception_art.live.worker`).
"""
import collections
import logging
import math
import os
import threading
import time

import numpy as np

from ..video.interpolate import TextOverlay
from .hub import blank_frame

log = logging.getLogger(__name__)

#: Behind by more than this (seconds), the clock skips ahead instead of
#: making every missed frame.
RESYNC_SECONDS = 1.0


class FrameClock(threading.Thread):
    """Makes and publishes frames at ``fps``.

    Parameters
    ----------
    worker : KeyframeWorker
        Source of keyframes (``poll()``, ``grant(n)``).
    hub : FrameHub
        Where frames go.
    interpolator : inception_art.video.interpolate.Interpolator
        Built for the keyframe size, the output size and the same motion as
        the keyframes.
    fps : float
        Output frame rate.
    keyframe_seconds : float
        Video time between two keyframes.
    lookahead : int
        Keyframes the optimiser may work ahead of the one being faded in.
    buffer : int
        Frames made ahead of their slot (each one adds 1/fps of latency
        and absorbs that much delay in making a frame).
    priority : int
        Nice value asked for the clock's thread (negative: more CPU than
        others), where the system allows it; 0: leave it.
    on_subject : callable, optional
        Called with the subject dict whenever the video starts fading into
        a keyframe of a new subject (from this thread: keep it quick).
    waiting_text : str
        Shown on the frames made before the first two keyframes arrive.
    coast : float
        Time constant (seconds) of the zoom that goes on while a keyframe
        is late: after ``t`` seconds it has moved ``coast * (1 - exp(-t /
        coast))`` seconds' worth. 0: repeat the last frame instead.
    """

    def __init__(self, worker, hub, interpolator, fps=25.0, keyframe_seconds=2.0,
                 lookahead=1, buffer=4, priority=-5, on_subject=None,
                 waiting_text='warming up...', coast=10.0):
        super().__init__(name='frame-clock', daemon=True)
        self.worker, self.hub, self.interp = worker, hub, interpolator
        self.fps, self.keyframe_seconds = float(fps), float(keyframe_seconds)
        self.frames_per_key = max(1, round(self.keyframe_seconds * self.fps))
        self.lookahead = int(lookahead)
        self.buffer = max(1, int(buffer))
        self.priority, self.priority_set = int(priority), False
        self.on_subject = on_subject
        if not coast >= 0:
            raise ValueError('coast must be >= 0 seconds, got %r' % (coast,))
        self.coast = float(coast)
        self.stop_event = threading.Event()
        self.pending = collections.deque()
        self.newer = None               # the keyframe faded into
        self.index = 0                  # frame within the current segment
        self.last_frame = None
        self.subject = None
        self.waiting_frame = blank_frame(interpolator.out_size, 24)
        TextOverlay(waiting_text, interpolator.out_size).draw(self.waiting_frame)
        # Counters (read by the status endpoint from other threads: plain
        # ints and floats, each written by this thread only).
        self.frames = 0
        self.underflows = 0
        self.coasts = 0                 # underflows that began a coast
        self.longest_coast = 0.0        # seconds
        self.waiting_frames = 0
        self.deadline_misses = 0
        self.resyncs = 0
        self.keyframes_shown = 0
        self.last_publish = None
        self.worst_lateness = 0.0
        self.publish_times = collections.deque(maxlen=int(self.fps * 10))
        self.segment_starts = collections.deque(maxlen=20)
        self.key_seconds = collections.deque(maxlen=20)
        self.key_steps = collections.deque(maxlen=20)
        self.frame_seconds = collections.deque(maxlen=250)

    # -- frames ------------------------------------------------------------

    def _collect(self):
        while True:
            key = self.worker.poll()
            if key is None:
                return
            self.pending.append(key)
            self.key_seconds.append(key.seconds)
            self.key_steps.append(key.steps)

    def coast_progress(self, seconds):
        """Seconds' worth of motion after coasting ``seconds``."""
        return self.coast * -math.expm1(-seconds / self.coast) if self.coast else 0.0

    def _late(self):
        """Seconds of video past the newer keyframe's own time (> 0 while
        coasting, <= 0 inside a segment)."""
        return (self.index - self.frames_per_key) / self.fps

    def _start_segment(self, key):
        late = self._late()
        older = self.newer.image
        if late > 0:
            # After a coast: start from the view it reached, not from the
            # keyframe it left (a jump back).
            older = self.interp.newer_beyond(self.coast_progress(late))
            self.longest_coast = max(self.longest_coast, late)
        self.newer = key
        self.interp.set_keyframes(older, key.image, self.keyframe_seconds)
        self.index = 0
        self.keyframes_shown += 1
        self.segment_starts.append(time.monotonic())
        if key.subject != self.subject:
            self.subject = key.subject
            self.interp.set_text(key.subject.get('text'))
            if self.on_subject is not None:
                try:
                    self.on_subject(key.subject)
                except Exception:       # a broken listener must not stop the video
                    log.exception('subject listener failed')

    def next_frame(self):
        """The next frame (a new array, or the last one again)."""
        self._collect()
        if self.newer is None:
            if len(self.pending) < 2:
                self.waiting_frames += 1
                return self.waiting_frame
            self.newer = self.pending.popleft()
            self._start_segment(self.pending.popleft())
        elif self.index >= self.frames_per_key:
            if not self.pending:
                self.underflows += 1
                if not self.coast:
                    return self.last_frame
                if self.index == self.frames_per_key:
                    self.coasts += 1
                frame = self.interp.beyond(self.coast_progress(self._late()))
                self.index += 1
                return frame
            self._start_segment(self.pending.popleft())
            self.worker.grant(1)
        t0 = time.perf_counter()
        frame = self.interp.frame(self.index / self.fps)
        self.frame_seconds.append(time.perf_counter() - t0)
        self.index += 1
        return frame

    def resume_image(self):
        """The keyframe a newly started optimiser should continue from (see
        :attr:`KeyframeWorker.resume_image`): None, the last keyframe
        received, unless the video will have coasted past it by the time
        the optimiser's first keyframe comes; then the view it will show.
        Called from this thread (through the worker's ``poll``)."""
        if self.pending or self.newer is None or not self.coast:
            return None
        keys = list(self.key_seconds)
        making = float(np.median(keys)) if keys else self.keyframe_seconds
        late = self._late() + making
        if late <= 0:
            return None
        return self.interp.newer_beyond(self.coast_progress(late))

    # -- the loop ----------------------------------------------------------

    def frame(self):
        """The next frame to publish (:meth:`next_frame`, but never raising:
        a frame that fails repeats the last one)."""
        try:
            frame = self.next_frame()
        except Exception:
            # Never let one bad frame end the video: show the last one.
            log.exception('frame %d failed; repeating the last frame', self.frames)
            frame = self.last_frame if self.last_frame is not None else self.waiting_frame
        self.last_frame = frame
        return frame

    def _raise_priority(self):
        # Linux gives every thread its own nice value. Lowering it needs
        # CAP_SYS_NICE (or an RLIMIT_NICE allowance): where it is granted the
        # clock gets the CPU first on a busy machine; elsewhere it keeps the
        # default, and the optimiser's higher nice still yields to it.
        if not self.priority:
            return
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.priority)
            self.priority_set = True
        except (OSError, AttributeError):
            log.debug('frame clock keeps the default CPU priority')

    def run(self):
        self._raise_priority()
        self.worker.grant(2 + self.lookahead)
        period = 1.0 / self.fps
        t0 = time.monotonic()
        k = 0                           # the next frame to publish
        ahead = collections.deque()     # frames made, waiting for their slot
        while not self.stop_event.is_set():
            # Keep `buffer` frames made ahead of their slot, so that a
            # rendering delayed by other work on the machine still makes it
            # in time; then wait for the next slot and publish.
            if len(ahead) < self.buffer:
                ahead.append(self.frame())
                continue
            wait = t0 + k * period - time.monotonic()
            if wait > 0 and self.stop_event.wait(wait):
                break
            self.hub.publish(ahead.popleft())
            now = time.monotonic()
            self.frames += 1
            self.last_publish = now
            self.publish_times.append(now)
            late = now - (t0 + (k + 1) * period)
            if late > 0:
                self.deadline_misses += 1
                self.worst_lateness = max(self.worst_lateness, late)
            k += 1
            if now - (t0 + k * period) > RESYNC_SECONDS:
                log.warning('frame clock %.1f s behind; skipping ahead',
                            now - (t0 + k * period))
                self.resyncs += 1
                t0, k = now, 0

    def stop(self):
        self.stop_event.set()

    # -- figures -----------------------------------------------------------

    def fps_measured(self, window=5.0):
        """Frames published per second over the last ``window`` seconds."""
        times = list(self.publish_times)
        if len(times) < 2:
            return 0.0
        end = times[-1]
        recent = [t for t in times if t > end - window]
        span = max(end - recent[0], 1e-9)
        return (len(recent) - 1) / span if len(recent) > 1 else 0.0

    def status(self):
        starts = list(self.segment_starts)
        gaps = np.diff(starts) if len(starts) > 1 else np.zeros(0)
        keys = list(self.key_seconds)
        frame_s = list(self.frame_seconds)
        return {
            'fps': round(self.fps_measured(), 2),
            'fps_target': self.fps,
            'frames': self.frames,
            'underflows': self.underflows,
            'coasts': self.coasts,
            'coasting': bool(self.newer is not None and self.index > self.frames_per_key),
            'longest_coast_s': round(max(self.longest_coast, self._late()), 2),
            'deadline_misses': self.deadline_misses,
            'worst_lateness_ms': round(1000 * self.worst_lateness, 1),
            'resyncs': self.resyncs,
            'clock_priority': self.priority if self.priority_set else 0,
            'waiting_frames': self.waiting_frames,
            'keyframes': self.keyframes_shown,
            'keyframe_seconds': self.keyframe_seconds,
            'keyframe_period_s': round(float(gaps.mean()), 3) if gaps.size else None,
            'keyframe_period_max_s': round(float(gaps.max()), 3) if gaps.size else None,
            'keyframe_compute_s': round(float(np.mean(keys)), 3) if keys else None,
            'steps_per_keyframe': (round(float(np.mean(self.key_steps)), 2)
                                   if self.key_steps else None),
            'interpolate_ms': round(1000 * float(np.median(frame_s)), 2) if frame_s else None,
        }
