"""Parameterisations, transforms and update rules of the optimisation core:
each against numpy and finite differences."""
import numpy as np
import pytest

from conftest import central_difference
from inception_art import param
from inception_art.theano_env import theano, T
from inception_art.transforms import Jitter, RandomAffine, affine_matrix
from inception_art.updates import Adam, Adam2015, NormalisedGradient, RULES


# --- the Fourier image -------------------------------------------------------

@pytest.fixture(scope='module')
def fourier():
    return param.build('fourier', (24, 17))     # odd width: the is_odd path


@pytest.fixture(scope='module')
def fourier_fns(fourier):
    w = T.tensor4('w')
    loss = (fourier.image * w).sum()
    return (theano.function([], fourier.image),
            theano.function([w], [loss, T.grad(loss, fourier.param)]))


def test_fourier_image_round_trips_a_picture(fourier, fourier_fns):
    picture = np.random.RandomState(0).uniform(5, 250, (24, 17, 3))
    fourier.set_image(picture)
    np.testing.assert_allclose(fourier.get_image(), picture, atol=1e-3)
    image, _ = fourier_fns
    np.testing.assert_allclose(image()[0].transpose(1, 2, 0), picture, atol=2e-2)


def test_fourier_gradient_matches_finite_differences(fourier, fourier_fns):
    _, f = fourier_fns
    rng = np.random.RandomState(1)
    fourier.set_image(rng.uniform(40, 215, (24, 17, 3)))
    w = rng.normal(size=(1, 3, 24, 17)).astype('float32')
    _, g = f(w)
    for idx in [(0, 0, 0, 0), (1, 3, 2, 0), (2, 11, 8, 1), (0, 23, 5, 1)]:
        numeric = central_difference(lambda: f(w)[0], fourier.param, idx, 3e-2)
        assert g[idx] == pytest.approx(numeric, rel=3e-2, abs=2e-3 * np.abs(g).max())


def test_fourier_scale_follows_the_photographs_slope():
    scale = param.spectrum_scale((64, 64), 1.3)
    f = np.hypot(np.fft.fftfreq(64)[:, None], np.fft.rfftfreq(64)[None, :])
    # One octave up in frequency: the amplitude falls by 2^1.3.
    assert scale[0, 4] / scale[0, 8] == pytest.approx(2 ** 1.3)
    assert scale[0, 0] == scale.max() and f[0, 0] == 0
    from inception_art.look import reference
    assert 1.0 < reference()['amplitude_slope'] < 1.6   # photographs: about 1/f^1.3


def test_colour_matrix_correlates_channels_as_photographs_do():
    from inception_art.prior import PatchPrior, default_path
    m = param.colour_matrix(PatchPrior.load(default_path('student')))
    np.testing.assert_allclose(m, m.T, atol=1e-9)
    assert np.linalg.norm(m, axis=0).max() == pytest.approx(1.0)
    colour = m @ m.T
    corr = colour / np.sqrt(np.outer(np.diag(colour), np.diag(colour)))
    # R, G and B of photographs vary together (correlations about 0.8-0.95).
    assert corr[0, 1] > 0.7 and corr[1, 2] > 0.7 and corr[0, 2] > 0.5


def test_unknown_parameterisation_is_a_clear_error():
    with pytest.raises(ValueError, match='unknown parameterisation'):
        param.build('wavelet', (8, 8))


# --- transforms --------------------------------------------------------------

def bilinear_reference(image, matrix, fill=128.0):
    """The affine view, one pixel at a time in numpy."""
    c, h, w = image.shape
    out = np.empty_like(image, dtype=np.float64)
    for y in range(h):
        for x in range(w):
            sx, sy = matrix @ np.array([x, y, 1.0])
            x0, y0 = int(np.floor(sx)), int(np.floor(sy))
            acc = np.zeros(c)
            for yy, xx, wt in ((y0, x0, (1 - (sy - y0)) * (1 - (sx - x0))),
                               (y0, x0 + 1, (1 - (sy - y0)) * (sx - x0)),
                               (y0 + 1, x0, (sy - y0) * (1 - (sx - x0))),
                               (y0 + 1, x0 + 1, (sy - y0) * (sx - x0))):
                inside = 0 <= xx < w and 0 <= yy < h
                acc += wt * (image[:, yy, xx] if inside else fill)
            out[:, y, x] = acc
    return out


@pytest.fixture(scope='module')
def affine_fns():
    x = T.tensor4('x')
    a = RandomAffine((12, 15), shift=3, scale=(0.8, 1.2), degrees=20)
    view = a(x)
    return a, theano.function([x], view), theano.function([x], T.grad((view ** 2).sum(), x))


def test_affine_view_matches_numpy_bilinear(affine_fns):
    a, f, _ = affine_fns
    rng = np.random.RandomState(2)
    image = rng.uniform(0, 255, (1, 3, 12, 15)).astype('float32')
    a.matrix.set_value(affine_matrix((12, 15)))
    np.testing.assert_allclose(f(image), image, atol=1e-4)     # the identity
    for _ in range(3):
        a.randomise(rng)
        want = bilinear_reference(image[0].astype('float64'), a.matrix.get_value())
        np.testing.assert_allclose(f(image)[0], want, atol=2e-3)


def test_affine_view_gradient_matches_finite_differences(affine_fns):
    a, f, g = affine_fns
    rng = np.random.RandomState(3)
    image = rng.uniform(0, 255, (1, 3, 12, 15)).astype('float64')
    a.matrix.set_value(affine_matrix((12, 15), 1.1, 7.0, (0.5, -1.25)))
    grad = g(image.astype('float32'))
    for idx in [(0, 0, 5, 7), (0, 2, 0, 0), (0, 1, 11, 14)]:
        plus, minus = image.copy(), image.copy()
        plus[idx] += 0.5
        minus[idx] -= 0.5
        numeric = ((f(plus.astype('float32')) ** 2).sum(dtype='float64')
                   - (f(minus.astype('float32')) ** 2).sum(dtype='float64'))
        assert grad[idx] == pytest.approx(numeric, rel=2e-2, abs=0.5)


def test_affine_matrix_scales_and_rotates_about_the_centre():
    m = affine_matrix((11, 21), scale=2.0, degrees=90.0)
    centre = np.array([10.0, 5.0, 1.0])
    np.testing.assert_allclose(m @ centre, centre[:2], atol=1e-5)
    # One pixel right of the centre in the view samples half a pixel from the
    # centre in the image, rotated a quarter turn.
    np.testing.assert_allclose(m @ (centre + [1, 0, 0]) - centre[:2], [0, -0.5], atol=1e-5)


def test_jitter_draws_shifts_within_its_range():
    j = Jitter(3)
    rng = np.random.RandomState(0)
    shifts = []
    for _ in range(200):
        j.randomise(rng)
        shifts.append(j.shift.get_value().copy())
    shifts = np.array(shifts)
    assert shifts.min() == -3 and shifts.max() == 3


# --- update rules --------------------------------------------------------------

def numpy_adam_2015(x, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """ORIGINAL.md's formula, transcribed: beta weighs the *new* gradient."""
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        m = beta1 * g + (1 - beta1) * m
        v = beta2 * g * g + (1 - beta2) * v
        m_hat = m / (1 - (1 - beta1) ** t)
        v_hat = v / (1 - (1 - beta2) ** t)
        x = np.clip(x - lr * m_hat / (np.sqrt(v_hat) + eps), 0, 255)
    return x


def run_rule(rule_class, x0, target, steps, **kwargs):
    x = theano.shared(x0.copy())
    rule = rule_class(x, constrain=lambda v: T.clip(v, 0, 255), **kwargs)
    loss = 0.01 * T.sqr(x - target).sum() + T.sin(x).sum()
    f = theano.function([], [], updates=rule.updates(T.grad(loss, x)))
    grads = []
    for _ in range(steps):
        value = x.get_value().astype('float64')
        grads.append(0.02 * (value - target) + np.cos(value))
        f()
    return x.get_value(), grads


def test_adam_2015_matches_the_original_formula():
    rng = np.random.RandomState(0)
    target = rng.uniform(0, 255, (4, 5)).astype('float32')
    x0 = rng.uniform(0, 255, (4, 5)).astype('float32')
    got, grads = run_rule(Adam2015, x0, target, 8, lr=5.0)
    want = numpy_adam_2015(x0.astype('float64'), grads, 5.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-3)


def test_adam_2015_is_a_near_sign_step_and_textbook_adam_is_not():
    """Under a gradient whose sign flips every step, the 2015 rule keeps
    moving each pixel by about lr; textbook Adam's steps shrink."""
    moves = {}
    for name in ('adam2015', 'adam'):
        x = theano.shared(np.full(50, 128.0, dtype='float32'))
        rule = RULES[name](x, lr=5.0)
        sign = theano.shared(np.float32(1))
        g = sign * np.linspace(0.01, 10, 50).astype('float32')
        f = theano.function([], [], updates=rule.updates(g))
        before = []
        for i in range(10):
            sign.set_value(np.float32(1 if i % 2 == 0 else -1))
            start = x.get_value().copy()
            f()
            before.append(np.abs(x.get_value() - start))
        moves[name] = np.mean(before[-3:])
    assert moves['adam2015'] > 4.0
    assert moves['adam'] < 2.0


def test_every_rule_reset_restarts_with_a_full_first_step():
    x0 = np.full((3, 3), 100.0, dtype='float32')
    for rule_class in (Adam, Adam2015, NormalisedGradient):
        x = theano.shared(x0.copy())
        rule = rule_class(x, lr=5.0)
        f = theano.function([], [], updates=rule.updates(T.grad(T.sqr(x - 200).sum(), x)))
        for _ in range(3):
            f()
        rule.reset()
        before = x.get_value().copy()
        f()
        assert np.abs(x.get_value() - before).mean() == pytest.approx(5.0, rel=1e-3)


# --- the phase-only image ------------------------------------------------------

@pytest.fixture(scope='module')
def phase():
    return param.build('phase', (32, 27))      # odd width: the is_odd path


def test_the_phase_image_keeps_the_photographs_spectrum_mean_and_spread(phase):
    """Whatever the phases: each decorrelated channel has the photographs'
    mean and spread, and its Fourier magnitudes are the photographs' ring
    magnitudes (one scale factor per channel)."""
    from inception_art.look import reference
    stats = reference()['decorrelated']
    image = theano.function([], phase.image)()[0].transpose(1, 2, 0)
    for seed in (0, 1):
        phase.set_image(np.full((32, 27, 3), 128.0), rng=np.random.RandomState(seed))
        picture = phase.get_image()
        np.testing.assert_allclose(theano.function([], phase.image)()[0].transpose(1, 2, 0),
                                   picture, atol=2e-2)
        channels = param.decorrelate(picture, phase.colour)
        np.testing.assert_allclose(channels.mean(axis=(1, 2)), stats['mean'], atol=1e-3)
        np.testing.assert_allclose(channels.std(axis=(1, 2)), stats['sd'], rtol=1e-3)
        magnitude = np.abs(np.fft.rfft2(channels, norm='ortho'))
        for c in range(3):
            # column 0 holds conjugate pairs whose free phases the inverse
            # transform makes Hermitian: its magnitudes are not kept exactly
            ratio = magnitude[c][:, 1:].ravel() / phase.magnitude[c][:, 1:].ravel()
            assert ratio.std() / ratio.mean() < 1e-3
    assert not np.allclose(picture, image)          # the phases moved it


def test_the_phase_image_takes_a_pictures_phases(phase):
    picture = np.random.RandomState(3).uniform(20, 235, (32, 27, 3))
    phase.set_image(picture)
    before = np.fft.rfft2(param.decorrelate(picture, phase.colour), norm='ortho')
    after = np.fft.rfft2(param.decorrelate(phase.get_image(), phase.colour), norm='ortho')
    strong = np.abs(before) > np.percentile(np.abs(before), 20)
    strong[:, 0, 0] = False
    difference = np.angle(after * np.conj(before))[strong]
    assert np.abs(difference).max() < 1e-3


def test_the_phase_images_gradient_matches_finite_differences(phase):
    rng = np.random.RandomState(4)
    phase.set_image(np.full((32, 27, 3), 128.0), rng=rng)
    w = T.tensor4('w')
    loss = (phase.image * w).sum()
    f = theano.function([w], loss)
    g = theano.function([w], T.grad(loss, phase.param))
    weights = rng.normal(size=(1, 3, 32, 27)).astype('float32')
    grad = g(weights)
    for _ in range(8):
        c, i, j = rng.randint(3), rng.randint(1, 32), rng.randint(1, 14)
        numeric = central_difference(lambda: f(weights), phase.param, (c, i, j), 1e-2)
        assert grad[c, i, j] == pytest.approx(numeric, rel=5e-2, abs=5e-2), (c, i, j)
