"""Recipes: named sets of render settings, and the table of those settings.

Every setting has one name, one default and one help line, in
:data:`SETTINGS` (:func:`inception_art.render.check` checks them all); a
recipe gives values to some of them, and a flag or a keyword argument
overrides any one. ``python -m inception_art.render
--recipe NAME`` picks a recipe; the default recipe is ``'default'``.

* ``default``: the best measured (README, "Choosing the defaults"): a
  512x512 Fourier, decorrelated-colour image; at every step a random shift,
  scale and rotation of it, seen by the network average-pooled by 2 and by
  4; the 2015 Adam, 256 steps.
* ``2015``: the 2015 stills exactly (``../shared/ORIGINAL.md``, Stills):
  start from a photograph, whose size is the canvas; network views pooled by
  3 and 4; the 2015 Adam at lr 5; the Student-t prior at the stills' scales
  1..95; 100 steps; no jitter, no blur; strength 1000. That strength was
  set against VGG-16's logits (see :data:`STRENGTH_2015_VGG`).
* ``2015-stream``: the stream's settings: an 840x472 canvas seen at pool 1,
  the 2015 Adam, 10 steps, the prior at strength 10 at the stream's scales.
* ``keyframes``: the video's and the live stream's keyframes: the default's
  core at 448x252, seen at pool 1, 10 steps per keyframe (chosen on films of
  keyframes: ``bench/keyframes.json``).
* ``classic``: this project's first defaults (pixels, Adam, jitter 16, a
  periodic blur, Student-t prior 10, 224x224), kept for comparison.
"""
from dataclasses import dataclass
from pathlib import Path

#: The photograph the 2015 recipes start from: scikit-image's rocket.jpg
#: (a SpaceX launch photograph, released into the public domain), cropped to
#: 640x360. ``--init photo`` names it.
PHOTO = Path(__file__).parent / 'data' / 'rocket_640x360.jpg'


@dataclass(frozen=True)
class Setting:
    """One render setting: its keyword name, default (the default
    recipe's) and help line."""
    name: str
    default: object
    help: str


SETTINGS = (
    Setting('model', 'efficientnet-lite0', 'network that dreams'),
    Setting('size', (512, 512), 'canvas (h, w); None: the start photograph\'s size'),
    Setting('steps', 256, 'update steps in all (shared by the octaves)'),
    Setting('rule', 'adam2015', 'update rule: adam, adam2015 (the 2015 code\'s) or gd'),
    Setting('lr', 0.05, 'learning rate, in the parameters\' units'),
    Setting('param', 'fourier', 'image parameterisation: pixels or fourier'),
    Setting('views', (2, 4), 'network views: the canvas average-pooled by these factors'),
    Setting('octaves', 1, 'optimise at this many sizes, smallest first'),
    Setting('octave_scale', 1.4, 'size ratio between octaves'),
    Setting('jitter', 0, 'random roll of the view per step, pixels'),
    Setting('shift', 32.0, 'random shift of the view per step, pixels'),
    Setting('scale', (0.5, 1.5), 'random scale range of the view'),
    Setting('degrees', 30.0, 'random rotation of the view, degrees either way'),
    Setting('blur', 0.0, 'Gaussian blur sigma every blur_every steps (0: none)'),
    Setting('blur_every', 4, 'steps between blurs'),
    Setting('objective', 'logit', 'what to maximise'),
    Setting('prior', 'student', 'natural-image prior: none, gaussian or student'),
    Setting('prior_strength', 0.0, 'weight of the prior term'),
    Setting('prior_scales', 'still', 'prior pooling scales: still (1..95) or video (1..32)'),
    Setting('prior_stride', 8, 'read the prior\'s patches this many pixels apart, on a grid '
                               'moved at random each step (1: every patch, as in 2015)'),
    Setting('init', 'grey', 'start image: grey, noise, photo (the shipped photograph) '
                            'or a path'),
    Setting('seed', 0, 'random seed'),
)
DEFAULTS = {s.name: s.default for s in SETTINGS}

#: The Student-t prior strength of the 2015 stills, set against VGG-16's
#: logits. Keeping the same balance on another network means scaling it by
#: the ratio of the two networks' objective gradients with respect to the
#: pixels at the start photograph; VGG-16's cannot be measured without its
#: weights (none here), so every network uses 1000 (README, "The 2015
#: recipes", has the measured balance on Lite0).
STRENGTH_2015_VGG = 1000.0

RECIPES = {
    'default': {},
    '2015': dict(size=None, init='photo', rule='adam2015', lr=5.0, param='pixels',
                 views=(3, 4), octaves=1, jitter=0, shift=0.0, scale=(1.0, 1.0),
                 degrees=0.0, blur=0.0, prior='student', prior_scales='still',
                 prior_strength=STRENGTH_2015_VGG, prior_stride=1, steps=100),
    '2015-stream': dict(size=(472, 840), init='photo', rule='adam2015', lr=5.0,
                        param='pixels', views=(1,), octaves=1, jitter=0, shift=0.0,
                        scale=(1.0, 1.0), degrees=0.0, blur=0.0, prior='student',
                        prior_scales='video', prior_strength=10.0, prior_stride=1, steps=10),
    # The keyframes of the video and the live stream (inception_art.dream):
    # the default's core at the video's size, seen at pool 1; ``steps`` are
    # per keyframe. Chosen on keyframes (bench/keyframes.json).
    'keyframes': dict(size=(252, 448), views=(1,), steps=10),
    'classic': dict(size=(224, 224), steps=200, rule='adam', lr=5.0, param='pixels',
                    views=(1,), octaves=1, jitter=16, shift=0.0, scale=(1.0, 1.0),
                    degrees=0.0, blur=0.5, blur_every=4, prior='student',
                    prior_scales='still', prior_strength=10.0, prior_stride=1, init='grey'),
}

def settings(recipe='default', **overrides):
    """The full settings of ``recipe`` with ``overrides`` (None: keep the
    recipe's); unknown names or recipes are one-line errors."""
    if recipe not in RECIPES:
        raise ValueError('unknown recipe %r; choose one of: %s'
                         % (recipe, ', '.join(RECIPES)))
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError('unknown setting(s): %s' % ', '.join(sorted(unknown)))
    result = dict(DEFAULTS, **RECIPES[recipe])
    result.update({k: v for k, v in overrides.items() if v is not None})
    return result
