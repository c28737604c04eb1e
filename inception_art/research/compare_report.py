"""The report of the research comparison: verdicts, tables and figures.

:func:`write_report` turns what :func:`inception_art.research.compare.compare`
measured into ``compare.md`` (each claim of the 2015 post beside what was
measured, with a verdict), an image grid, a grid of channel pictures and
matplotlib plots. It only reads the results and the pictures, so a report
can be rewritten without rendering again.

It finds the claims' cells by their settings, in the settings table's own
names (:mod:`inception_art.research.grid`): the cell that is a base with a
change (``objective='prob'``, the base's plain gradient descent, its "with
the prior" or :data:`~inception_art.research.grid.NO_PRIOR`), compared as
what the picture depends on (:func:`inception_art.research.grid.rendered`).
Results written before the cells spoke those names are converted once, as
they are read (:func:`read_results`).

Verdicts are computed, not written by hand. A difference between two
cells is the mean over classes of the paired per-class difference, with a
95% interval from a bootstrap over the classes (:func:`paired_bootstrap`);
it counts as *supported* (or *contradicted*) only when the interval
excludes zero, and as *not resolved* otherwise. The judged score of a
picture is its top-5 hit averaged over the independent judges.
"""
import io
import json
from pathlib import Path

import numpy as np

from .. import imagenet, recipes, spectrum
from ..images import atomic_path
from ..recipes import RenderSettings
from .grid import FACTORS, NO_PRIOR, as_json, rendered

#: The report's Markdown, a %-template filled by :func:`markdown`.
TEMPLATE = Path(__file__).with_name('compare_report.md')
#: Bootstrap resamples and their seed: fixed, so the report is reproducible.
BOOTSTRAP = 10000
BOOTSTRAP_SEED = 0
#: Moving average of the per-step target logit (the jittered view makes it
#: noisy) before the steps-to-threshold measurement.
SMOOTH = 5
#: Line break inside a markdown table cell (a '|' would end the cell).
BREAK = '<br>'
#: Classes shown in the image grid (all cells each); keeps the PNG small.
GRID_CLASSES = 10
THUMB = 80


# -------------------------------------------------------------- analysis --

def paired_bootstrap(a, b, n=BOOTSTRAP, seed=BOOTSTRAP_SEED):
    """Mean of ``a - b`` (paired per class) and its 95% bootstrap interval."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    idx = np.random.RandomState(seed).randint(0, len(d), (n, len(d)))
    means = d[idx].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def verdict(lo, hi):
    """``'supported'`` when the interval is above 0, ``'contradicted'`` below."""
    if lo > 0:
        return 'supported'
    if hi < 0:
        return 'contradicted'
    return 'not resolved'


def combine(parts):
    """One verdict from ``[(what, verdict)]``: the common one, else mixed."""
    kinds = {v for _, v in parts}
    if len(kinds) == 1:
        return kinds.pop()
    return 'mixed: ' + '; '.join('%s %s' % (v, what) for what, v in parts)


class Results:
    """Accessors over the results dict of :func:`inception_art.research.compare.compare`.

    ``claims`` names the base the claims' cells vary from
    (``config['claims']``: ``'default'``, the first defaults; ``'2015 rule'``;
    ``'new default'``)."""

    def __init__(self, results, claims='default'):
        self.raw = results
        self.config = results['config']
        base = self.config['claims'][claims]
        #: The settings every claim's cells vary from.
        self.base = RenderSettings(base['recipe'], base['settings'])
        #: The changes over it that mean "with the prior" and "plain
        #: gradient descent".
        self.with_prior, self.gd = dict(base['prior']), dict(base['gd'])
        self.classes = [str(c) for c in self.config['classes']]
        self.cells = results['cells']
        #: Each cell's settings.
        self.settings = {name: RenderSettings(cell['recipe'], cell['settings'])
                         for name, cell in self.cells.items()}
        self._rendered = {name: rendered(s) for name, s in self.settings.items()}

    def prior(self, kind):
        """The change over the base that renders with prior ``kind``
        (``'none'``: without one)."""
        return dict(NO_PRIOR) if kind == 'none' else dict(self.with_prior, prior=kind)

    def find(self, **change):
        """The name of the cell that renders the base with ``change`` (names
        as in :data:`inception_art.recipes.SETTINGS`), or None when the grid
        has no such cell."""
        want = rendered(RenderSettings(self.base.recipe, dict(self.base, **change)))
        for name, key in self._rendered.items():
            if key == want:
                return name
        return None

    def metric(self, cell, key):
        """Per-class values of ``key`` in ``cell``, in class order."""
        rows = self.cells[cell]['classes']
        return np.array([rows[c][key] for c in self.classes], dtype=np.float64)

    def judged(self, cell, k=5):
        """Per-class top-``k`` hits averaged over the judges (0..1)."""
        judges = self.cells[cell]['judges']
        return np.mean([[r <= k for r in j['ranks']] for j in judges.values()], axis=0)

    def rate(self, cell, judge, k, thumb=False):
        """Share of the classes in ``judge``'s top ``k``, at full size or in
        the thumbnail test (None when the judge did not take that test)."""
        ranks = self.cells[cell]['judges'][judge].get('thumb_ranks' if thumb else 'ranks')
        return None if ranks is None else float(np.mean([r <= k for r in ranks]))

    def mean(self, cell, key):
        """Mean over the classes of ``key``, or None where the runs did not
        record it (reports of earlier runs)."""
        rows = self.cells[cell]['classes']
        if not all(key in rows[c] for c in self.classes):
            return None
        return float(np.nanmean(self.metric(cell, key)))

    def history(self, cell):
        """(classes, steps) target logit at every step."""
        rows = self.cells[cell]['classes']
        return np.array([rows[c]['history'] for c in self.classes], dtype=np.float64)


def read_results(path):
    """The results JSON at ``path`` (``compare.json``), in today's words
    (:func:`upgrade`)."""
    return upgrade(json.loads(Path(path).read_text()))


def upgrade(results):
    """Results written when the cells spoke the grid's own dialect
    (``optimizer`` for the update rule, ``gd_lr`` for plain gradient
    descent's rate, ``prior='none'`` for strength 0, ``size`` for the
    canvas; ``config['base']``, ``['rule_2015']`` and ``['new_default']``),
    converted to today's: each cell's ``recipe``, ``overrides`` and
    resolved ``settings`` in the settings table's names, the canvas, and
    ``config['claims']``. Today's results come back as they are."""
    config = results['config']
    if 'claims' in config:
        return results
    run = dict(model=config['model'], canvas=tuple(config['size']), steps=config['steps'],
               seed=config['seed'])

    def cell(old):
        recipe = old.get('recipe', 'classic')
        values = dict(old.get('overrides', {}), objective=old['objective'],
                      rule=old['optimizer'],
                      lr=old['gd_lr'] if old['optimizer'] == 'gd' else old['lr'],
                      blur=old['blur'], blur_every=old['blur_every'], jitter=old['jitter'],
                      init=old['init'])
        values.update(NO_PRIOR if old['prior'] == 'none' else
                      dict(prior=old['prior'], prior_strength=old['prior_strength']))
        own = recipes.settings(recipe)
        frozen = RenderSettings(recipe, dict(own, **values))
        overrides = {k: frozen[k] for k in values if frozen[k] != own[k]}
        return dict(recipe=recipe, overrides=as_json(overrides),
                    settings=as_json(recipes.settings(recipe, **overrides, **run)))

    def claims(old):
        prior = old['prior'] if old['prior'] != 'none' else 'student'
        return dict(cell(old), prior=dict(prior=prior, prior_strength=old['prior_strength']),
                    gd=dict(rule='gd', lr=old['gd_lr']))

    base = config['base']
    bases = {'default': claims(base)}
    if config.get('rule_2015'):
        bases['2015 rule'] = claims(dict(base, **config['rule_2015']))
    if config.get('new_default'):
        bases['new default'] = claims(config['new_default'])
    config = {k: v for k, v in config.items()
              if k not in ('size', 'base', 'rule_2015', 'new_default')}
    config.update(canvas=list(run['canvas']), claims=bases)
    cells = {name: dict(cell(c['settings']),
                        **{k: v for k, v in c.items() if k != 'settings'})
             for name, c in results['cells'].items()}
    return dict(results, config=config, cells=cells)


def smooth(curves, width=SMOOTH):
    """Trailing moving average along the last axis (the first values
    average what there is)."""
    curves = np.atleast_2d(curves)
    cum = np.cumsum(curves, axis=1)
    out = cum.copy()
    out[:, width:] = cum[:, width:] - cum[:, :-width]
    counts = np.minimum(np.arange(1, curves.shape[1] + 1), width)
    return out / counts


def steps_to_threshold(first, second):
    """Steps each of two runs (classes, steps) takes to reach, per class,
    half the lower of their two smoothed peaks (so both reach it)."""
    a, b = smooth(first), smooth(second)
    threshold = 0.5 * np.minimum(a.max(axis=1), b.max(axis=1))
    reach = lambda c: np.argmax(c >= threshold[:, None], axis=1) + 1
    return reach(a), reach(b), threshold


def prior_label(prior):
    return 'no prior' if prior == 'none' else '%s prior' % prior


def pct(x):
    return 'n/a' if x is None else '%.0f%%' % (100 * x)


def points(mean, lo, hi):
    return '%+.0f points [%+.0f, %+.0f]' % (100 * mean, 100 * lo, 100 * hi)


# ---------------------------------------------------------------- claims --

def claim_objectives(r):
    """Logits versus probability and log-likelihood, judged."""
    parts, text = [], []
    for prior in dict.fromkeys([r.base.prior_used, 'none']):
        logit = r.find(objective='logit', **r.prior(prior))
        scores = []
        for other in ('prob', 'loglik'):
            cell = r.find(objective=other, **r.prior(prior))
            if logit is None or cell is None:
                continue
            m, lo, hi = paired_bootstrap(r.judged(logit), r.judged(cell))
            parts.append(('vs %s (%s)' % (other, prior_label(prior)), verdict(lo, hi)))
            scores.append('%s %s (logit minus %s: %s)' % (
                other, pct(r.judged(cell).mean()), other, points(m, lo, hi)))
        if logit is not None:
            text.append('%s: logit %s; %s' % (prior_label(prior), pct(r.judged(logit).mean()),
                                               '; '.join(scores)))
    return ('Optimising logits works better than the softmax probability or the '
            'log-likelihood', 'judged top-5 (mean of the judges): ' + BREAK.join(text),
            combine(parts) if parts else 'not measured')


def objective_gains(r, prior):
    """``{objective: (target gains, others gains)}`` per class, under ``prior``."""
    out = {}
    for kind in ('logit', 'logit-plain', 'prob', 'loglik'):
        cell = r.find(objective=kind, **r.prior(prior))
        if cell is not None:
            out[kind] = (r.metric(cell, 'target_gain'), r.metric(cell, 'others_gain'))
    return out


def claim_suppression(r):
    """Do probability and log-likelihood push the others down rather than
    the target up? Gains are measured from the grey start picture."""
    gains = objective_gains(r, r.base.prior_used)
    if 'logit' not in gains:
        return None
    parts, text = [], []
    for kind in ('prob', 'loglik'):
        if kind not in gains:
            continue
        t = paired_bootstrap(gains['logit'][0], gains[kind][0])
        o = paired_bootstrap(gains[kind][1], gains['logit'][1])
        down = paired_bootstrap(-gains[kind][1], np.zeros(len(r.classes)))
        # The claim has two halves: the wanted class is strengthened less
        # than by the logits, and the others are pushed down (they fall).
        less, pushed = verdict(t[1], t[2]), verdict(down[1], down[2])
        if less == pushed:
            word = less
        else:
            word = 'partly (target strengthened less: %s; others pushed down: %s)' % (
                less, pushed)
        parts.append((kind, word))
        text.append('%s: target %+.1f, others %+.1f [%+.1f, %+.1f] (target: logit minus %s '
                    '%+.1f [%+.1f, %+.1f]; others: %s minus logit %+.1f [%+.1f, %+.1f])'
                    % ((kind, gains[kind][0].mean(), -down[0], -down[2], -down[1], kind) + t
                       + (kind,) + o))
    head = 'logit: target %+.1f, others %+.1f' % (gains['logit'][0].mean(),
                                                 gains['logit'][1].mean())
    if 'logit-plain' in gains:
        head += '; logit-plain: target %+.1f, others %+.1f' % (
            gains['logit-plain'][0].mean(), gains['logit-plain'][1].mean())
    return ('Probability and log-likelihood make the network suppress the other classes '
            'instead of strengthening the wanted one',
            'change from the grey start under the optimised network (%s prior) of the '
            'target logit and of the others\' log-sum-exp: %s%s%s'
            % (r.base.prior_used, head, BREAK, BREAK.join(text)),
            combine(parts))


def claim_mean_term(r):
    """The 2015 objective's mean-of-all-logits term "keeps all other classes
    low": the 2015 objective against the same without that term."""
    gains = objective_gains(r, r.base.prior_used)
    if 'logit' not in gains or 'logit-plain' not in gains:
        return None
    o = paired_bootstrap(gains['logit-plain'][1], gains['logit'][1])
    j = paired_bootstrap(r.judged(r.find(objective='logit')),
                         r.judged(r.find(objective='logit-plain')))
    others = lambda kind: r.metric(r.find(objective=kind), 'others_mean').mean()
    return ('The mean-of-all-logits term (the 2015 objective against the target logit '
            'alone) keeps the other classes low',
            'others\' log-sum-exp change: with the term %+.1f, without %+.1f; without minus '
            'with %+.2f [%+.2f, %+.2f]. Mean of the other logits %+.2f with, %+.2f without. '
            'Judged top-5 %s with, %s without, %s'
            % ((gains['logit'][1].mean(), gains['logit-plain'][1].mean()) + o
               + (others('logit'), others('logit-plain'),
                  pct(r.judged(r.find(objective='logit')).mean()),
                  pct(r.judged(r.find(objective='logit-plain')).mean()), points(*j))),
            verdict(o[1], o[2]))


def claim_prior(r):
    """The prior essential: with it against without, with and without blur."""
    parts, text = [], []
    prior = r.base.prior_used if r.base.prior_used != 'none' else 'student'
    blurs = {0.0: 'no blur (as in 2015)'}
    blurs.setdefault(r.base['blur'], 'with the blur')
    for blur, label in blurs.items():
        with_ = r.find(blur=blur, **r.prior(prior))
        without = r.find(blur=blur, **r.prior('none'))
        if with_ is None or without is None or with_ == without:
            continue
        m, lo, hi = paired_bootstrap(r.judged(with_), r.judged(without))
        parts.append((label, verdict(lo, hi)))
        logp = 'logp_' + prior if prior in ('student', 'gaussian') else 'logp_student'
        text.append('%s: %s prior %s, none %s, %s (patch log-density %.0f against %.0f '
                    'nats)' % (label, prior, pct(r.judged(with_).mean()),
                               pct(r.judged(without).mean()), points(m, lo, hi),
                               r.metric(with_, logp).mean(), r.metric(without, logp).mean()))
    # The prior at the 2015 strength balanced for this network (the claim
    # "at the 2015 strength for the network"), against none.
    strength = r.config.get('balanced_strength')
    balanced = strength and r.find(**dict(r.prior(prior), prior_strength=strength))
    without = r.find(**r.prior('none'))
    if balanced and without and strength != r.with_prior['prior_strength']:
        m, lo, hi = paired_bootstrap(r.judged(balanced), r.judged(without))
        parts.append(('at strength %g' % strength, verdict(lo, hi)))
        text.append('%s prior at strength %g (the 2015 balance on this network), no blur: '
                    '%s, none %s, %s' % (prior, strength, pct(r.judged(balanced).mean()),
                                         pct(r.judged(without).mean()), points(m, lo, hi)))
    other = 'gaussian' if prior == 'student' else 'student'
    cell = r.find(**r.prior(other))
    if cell is not None and without:
        m, lo, hi = paired_bootstrap(r.judged(cell), r.judged(without))
        text.append('%s prior with the blur: %s, %s against none' % (
            other, pct(r.judged(cell).mean()), points(m, lo, hi)))
    blurred, sharp = r.find(), r.find(blur=0.0)
    if sharp is not None and blurred != sharp:
        # Not a claim of the post, but what the prior's effect is set against.
        text.append('for comparison, the blur (%s prior): %s with, %s without, %s' % (
            r.base.prior_used, pct(r.judged(blurred).mean()), pct(r.judged(sharp).mean()),
            points(*paired_bootstrap(r.judged(blurred), r.judged(sharp)))))
    return ('The natural-image prior is essential for recognisable pictures',
            'judged top-5: ' + BREAK.join(text), combine(parts) if parts else 'not measured')


def claim_student(r):
    """Student-t better than Gaussian (the write-up's "or, better")."""
    s, g = r.find(**r.prior('student')), r.find(**r.prior('gaussian'))
    if s is None or g is None:
        return None
    m, lo, hi = paired_bootstrap(r.judged(s), r.judged(g))
    return ('A Student-t prior works better than a Gaussian one',
            'judged top-5: Student-t %s, Gaussian %s, %s' % (
                pct(r.judged(s).mean()), pct(r.judged(g).mean()), points(m, lo, hi)),
            verdict(lo, hi))


def optimiser_rows(r):
    """Per prior setting: Adam against plain gradient descent."""
    rows = []
    for prior in dict.fromkeys([r.base.prior_used, 'none']):
        # The base's Adam (textbook, or the 2015 rule's) against plain GD.
        adam, gd = r.find(**r.prior(prior)), r.find(**dict(r.prior(prior), **r.gd))
        if adam is None or gd is None:
            continue
        s_adam, s_gd, threshold = steps_to_threshold(r.history(adam), r.history(gd))
        rows.append(dict(prior=prior, adam=adam, gd=gd, steps_adam=s_adam, steps_gd=s_gd,
                         threshold=threshold, bootstrap=paired_bootstrap(s_gd, s_adam),
                         logit=paired_bootstrap(r.metric(adam, 'target_logit'),
                                                r.metric(gd, 'target_logit')),
                         judged=(r.judged(adam).mean(), r.judged(gd).mean())))
    return rows


def claim_adam(r):
    rows = optimiser_rows(r)
    parts, text = [], []
    for row in rows:
        m, lo, hi = row['bootstrap']
        parts.append((prior_label(row['prior']), verdict(lo, hi)))
        text.append('%s: median %d steps (Adam) against %d (gradient descent) to '
                    'half the lower peak logit; gradient descent needs %+.0f steps more '
                    '[%+.0f, %+.0f]; final target logit Adam minus GD %+.1f [%+.1f, %+.1f]; '
                    'judged top-5 %s against %s'
                    % ((prior_label(row['prior']), np.median(row['steps_adam']),
                        np.median(row['steps_gd']), m, lo, hi) + row['logit']
                       + tuple(pct(j) for j in row['judged'])))
    return ('Adam speeds the optimisation up', BREAK.join(text),
            combine(parts) if parts else 'not measured')


def claim_structure(r):
    default = r.find()
    slopes, low = r.metric(default, 'slope'), r.metric(default, 'low_freq')
    photos = r.raw['photos']
    p_slope = np.array([p['slope'] for p in photos.values()])
    p_low = np.array([p['low_freq'] for p in photos.values()])
    flatter = int((slopes > p_slope.max()).sum())
    less = int((low < p_low.min()).sum())
    n = len(slopes)
    if flatter == n and less == n:
        word = 'supported'
    elif flatter == 0 and less == 0:
        word = 'contradicted'
    else:
        word = 'mixed: %d/%d flatter, %d/%d less large-scale power' % (flatter, n, less, n)
    return ('The pictures lack large-scale structure',
            'power-spectrum slope of the default renders %.2f (range %.2f..%.2f) against '
            '%.2f..%.2f for the photographs; %d/%d renders flatter than every photograph. '
            'Power at <= %d cycles per picture: %s of the renders\' (mean) against %s..%s '
            'of the photographs\'; %d/%d renders below every photograph'
            % (slopes.mean(), slopes.min(), slopes.max(), p_slope.min(), p_slope.max(),
               flatter, n, spectrum.LOW_CYCLES, pct(low.mean()), pct(p_low.min()),
               pct(p_low.max()), less, n), word)


def claims(r):
    """``[(claim, measured, verdict)]`` for the report's first table."""
    rows = [claim_objectives(r), claim_suppression(r), claim_mean_term(r), claim_prior(r),
            claim_student(r),
            claim_adam(r), claim_structure(r)]
    return [row for row in rows if row is not None]


# --------------------------------------------------------------- figures --

def _pyplot():
    try:
        import matplotlib
    except ImportError:   # a user error: one line, not a traceback
        raise ValueError("the comparison report needs matplotlib (figures), not installed; "
                         "run make compare (or pip install -e '.[judges,compare]')") from None
    matplotlib.use('Agg')   # files only, never a window
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path, quantise=False):
    """Save a figure atomically; ``quantise`` makes a 256-colour PNG (the
    image grids are photographs-like and several times smaller so)."""
    from PIL import Image
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=fig.dpi)
    plt.close(fig)
    image = Image.open(io.BytesIO(buf.getvalue())).convert('RGB')
    if quantise:
        image = image.quantize(256, method=Image.Quantize.MEDIANCUT,
                               dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        image.save(tmp, format='PNG', optimize=True)
    return path


def _label(c):
    return imagenet.short_name(int(c))


def figure_grid(r, pictures, path, classes=GRID_CLASSES, thumb=THUMB):
    """Image grid: rows are classes (the first ``classes``), columns cells."""
    plt = _pyplot()
    names, shown = list(r.cells), r.classes[:classes]
    dpi = 100
    fig, axes = plt.subplots(len(shown), len(names), squeeze=False, dpi=dpi,
                             figsize=(len(names) * thumb / dpi + 1.0,
                                      len(shown) * thumb / dpi + 1.1))
    for i, c in enumerate(shown):
        for j, name in enumerate(names):
            ax = axes[i, j]
            ax.imshow(pictures[(name, int(c))], interpolation='antialiased')
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name.replace(', ', ',\n'), fontsize=6)
            if j == 0:
                ax.set_ylabel(_label(c)[:14], fontsize=6)
    fig.subplots_adjust(left=0.06, right=0.995, bottom=0.005, top=0.93,
                        wspace=0.04, hspace=0.04)
    return _save(fig, path, quantise=True)


def figure_channels(r, pictures, path, thumb=112):
    """The channel pictures, one row per layer."""
    plt = _pyplot()
    specs = r.raw['channels']
    layers = list(dict.fromkeys(s['layer'] for s in specs))
    per = max(sum(s['layer'] == l for s in specs) for l in layers)
    dpi = 100
    fig, axes = plt.subplots(len(layers), per, squeeze=False, dpi=dpi,
                             figsize=(per * thumb / dpi + 0.4, len(layers) * (thumb / dpi + 0.45)))
    for ax in axes.ravel():
        ax.axis('off')
    for row, layer in enumerate(layers):
        for col, (i, s) in enumerate([(i, s) for i, s in enumerate(specs)
                                      if s['layer'] == layer]):
            ax = axes[row, col]
            ax.imshow(pictures[('channel', i)], interpolation='antialiased')
            why = s['caption'].replace('top weight of ', '\u2192 ')
            ax.set_title('%s #%d\n%s' % (layer, s['channel'],
                                         '' if why == 'evenly spaced' else why[:16]),
                         fontsize=6)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9, wspace=0.05, hspace=0.3)
    return _save(fig, path, quantise=True)


def figure_curves(r, path):
    """Target logit against step: Adam and plain gradient descent."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for row, colour in zip(optimiser_rows(r), ('C0', 'C1', 'C2')):
        for kind, style in (('adam', '-'), ('gd', '--')):
            curves = smooth(r.history(row[kind]))
            steps = np.arange(1, curves.shape[1] + 1)
            ax.plot(steps, np.median(curves, axis=0), style, color=colour,
                    label='%s, %s' % ('Adam' if kind == 'adam' else 'gradient descent',
                                      prior_label(row['prior'])))
            ax.fill_between(steps, *np.percentile(curves, [25, 75], axis=0),
                            color=colour, alpha=0.12 if kind == 'adam' else 0.06)
    ax.set_xlabel('step')
    ax.set_ylabel('target logit (median, 25-75%)')
    ax.set_title('Optimised network\'s target logit during the render', fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def figure_judged(r, path):
    """Judged top-1 and top-5 rate of every cell."""
    plt = _pyplot()
    names = list(r.cells)
    judges = r.config['judges']
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(names) + 1.0), dpi=100)
    y = np.arange(len(names))
    height = 0.8 / len(judges)
    for k, judge in enumerate(judges):
        top5 = [r.rate(n, judge, 5) for n in names]
        top1 = [r.rate(n, judge, 1) for n in names]
        pos = y + (k - (len(judges) - 1) / 2) * height
        short = judge.replace('efficientnet-', '').title()
        ax.barh(pos, top5, height, color='C%d' % k, alpha=0.45, label='%s top-5' % short)
        ax.barh(pos, top1, height, color='C%d' % k, label='%s top-1' % short)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel('rate over %d classes' % len(r.classes))
    ax.legend(fontsize=6, loc='lower right')
    ax.set_title('Recognised by networks that did not make the pictures', fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def figure_spectra(r, pictures, path):
    """Radially averaged power spectra: photographs against renders."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=100)

    def mean_power(images):
        freqs, power = zip(*(spectrum.radial_power(p) for p in images))
        power = np.mean([p / p.sum() for p in power], axis=0)   # shape, not contrast
        return freqs[0], power

    for i, name in enumerate(r.raw['photos']):
        f, p = mean_power([pictures[('photo', name)]])
        ax.loglog(f, p, color='0.6', lw=0.8, label='photographs' if i == 0 else None)
    for cell, colour in ((r.find(), 'C3'), (r.find(**r.prior('none')), 'C0'),
                         (r.find(blur=0.0, **r.prior('none')), 'C2')):
        if cell is None:
            continue
        f, p = mean_power([pictures[(cell, int(c))] for c in r.classes])
        ax.loglog(f, p, color=colour, lw=1.5, label='renders: %s' % cell)
    ax.axvspan(*spectrum.BAND, color='0.9', zorder=0, label='slope fitted here')
    ax.set_xlabel('spatial frequency (cycles per pixel)')
    ax.set_ylabel('normalised power')
    ax.legend(fontsize=7)
    ax.set_title('Radially averaged power spectrum', fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def figure_objectives(r, path):
    """Change of the target logit against the change of the others' mean."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4), dpi=100)
    for k, (kind, (target, others)) in enumerate(objective_gains(r, r.base.prior_used).items()):
        ax.scatter(others, target, s=14, color='C%d' % k, label=kind)
    ax.axhline(0, color='0.7', lw=0.8)
    ax.axvline(0, color='0.7', lw=0.8)
    ax.set_xlabel('change of the other logits\' log-sum-exp')
    ax.set_ylabel('change of the target logit')
    ax.set_title('What each objective moves (%s prior; one dot per class)'
                 % r.base.prior_used, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------- report --

def _fmt(x, spec='%.2f'):
    return 'n/a' if x is None or (isinstance(x, float) and not np.isfinite(x)) else spec % x


def cell_table(r):
    judges = r.config['judges']
    head = ['cell', 'objective', 'prior', 'optimiser', 'blur', 'target logit', 'prob',
            'own top-1'] + ['%s top-1 / top-5 / thumbnail top-5'
                            % j.replace('efficientnet-', '').title() for j in judges] + [
            'contrast', 'colourfulness',
            'log p Student-t', 'log p Gaussian', 'spectrum slope', 'large-scale power',
            's / render']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, s in r.settings.items():
        row = [name, s['objective'], s.prior_used, s['rule'], '%g' % s['blur'],
               _fmt(r.metric(name, 'target_logit').mean(), '%.1f'),
               _fmt(r.metric(name, 'prob').mean()),
               pct((r.metric(name, 'rank') == 1).mean())]
        row += ['%s / %s / %s' % (pct(r.rate(name, j, 1)), pct(r.rate(name, j, 5)),
                                  pct(r.rate(name, j, 5, thumb=True))) for j in judges]
        row += [_fmt(r.mean(name, 'contrast'), '%.1f'),
                _fmt(r.mean(name, 'colourfulness'), '%.1f'),
                _fmt(r.metric(name, 'logp_student').mean(), '%.0f'),
                _fmt(r.metric(name, 'logp_gaussian').mean(), '%.0f'),
                _fmt(np.nanmean(r.metric(name, 'slope'))),
                pct(np.nanmean(r.metric(name, 'low_freq'))),
                _fmt(r.metric(name, 'seconds').mean(), '%.1f')]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def photo_table(r):
    lines = ['| photograph | held out from the prior fit | contrast | colourfulness '
             '| spectrum slope | large-scale power | log p Student-t | log p Gaussian |',
             '|---|---|---|---|---|---|---|---|']
    for name, p in r.raw['photos'].items():
        lines.append('| %s | %s | %s | %s | %.2f | %s | %.0f | %.0f |' % (
            name, 'yes' if p['heldout'] else 'no (trained it)',
            _fmt(p.get('contrast'), '%.1f'), _fmt(p.get('colourfulness'), '%.1f'),
            p['slope'], pct(p['low_freq']), p['logp_student'], p['logp_gaussian']))
    return '\n'.join(lines)


def objective_table(r):
    lines = ['| prior | objective | target logit change | others\' log-sum-exp change | '
             'target logit | others\' log-sum-exp | others\' mean | probability | judged top-5 |',
             '|---|---|---|---|---|---|---|---|---|']
    for prior in dict.fromkeys([r.base.prior_used, 'none']):
        for kind, (target, others) in objective_gains(r, prior).items():
            cell = r.find(objective=kind, **r.prior(prior))
            lines.append('| %s | %s | %+.1f | %+.1f | %.1f | %.1f | %.1f | %.2f | %s |' % (
                prior, kind, target.mean(), others.mean(),
                r.metric(cell, 'target_logit').mean(), r.metric(cell, 'others_lse').mean(),
                r.metric(cell, 'others_mean').mean(), r.metric(cell, 'prob').mean(),
                pct(r.judged(cell).mean())))
    return '\n'.join(lines)


def optimiser_table(r):
    lines = ['| prior | median steps to threshold: Adam / GD | GD never reached it | '
             'final target logit: Adam / GD | judged top-5: Adam / GD |',
             '|---|---|---|---|---|']
    steps = r.config['steps']
    for row in optimiser_rows(r):
        never = int((smooth(r.history(row['gd'])).max(axis=1) < row['threshold']).sum())
        lines.append('| %s | %d / %d | %d of %d | %.1f / %.1f | %s / %s |' % (
            row['prior'], np.median(row['steps_adam']), np.median(row['steps_gd']), never,
            len(r.classes), r.metric(row['adam'], 'target_logit').mean(),
            r.metric(row['gd'], 'target_logit').mean(), pct(row['judged'][0]),
            pct(row['judged'][1])))
    return '\n'.join(lines) + '\n\n(threshold: per class, half the lower of the two ' \
        'runs\' peak target logits, smoothed over %d steps; %d steps in all)' % (SMOOTH, steps)


def channel_list(r):
    rows = []
    for s in r.raw['channels']:
        rows.append('%s #%d (%s): mean activation %.2f' % (
            s['layer'], s['channel'], s['caption'], s.get('value', float('nan'))))
    return '; '.join(rows)


def verdicts_table(r, base, column):
    """The claims' table computed from the cells that vary from the base
    named ``base`` (``config['claims']``), or None when the run has no cell
    of that base itself."""
    view = Results(r.raw, claims=base)
    if view.find() is None:
        return None
    return view, ('| claim of the 2015 post | %s | verdict |\n|---|---|---|\n' % column
                  + '\n'.join('| %s | %s | **%s** |' % row for row in claims(view)))


def _settings_text(settings):
    return ', '.join('`%s=%s`' % (k, '%g' % v if isinstance(v, float) else v)
                     for k, v in sorted(settings.items()))


def rule_2015_section(r):
    """The verdicts again, each from the cells of the 2015 update rule (the
    run's ``'2015 rule'`` base: its settings over the first defaults), or ''
    when the run has none."""
    rule = r.config['claims'].get('2015 rule')
    found = rule and verdicts_table(r, '2015 rule', 'measured under the 2015 rule')
    if not found:
        return ''
    return '''
### Under the 2015 update rule

The same claims, measured on the cells that differ from the above in %s: the 2015 code's Adam
(beta weighs the *new* gradient, a near-sign step), no blur, and the prior at the 2015
stills' strength. A prior matters most against such a step, which leaves high-frequency
noise.

%s
''' % (_settings_text(rule['overrides']), found[1])


def structure_variants(view):
    """How much large-scale power the new default's variants keep: a line
    per cell named after the new default that changes a setting other than
    the claims' factors (views 1, octaves...)."""
    low = lambda cell: np.nanmean(view.metric(cell, 'low_freq'))
    base = view.find()
    lines = []
    for name, s in view.settings.items():
        if name.startswith('new default, ') and name != base:
            if any(s[k] != view.base[k] for k in s if k not in FACTORS):
                lines.append('%s: %s (new default %s)' % (
                    name[len('new default, '):], pct(low(name)), pct(low(base))))
    return '; '.join(lines)


def new_default_section(r):
    """The verdicts again from the cells of the new default (the render's
    default recipe), with what its ingredients change; '' without them."""
    found = ('new default' in r.config['claims']
             and verdicts_table(r, 'new default', 'measured under the new default'))
    if not found:
        return ''
    view, table = found
    return '''
### Under the new default

The same claims, measured on the cells of the render's default recipe (a Fourier image,
a random shift, scale and rotation each step, views pooled by 2 and 4, the 2015 Adam, no
prior; "with the prior" adds the Student-t at the 2015 strength), at this report's size,
steps and seed. Large-scale power (at most %d cycles across the picture) without each
ingredient: %s.

%s
''' % (spectrum.LOW_CYCLES, structure_variants(view) or 'not measured', table)


def markdown(r, figures):
    c = r.config
    b = r.base
    classes = ', '.join('%s (%s)' % (_label(i), i) for i in c['classes'])
    verdicts = '\n'.join('| %s | %s | **%s** |' % row for row in claims(r))
    verdicts_2015 = rule_2015_section(r) + new_default_section(r)
    minutes = c['wall_seconds'] / 60
    return TEMPLATE.read_text() % dict(
           date=c['date'], model=c['model'], w=c['canvas'][1], h=c['canvas'][0],
           n=len(c['classes']), steps=c['steps'], seed=c['seed'], ncells=len(r.cells),
           jobs=c['jobs'], cores=c['cores'], minutes=minutes,
           rerendered='' if not c.get('rerendered') else (
               '\nThen rendered again with `--cells-only` on %s (%.0f minutes): %s.' % (
                   c['rerendered']['date'], c['rerendered']['seconds'] / 60,
                   '; '.join(c['rerendered']['cells']))),
           judges=', '.join(c['judges']), verdicts=verdicts, verdicts_2015=verdicts_2015,
           objective=b['objective'],
           prior=b.prior_used, strength=b['prior_strength'], lr=b['lr'], jitter=b['jitter'],
           gd_lr=r.gd['lr'], render_steps=c.get('render_default_steps', 'n/a'),
           blur=b['blur'], blur_every=b['blur_every'],
           band='%g..%g' % spectrum.BAND, low=spectrum.LOW_CYCLES, classes=classes,
           cells=cell_table(r), photos=photo_table(r), objectives=objective_table(r),
           optimisers=optimiser_table(r), gridn=min(GRID_CLASSES, len(c['classes'])),
           channel_list=channel_list(r) or 'No channels were rendered',
           channel_choice='Where a caption has an arrow, the channel is the one with the '
           'largest classifier weight into that class; the others are evenly spaced.'
           if any('top weight' in s['caption'] for s in r.raw['channels'])
           else 'The channels are evenly spaced over each layer.',
           channel_layers=', '.join('`%s`' % l for l in dict.fromkeys(
               s['layer'] for s in r.raw['channels'])) or 'none', **figures)


def write_report(results, pictures, out):
    """Write ``compare.md`` and the figures into the folder ``out``;
    return the paths written."""
    from pathlib import Path
    out = Path(out)
    r = Results(results)
    figures = dict(grid='compare_grid.png', channels='compare_channels.png',
                   curves='compare_curves.png', judged='compare_judged.png',
                   spectra='compare_spectra.png', objfig='compare_objectives.png')
    paths = [figure_grid(r, pictures, out / figures['grid']),
             figure_curves(r, out / figures['curves']),
             figure_judged(r, out / figures['judged']),
             figure_spectra(r, pictures, out / figures['spectra']),
             figure_objectives(r, out / figures['objfig'])]
    if results['channels']:
        paths.append(figure_channels(r, pictures, out / figures['channels']))
    with atomic_path(out / 'compare.md') as tmp:
        tmp.write_text(markdown(r, figures))
    return [out / 'compare.md'] + paths
