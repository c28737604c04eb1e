"""The keyframe loop of the zooming dream, as the 2015 stream ran it.

Each keyframe starts from the previous one zoomed forward by the time
between them (about the centre, turning a little), and is then optimised for
a few steps, the update rule's state reset, towards the current subject: one
class, or two on the two halves of the picture. Between keyframes the video
is interpolated (:mod:`inception_art.video.interpolate`).

The optimisation is the stills' core (:mod:`inception_art.step`), set by a
recipe of :mod:`inception_art.recipes` whose ``steps`` are the steps per
keyframe: ``keyframes`` by default (chosen on keyframes: docs/video.md),
``2015-stream`` for the 2015 stream's settings. With a Fourier image the
zoomed keyframe goes back into the parameters through the
parameterisation's exact inverse (the "jump" of
``bench/studies/keyframes.json``: 0.000 grey levels).

:class:`Dream` owns one compiled step, built once: changing the subject
sets the objective's shared class variables and never recompiles. It does no
file or terminal I/O, so the video writer and the live stream both drive it.
"""
import math

import numpy as np

from .. import recipes
from ..loop import Renderer, check, initial_image
from ..imagenet import parse_subject, subject_text
from ..settings import Setting, above, at_least, between, defaults, size, validate
from .zoom import Motion, warp

#: The recipe of the keyframes unless one is named.
RECIPE = 'keyframes'


def _fps(fps):
    if not (math.isfinite(fps) and 0 < fps <= 120):
        return 'must be above 0 and at most 120, got %g' % fps


#: The keyframe loop's own settings: the frames' size and the motion (see
#: docs/video.md for the measurements); the render settings, the
#: keyframes' canvas among them, come from the recipe (:func:`keyframe_settings`).
#: Video and live take them all.
SETTINGS = (
    Setting('frame_size', (576, 1024), 'size of the video\'s frames (a GIF\'s: 512x288)',
            type=size, metavar='WxH'),
    Setting('warmup_steps', 100, 'steps of the first keyframe, from the recipe\'s start '
                                 'image', type=int, check=at_least(0)),
    Setting('zoom', 1.05, 'magnification per second, about the centre (1: none)',
            type=float, check=between(1, 4)),
    Setting('degrees_per_frame', 0.01, 'turn per output frame, anticlockwise', type=float,
            check=between(-10, 10)),
    Setting('fps', 25.0, 'video frames per second', type=float, check=_fps),
    Setting('keyframe_seconds', 3.0, 'video seconds between keyframes', type=float,
            check=above(0)),
)
DEFAULTS = dict(defaults(SETTINGS), recipe=RECIPE)
#: The motion: what :class:`Dream` takes besides its render settings.
MOTION = ('warmup_steps', 'zoom', 'degrees_per_frame', 'fps', 'keyframe_seconds')
#: Render settings a keyframe does not take: it is one canvas.
NOT_KEYFRAME = ('octaves', 'octave_scale', 'octave_mode')
#: The default canvas is the frames' shape at most this wide (448x252 for
#: 1024x576: docs/video.md has the measurements).
CANVAS_WIDTH = 448


def same_shape(a, b):
    """Whether sizes ``a`` and ``b`` (h, w) have the same aspect ratio, to 2%."""
    return abs(math.log((a[1] / a[0]) / (b[1] / b[0]))) <= 0.02


def default_canvas(frame_size):
    """The keyframes' canvas for frames of ``frame_size`` (h, w): the same
    aspect, at most :data:`CANVAS_WIDTH` wide, sides multiples of 4."""
    h, w = frame_size
    scale = min(1.0, CANVAS_WIDTH / w)
    return max(32, 4 * round(h * scale / 4)), max(32, 4 * round(w * scale / 4))


def keyframe_settings(recipe=RECIPE, frame_size=None, canvas=None, **overrides):
    """The render settings of the keyframes of a video of ``frame_size``:
    ``recipe`` with ``overrides`` on one canvas (no octaves). Video, live
    and the benchmarks all take their keyframe canvas from here.

    The canvas is ``canvas``, which must have the frames' shape; else the
    recipe's own canvas when it has the frames' shape and is no wider than
    them (``2015-stream``: 840x472 for 1024x576 frames); else
    :func:`default_canvas`. Without ``frame_size`` (a library's keyframes,
    no video) ``canvas`` is taken as it is, or the default frames' is used.
    Raises a one-line ValueError naming the flags.
    """
    given = sorted(set(overrides) & set(NOT_KEYFRAME + ('canvas',)))
    if given:
        raise ValueError('a keyframe is one canvas: give canvas=, not %s' % ', '.join(given))
    own = recipes.settings(recipe, **overrides)
    frame_size = tuple(frame_size or canvas or DEFAULTS['frame_size'])
    if canvas is not None:
        canvas = tuple(canvas)
        if not same_shape(canvas, frame_size):
            raise ValueError('--canvas %dx%d and --frame-size %dx%d differ in shape; give '
                             'both the same aspect ratio' % (canvas[::-1] + frame_size[::-1]))
    elif own['canvas'] and own['canvas'][1] <= frame_size[1] and same_shape(own['canvas'],
                                                                              frame_size):
        canvas = own['canvas']
    else:
        canvas = default_canvas(frame_size)
    return own.replace(canvas=canvas, octaves=1)


class Dream:
    """Keyframes of a zooming dream, one per call.

    Parameters
    ----------
    settings : RenderSettings, optional
        The keyframes' render settings, from :func:`keyframe_settings`
        (default: the ``keyframes`` recipe for 1024x576 frames); its
        ``canvas`` is the keyframes' size and its ``steps`` the steps of each keyframe
        (10 in 2015).
    warmup_steps : int
        Steps of the first keyframe, which starts from the recipe's start
        image: the 2015 stream had been dreaming for hours at any moment, a
        film starts cold. (0: the same as ``steps``.)
    zoom : float
        Magnification per second about the centre (1.05 in 2015).
    degrees_per_frame, fps : float
        Rotation per *output* frame, anticlockwise, and the output frame
        rate that turns it into degrees per second (2015: 0.01 at 25 fps).
    keyframe_seconds : float
        Video time between keyframes: how far each keyframe is zoomed
        forward before it is optimised.
    renderer : inception_art.loop.Renderer, optional
        Where the compiled step is kept (and found, if already built).

    Examples
    --------
    >>> dream = Dream(keyframe_settings('2015-stream'))   # doctest: +SKIP
    >>> dream.set_subject('volcano+jellyfish')            # doctest: +SKIP
    >>> k0, k1 = dream.next_keyframe(), dream.next_keyframe()  # doctest: +SKIP
    """

    def __init__(self, settings=None, warmup_steps=DEFAULTS['warmup_steps'],
                 zoom=DEFAULTS['zoom'], degrees_per_frame=DEFAULTS['degrees_per_frame'],
                 fps=DEFAULTS['fps'], keyframe_seconds=DEFAULTS['keyframe_seconds'],
                 renderer=None):
        validate(dict(warmup_steps=warmup_steps, zoom=zoom,
                      degrees_per_frame=degrees_per_frame, fps=fps,
                      keyframe_seconds=keyframe_seconds), SETTINGS)
        s = settings if settings is not None else keyframe_settings()
        if not isinstance(s, recipes.RenderSettings) or s['octaves'] != 1:
            raise TypeError('Dream takes the RenderSettings of keyframe_settings()')
        check(s)
        self.settings, self.size = s, s['canvas']
        self.motion = Motion(zoom, degrees_per_frame * fps)
        #: Steps per keyframe; the live worker lowers it to keep pace.
        self.steps = int(s['steps'])
        self.keyframe_seconds = float(keyframe_seconds)
        self.warmup_steps = int(warmup_steps)
        self.optimizer = (renderer or Renderer()).optimizer(s, self.size)
        self.optimizer.restart(self.start_image(), s.run)
        self.subject = self.optimizer.objective.classes[:1]
        self.keyframe = None
        #: Target logit after the last keyframe's final step.
        self.logit = float('nan')

    def start_image(self):
        """The first keyframe's start: the recipe's ``init`` at the keyframe size."""
        s = self.settings
        return initial_image(s['init'], self.size, s['seed']).astype('float32')

    @property
    def next_steps(self):
        """Steps the next keyframe takes: ``steps``, and at least
        ``warmup_steps`` for the first."""
        return self.steps if self.keyframe is not None else max(self.steps, self.warmup_steps)

    @property
    def subject_text(self):
        """The current subject as text, e.g. ``'volcano + jellyfish'``."""
        return subject_text(self.subject)

    def set_subject(self, subject):
        """Dream of ``subject`` from the next keyframe on.

        ``subject`` is anything :func:`parse_subject` takes; returns the
        classes as a tuple. Nothing recompiles.
        """
        classes = parse_subject(subject)
        self.optimizer.objective.set_classes(*classes)
        self.subject = classes
        return classes

    def interpolator(self, out_size):
        """An :class:`~inception_art.video.interpolate.Interpolator` from this
        dream's keyframes to frames of ``out_size`` (H, W), with the same
        motion."""
        from .interpolate import Interpolator
        return Interpolator(self.motion, self.size, out_size)

    def continue_from(self, keyframe):
        """Go on from ``keyframe`` ((h, w, 3), 0..255) as if this dream had
        just made it: the next keyframe is it zoomed forward (the live
        worker's restart)."""
        self.optimizer.set_image(np.asarray(keyframe, dtype='float32'))
        self.keyframe = np.ascontiguousarray(keyframe)

    def next_keyframe(self, seconds=None):
        """Optimise and return the next keyframe, (h, w, 3) uint8.

        Parameters
        ----------
        seconds : float, optional
            Video time since the previous keyframe (default
            ``keyframe_seconds``): the previous keyframe is zoomed forward by
            that much before it is optimised. The first keyframe starts from
            :meth:`start_image` and takes ``max(steps, warmup_steps)`` steps.
        """
        opt, s = self.optimizer, self.settings
        steps = self.next_steps
        if self.keyframe is None:
            moved = self.start_image()
        else:
            # Zoom the float image, not the rounded keyframe: repeated
            # rounding would add a little quantisation noise each time.
            current = np.ascontiguousarray(opt.get_float_image())
            moved = warp(current, self.motion.matrix(
                self.keyframe_seconds if seconds is None else seconds, self.size),
                np.empty_like(current))
        # The update rule starts afresh at every keyframe, as in 2015.
        opt.restart(moved)
        _, self.logit = opt.run(steps, s['blur'], s['blur_every'])
        self.keyframe = np.ascontiguousarray(opt.get_image())
        return self.keyframe
