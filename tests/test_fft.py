"""The Fourier images' FFT ops against numpy and finite differences."""
import numpy as np
import pytest

from inception_art.fft import IRFFT2, irfft2
from inception_art.theano_env import T, theano


@pytest.mark.parametrize('size', [(6, 8), (5, 7)])
def test_irfft2_is_numpys_orthonormal_inverse(size):
    h, w = size
    rng = np.random.RandomState(0)
    half = rng.randn(3, h, w // 2 + 1, 2).astype('float32')
    spectrum = T.tensor4()
    got = theano.function([spectrum], irfft2(spectrum, size))(half)
    want = np.fft.irfft2(half[..., 0] + 1j * half[..., 1], s=size, norm='ortho')
    assert got.dtype == np.float32 and got.shape == (3, h, w)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('size', [(6, 8), (5, 7)])
def test_irfft2_gradient_matches_finite_differences(size):
    h, w = size
    rng = np.random.RandomState(1)
    spectrum = theano.shared(rng.randn(3, h, w // 2 + 1, 2))
    weights = rng.randn(3, h, w)
    loss = (irfft2(spectrum, size) * weights).sum()
    grad = theano.function([], T.grad(loss, spectrum))()
    value = theano.function([], loss)
    start = spectrum.get_value()
    # every column kind: the zero frequency, two-sided ones and (even w) the last
    for index in [(c, i, j, k) for c in (0, 2) for i in (0, h - 1) for j in range(w // 2 + 1)
                  for k in (0, 1)]:
        moved = []
        for sign in (1, -1):
            v = start.copy()
            v[index] += sign * 1e-3
            spectrum.set_value(v)
            moved.append(value())
        spectrum.set_value(start)
        assert grad[index] == pytest.approx((moved[0] - moved[1]) / 2e-3, abs=1e-6)


def test_a_spectrum_of_the_wrong_size_is_one_clear_error():
    spectrum = T.tensor4()
    f = theano.function([spectrum], IRFFT2((6, 8))(spectrum))
    with pytest.raises(ValueError, match='cannot make planes 8x6'):
        f(np.zeros((3, 6, 4, 2), 'float32'))
