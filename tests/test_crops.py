"""Centre-biased crops (transforms.CentreCrops): where they look, what they
sample, their gradient, and a step that sees only them."""
import numpy as np
import pytest

from conftest import tiny_network
from inception_art import recipes
from inception_art.loop import Renderer, check
from inception_art.theano_env import T, theano
from inception_art.transforms import CentreCrops


def sample(crops, image):
    x = T.tensor4('x')
    return theano.function([x], crops(x))(image.transpose(2, 0, 1)[None].astype('float32'))


def test_a_crop_at_one_canvas_pixel_a_step_is_that_region():
    rng = np.random.RandomState(0)
    image = rng.uniform(0, 255, (40, 60, 3))
    crops = CentreCrops((40, 60), out=16, count=2)
    crops.boxes.set_value(np.array([[5, 7, 1.0], [20, 40, 1.0]], dtype='float32'))
    got = sample(crops, image)
    assert got.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(got[0].transpose(1, 2, 0), image[5:21, 7:23], atol=1e-3)
    np.testing.assert_allclose(got[1].transpose(1, 2, 0), image[20:36, 40:56], atol=1e-3)


def test_a_larger_crop_is_resampled_bilinearly_and_sees_grey_past_the_edge():
    ys, xs = np.mgrid[:32, :32].astype(float)
    image = np.dstack([xs, ys, xs + ys])          # linear: bilinear sampling is exact
    crops = CentreCrops((32, 32), out=8, count=1)
    crops.boxes.set_value(np.array([[2.0, 3.0, 2.5]], dtype='float32'))
    got = sample(crops, image)[0]
    grid = np.arange(8) * 2.5
    np.testing.assert_allclose(got[0], (3 + grid)[None, :].repeat(8, 0), atol=1e-3)
    np.testing.assert_allclose(got[1], (2 + grid)[:, None].repeat(8, 1), atol=1e-3)
    crops.boxes.set_value(np.array([[-20.0, -20.0, 1.0]], dtype='float32'))
    assert np.allclose(sample(crops, image)[0][:, 0, 0], 128)


def test_the_draws_stay_near_the_centre_within_their_extent():
    crops = CentreCrops((300, 500), out=100, count=500, spread=0.15, extent=(0.3, 0.6))
    boxes = crops.draw(np.random.RandomState(1))
    side = boxes[:, 2] * 100
    centre_y = boxes[:, 0] + boxes[:, 2] * 99 / 2
    centre_x = boxes[:, 1] + boxes[:, 2] * 99 / 2
    assert 0.3 * 300 <= side.min() and side.max() <= 0.6 * 300
    assert 0.1 * 300 <= centre_y.min() and centre_y.max() <= 0.9 * 300
    assert 0.1 * 500 <= centre_x.min() and centre_x.max() <= 0.9 * 500
    assert abs(np.mean(centre_x) / 500 - 0.5) < 0.02 and 0.1 < np.std(centre_x) / 500 < 0.2


def test_the_crops_gradient_matches_finite_differences():
    rng = np.random.RandomState(2)
    crops = CentreCrops((20, 24), out=9, count=3, extent=(0.5, 0.9))
    crops.randomise(rng)
    weights = rng.normal(size=(3, 3, 9, 9)).astype('float32')
    x = T.tensor4('x')
    loss = (crops(x) * weights).sum()
    f = theano.function([x], loss)
    g = theano.function([x], T.grad(loss, x))
    image = rng.uniform(0, 255, (1, 3, 20, 24)).astype('float32')
    grad = g(image)
    eps = 0.5                     # the loss is linear in the image: exact differences
    for _ in range(12):
        c, i, j = rng.randint(3), rng.randint(20), rng.randint(24)
        up, down = image.copy(), image.copy()
        up[0, c, i, j] += eps
        down[0, c, i, j] -= eps
        numeric = (float(f(up)) - float(f(down))) / (2 * eps)
        assert grad[0, c, i, j] == pytest.approx(numeric, abs=2e-2), (c, i, j)
    assert np.abs(grad).sum() > 0


def test_a_step_that_sees_only_crops_raises_the_target():
    s = recipes.settings('default', model=tiny_network, canvas=(64, 80), views=(0,), crops=3,
                         crop_size=40, crop_extent=(0.4, 0.8), steps=30)
    check(s)
    opt = Renderer().optimizer(s, s['canvas'])
    assert opt.views.factors == () and opt.views.crops.count == 3
    opt.objective.set_classes(4)
    opt.restart(np.full((64, 80, 3), 128.0), s.run)
    logits = [opt.step()[1] for _ in range(40)]
    # each step sees other crops: compare the first and last five
    assert np.mean(logits[-5:]) > np.mean(logits[:5]) + 0.15, logits
    with pytest.raises(ValueError, match='--views 0 leaves the network nothing'):
        check(recipes.settings('default', views=(0,)))


def test_an_octave_grows_from_the_centre_into_fresh_noise():
    """``--octave-mode centre``: the last octave's picture, enlarged halfway
    to the new canvas, in the middle of the new start's noise."""
    from inception_art.images import resize_float
    from inception_art.loop import grow_into_centre, initial_image
    last = np.random.RandomState(5).uniform(0, 255, (40, 50, 3)).astype('float32')
    border = initial_image('noise', (60, 70), 3)
    grown = grow_into_centre(last, (60, 70), border)
    assert grown.shape == (60, 70, 3)
    np.testing.assert_allclose(grown[5:55, 5:65], resize_float(last, (50, 60)), atol=1e-4)
    np.testing.assert_allclose(grown[:5], border[:5])
    np.testing.assert_allclose(grown[:, :5], border[:, :5])


def test_a_render_with_centre_octaves_ends_at_the_canvas():
    from inception_art.loop import render
    seen = []
    picture, _ = render((3,), model=tiny_network, canvas=(56, 64), steps=6, octaves=3,
                        octave_scale=1.3, octave_mode='centre', views=(1,), prior_strength=0,
                        progress=False, callback=lambda i, loss, logit: seen.append(i))
    assert picture.shape == (56, 64, 3) and seen == list(range(6))
