"""The bilinear resample's C ops against scipy, their own numpy reference
and finite differences."""
import numpy as np
import pytest
from scipy import ndimage

from inception_art.resample import BilinearSample, BilinearSampleGrad, bilinear_sample
from inception_art.theano_env import T, theano

H, W, FILL = 9, 13, 128.0


def _positions(rng, count=400):
    # inside, near every edge, far outside, exactly on pixels
    x = rng.uniform(-3, W + 2, count).astype('float32')
    y = rng.uniform(-3, H + 2, count).astype('float32')
    x[:20], y[:20] = np.arange(20) % W, np.arange(20) % H
    x[20:25] = (-1e9, 1e9, np.nan, 0.5, W - 1)
    return x, y


@pytest.fixture(scope='module')
def ops():
    image, g = T.tensor4('image'), T.matrix('g')
    x, y = T.vector('x'), T.vector('y')
    out = bilinear_sample(image, x, y, FILL)
    mode = theano.compile.mode.get_default_mode()
    py = mode.excluding('cxx_only').__class__(linker='py', optimizer=mode.optimizer)
    fns = {}
    for name, m in (('c', None), ('py', py)):
        fns[name] = (theano.function([image, x, y], out, mode=m),
                     theano.function([image, x, y, g],
                                     BilinearSampleGrad(FILL)(image, x, y, g), mode=m))
    return fns


def test_the_sample_matches_scipy_with_the_fill_past_the_edge(ops):
    rng = np.random.RandomState(0)
    image = rng.uniform(0, 255, (1, 3, H, W)).astype('float32')
    x, y = _positions(rng)
    got = ops['c'][0](image, x, y)
    assert got.shape == (3, len(x))
    finite = np.isfinite(x)
    for c in range(3):
        # grid-constant: each neighbour past the edge is the fill
        want = ndimage.map_coordinates(image[0, c].astype('float64'), [y[finite], x[finite]],
                                       order=1, mode='grid-constant', cval=FILL)
        np.testing.assert_allclose(got[c, finite], want, rtol=1e-5, atol=1e-3)
    assert np.all(got[:, 20:23] == FILL)            # far outside and not a number
    np.testing.assert_allclose(got[:, :20], image[0][:, y[:20].astype(int), x[:20].astype(int)])


def test_the_c_ops_match_their_numpy_reference(ops):
    rng = np.random.RandomState(1)
    image = rng.uniform(0, 255, (1, 3, H, W)).astype('float32')
    x, y = _positions(rng)
    g = rng.randn(3, len(x)).astype('float32')
    for k in range(2):
        args = (image, x, y) + ((g,) if k else ())
        np.testing.assert_allclose(ops['c'][k](*args), ops['py'][k](*args), rtol=1e-5, atol=1e-4)
    assert BilinearSample(FILL) == BilinearSample(128) != BilinearSample(0.0)


def test_the_gradient_matches_finite_differences():
    rng = np.random.RandomState(2)
    image = theano.shared(rng.uniform(0, 255, (1, 3, H, W)).astype('float64'))
    x, y = (theano.shared(v.astype('float64')) for v in _positions(rng, 200))
    weights = rng.randn(3, 200)
    loss = (bilinear_sample(image, x, y, FILL) * weights).sum()
    grad = theano.function([], T.grad(loss, image))()
    value = theano.function([], loss)
    start = image.get_value()
    for index in [(0, c, i, j) for c in range(3) for i in (0, 4, H - 1) for j in (0, 7, W - 1)]:
        moved = []
        for sign in (1, -1):
            v = start.copy()
            v[index] += sign * 0.5
            image.set_value(v)
            moved.append(value())
        image.set_value(start)
        assert grad[index] == pytest.approx((moved[0] - moved[1]) / 1.0, rel=1e-6, abs=1e-8)


def test_mismatched_positions_are_one_clear_error(ops):
    image = np.zeros((1, 3, H, W), 'float32')
    with pytest.raises(ValueError, match='as many y as x'):
        ops['c'][0](image, np.zeros(4, 'float32'), np.zeros(5, 'float32'))
    with pytest.raises(TypeError, match='4-d float image'):
        BilinearSample()(T.matrix(), T.vector(), T.vector())
