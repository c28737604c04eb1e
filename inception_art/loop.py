"""The render loop: settings -> compiled steps -> a picture.

:func:`render` turns a recipe (:mod:`inception_art.recipes`) and any
overrides into a picture: it checks the settings (:func:`check`), gets the
compiled steps from a :class:`Renderer` (kept between renders, so a
gallery or a comparison compiles each only once), and runs the steps over
the octaves (:meth:`~inception_art.step.ImageOptimizer.run`). The
keyframe loop (:mod:`inception_art.video.dream`) uses the same parts.
``python -m inception_art.render`` is the command over it.
"""
import sys

import numpy as np
from tqdm import tqdm

from . import recipes, views as network_views
from .images import load_rgb, resize, resize_float
from .settings import validate


def load_prior(kind, scales='still', stride=1):
    """The committed prior of ``kind`` at the ``'still'`` or ``'video'``
    pooling scales, reading patches ``stride`` pixels apart, or None for
    ``'none'``."""
    if kind == 'none':
        return None
    from .prior import STILL_SCALES, VIDEO_SCALES, PatchPrior
    from .prior_file import default_path
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
    """The canvas (h, w) of settings ``s``: its ``canvas``, or the start
    photograph's when ``canvas`` is None."""
    if s['canvas'] is not None:
        return tuple(s['canvas'])
    if s['init'] in ('grey', 'noise'):
        raise ValueError('a recipe without a canvas needs a photograph to start from; '
                         'give --canvas WxH or --init PHOTO')
    return load_rgb(recipes.PHOTO if s['init'] == 'photo' else s['init']).shape[:2]


def grow_into_centre(image, size, border):
    """The next octave's start when it grows from the centre: ``image``
    enlarged to halfway between its own size and ``size``, in the middle of
    ``border`` (the new canvas's start: fresh noise). The object grows
    outward from the middle instead of being stretched over the canvas
    (Ghiasi et al. 2022, "Plug-In Inversion")."""
    h, w = size
    ih, iw = image.shape[:2]
    gh, gw = min(h, round((ih + h) / 2)), min(w, round((iw + w) / 2))
    out = np.array(border, dtype='float32')
    top, left = (h - gh) // 2, (w - gw) // 2
    out[top:top + gh, left:left + gw] = resize_float(image, (gh, gw))
    return out


def octave_sizes(size, octaves, scale):
    """The canvas sizes of ``octaves`` octaves, smallest first, ending at
    ``size``; each is ``scale`` times the one before."""
    h, w = size
    return [(round(h / scale ** k), round(w / scale ** k)) for k in range(octaves - 1, -1, -1)]


def view_factors(views):
    """The pooling factors of setting ``views``: ``(0,)`` is none."""
    return () if tuple(views) == (0,) else tuple(views)


def check(s):
    """Raise a one-line error for settings that cannot work; nothing is
    compiled before this passes.

    ``s`` is a :class:`~inception_art.recipes.RenderSettings`. Each setting
    alone is checked by its row of :data:`inception_art.recipes.SETTINGS`;
    here also what needs several (octaves against steps, the canvas against
    the network) or a file (the start photograph, VGG's weights, the prior).
    Every command calls it, before anything starts; it imports no Theano.
    """
    # A model may be a function that builds a network (the tests' small ones).
    validate(dict(s, model=None) if callable(s['model']) else s, recipes.SETTINGS)
    if s['octaves'] > s['steps']:
        raise ValueError('--octaves %d is more than --steps %d: every octave needs a step'
                         % (s['octaves'], s['steps']))
    if s['init'] not in recipes.INITS:
        load_rgb(s['init'])
    sizes = octave_sizes(canvas_size(s), s['octaves'], s['octave_scale'])
    if min(sizes[0]) < 16:
        raise ValueError('%d octaves of scale %g leave a %dx%d canvas; use fewer --octaves'
                         % (s['octaves'], s['octave_scale'], sizes[0][1], sizes[0][0]))
    if s['stats_strength'] > 0 and not callable(s['model']) and s['model'].startswith('vgg'):
        raise ValueError('--stats-strength needs a network with batch norms '
                         '(efficientnet-lite0/1/2); %s has none' % s['model'])
    if view_factors(s['views']) == () and not s['crops']:
        raise ValueError('--views 0 leaves the network nothing to see; give --crops N too')
    if s['crops'] and not callable(s['model']):
        from . import nets
        if s['crop_size'] < nets.min_size(s['model']):
            raise ValueError('--crop-size %d is below %s\'s minimum %d'
                             % (s['crop_size'], s['model'], nets.min_size(s['model'])))
    try:
        network_views.check(s['model'], sizes[0], view_factors(s['views']))
    except ValueError as e:
        if s['octaves'] == 1:
            raise
        raise ValueError('%s (at the first of %d octaves, %dx%d)'
                         % (e, s['octaves'], sizes[0][1], sizes[0][0])) from None
    if not callable(s['model']) and s['model'].startswith('vgg'):
        from .nets.vgg import default_path
        default_path(int(s['model'][3:]))   # a one-line error where there is none
    if s.prior_used != 'none':
        from . import prior_file
        prior_file.read(prior_file.default_path(s.prior_used))


class Renderer:
    """Compiled steps, kept by what their graph depends on, so that many
    renders (an evaluation, a gallery) compile each only once."""

    def __init__(self, announce=False):
        self._steps = {}
        #: Say on stderr when a step compiles (the commands with progress bars).
        self.announce = announce

    def optimizer(self, s, size, layer=None):
        """The compiled :class:`~inception_art.step.ImageOptimizer` for
        settings ``s`` (:class:`~inception_art.recipes.RenderSettings`) at
        canvas ``size``; with ``layer``, for a channel of that feature layer
        instead of a class. Kept by ``s``'s graph part: settings that differ
        only in their run or loop parts share it."""
        from .objectives import ChannelObjective, ClassObjective
        from .step import ImageOptimizer
        key = (s.key(size), layer)
        if key not in self._steps:
            if self.announce:
                from .theano_env import cache_dir
                # A first run is otherwise silent for most of a minute.
                tqdm.write('compiling the step (%s, %dx%d): about 45 s on a first run, a few '
                           'seconds once cached in %s'
                           % (s['model'], size[1], size[0], cache_dir()), file=sys.stderr)
            from .transforms import CentreCrops
            g = s.graph
            crops = (CentreCrops(size, g['crop_size'], g['crops'], g['crop_spread'],
                                 g['crop_extent']) if g['crops'] else None)
            views = network_views.NetworkViews(g['model'], size, view_factors(g['views']),
                                               crops=crops)
            self._steps[key] = ImageOptimizer(
                views, ChannelObjective(layer) if layer else ClassObjective(g['objective']),
                prior=load_prior(g['prior'], g['prior_scales'], g['prior_stride']),
                rule=g['rule'], param=g['param'],
                affine=dict(shift=g['shift'], scale=tuple(g['scale']), degrees=g['degrees']),
                feature_statistics=g['feature_statistics'], transparent=g['transparent'])
        return self._steps[key]


def render(classes, settings='default', progress=True, optimizer=None, callback=None,
           renderer=None, layer=None, **overrides):
    """Render ``classes`` (one or two class indices) and return the picture.

    Parameters
    ----------
    classes : sequence of int
        ``(A,)`` or ``(A, B)``: A below, B above.
    settings : RenderSettings or str
        The settings, whole (:func:`inception_art.recipes.settings`), or a
        recipe's name (:data:`inception_art.recipes.RECIPES`).
    **overrides
        Any setting of :data:`inception_art.recipes.SETTINGS` over
        ``settings`` (its keyword name, default and meaning are listed
        there), e.g. ``steps=100``.
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
    s = recipes.settings(settings, **overrides)
    if optimizer is not None:
        sizes = [optimizer.size]
    else:
        check(s)
        sizes = octave_sizes(canvas_size(s), s['octaves'], s['octave_scale'])
        renderer = renderer or Renderer(announce=progress)
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
        def report(i, loss, logit):
            if callback is not None:
                callback(done + i, loss, logit)
            bar.set_description_str('loss %.2f logit %.2f' % (loss, logit), refresh=False)
            bar.update()

        for size, count, opt in zip(sizes, counts, steps):
            opt.objective.set_classes(*classes)
            if s['octave_mode'] == 'centre' and done:
                image = grow_into_centre(image, size,
                                         initial_image('noise', size, s['seed'] + done))
            # each octave draws afresh: its own seed
            opt.restart(resize_float(image, size), dict(s.run, seed=s['seed'] + done))
            # The blur schedule restarts with each octave, and never blurs
            # the finished picture.
            _, logit = opt.run(count, s['blur'], s['blur_every'], callback=report,
                               blur_after_last=done + count < s['steps'])
            done += count
            image = opt.get_float_image()
    return np.round(np.clip(image, 0, 255)).astype('uint8'), logit
