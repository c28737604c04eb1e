"""Recipes: named sets of render settings, and the table of those settings.

Every setting has one name, one default and one help line, in
:data:`SETTINGS` (:func:`inception_art.loop.check` checks them all); a
recipe gives values to some of them, and a flag or a keyword argument
overrides any one. ``python -m inception_art.render
--recipe NAME`` picks a recipe; the default recipe is ``'default'``.

* ``default``: the best measured (docs/render.md, "Why these defaults"): a
  512x512 Fourier, decorrelated-colour image; at every step a random shift,
  scale and rotation of it, seen by the network average-pooled by 2 and by
  4; the 2015 Adam, 256 steps.
* ``2015``: the 2015 stills exactly (the 2015 image script):
  start from a photograph, whose size is the canvas; network views pooled by
  3 and 4; the 2015 Adam at lr 5; the Student-t prior at the stills' scales
  1..95; 100 steps; no jitter, no blur; strength 1000. That strength was
  set against VGG-16's logits (see :data:`STRENGTH_2015_VGG`).
* ``2015-stream``: the stream's settings: an 840x472 canvas seen at pool 1,
  the 2015 Adam, 10 steps, the prior at strength 10 at the stream's scales.
* ``keyframes``: the video's keyframes: the default's core at 448x252, seen
  at pool 1, 10 steps per keyframe (chosen on films of keyframes:
  ``bench/studies/keyframes.json``).
* ``live``: the live stream's keyframes: the same core on the 2015 stream's
  840x472 canvas, seen at pool 2 (so the network sees what it sees of the
  video's keyframes), 10 steps per keyframe (``bench/live.json``).
* ``classic``: this project's first defaults (pixels, Adam, jitter 16, a
  periodic blur, Student-t prior 10, 224x224), kept for comparison.
"""
from collections.abc import Mapping
from pathlib import Path

from . import nets
from .settings import (Setting, above, add_flags, at_least, between, defaults, given, numbers,
                       size)

#: The photograph the 2015 recipes start from: scikit-image's rocket.jpg
#: (a SpaceX launch photograph, released into the public domain), cropped to
#: 640x360. ``--init photo`` names it.
PHOTO = Path(__file__).parent / 'data' / 'rocket_640x360.jpg'

# The names of the choices the compiled step offers. They are written here,
# not read from the Theano modules that implement them (updates.RULES,
# param.KINDS, objectives.KINDS), so that reading the settings imports no
# Theano; tests/test_flags.py checks that the two agree.
RULES = ('adam', 'adam2015', 'gd')
PARAMS = ('pixels', 'fourier', 'phase')
OBJECTIVES = ('logit', 'logit-plain', 'prob', 'loglik')
PRIORS = ('none', 'gaussian', 'student')
PRIOR_SCALES = ('still', 'video')
#: The named start images; anything else is a photograph's path.
INITS = ('grey', 'noise', 'photo')


def _views(views):
    if tuple(views) == (0,):                    # none: the crops alone
        return None
    if not views or min(views) < 1:
        return 'needs pooling factors of at least 1, e.g. --views 2,4 (0: none, with --crops)'


def _scale(scale):
    if len(scale) == 1:
        scale = scale * 2
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        return 'takes LOW,HIGH with 0 < LOW <= HIGH, got %s' % ','.join('%g' % v for v in scale)


def _fractions(extent):
    if len(extent) != 2 or not 0 < extent[0] <= extent[1] <= 2:
        return 'takes LOW,HIGH with 0 < LOW <= HIGH <= 2, got %s' % ','.join(
            '%g' % v for v in extent)


def scale_range(text):
    """``'LOW,HIGH'`` or one value (both ends) -> (low, high)."""
    values = numbers(float)(text)
    return values * 2 if len(values) == 1 else values


#: Every render setting: its keyword name, default (the default recipe's),
#: help line, and what it allows. The flags of render, sheet, video and live
#: are made from it (:func:`inception_art.settings.add_flags`).
SETTINGS = (
    Setting('model', nets.DEFAULT, 'network that dreams', choices=nets.NAMES, stage='graph'),
    Setting('canvas', (512, 512), 'size of the optimised picture; None: the start '
                                  'photograph\'s size', type=size, metavar='WxH',
            stage='graph'),
    Setting('steps', 256, 'update steps in all (shared by the octaves); for a keyframe '
                          'recipe, per keyframe', type=int, check=at_least(1), stage='loop'),
    Setting('rule', 'adam2015', 'update rule (adam2015: the 2015 code\'s Adam)',
            choices=RULES, stage='graph'),
    Setting('lr', 0.05, 'learning rate, in the parameters\' units', type=float,
            check=above(0), stage='run'),
    Setting('param', 'fourier', 'image parameterisation', choices=PARAMS, stage='graph'),
    Setting('views', (2, 4), 'network views: the canvas average-pooled by these factors',
            type=numbers(int), check=_views, metavar='F[,F...]', stage='graph'),
    Setting('crops', 0, 'crops near the centre seen at every step, each resampled to '
                        '--crop-size (0: none)', type=int, check=at_least(0), stage='graph'),
    Setting('crop_size', 224, 'side of a crop as the network sees it, pixels', type=int,
            check=at_least(16), stage='graph'),
    Setting('crop_extent', (0.3, 0.6), 'a crop\'s side, a fraction of the canvas\'s shorter '
                                       'side: LOW,HIGH (uniform)', type=scale_range,
            check=_fractions, metavar='LOW,HIGH', stage='graph'),
    Setting('crop_spread', 0.15, 'standard deviation of a crop\'s centre, a fraction of '
                                 'the canvas', type=float, check=between(0, 1), stage='graph'),
    Setting('octaves', 1, 'optimise at this many sizes, smallest first', type=int,
            check=at_least(1), stage='loop'),
    Setting('octave_mode', 'resize', 'how an octave starts from the last: resize (the '
                                     'whole picture enlarged) or centre (enlarged halfway, '
                                     'in the middle of fresh noise)',
            choices=('resize', 'centre'), stage='loop'),
    Setting('octave_scale', 1.4, 'size ratio between octaves', type=float,
            check=at_least(1), stage='loop'),
    Setting('jitter', 0, 'random roll of the view per step, pixels', type=int,
            check=at_least(0), stage='run'),
    Setting('shift', 32.0, 'random shift of the view per step, pixels', type=float,
            check=at_least(0), stage='graph'),
    Setting('scale', (0.5, 1.5), 'random scale range of the view', type=scale_range,
            check=_scale, metavar='LOW,HIGH', stage='graph'),
    Setting('degrees', 30.0, 'random rotation of the view, degrees either way', type=float,
            check=between(0, 180), stage='graph'),
    Setting('blur', 0.0, 'Gaussian blur sigma every blur_every steps (0: none)', type=float,
            check=at_least(0), stage='loop'),
    Setting('blur_every', 4, 'steps between blurs (0: none)', type=int, check=at_least(0),
            stage='loop'),
    Setting('objective', 'logit', 'what to maximise (logit: the 2015 code\'s)',
            choices=OBJECTIVES, stage='graph'),
    Setting('prior', 'student', 'natural-image prior', choices=PRIORS, stage='graph'),
    Setting('prior_strength', 0.0, 'weight of the prior term', type=float,
            check=at_least(0), stage='run'),
    Setting('stats_strength', 0.0, 'weight of the network\'s own prior: its batch norms\' '
                                   'statistics (0: none)', type=float, check=at_least(0),
            stage='run'),
    Setting('transparency', 0.0, 'give the picture an opacity, seen over a new random '
                                 'backdrop each step, and charge this much for its mean '
                                 'opacity; shown over a calm ground (0: opaque; the '
                                 'Fourier image only, the others are opaque)', type=float,
            check=at_least(0), stage='run'),
    Setting('prior_scales', 'still', 'prior pooling scales: still (1..95) or video (1..32)',
            choices=PRIOR_SCALES, stage='graph'),
    Setting('prior_stride', 8, 'read the prior\'s patches this many pixels apart, on a grid '
                               'moved at random each step (1: every patch, as in 2015)',
            type=int, check=at_least(1), stage='graph'),
    Setting('init', 'grey', 'start image: grey, noise, photo (the shipped photograph) '
                            'or a path', metavar='grey|noise|photo|PATH', stage='loop'),
    Setting('seed', 0, 'random seed', type=int, stage='run'),
)
DEFAULTS = defaults(SETTINGS)

#: The Student-t prior strength of the 2015 stills, set against VGG-16's
#: logits. Keeping the same balance on another network means scaling it by
#: the ratio of the two networks' objective gradients with respect to the
#: pixels at the start photograph; VGG-16's cannot be measured without its
#: weights (none here), so every network uses 1000 (docs/render.md, "The
#: 2015 recipes", has the measured balance on Lite0).
STRENGTH_2015_VGG = 1000.0

RECIPES = {
    'default': {},
    '2015': dict(canvas=None, init='photo', rule='adam2015', lr=5.0, param='pixels',
                 views=(3, 4), octaves=1, jitter=0, shift=0.0, scale=(1.0, 1.0),
                 degrees=0.0, blur=0.0, prior='student', prior_scales='still',
                 prior_strength=STRENGTH_2015_VGG, prior_stride=1, steps=100),
    '2015-stream': dict(canvas=(472, 840), init='photo', rule='adam2015', lr=5.0,
                        param='pixels', views=(1,), octaves=1, jitter=0, shift=0.0,
                        scale=(1.0, 1.0), degrees=0.0, blur=0.0, prior='student',
                        prior_scales='video', prior_strength=10.0, prior_stride=1, steps=10),
    # The keyframes of the video and the live stream (inception_art.video.dream):
    # the default's core at the video's size, seen at pool 1; ``steps`` are
    # per keyframe. Chosen on keyframes (bench/studies/keyframes.json).
    'keyframes': dict(canvas=(252, 448), views=(1,), steps=10),
    # The live stream's: the 2015 stream's canvas; pool 2 keeps the network's
    # view at 420x236, the scale the video's keyframes are painted at, for a
    # third of pool 1's cost (bench/live.json).
    'live': dict(canvas=(472, 840), views=(2,), steps=10),
    'classic': dict(canvas=(224, 224), steps=200, rule='adam', lr=5.0, param='pixels',
                    views=(1,), octaves=1, jitter=16, shift=0.0, scale=(1.0, 1.0),
                    degrees=0.0, blur=0.5, blur_every=4, prior='student',
                    prior_scales='still', prior_strength=10.0, prior_stride=1, init='grey'),
}

#: The settings of each stage (:attr:`inception_art.settings.Setting.stage`).
STAGES = {stage: tuple(x.name for x in SETTINGS if x.stage == stage)
          for stage in ('graph', 'run', 'loop')}


def _frozen(value):
    """A setting's value as it is kept: sequences as tuples (JSON gives lists)."""
    return tuple(value) if isinstance(value, list) else value


class RenderSettings(Mapping):
    """Every render setting's value, resolved once (:func:`settings`) and
    frozen.

    Read it as a mapping (``s['steps']``) or by attribute (``s.steps``);
    :meth:`replace` gives a changed copy. Its parts by stage:

    * :attr:`graph`: what the compiled step is built from, the
      :class:`~inception_art.loop.Renderer`'s key;
    * :attr:`run`: the compiled step's shared variables, which
      :meth:`~inception_art.step.ImageOptimizer.restart` sets;
    * :attr:`loop`: what the render loop reads around the step.
    """

    __slots__ = ('recipe', '_values')

    def __init__(self, recipe, values):
        object.__setattr__(self, 'recipe', recipe)
        object.__setattr__(self, '_values', {k: _frozen(v) for k, v in values.items()})

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError('RenderSettings are frozen; use replace(%s=...)' % name)

    def __hash__(self):
        return hash(tuple(sorted(self._values.items(), key=lambda kv: kv[0])))

    def __repr__(self):
        return 'RenderSettings(%r, %r)' % (self.recipe, self._values)

    def __reduce__(self):          # to Dask workers and the live optimiser
        return (RenderSettings, (self.recipe, self._values))

    def replace(self, **changes):
        """A copy with ``changes`` (names as in :data:`SETTINGS`; None keeps
        the value)."""
        return settings(self.recipe, **dict(self._values, **changes))

    @property
    def prior_used(self):
        """The prior the step is built with: ``'none'`` at strength 0 too,
        where it would cost its full price for nothing."""
        return self['prior'] if self['prior_strength'] > 0 else 'none'

    @property
    def graph(self):
        """``{name: value}`` of the settings the compiled step depends on."""
        part = {k: self[k] for k in STAGES['graph']}
        part['prior'] = self.prior_used
        if part['prior'] == 'none':           # then these change nothing
            part.update(prior_scales=None, prior_stride=None)
        if not part['crops']:
            part.update(crop_size=None, crop_extent=None, crop_spread=None)
        # like the prior, the statistics term is left out at strength 0
        part['feature_statistics'] = self['stats_strength'] > 0
        # the opacity is a plane of the Fourier image: the others stay opaque
        part['transparent'] = self['transparency'] > 0 and self['param'] == 'fourier'
        return part

    @property
    def run(self):
        """``{name: value}`` of the compiled step's shared variables."""
        return {k: self[k] for k in STAGES['run']}

    @property
    def loop(self):
        """``{name: value}`` of what the render loop reads."""
        return {k: self[k] for k in STAGES['loop']}

    def key(self, canvas=None):
        """A hashable key of :attr:`graph`, at ``canvas`` (an octave's
        size) instead of the settings' own when given."""
        part = dict(self.graph, **({} if canvas is None else {'canvas': tuple(canvas)}))
        return tuple(sorted(part.items(), key=lambda kv: kv[0]))


def settings(recipe='default', **overrides):
    """The :class:`RenderSettings` of ``recipe`` with ``overrides`` (None:
    keep the recipe's); unknown names or recipes are one-line errors. This
    is where every command resolves its render settings, once."""
    if isinstance(recipe, RenderSettings):
        return recipe.replace(**overrides)
    if recipe not in RECIPES:
        raise ValueError('unknown recipe %r; choose one of: %s'
                         % (recipe, ', '.join(RECIPES)))
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError('unknown setting(s): %s' % ', '.join(sorted(unknown)))
    values = dict(DEFAULTS, **RECIPES[recipe])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RenderSettings(recipe, values)


def add_recipe_flags(parser, recipe='default', skip=()):
    """Add ``--recipe`` (default ``recipe``) and a flag for every render
    setting (but those named in ``skip``) to an argparse ``parser``; their
    help shows ``recipe``'s values."""
    parser.add_argument('--recipe', default=recipe, choices=tuple(RECIPES),
                        help='named render settings; each flag below overrides one '
                             '(default: %s)' % recipe)
    add_flags(parser, SETTINGS, defaults=settings(recipe), skip=skip)


def from_args(args):
    """The settings of ``args.recipe`` with the render flags given in
    ``args`` (argparse's namespace) over them."""
    return settings(args.recipe, **given(args, SETTINGS))
