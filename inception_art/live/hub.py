"""The frame hub: every frame made once, encoded once, seen by everyone.

The frame clock publishes each output frame here. Two kinds of consumers
take it:

* **Viewers of the page** want JPEG. The hub encodes a frame the first time
  any viewer asks for it, once, and hands the same bytes to all of them.
  A viewer always gets the *newest* frame: one that cannot keep up skips
  frames instead of queueing them, so a slow or stalled browser costs
  nothing and never delays the video for others. With no viewers nothing
  is encoded.
* **Encoders** (the RTMP output) want every raw frame, in order. Each gets
  a bounded queue; when it is full the oldest frame is dropped and counted.

The producer never blocks on a consumer.
"""
import collections
import queue
import threading

import cv2
import numpy as np


class FrameQueue:
    """A bounded queue of raw frames for one encoder (drops the oldest).

    Parameters
    ----------
    maxsize : int
        Frames held at most.
    """

    def __init__(self, maxsize):
        self.frames = collections.deque()
        self.maxsize = int(maxsize)
        self.dropped = 0
        self.paused = False
        self.cond = threading.Condition()

    def put(self, frame):
        """Add a frame, dropping the oldest when full; never blocks."""
        with self.cond:
            if self.paused:
                return
            if len(self.frames) >= self.maxsize:
                self.frames.popleft()
                self.dropped += 1
            self.frames.append(frame)
            self.cond.notify()

    def pause(self, paused=True):
        """Empty the queue and take no frames while ``paused``: an encoder
        that is not connected has no use for them, and 50 frames at
        1024x576 are 88 MB."""
        with self.cond:
            self.paused = bool(paused)
            self.frames.clear()

    def get(self, timeout=None):
        """The oldest frame; raises :class:`queue.Empty` after ``timeout``."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.frames, timeout):
                raise queue.Empty
            return self.frames.popleft()

    def __len__(self):
        return len(self.frames)


class FrameHub:
    """Latest-frame fan-out with encode-once JPEG.

    Parameters
    ----------
    jpeg_quality : int
        JPEG quality for the page's video, 1-100.

    Attributes
    ----------
    seq : int
        Number of frames published so far (the newest frame's number).
    """

    def __init__(self, jpeg_quality=80):
        self.jpeg_quality = int(jpeg_quality)
        self.cond = threading.Condition()
        self.seq = 0
        self.frame = None
        # (frame, bytes) of the last few frames encoded: a viewer that took
        # a frame just before the next one came still finds its bytes.
        self._jpegs = collections.deque(maxlen=4)
        self._encode_lock = threading.Lock()
        self.encoded = 0
        self.closed = False
        self.queues = []
        self.viewers = 0

    def publish(self, frame):
        """Make ``frame``, an (H, W, 3) uint8 RGB array, the newest frame.

        The hub keeps a reference: the caller must not write into the array
        afterwards (the frame clock makes a new one for each frame, and
        publishes the same array again to repeat a frame).
        """
        with self.cond:
            self.frame = frame
            self.seq += 1
            self.cond.notify_all()
            queues = list(self.queues)
        for q in queues:
            q.put(frame)

    def latest(self):
        """``(seq, frame)`` of the newest frame (frame None before the first)."""
        with self.cond:
            return self.seq, self.frame

    def wait_next(self, after, timeout=None):
        """Wait for a frame newer than ``after``; returns ``(seq, frame)``.

        ``frame`` is None when the wait timed out or the hub closed.
        """
        with self.cond:
            self.cond.wait_for(lambda: self.seq > after or self.closed, timeout)
            if self.seq > after and not self.closed:
                return self.seq, self.frame
            return self.seq, None

    def jpeg(self, frame):
        """The JPEG bytes of ``frame``, encoded at most once.

        Viewers that ask for the same frame get the same bytes; the one
        that asks first encodes it (OpenCV lets go of the GIL meanwhile). A
        repeated frame (the same array published again) is not re-encoded.
        """
        with self._encode_lock:
            for done, data in self._jpegs:
                if done is frame:
                    return data
            bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                raise RuntimeError('JPEG encoding failed')
            data = buf.tobytes()
            self._jpegs.append((frame, data))
            self.encoded += 1
            return data

    def subscribe(self, maxsize=50):
        """A :class:`FrameQueue` that receives every frame from now on."""
        q = FrameQueue(maxsize)
        with self.cond:
            self.queues.append(q)
        return q

    def unsubscribe(self, q):
        with self.cond:
            if q in self.queues:
                self.queues.remove(q)

    def add_viewer(self, delta):
        """Count a page viewer joining (+1) or leaving (-1)."""
        with self.cond:
            self.viewers += delta

    def close(self):
        """Wake every waiting viewer for good (at shutdown)."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def blank_frame(size, value=16):
    """An (H, W, 3) uint8 frame of one grey level."""
    return np.full(tuple(size) + (3,), value, np.uint8)
