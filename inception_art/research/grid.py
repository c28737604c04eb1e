"""The grid of the research comparison: its cells and their names.

A cell is ``(name, recipe, overrides)``: a recipe of
:mod:`inception_art.recipes` and settings over it, in the settings table's
own names (:data:`inception_art.recipes.SETTINGS`: ``rule``, ``lr``,
``prior``, ``prior_strength``...). Its settings are resolved once, by
:func:`resolve`, with the grid's run-wide values (model, canvas, steps,
seed) over the recipe's. "Without the prior" is ``prior_strength=0``
(:data:`NO_PRIOR`): :attr:`~inception_art.recipes.RenderSettings.prior_used`
says which prior a cell renders with.

The claims' factors
-------------------
The factors are the objective (the 2015 code's ``logit``, ``logit-plain``,
``prob``, ``loglik``), the prior (none, Gaussian, Student-t) and the
update rule (Adam, normalised plain gradient descent). The full factorial
is 4 x 3 x 2 = 24 cells; at 200 steps with the prior costing about 0.12 s
a step on two cores it would take hours, and most of its cells answer no
claim. So the grid (:func:`grid`) is the **default configuration** (the
first defaults, recipe ``classic``: 2015 objective, Student-t prior, Adam,
jitter and blur) plus **one factor at a time** changed, plus the
**interactions the claims need**: every objective and plain gradient
descent also without the prior (does a claim hold only because of the
prior?), and the default and no-prior cells without the periodic blur (the
2015 code had no blur; the blur is itself a crude prior). 13 cells. Then the
same claims' cells under the **2015 update rule** (:data:`RULE_2015`: the
2015 Adam, no blur, the prior at the 2015 stills' strength): every
objective with and without the prior, plain gradient descent with and
without it, and the prior at the 2015 balance for this network
(:data:`STRENGTH_2015_BALANCED`; 11 cells); and under the **new default**
(the render's default recipe): each objective, the prior at both
strengths, plain gradient descent, textbook Adam, each of its ingredients
taken out and octaves added (:data:`INGREDIENTS`), then the ``2015`` and
``2015-stream`` recipes (14 cells); 38 in all. Each of the three sets of
claims' cells varies from a base (:data:`BASES`); the report gives every
verdict once from each.

Every cell renders the same classes from the same start with the same seed
and the same number of steps: the grid's run-wide values.
"""
from typing import NamedTuple

from .. import recipes
from ..recipes import OBJECTIVES, PRIORS, STRENGTH_2015_VGG

#: The recipe of the first claims' cells: this project's first defaults.
CLASSIC = 'classic'
#: The settings a grid gives every cell alike (its run-wide values); a cell
#: names none of them.
RUN_WIDE = ('model', 'canvas', 'steps', 'seed')
#: The run-wide values by default: the ``classic`` recipe's (its steps are
#: the comparison's own, see :data:`inception_art.research.compare.STEPS`).
DEFAULTS = recipes.settings(CLASSIC)
#: Without the prior: strength 0 (the prior then is not built at all).
NO_PRIOR = dict(prior_strength=0.0)
#: The 2015 update rule as the 2015 code ran it: its Adam (beta weighs the
#: *new* gradient: a near-sign step), no blur, and the prior at the 2015
#: stills' strength (the 2015 image script; set against VGG-16's logits,
#: see :data:`inception_art.recipes.STRENGTH_2015_VGG`).
RULE_2015 = dict(rule='adam2015', blur=0.0, prior_strength=STRENGTH_2015_VGG)
#: The 2015 strength brought to this network as far as it can be here: on
#: Lite0, at the start photograph, the prior's RMS gradient at 1000 is 3.0
#: times the network's (``python -m bench.studies.balance``; docs/render.md,
#: "The 2015 recipes"), so at 333 the two are equal. The 2015 pictures, saturated and
#: busy, say that VGG-16's gradient was the larger at 1000: 333 is the most
#: the 2015 balance allows on Lite0. The claims' prior cells are rendered
#: at this strength too.
STRENGTH_2015_BALANCED = round(STRENGTH_2015_VGG / 3.0)
#: Plain gradient descent's learning rate on pixels (its mean per-pixel
#: step), the best of a small sweep: on 4 of the classes, 100 steps, no
#: prior, the final target logit was 24.5 / 24.6 / 21.9 / 20.9 / 18.6 at
#: 0.5 / 1 / 2.5 / 5 / 10 (Adam at 5.0: 28.3), and with the prior 24.3 /
#: 20.8 at 2.5 / 5.
GD_LR = 1.0
#: Plain gradient descent on the new default's Fourier coefficients: its
#: rate (the mean step per coefficient), the best of a sweep: on 4 of the
#: classes, 100 steps, the final target logit was 9.9 / 10.2 / 9.4 / 5.4 at
#: 0.002 / 0.005 / 0.01 / 0.02 (the 2015 Adam at 0.05: 9.9). At the recipe's
#: 0.05 the low frequencies, whose gradients are the largest, saturate into
#: blobs (final logit 3.1 over the 20 classes).
NEW_DEFAULT_GD_LR = 0.005
#: Each ingredient of the new default taken out (one at a time), and
#: octaves added (two: at 224x224 a third would pool the first octave below
#: Lite0's 32 pixels): (name, overrides).
INGREDIENTS = (('pixels', dict(param='pixels', lr=5.0)),
               ('no random view', dict(shift=0.0, scale=(1.0, 1.0), degrees=0.0)),
               ('views 1', dict(views=(1,))),
               ('octaves 2', dict(octaves=2)))
#: The settings the claims vary; what a cell changes beyond them (the new
#: default's ingredients) is what the report calls a variant.
FACTORS = ('objective', 'prior', 'prior_strength', 'rule', 'lr', 'blur')


class Base(NamedTuple):
    """A cell that claims' cells vary from, and what two factors' levels
    mean over it."""

    recipe: str
    overrides: dict
    #: "With the prior": the prior and its strength.
    prior: dict
    #: Plain gradient descent: the rule and its learning rate.
    gd: dict

    def cell(self, **change):
        """``(recipe, overrides)`` of the cell with ``change`` over this base."""
        return self.recipe, dict(self.overrides, **change)

    def with_prior(self, kind):
        """The change that renders with prior ``kind`` (``'none'``: without)."""
        return dict(NO_PRIOR) if kind == 'none' else dict(self.prior, prior=kind)


def _own_prior(recipe, overrides=None):
    s = recipes.settings(recipe, **(overrides or {}))
    return dict(prior=s['prior'], prior_strength=s['prior_strength'])


#: The three sets of claims' cells, each by its base: the first defaults;
#: them under the 2015 update rule; the new default (the render's default
#: recipe), whose prior is off, so that "with the prior" means the
#: Student-t at the 2015 strength there, as under the 2015 rule.
BASES = {
    'default': Base(CLASSIC, {}, _own_prior(CLASSIC), dict(rule='gd', lr=GD_LR)),
    '2015 rule': Base(CLASSIC, RULE_2015, _own_prior(CLASSIC, RULE_2015),
                      dict(rule='gd', lr=GD_LR)),
    'new default': Base('default', {}, dict(prior='student', prior_strength=STRENGTH_2015_VGG),
                        dict(rule='gd', lr=NEW_DEFAULT_GD_LR)),
}


def base_of(recipe):
    """The base a cell of ``recipe`` is named against: the first base of
    that recipe without overrides, else the recipe itself."""
    for base in BASES.values():
        if base.recipe == recipe and not base.overrides:
            return base
    return Base(recipe, {}, _own_prior(recipe), dict(rule='gd'))


def resolve(recipe, overrides, run):
    """The cell's :class:`~inception_art.recipes.RenderSettings`: ``recipe``
    with ``overrides`` and the grid's run-wide values ``run`` over it."""
    clash = sorted(set(overrides) & set(run))
    if clash:
        raise ValueError('a cell may not set the run-wide %s' % ', '.join(clash))
    return recipes.settings(recipe, **overrides, **run)


def rendered(s):
    """What a picture depends on, hashable: two settings with the same
    render the same picture (a prior at strength 0 is no prior, whichever)."""
    return (s.key(), tuple(sorted(s.run.items())), tuple(sorted(s.loop.items())))


def model_name(model):
    """A model as JSON keeps it: its registry name, or a function's name."""
    if isinstance(model, str):
        return model
    return getattr(model, 'name', getattr(model, '__name__', 'custom'))


def as_json(values):
    """Settings (or overrides) JSON-ready: tuples as lists, the model by name."""
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    if 'model' in out:
        out['model'] = model_name(out['model'])
    return out


def cell_name(recipe, overrides):
    """A short name for a cell: what differs from its base (:func:`base_of`),
    ``'default'`` for the first base itself. A cell of another recipe is
    named by it (``'new default'`` for the render's default recipe), then
    by the ingredient it takes out."""
    base = base_of(recipe)
    b, s = recipes.settings(base.recipe, **base.overrides), recipes.settings(recipe, **overrides)
    parts = []
    if recipe != CLASSIC:
        parts.append('new default' if recipe == 'default' else 'recipe ' + recipe)
        parts += [name for name, o in INGREDIENTS if o.items() <= overrides.items()]
    if s.prior_used != b.prior_used:
        parts.append('no prior' if s.prior_used == 'none' else '%s prior' % s.prior_used)
    if s['objective'] != b['objective']:
        parts.append(s['objective'])
    if s['rule'] != b['rule']:
        parts.append(s['rule'])
    if s['blur'] != b['blur']:
        parts.append('no blur' if not s['blur'] else 'blur %g' % s['blur'])
    if s.prior_used != 'none' and s['prior_strength'] != base.prior['prior_strength']:
        parts.append('prior x%g' % s['prior_strength'])
    return ', '.join(parts) or 'default'


def grid():
    """The cells: ``[(name, recipe, overrides)]``, the default first.

    The default; each objective, prior and update rule changed alone;
    every objective and plain gradient descent without the prior; the
    default and the no-prior cell without the blur. Then the same claims'
    cells under the 2015 update rule (:data:`RULE_2015`): every objective
    with the prior and without it, plain gradient descent with and without
    it, and the prior at the 2015 balance. Then the new default's: each
    objective, the prior at both strengths, plain gradient descent,
    textbook Adam, each ingredient out; and the 2015 recipes. A cell's
    overrides are what it changes of its recipe; cells that would render
    the same picture (e.g. a change to what the base has already) appear
    once.
    """
    classic, rule, new = BASES['default'], BASES['2015 rule'], BASES['new default']
    cells = ([classic.cell()] + [classic.cell(objective=k) for k in OBJECTIVES]
             + [classic.cell(**classic.with_prior(p)) for p in PRIORS]
             + [classic.cell(rule='adam'), classic.cell(**classic.gd)]
             + [classic.cell(objective=k, **NO_PRIOR) for k in OBJECTIVES]
             + [classic.cell(**dict(classic.gd, **NO_PRIOR))]
             + [classic.cell(blur=0.0), classic.cell(blur=0.0, **NO_PRIOR)])
    cells += ([rule.cell(objective=k) for k in OBJECTIVES]
              + [rule.cell(objective=k, **NO_PRIOR) for k in OBJECTIVES]
              + [rule.cell(**rule.gd), rule.cell(**dict(rule.gd, **NO_PRIOR))]
              + [rule.cell(prior_strength=STRENGTH_2015_BALANCED)])
    cells += ([new.cell()] + [new.cell(objective=k) for k in OBJECTIVES]
              + [new.cell(**new.with_prior('student')),
                 new.cell(**dict(new.with_prior('student'),
                                 prior_strength=STRENGTH_2015_BALANCED)),
                 new.cell(**new.gd), new.cell(rule='adam')]
              + [new.cell(**o) for _, o in INGREDIENTS])
    cells += [('2015', {}), ('2015-stream', {})]
    out, seen = [], set()
    for recipe, overrides in cells:
        own = recipes.settings(recipe)
        overrides = {k: v for k, v in overrides.items() if own[k] != v}   # what it changes
        key = rendered(recipes.settings(recipe, **overrides))
        if key not in seen:
            seen.add(key)
            out.append((cell_name(recipe, overrides), recipe, overrides))
    return out
