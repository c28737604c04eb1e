"""Transparency: the Fourier image's opacity plane, the random backdrops,
the cost of opacity and the calm ground, against numpy and finite
differences."""
import numpy as np
import pytest

from conftest import central_difference
from inception_art import look, param, recipes
from inception_art.theano_env import theano, T
from inception_art.transparency import Backdrops, composite, ground, opacity, smooth_field

SIZE = (20, 15)                        # odd width: the is_odd path


@pytest.fixture(scope='module')
def clear():
    return param.build('fourier', SIZE, transparent=True)


@pytest.fixture(scope='module')
def clear_fns(clear):
    """The seen picture over a backdrop, weighted, plus the opacity cost."""
    backdrops = Backdrops(SIZE)
    w = T.tensor4('w')
    seen = composite(clear.image, clear.opacity, backdrops.image)
    loss = (seen * w).sum() + 7.0 * opacity(clear.opacity)
    return (backdrops, theano.function([], [seen, clear.opacity[0, 0]]),
            theano.function([w], [loss, T.grad(loss, clear.param)]))


def test_a_transparent_image_starts_half_opaque_with_the_given_colours(clear, clear_fns):
    picture = np.random.RandomState(0).uniform(5, 250, SIZE + (3,))
    clear.set_image(picture)
    rgb, alpha = clear.get_rgba()
    np.testing.assert_allclose(rgb, picture, atol=1e-3)
    np.testing.assert_allclose(alpha, 0.5, atol=1e-6)
    # shown over the ground, half and half
    np.testing.assert_allclose(clear.get_image(), (picture + clear.ground) / 2, atol=1e-3)


def test_the_network_sees_the_picture_over_the_backdrop(clear, clear_fns):
    backdrops, seen_fn, _ = clear_fns
    rng = np.random.RandomState(1)
    clear.set_image(rng.uniform(5, 250, SIZE + (3,)))
    v = clear.param.get_value()
    v[3] = rng.normal(0, 2, v[3].shape)            # an uneven opacity
    clear.param.set_value(v)
    backdrops.randomise(rng)
    seen, alpha = seen_fn()
    rgb, alpha_np = clear.get_rgba()
    np.testing.assert_allclose(alpha, alpha_np, atol=1e-5)
    assert alpha.min() < 0.3 and alpha.max() > 0.7
    behind = backdrops.image.get_value()[0].transpose(1, 2, 0)
    expected = alpha_np[..., None] * rgb + (1 - alpha_np[..., None]) * behind
    np.testing.assert_allclose(seen[0].transpose(1, 2, 0), expected, atol=2e-2)


def test_the_transparent_gradient_matches_finite_differences(clear, clear_fns):
    backdrops, _, f = clear_fns
    rng = np.random.RandomState(2)
    clear.set_image(rng.uniform(40, 215, SIZE + (3,)))
    backdrops.randomise(rng)
    w = rng.normal(size=(1, 3) + SIZE).astype('float32')
    _, g = f(w)
    # the opacity plane's coefficients too (plane 3)
    for idx in [(0, 0, 0, 0), (2, 11, 5, 1), (3, 0, 0, 0), (3, 4, 2, 0), (3, 13, 7, 1)]:
        numeric = central_difference(lambda: f(w)[0], clear.param, idx, 3e-2)
        assert g[idx] == pytest.approx(numeric, rel=3e-2, abs=2e-3 * np.abs(g).max()), idx


def test_the_backdrops_are_smooth_and_change_every_draw():
    rng = np.random.RandomState(3)
    a, b = smooth_field(rng, (64, 48)), smooth_field(rng, (64, 48))
    assert a.shape == (64, 48, 3) and 0 <= a.min() and a.max() <= 255
    assert np.abs(a - b).mean() > 30                         # a new backdrop each draw
    assert look.fine_power_share(a) < 0.01                   # no texture to read


def test_the_ground_is_calm_and_in_the_photographs_border_range():
    ranges = look.reference()['ranges']
    for seed in range(40):
        picture = ground((96, 128), seed)
        lum, sat = look.border(picture)
        assert ranges['border_luminance'][0] <= lum <= ranges['border_luminance'][1], seed
        assert ranges['border_saturation'][0] <= sat <= ranges['border_saturation'][1], seed
        assert look.fine_power_share(picture) < 0.01
    assert not np.allclose(ground((8, 8), 0), ground((8, 8), 1))


def test_only_the_fourier_image_is_transparent():
    assert not recipes.settings('default', param='phase').graph['transparent']
    assert not recipes.settings('default', param='pixels').graph['transparent']
    with pytest.raises(ValueError, match='--transparency needs --param fourier'):
        param.build('pixels', (8, 8), transparent=True)
    # on and off are two graphs; the cost is a run setting
    on, off = recipes.settings('default', transparency=20.0), recipes.settings('default')
    assert on.graph['transparent'] and not off.graph['transparent']
    assert on.key() == on.replace(transparency=9.0).key() != off.key()


def test_the_cost_of_opacity_clears_what_the_class_does_not_need(tiny):
    """On a small network: uncharged, the opacity stays or grows; charged,
    it falls, and the finished picture is shown over the seed's ground."""
    from inception_art.objectives import ClassObjective
    from inception_art.step import ImageOptimizer
    opt = ImageOptimizer(tiny, ClassObjective('logit', classes=(3,)), lr=0.1, rule='adam',
                         param='fourier', transparent=True)
    grey = np.full(tiny.size + (3,), 128.0)
    means = {}
    for cost in (0.0, 50.0):
        opt.restart(grey, dict(transparency=cost, seed=4))
        opt.run(30)
        means[cost] = float(opt.picture.get_rgba()[1].mean())
    assert means[0.0] > 0.6 and means[50.0] < 0.35, means      # 0.70 and 0.24 measured
    rgb, alpha = opt.picture.get_rgba()
    shown = alpha[..., None] * rgb + (1 - alpha[..., None]) * ground(tiny.size, 4)
    np.testing.assert_allclose(opt.get_float_image(), shown, atol=1e-3)
