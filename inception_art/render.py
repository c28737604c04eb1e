"""Class visualisation: ``python -m inception_art.render --class volcano``

Optimises an image so that a network sees the class in it and writes a PNG.
A second class (``--class2``) takes the upper half of the picture. The
settings come from a recipe (:mod:`inception_art.recipes`), each one
overridable by its own flag.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import imagenet, nets, recipes, views as network_views
from .cli import ArgumentParser, parse_size, run_main
from .images import check_writable, load_rgb, resize, save_png
from .objectives import KINDS, ClassObjective
from .param import KINDS as PARAMS
from .updates import RULES

DEFAULTS = recipes.DEFAULTS
PRIORS = ('none', 'gaussian', 'student')
PRIOR_SCALES = ('still', 'video')
INITS = ('grey', 'noise', 'photo')


def load_prior(kind, scales='still', stride=1):
    """The committed prior of ``kind`` at the ``'still'`` or ``'video'``
    pooling scales, reading patches ``stride`` pixels apart, or None for
    ``'none'``."""
    if kind == 'none':
        return None
    from .prior import STILL_SCALES, VIDEO_SCALES, PatchPrior, default_path
    return PatchPrior.load(default_path(kind),
                           scales=STILL_SCALES if scales == 'still' else VIDEO_SCALES,
                           stride=stride)


def initial_image(init, size, seed):
    """``'grey'``, ``'noise'``, ``'photo'`` or a photo's path -> an (h, w, 3)
    float array of ``size``."""
    h, w = size
    if init == 'grey':
        return np.full((h, w, 3), 128.0)
    if init == 'noise':
        return 128 + np.random.RandomState(seed).uniform(-32, 32, (h, w, 3))
    return resize(load_rgb(recipes.PHOTO if init == 'photo' else init), size).astype('float64')


def canvas_size(s):
    """The canvas (h, w) of settings ``s``: its ``size``, or the start
    photograph's when ``size`` is None."""
    if s['size'] is not None:
        return tuple(s['size'])
    if s['init'] in ('grey', 'noise'):
        raise ValueError('a recipe without a size needs a photograph to start from; '
                         'give --size WxH or --init PHOTO')
    return load_rgb(recipes.PHOTO if s['init'] == 'photo' else s['init']).shape[:2]


def octave_sizes(size, octaves, scale):
    """The canvas sizes of ``octaves`` octaves, smallest first, ending at
    ``size``; each is ``scale`` times the one before."""
    h, w = size
    return [(round(h / scale ** k), round(w / scale ** k)) for k in range(octaves - 1, -1, -1)]


def check(s):
    """Raise a one-line error for settings that cannot work; nothing is
    compiled before this passes."""
    if not callable(s['model']) and s['model'] not in nets.NAMES:
        raise ValueError('unknown model %r; choose one of: %s' % (s['model'], ', '.join(nets.NAMES)))
    for name, allowed in (('rule', RULES), ('param', PARAMS), ('objective', KINDS),
                          ('prior', PRIORS), ('prior_scales', PRIOR_SCALES)):
        if s[name] not in allowed:
            raise ValueError('unknown %s %r; choose one of: %s'
                             % (name.replace('_', '-'), s[name], ', '.join(allowed)))
    if not s['views']:
        raise ValueError('--views needs at least one pooling factor, e.g. --views 2,4')
    if s['steps'] < 1 or s['lr'] <= 0 or s['prior_stride'] < 1:
        raise ValueError('--steps and --prior-stride must be >= 1 and --lr > 0')
    if min(s['jitter'], s['shift'], s['degrees'], s['blur'], s['prior_strength']) < 0:
        raise ValueError('--jitter, --shift, --degrees, --blur and --prior-strength must be >= 0')
    low, high = s['scale']
    if not 0 < low <= high:
        raise ValueError('--scale LOW,HIGH needs 0 < LOW <= HIGH, got %g,%g' % (low, high))
    if s['octaves'] < 1 or s['octave_scale'] < 1:
        raise ValueError('--octaves must be >= 1 and --octave-scale >= 1')
    if s['octaves'] > s['steps']:
        raise ValueError('--octaves %d is more than --steps %d: every octave needs a step'
                         % (s['octaves'], s['steps']))
    if s['init'] not in INITS:
        load_rgb(s['init'])
    sizes = octave_sizes(canvas_size(s), s['octaves'], s['octave_scale'])
    if min(sizes[0]) < 16:
        raise ValueError('%d octaves of scale %g leave a %dx%d canvas; use fewer --octaves'
                         % (s['octaves'], s['octave_scale'], sizes[0][1], sizes[0][0]))
    try:
        network_views.check(s['model'], sizes[0], s['views'])
    except ValueError as e:
        if s['octaves'] == 1:
            raise
        raise ValueError('%s (at the first of %d octaves, %dx%d)'
                         % (e, s['octaves'], sizes[0][1], sizes[0][0])) from None


class Renderer:
    """Compiled steps, kept by what their graph depends on, so that many
    renders (an evaluation, a gallery) compile each only once."""

    def __init__(self):
        self._steps = {}

    def optimizer(self, s, size, layer=None):
        """The compiled :class:`~inception_art.step.ImageOptimizer` for
        settings ``s`` at canvas ``size``; with ``layer``, for a channel of
        that feature layer instead of a class."""
        from .objectives import ChannelObjective
        from .step import ImageOptimizer
        affine = dict(shift=s['shift'], scale=tuple(s['scale']), degrees=s['degrees'])
        # A prior at strength 0 would cost its full price for nothing.
        prior = s['prior'] if s['prior_strength'] > 0 else 'none'
        key = (s['model'], tuple(size), tuple(s['views']), s['param'], s['rule'],
               ('channel', layer) if layer else s['objective'], prior, s['prior_scales'],
               s['prior_stride'], tuple(sorted(affine.items())))
        if key not in self._steps:
            views = network_views.NetworkViews(s['model'], size, s['views'])
            self._steps[key] = ImageOptimizer(
                views, ChannelObjective(layer) if layer else ClassObjective(s['objective']),
                prior=load_prior(prior, s['prior_scales'], s['prior_stride']),
                optimizer=s['rule'], param=s['param'], affine=affine)
        return self._steps[key]


def blur_due(s, count, last):
    """Whether settings ``s`` blur the image after the ``count``-th step
    (from 1) of a run: every ``blur_every`` steps, never after the ``last``
    one (a picture is shown as it left the optimiser)."""
    return bool(s['blur'] and s['blur_every'] and count % s['blur_every'] == 0 and not last)


def render(classes, recipe='default', progress=True, optimizer=None, callback=None,
           renderer=None, layer=None, **overrides):
    """Render ``classes`` (one or two class indices) and return the picture.

    Parameters
    ----------
    classes : sequence of int
        ``(A,)`` or ``(A, B)``: A below, B above.
    recipe : str
        A name in :data:`inception_art.recipes.RECIPES`.
    **overrides
        Any setting of :data:`inception_art.recipes.SETTINGS` (its keyword
        name, default and meaning are listed there), e.g. ``steps=100``.
    progress : bool
        Show a progress bar (step, loss, logit, time left) on stderr.
    optimizer : ImageOptimizer, optional
        A compiled step to use (one octave at its size; its model, views,
        parameterisation, rule, objective and prior are then its own).
    callback : callable, optional
        Called as ``callback(step, loss, logit)`` after each step (from 0).
    renderer : Renderer, optional
        Where compiled steps are kept between calls.
    layer : str, optional
        Render a channel of this feature layer (``classes`` is then one
        channel index), the 2015 post's "top-level features".

    Returns
    -------
    (image, logit) : (h, w, 3) uint8 array, final target logit
    """
    s = recipes.settings(recipe, **overrides)
    if optimizer is not None:
        sizes = [optimizer.size]
    else:
        check(s)
        sizes = octave_sizes(canvas_size(s), s['octaves'], s['octave_scale'])
        renderer = renderer or Renderer()
    # Steps split as evenly as they go, the later octaves taking the rest.
    counts = [s['steps'] // len(sizes)] * len(sizes)
    counts[-1] += s['steps'] - sum(counts)
    image = initial_image(s['init'], sizes[0], s['seed'])
    # Every step compiles before the bar starts: its ETA counts steps only.
    steps = [optimizer] if optimizer else [renderer.optimizer(s, size, layer) for size in sizes]
    logit, done = float('nan'), 0
    # A context, so that a Ctrl-C closes the bar before the command's last line.
    with tqdm(total=s['steps'], unit='step', disable=not progress,
              bar_format='step {n_fmt}/{total_fmt} |{bar:20}| {desc} '
                         '[{elapsed}<{remaining}]') as bar:
        for size, count, opt in zip(sizes, counts, steps):
            opt.objective.set_classes(*classes)
            opt.jitter.pixels = s['jitter']
            opt.restart(resize_float(image, size), lr=s['lr'],
                        prior_strength=s['prior_strength'], seed=s['seed'] + done)
            for i in range(count):
                loss, logit = opt.step()
                if callback is not None:
                    callback(done, loss, logit)
                done += 1
                if blur_due(s, i + 1, last=done == s['steps']):
                    opt.blur(s['blur'])
                bar.set_description_str('loss %.2f logit %.2f' % (loss, logit), refresh=False)
                bar.update()
            image = opt.get_float_image()
    return np.round(np.clip(image, 0, 255)).astype('uint8'), logit


def resize_float(image, size):
    """Resize an (h, w, 3) float picture to ``size`` (bicubic, float)."""
    import cv2
    h, w = size
    image = np.asarray(image, dtype='float32')
    if image.shape[:2] == (h, w):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC)


def _pair(text, kind=float):
    try:
        values = tuple(kind(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a comma-separated list' % text) from None
    return values


def add_settings_flags(p):
    """Add a flag for every render setting (default: the recipe's)."""
    d = DEFAULTS
    p.add_argument('--recipe', default='default', choices=tuple(recipes.RECIPES),
                   help='named settings; each flag below overrides one (default: default)')
    p.add_argument('--model', choices=nets.NAMES, help='network (default: %s)' % d['model'])
    p.add_argument('--size', metavar='WxH', help='canvas (default: %dx%d)' % d['size'][::-1])
    p.add_argument('--steps', type=int, help='update steps (default: %d)' % d['steps'])
    p.add_argument('--rule', choices=tuple(RULES), help='update rule (default: %s)' % d['rule'])
    p.add_argument('--lr', type=float, help='learning rate (default: %g)' % d['lr'])
    p.add_argument('--param', choices=PARAMS,
                   help='image parameterisation (default: %s)' % d['param'])
    p.add_argument('--views', type=lambda t: _pair(t, int), metavar='F[,F...]',
                   help='network views pooled by these factors (default: %s)'
                        % ','.join(map(str, d['views'])))
    p.add_argument('--octaves', type=int, help='sizes, smallest first (default: %d)' % d['octaves'])
    p.add_argument('--octave-scale', type=float,
                   help='size ratio between octaves (default: %g)' % d['octave_scale'])
    p.add_argument('--jitter', type=int, help='random roll per step, pixels (default: %d)'
                                              % d['jitter'])
    p.add_argument('--shift', type=float, help='random shift per step, pixels (default: %g)'
                                               % d['shift'])
    p.add_argument('--scale', type=_pair, metavar='LOW,HIGH',
                   help='random scale range per step (default: %g,%g)' % d['scale'])
    p.add_argument('--degrees', type=float,
                   help='random rotation per step, degrees either way (default: %g)' % d['degrees'])
    p.add_argument('--blur', type=float, help='blur sigma every --blur-every steps, 0 = off '
                                              '(default: %g)' % d['blur'])
    p.add_argument('--blur-every', type=int, help='(default: %d)' % d['blur_every'])
    p.add_argument('--objective', choices=KINDS, help='what to maximise (default: %s, as in '
                                                      '2015)' % d['objective'])
    p.add_argument('--prior', choices=PRIORS, help='natural-image prior (default: %s)' % d['prior'])
    p.add_argument('--prior-strength', type=float,
                   help='weight of the prior term (default: %g)' % d['prior_strength'])
    p.add_argument('--prior-scales', choices=PRIOR_SCALES,
                   help='prior pooling scales (default: %s)' % d['prior_scales'])
    p.add_argument('--prior-stride', type=int,
                   help='prior patches this many pixels apart, on a grid moved at random '
                        'each step (default: %d)' % d['prior_stride'])
    p.add_argument('--init', metavar='grey|noise|photo|PHOTO',
                   help='start image (default: %s; photo: the shipped photograph)' % d['init'])
    p.add_argument('--seed', type=int, help='random seed (default: %d)' % d['seed'])


def settings_from_args(args):
    """The recipe's settings with the flags given on the command line."""
    names = [s.name for s in recipes.SETTINGS]
    overrides = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if 'size' in overrides:
        overrides['size'] = parse_size(overrides['size'])
    if 'scale' in overrides and len(overrides['scale']) == 1:
        overrides['scale'] = overrides['scale'] * 2
    if 'scale' in overrides and len(overrides['scale']) != 2:
        raise ValueError('--scale takes LOW,HIGH or one value')
    s = recipes.settings(args.recipe, **overrides)
    check(s)
    return s


def parse_args(argv=None):
    p = ArgumentParser(prog='python -m inception_art.render',
                                description=__doc__.splitlines()[0])
    p.add_argument('--class', dest='class_', required=True, metavar='NAME',
                   help='class: a label word (volcano), a full label, an index '
                        'or a WordNet id')
    p.add_argument('--class2', metavar='NAME', help='a second class, on the upper half')
    add_settings_flags(p)
    p.add_argument('--out', metavar='PATH',
                   help='PNG to write (default: renders/CLASS.png)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Every check runs before the network is built: errors come in a second.
    classes = [imagenet.resolve(args.class_)]
    if args.class2:
        classes.append(imagenet.resolve(args.class2))
    s = settings_from_args(args)
    load_prior(s['prior'])   # a missing prior file fails now, not after compiling
    names = '+'.join(imagenet.short_name(c).replace(' ', '_') for c in classes)
    out = Path(args.out or Path('renders') / (names + '.png'))
    if args.out is None:
        out.parent.mkdir(exist_ok=True)
    check_writable(out)
    image, logit = render(classes, recipe='default', **s)
    save_png(image, out)
    print('%s: %s, logit %.2f (%s, %s, %d steps)' % (
        out, ' + '.join(imagenet.LABELS[c] for c in classes), logit, s['model'],
        args.recipe, s['steps']))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
