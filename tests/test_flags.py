"""Every render flag reaches what it sets, and does it: the jitter, the
blur, the start image, the objective and the prior (on the tiny network);
EfficientNet's minimum size."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from conftest import tiny_network
from inception_art import nets, recipes
from inception_art.loop import Renderer, initial_image, load_prior, render
from inception_art.objectives import ClassObjective
from inception_art.render import parse_args
from inception_art.step import ImageOptimizer
from inception_art.theano_env import T, theano
from inception_art.transforms import Jitter


@pytest.mark.parametrize('flags, name, value', [
    (['--objective', 'prob'], 'objective', 'prob'),
    (['--prior', 'gaussian'], 'prior', 'gaussian'),
    (['--prior-strength', '3'], 'prior_strength', 3.0),
    (['--init', 'noise'], 'init', 'noise'),
    (['--init', str(recipes.PHOTO)], 'init', str(recipes.PHOTO)),
    (['--jitter', '4'], 'jitter', 4),
    (['--blur', '1.5', '--blur-every', '3'], 'blur', 1.5),
    (['--scale', '1.2'], 'scale', (1.2, 1.2)),
])
def test_flags_become_settings(flags, name, value):
    s = recipes.from_args(parse_args(['--class', 'volcano'] + flags))
    assert s[name] == value
    # and nothing else moved from the recipe's
    default = recipes.settings('default')
    assert {k for k in s if s[k] != default[k]} == {name} | (
        {'blur_every'} if '--blur-every' in flags else set())


def test_objective_and_prior_flags_reach_the_compiled_step():
    """The Renderer builds the step the settings name: the objective's kind,
    and a prior term at the given strength (loss = network + strength x
    prior, so the loss moves by strength x the prior term)."""
    s = recipes.settings('default', model=tiny_network, views=(1,), param='pixels',
                         objective='prob', prior='gaussian', prior_strength=3.0,
                         prior_scales='still', prior_stride=1, shift=0, degrees=0,
                         scale=(1, 1))
    opt = Renderer().optimizer(s, (40, 48))
    assert opt.objective.kind == 'prob'
    image = np.random.RandomState(0).uniform(0, 255, (40, 48, 3))
    losses = []
    for strength in (0.0, 3.0):
        opt.restart(image, dict(lr=0.0, prior_strength=strength))
        losses.append(opt.step()[0])
    prior = load_prior('gaussian', 'still')
    x = T.tensor4('x')
    term = theano.function([x], prior.term(x, size=(40, 48)))(
        image.transpose(2, 0, 1)[None].astype('float32'))
    assert losses[1] - losses[0] == pytest.approx(3.0 * float(term), rel=1e-3)


def test_jitter_rolls_the_view_by_its_drawn_shift():
    j = Jitter(3)
    j.randomise(np.random.RandomState(1))
    dy, dx = j.shift.get_value()
    assert (dy, dx) != (0, 0)
    x = T.tensor4('x')
    image = np.arange(2 * 3 * 7 * 9, dtype='float32').reshape(2, 3, 7, 9)
    rolled = theano.function([x], j(x))(image)
    np.testing.assert_array_equal(rolled, np.roll(np.roll(image, dy, axis=2), dx, axis=3))


@pytest.fixture(scope='module')
def tiny_step():
    return ImageOptimizer(tiny_network(), ClassObjective('logit'), param='pixels')


def test_render_sets_the_jitter_it_is_given(tiny_step):
    shifts = []
    render((3,), optimizer=tiny_step, steps=6, jitter=2, progress=False,
           callback=lambda *_: shifts.append(tuple(tiny_step.jitter.shift.get_value())))
    assert tiny_step.jitter.pixels == 2
    assert len(set(shifts)) > 1 and max(max(map(abs, s)) for s in shifts) <= 2


def test_blur_runs_every_n_steps_but_never_after_the_last(tiny_step, monkeypatch):
    calls = []
    blur = tiny_step.blur
    monkeypatch.setattr(tiny_step, 'blur', lambda sigma: (calls.append(sigma), blur(sigma)))
    seen = []
    render((3,), optimizer=tiny_step, steps=7, blur=0.8, blur_every=3, progress=False,
           callback=lambda i, *_: seen.append(i))
    assert calls == [0.8, 0.8] and seen == list(range(7))     # after steps 3 and 6
    calls.clear()
    render((3,), optimizer=tiny_step, steps=6, blur=0.8, blur_every=3, progress=False)
    assert calls == [0.8]                                     # not after the 6th, the last


def test_blur_is_a_gaussian_of_the_image(tiny_step):
    image = np.random.RandomState(2).uniform(0, 255, (40, 48, 3)).astype('float32')
    tiny_step.set_image(image)
    tiny_step.blur(1.5)
    np.testing.assert_allclose(tiny_step.get_float_image(),
                               ndimage.gaussian_filter(image, (1.5, 1.5, 0)), atol=1e-3)


def still(tiny_step, **settings):
    """The start image, as render leaves it after one step of learning rate
    0 (the update rule's state aside, nothing moves)."""
    picture, _ = render((3,), optimizer=tiny_step, steps=1, lr=0.0, progress=False, **settings)
    return picture.astype(int)


def test_init_noise_is_seeded_noise_about_grey(tiny_step):
    a, b = still(tiny_step, init='noise', seed=1), still(tiny_step, init='noise', seed=2)
    assert np.array_equal(a, still(tiny_step, init='noise', seed=1))
    assert not np.array_equal(a, b)
    assert abs(a.mean() - 128) < 2 and a.min() >= 96 and a.max() <= 160 and a.std() > 15
    assert np.array_equal(still(tiny_step, init='grey'), np.full_like(a, 128))


def test_init_photo_starts_from_that_photo_resized(tiny_step, tmp_path):
    photo = np.random.RandomState(3).randint(0, 256, (80, 96, 3)).astype('uint8')
    path = tmp_path / 'start.png'
    Image.fromarray(photo).save(path)
    picture = still(tiny_step, init=str(path))
    want = initial_image(str(path), (40, 48), 0)
    assert np.abs(picture - want).max() <= 1
    # ...which is the photo at half size (a 2x2 mean, to within resampling)
    halved = photo.reshape(40, 2, 48, 2, 3).mean(axis=(1, 3))
    assert np.abs(picture - halved).mean() < 25


def test_efficientnet_minimum_size():
    least = nets.min_size('efficientnet-lite0')
    assert least == 32
    with pytest.raises(ValueError, match='at least 32x32; got 64x31'):
        nets.build('efficientnet-lite0', (least - 1, 64))
    # At the minimum, the five stride-2 stages leave one position.
    from inception_art.theano_env import lasagne
    net = nets.build('efficientnet-lite0', (least, least))
    assert lasagne.layers.get_output_shape(net.logits) == (None, 1000, 1, 1)
    with pytest.raises(ValueError, match='unknown model'):
        nets.min_size('resnet')
