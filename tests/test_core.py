"""The assembled step (parameterisation, transforms, pooled views), the
recipes and the look measures, on the tiny network and on numbers computed
independently here."""
import numpy as np
import pytest

from inception_art import look, recipes
from inception_art.objectives import ClassObjective
from inception_art.loop import octave_sizes
from inception_art.step import ImageOptimizer
from inception_art.theano_env import theano, T
from inception_art.views import NetworkViews, check

from conftest import tiny_network


# --- pooled network views ------------------------------------------------------

@pytest.fixture(scope='module')
def pooled_views():
    """The tiny network's views of a 64x96 canvas pooled by 1 and 2 (one
    random network per size, as the real ones are built per size)."""
    return NetworkViews('tiny', (64, 96), (1, 2),
                        networks={1: tiny_network((64, 96), seed=0),
                                  2: tiny_network((32, 48), seed=0)})


def test_a_pooled_view_is_the_network_on_the_average_pooled_canvas(pooled_views):
    x = T.tensor4('x')
    maps = theano.function([x], pooled_views.outputs(x))
    direct = theano.function([x], pooled_views.networks[2].logit_map(x))
    canvas = np.random.RandomState(0).uniform(0, 255, (1, 3, 64, 96)).astype('float32')
    pooled = canvas.reshape(1, 3, 32, 2, 48, 2).mean(axis=(3, 5))
    full, half = maps(canvas)
    np.testing.assert_allclose(half, direct(pooled), rtol=1e-4, atol=1e-4)
    assert full.shape[2:] == (16, 24) and half.shape[2:] == (8, 12)


def test_views_too_small_for_the_network_are_refused_before_building():
    with pytest.raises(ValueError, match='pooled by 8 of a 256x256 canvas is 32x32.*'
                                         'minimum 224x224'):
        check('vgg16', (256, 256), (1, 8))
    with pytest.raises(ValueError, match='factors >= 1'):
        check('efficientnet-lite0', (256, 256), (0,))
    check('efficientnet-lite0', (256, 256), (2, 8))     # 32x32 is Lite0's least


def test_views_average_their_losses(pooled_views):
    obj = ClassObjective('logit-plain', classes=(3,))
    x = T.tensor4('x')
    maps = pooled_views.outputs(x)
    from inception_art.views import mean_loss
    f = theano.function([x], [mean_loss(obj, maps)[0]] + [obj.loss(m)[0] for m in maps])
    canvas = np.random.RandomState(1).uniform(0, 255, (1, 3, 64, 96)).astype('float32')
    both, one, two = f(canvas)
    assert both == pytest.approx((one + two) / 2, rel=1e-5)


# --- the assembled step --------------------------------------------------------

@pytest.fixture(scope='module')
def fourier_step(pooled_views):
    return ImageOptimizer(pooled_views, ClassObjective('logit', classes=(4,)), lr=0.05,
                          param='fourier', affine=dict(shift=4, scale=(0.8, 1.2), degrees=15))


def test_the_fourier_step_with_views_and_affine_raises_the_target(fourier_step):
    opt = fourier_step
    opt.restart(np.full((64, 96, 3), 128.0), dict(seed=0))
    _, first = opt.step()
    for _ in range(30):
        _, last = opt.step()
    assert last > first + 0.25
    image = opt.get_float_image()
    assert image.shape == (64, 96, 3) and 0 < image.min() and image.max() < 255
    assert image.std() > 1          # it painted something


def test_restart_makes_a_run_repeatable(fourier_step):
    runs = []
    for _ in range(2):
        fourier_step.restart(np.full((64, 96, 3), 100.0), dict(lr=0.05, seed=3))
        for _ in range(3):
            fourier_step.step()
        runs.append(fourier_step.get_float_image())
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-3)


def test_prior_term_acts_on_the_image_not_the_view():
    """The loss is the network term plus strength times the prior of the
    image itself, whatever view of it the network was shown."""
    from inception_art.prior import PatchPrior, default_path
    prior = PatchPrior.load(default_path('student'), scales=(1, 2))
    net = tiny_network((40, 48))
    obj = ClassObjective('logit', classes=(2,))
    image = np.random.RandomState(4).uniform(30, 220, (40, 48, 3)).astype('float32')
    x = T.tensor4('x')
    batch = image.transpose(2, 0, 1)[None]
    prior_value = float(theano.function([x], prior.term(x, size=(40, 48)))(batch))
    net_value = float(theano.function([x], obj.loss(net.logit_map(x))[0])(batch))
    assert prior_value > 0
    plain = ImageOptimizer(net, obj, prior=prior, prior_strength=3.0, lr=1e-6)
    plain.restart(image)
    assert plain.step()[0] == pytest.approx(net_value + 3.0 * prior_value, rel=1e-4)
    moved = ImageOptimizer(net, obj, prior=prior, lr=1e-6,
                           affine=dict(shift=6, degrees=20, scale=(0.8, 1.2)))
    losses = []
    for strength in (3.0, 0.0):             # the same seed draws the same view
        moved.restart(image, dict(prior_strength=strength, seed=5))
        losses.append(moved.step()[0])
    assert losses[0] - losses[1] == pytest.approx(3.0 * prior_value, rel=1e-3)
    assert losses[1] != pytest.approx(net_value, rel=1e-3)   # the view did move


# --- recipes -------------------------------------------------------------------

def test_the_2015_recipe_is_the_2015_stills():
    s = recipes.settings('2015')
    assert s['init'] == 'photo' and s['canvas'] is None          # the photo sets the canvas
    assert s['views'] == (3, 4) and s['rule'] == 'adam2015' and s['lr'] == 5.0
    assert s['param'] == 'pixels' and s['steps'] == 100
    assert s['prior'] == 'student' and s['prior_scales'] == 'still'
    assert s['prior_strength'] == 1000.0
    assert s['jitter'] == 0 and s['blur'] == 0 and s['shift'] == 0 and s['degrees'] == 0
    stream = recipes.settings('2015-stream')
    assert stream['canvas'] == (472, 840) and stream['views'] == (1,)
    assert stream['steps'] == 10 and stream['prior_strength'] == 10.0
    assert stream['prior_scales'] == 'video'


def test_a_flag_overrides_one_setting_of_a_recipe():
    s = recipes.settings('2015', steps=7, lr=None)
    assert s['steps'] == 7 and s['lr'] == 5.0
    with pytest.raises(ValueError, match='unknown recipe'):
        recipes.settings('2016')
    with pytest.raises(ValueError, match='unknown setting.*colour'):
        recipes.settings('default', colour=3)


def test_octaves_grow_to_the_canvas():
    assert octave_sizes((512, 512), 3, 2.0) == [(128, 128), (256, 256), (512, 512)]
    assert octave_sizes((360, 640), 1, 1.4) == [(360, 640)]


def test_the_shipped_photo_is_the_2015_canvas():
    from inception_art.images import load_rgb
    assert load_rgb(recipes.PHOTO).shape == (360, 640, 3)


# --- look measures --------------------------------------------------------------

def test_contrast_and_colourfulness_against_hand_computed_values():
    grey = np.full((8, 8, 3), 120, np.uint8)
    assert look.contrast(grey) == 0 and look.colourfulness(grey) == 0
    halves = np.zeros((8, 8, 3), np.uint8)
    halves[:4] = 255                        # half white, half black
    assert look.contrast(halves) == pytest.approx(127.5)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200                       # rg = 200, yb = 100 everywhere
    assert look.colourfulness(red) == pytest.approx(0.3 * np.hypot(200, 100))


def test_the_thumbnail_keeps_large_structure_and_drops_fine_texture():
    rng = np.random.RandomState(0)
    fine = rng.randint(0, 256, (256, 384, 3)).astype(np.uint8)       # pixel noise
    thumb = look.thumbnail(fine)
    assert thumb.shape == fine.shape and look.contrast(thumb) < 0.2 * look.contrast(fine)
    coarse = np.zeros((256, 384, 3), np.uint8)
    coarse[:, 192:] = 255                                             # one edge
    assert look.contrast(look.thumbnail(coarse)) > 0.9 * look.contrast(coarse)


def test_photographs_reference_has_each_photo_in_its_range():
    ref = look.reference()
    low, high = ref['ranges']['contrast']
    assert 25 < low < high < 90
    assert set(ref['photographs']) == set(look.PHOTOGRAPHS)


def test_a_channel_objective_runs_in_the_same_core(pooled_views):
    """Channels (the post's top-level features) use the Fourier image, the
    transforms and the pooled views like classes do."""
    from inception_art.objectives import ChannelObjective
    opt = ImageOptimizer(pooled_views, ChannelObjective('logits', channel=6), lr=0.05,
                         param='fourier', rule='adam2015',
                         affine=dict(shift=4, scale=(0.8, 1.2), degrees=15))
    opt.restart(np.full((64, 96, 3), 128.0), dict(seed=0))
    _, first = opt.step()
    for _ in range(30):
        _, last = opt.step()
    assert last > 2 * first and last > first + 0.05
    assert look.contrast(opt.get_image()) > 5        # not a grey picture


def test_the_glitter_and_the_border_are_measured():
    rng = np.random.RandomState(0)
    noise = rng.uniform(0, 255, (128, 128, 3))
    ramp = np.dstack([np.tile(np.linspace(0, 255, 128), (128, 1))] * 3)
    # white noise: the share of frequencies beyond 1/8 cycle per pixel (95%)
    assert look.fine_power_share(noise) == pytest.approx(1 - np.pi / 64, abs=0.02)
    assert look.fine_power_share(ramp) < 0.01
    framed = np.full((100, 100, 3), 255.0)
    framed[15:85, 15:85] = (200, 0, 0)
    assert look.border(framed) == (pytest.approx(255.0), pytest.approx(0.0))
    luminance, saturation = look.border(framed, share=0.3)
    assert luminance < 255 and saturation > 0
    low, high = look.reference()['ranges']['fine_power']
    assert 0 < low < high < 0.2          # photographs: a few percent of glitter
