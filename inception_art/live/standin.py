"""A stand-in for :class:`inception_art.video.dream.Dream`: no network at all.

It has the same interface (``set_subject``, ``next_keyframe``, ``subject``,
``keyframe``, ``size``) and makes keyframes the same way as far as the
pipeline can tell: each starts from the previous one zoomed forward, and
the subject changes the picture (here: the colour of the blobs painted
onto it). It takes milliseconds instead of seconds, so the tests of the
server, the chat, IRC and RTMP run without compiling a network, and
``python -m inception_art.live --source stand-in`` lets you try the page
or a Twitch set-up in a second. It is never used unless asked for.
"""
import time

import cv2
import numpy as np

from .. import imagenet
from ..imagenet import subject_text
from ..video.zoom import Motion, warp


class StandInDream:
    """Synthetic keyframes: zooming coloured blobs, coloured by the subject.

    Parameters
    ----------
    settings : RenderSettings, optional
        The keyframes' render settings, as :class:`Dream` takes them: only
        the ``canvas`` and the ``seed`` are read.
    canvas : (h, w)
        Keyframe size, without ``settings``.
    zoom, degrees_per_frame, fps, keyframe_seconds : float
        The motion, as for :class:`~inception_art.video.dream.Dream`.
    seconds : float
        Time one keyframe takes (a sleep), to mimic the optimiser's pace.
    hang_at : int, optional
        Never return from the keyframe of this number (counting from 1 in
        this process): a stuck optimiser, for testing the watchdog.
    seed : int
    """

    def __init__(self, settings=None, zoom=1.05, degrees_per_frame=0.01, fps=25.0,
                 keyframe_seconds=1.0, seconds=0.05, hang_at=None, canvas=(144, 256), seed=0,
                 **_ignored):
        if settings is not None:
            canvas, seed = settings['canvas'], settings['seed']
        self.size = tuple(canvas)
        self.motion = Motion(zoom, degrees_per_frame * fps)
        self.keyframe_seconds, self.seconds = float(keyframe_seconds), float(seconds)
        self.hang_at = hang_at
        self.rng = np.random.RandomState(seed)
        self.subject = (980,)
        self.keyframe = None
        self.count = 0
        #: What the worker reads of a keyframe source (see Dream): the
        #: stand-in takes no optimisation steps, one "step" per keyframe.
        self.steps = self.next_steps = 1

    @property
    def subject_text(self):
        return subject_text(self.subject)

    def set_subject(self, subject):
        """Take ``subject``: a sequence of one or two class indices."""
        self.subject = tuple(imagenet.resolve(int(c)) for c in subject)
        return self.subject

    def colour(self, index, value=230):
        """The RGB colour that stands for class ``index`` (its hue), at
        brightness ``value`` (0-255)."""
        hue = (index * 37) % 180
        hsv = np.uint8([[[hue, 200, value]]])
        return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])

    def continue_from(self, keyframe):
        """Go on from ``keyframe`` as if this stand-in had just made it."""
        self.keyframe = np.ascontiguousarray(keyframe)

    def next_keyframe(self, seconds=None):
        """The next keyframe, (h, w, 3) uint8."""
        self.count += 1
        if self.hang_at is not None and self.count >= self.hang_at:
            while True:            # stuck, as an optimiser in a C loop would be
                time.sleep(3600)
        t0 = time.perf_counter()
        h, w = self.size
        if self.keyframe is None:
            image = np.full((h, w, 3), 128, np.uint8)
        else:
            image = warp(self.keyframe, self.motion.matrix(
                self.keyframe_seconds if seconds is None else seconds, self.size),
                np.empty_like(self.keyframe))
        for i in range(6):
            which = i % len(self.subject)           # class A below, B above
            y = self.rng.randint(h // 2) + (h // 2 if which == 0 else 0)
            # Shades of the subject's colour: blobs of one flat colour, zoomed
            # in keyframe after keyframe, would fill the picture and the
            # video would stand still (a soak's watcher saw 40 s of it).
            cv2.circle(image, (int(self.rng.randint(w)), int(min(y, h - 1))),
                       int(self.rng.randint(3, max(4, h // 8))),
                       self.colour(self.subject[which], int(self.rng.randint(90, 256))), -1)
        self.keyframe = image
        left = self.seconds - (time.perf_counter() - t0)
        if left > 0:
            time.sleep(left)
        return image
