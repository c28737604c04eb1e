"""The keyframe loop of the zooming dream, as the 2015 stream ran it.

Each keyframe starts from the previous one zoomed forward by the time
between them (about the centre, turning a little), and is then optimised for
a few Adam steps, Adam's moments reset, towards the current subject: one
class, or two on the two halves of the picture. Between keyframes the video
is interpolated (:mod:`inception_art.interpolate`).

:class:`Dream` owns one compiled optimiser, built once: changing the subject
sets the objective's shared class variables and never recompiles. It does no
file or terminal I/O, so the video writer and the live stream both drive it.
"""
import numpy as np

from . import nets
# In imagenet (no Theano there, for the live mode); still importable from here.
from .imagenet import parse_subject, subject_text
from .objectives import ClassObjective
from .recipes import RECIPES
from .step import ImageOptimizer
from .zoom import Motion, warp

#: The keyframes keep the first stills recipe until the video moves to the
#: new core (issue 12).
RENDER_DEFAULTS = RECIPES['classic']
#: Defaults of the keyframe loop (see README, "Video", for the measurements).
DEFAULTS = dict(model=nets.DEFAULT, opt_size=(252, 448), steps=10, warmup_steps=100,
                zoom=1.05,
                degrees_per_frame=0.01, fps=25.0, keyframe_seconds=3.0,
                prior='student', prior_strength=RENDER_DEFAULTS['prior_strength'],
                lr=RENDER_DEFAULTS['lr'], jitter=RENDER_DEFAULTS['jitter'],
                blur=RENDER_DEFAULTS['blur'], blur_every=RENDER_DEFAULTS['blur_every'],
                seed=0)


def load_video_prior(kind):
    """The committed prior of ``kind`` at the 2015 stream's pooling scales
    (1, 4, 8, 16, 32), or None for ``'none'``."""
    if kind == 'none':
        return None
    from .prior import VIDEO_SCALES, PatchPrior, default_path
    return PatchPrior.load(default_path(kind), scales=VIDEO_SCALES)


class Dream:
    """Keyframes of a zooming dream, one per call.

    Parameters
    ----------
    model : str
        Network name (:data:`inception_art.nets.NAMES`); ignored if
        ``network`` is given.
    opt_size : (h, w)
        Size of the optimised image (the keyframes). The network is built
        for this size (EfficientNet-Lite layers are fixed-size).
    steps : int
        Adam steps per keyframe (10 in 2015).
    warmup_steps : int
        Adam steps of the first keyframe, which starts from grey: the 2015
        stream had been dreaming for hours at any moment, a film starts cold.
        (0: the same as ``steps``.)
    zoom : float
        Magnification per second about the centre (1.05 in 2015).
    degrees_per_frame, fps : float
        Rotation per *output* frame, anticlockwise, and the output frame
        rate that turns it into degrees per second (2015: 0.01 at 25 fps).
    keyframe_seconds : float
        Video time between keyframes: how far each keyframe is zoomed
        forward before it is optimised.
    prior : {'none', 'gaussian', 'student'}
        Natural-image prior, at the stream's pooling scales (1, 4, 8, 16, 32).
    prior_strength, lr, jitter, blur, blur_every
        As for :func:`inception_art.render.render`.
    seed : int
        Seed of the jitter.
    network : inception_art.nets.network.Network, optional
        A network already built (its size is the ``opt_size``).

    Examples
    --------
    >>> dream = Dream()                                   # doctest: +SKIP
    >>> dream.set_subject('volcano+jellyfish')            # doctest: +SKIP
    >>> k0, k1 = dream.next_keyframe(), dream.next_keyframe()  # doctest: +SKIP
    """

    def __init__(self, model=DEFAULTS['model'], opt_size=DEFAULTS['opt_size'],
                 steps=DEFAULTS['steps'], warmup_steps=DEFAULTS['warmup_steps'],
                 zoom=DEFAULTS['zoom'],
                 degrees_per_frame=DEFAULTS['degrees_per_frame'], fps=DEFAULTS['fps'],
                 keyframe_seconds=DEFAULTS['keyframe_seconds'], prior=DEFAULTS['prior'],
                 prior_strength=DEFAULTS['prior_strength'], lr=DEFAULTS['lr'],
                 jitter=DEFAULTS['jitter'], blur=DEFAULTS['blur'],
                 blur_every=DEFAULTS['blur_every'], seed=DEFAULTS['seed'], network=None):
        if (steps < 1 or warmup_steps < 0 or not keyframe_seconds > 0 or not fps > 0
                or not zoom > 0):
            raise ValueError('steps must be >= 1, warmup_steps >= 0; keyframe_seconds, '
                             'fps and zoom > 0')
        if network is None:
            network = nets.build(model, tuple(opt_size))
        self.size = tuple(network.size)
        self.motion = Motion(zoom, degrees_per_frame * fps)
        self.steps, self.keyframe_seconds = int(steps), float(keyframe_seconds)
        self.warmup_steps = int(warmup_steps)
        self.blur, self.blur_every = blur, blur_every
        self.optimizer = ImageOptimizer(network, ClassObjective('logit'), lr=lr,
                                        jitter=jitter, prior=load_video_prior(prior),
                                        prior_strength=prior_strength, seed=seed)
        self.subject = self.optimizer.objective.classes[:1]
        self.keyframe = None
        #: Target logit after the last keyframe's final step.
        self.logit = float('nan')
        self._start = np.full(self.size + (3,), 128, np.float32)

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
        """An :class:`~inception_art.interpolate.Interpolator` from this
        dream's keyframes to frames of ``out_size`` (H, W), with the same
        motion."""
        from .interpolate import Interpolator
        return Interpolator(self.motion, self.size, out_size)

    def next_keyframe(self, seconds=None):
        """Optimise and return the next keyframe, (h, w, 3) uint8.

        Parameters
        ----------
        seconds : float, optional
            Video time since the previous keyframe (default
            ``keyframe_seconds``): the previous keyframe is zoomed forward by
            that much before it is optimised. The first keyframe starts from
            grey and takes ``max(steps, warmup_steps)`` steps.
        """
        opt = self.optimizer
        steps = self.steps
        if self.keyframe is None:
            opt.set_image(self._start)
            steps = max(steps, self.warmup_steps)
        else:
            # Zoom the float image, not the rounded keyframe: repeated
            # rounding would add a little quantisation noise each time.
            current = np.ascontiguousarray(opt.get_float_image())
            moved = warp(current, self.motion.matrix(
                self.keyframe_seconds if seconds is None else seconds, self.size),
                np.empty_like(current))
            opt.set_image(moved)
        opt.rule.reset()
        for i in range(steps):
            _, self.logit = opt.step()
            # Blur as render does, but never after the last step: a keyframe
            # is shown as it left the optimiser.
            if self.blur and self.blur_every and (i + 1) % self.blur_every == 0 \
                    and i + 1 < steps:
                opt.blur(self.blur)
        self.keyframe = np.ascontiguousarray(opt.get_image())
        return self.keyframe
