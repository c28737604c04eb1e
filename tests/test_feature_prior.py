"""The network's own prior (feature_prior.py): the statistics of its folded
batch norms, against numpy, finite differences and real photographs."""
import numpy as np
import pytest

from conftest import tiny_network
from inception_art.feature_prior import feature_statistics_term
from inception_art.theano_env import T, lasagne, theano


def numpy_term(outputs, norms):
    terms = []
    for out, (_, gamma, beta) in zip(outputs, norms):
        scale = np.abs(gamma) + 1e-3
        mean = out.mean(axis=(0, 2, 3))
        sd = np.sqrt(((out - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3)) + 1e-6)
        terms.append(np.mean(((mean - beta) / scale) ** 2 + (sd / scale - 1) ** 2))
    return np.mean(terms)


@pytest.fixture(scope='module')
def tiny_with_norms():
    """The tiny network with two of its layers declared folded norms."""
    net = tiny_network((24, 32))
    layers = [layer for layer in lasagne.layers.get_all_layers(net.logits)
              if getattr(layer, 'num_filters', None)][:2]
    rng = np.random.RandomState(0)
    net.norms = [(layer, rng.uniform(0.5, 2, layer.num_filters).astype('float32'),
                  rng.normal(0, 1, layer.num_filters).astype('float32')) for layer in layers]
    return net


def test_the_term_is_the_numpy_statistics(tiny_with_norms):
    net = tiny_with_norms
    x = T.tensor4('x')
    term = theano.function([x], feature_statistics_term(net, x))
    outs = theano.function([x], lasagne.layers.get_output([n[0] for n in net.norms], x))
    image = np.random.RandomState(1).uniform(0, 255, (2, 3, 24, 32)).astype('float32')
    assert float(term(image)) == pytest.approx(numpy_term(outs(image), net.norms), rel=1e-4)


def test_the_terms_gradient_matches_finite_differences(tiny_with_norms):
    net = tiny_with_norms
    x = T.tensor4('x')          # the network's ops are float32: differences of 4 grey levels
    term = feature_statistics_term(net, x)
    f = theano.function([x], term)
    g = theano.function([x], T.grad(term, x))
    rng = np.random.RandomState(2)
    image = rng.uniform(0, 255, (1, 3, 24, 32)).astype('float32')
    grad = g(image)
    top = np.abs(grad).max()
    for _ in range(8):
        c, i, j = rng.randint(3), rng.randint(24), rng.randint(32)
        up, down = image.copy(), image.copy()
        up[0, c, i, j] += 4.0
        down[0, c, i, j] -= 4.0
        numeric = (float(f(up)) - float(f(down))) / 8.0
        assert grad[0, c, i, j] == pytest.approx(numeric, rel=0.05, abs=0.02 * top), (c, i, j)


@pytest.mark.full_network
def test_photographs_have_the_statistics_the_norms_expect():
    """On Lite0, real photographs score lower than noise or a flat picture:
    the term is a natural-image prior. (Measured: chelsea 0.32, coffee
    0.24, astronaut 0.15; uniform noise 0.67, flat grey 0.83.)"""
    skimage_data = pytest.importorskip('skimage.data')
    from inception_art.images import resize
    from inception_art.nets import build
    net = build('efficientnet-lite0', (224, 224))
    assert len(net.norms) == 16
    x = T.tensor4('x')
    term = theano.function([x], feature_statistics_term(net, x))

    def score(picture):
        return float(term(np.asarray(picture, 'float32').transpose(2, 0, 1)[None]))
    photographs = [score(resize(getattr(skimage_data, n)(), (224, 224)))
                   for n in ('chelsea', 'coffee', 'astronaut')]
    rng = np.random.RandomState(3)
    noise = score(rng.uniform(0, 255, (224, 224, 3)))
    flat = score(np.full((224, 224, 3), 128.0))
    assert max(photographs) < 0.6 * min(noise, flat), (photographs, noise, flat)


def test_vgg_takes_no_statistics_in_one_line():
    from inception_art import recipes
    from inception_art.loop import check
    with pytest.raises(ValueError, match='--stats-strength needs a network with batch norms'):
        check(recipes.settings('default', model='vgg16', stats_strength=1.0))
