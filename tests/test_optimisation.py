"""Objective regions, hand-written Adam against numpy, gradients against
finite differences (on a tiny network with every layer kind)."""
import numpy as np
import pytest

from inception_art.updates import Adam
from inception_art.objectives import ClassObjective
from inception_art.step import ImageOptimizer
from inception_art.theano_env import theano, T


# --- objective -------------------------------------------------------------

def numpy_objective(m, a, b, kind):
    """The 2015 objective on a (1, K, h, w) map, written directly."""
    h = m.shape[2]
    upper, lower = m[:, :, :(h + 1) // 2], m[:, :, h // 2:]
    logit = (lower[:, a].mean() + upper[:, b].mean()) / 2
    if kind == 'logit':
        return -lower[:, a].mean() - upper[:, b].mean() + m.mean(), logit
    if kind == 'logit-plain':
        return -lower[:, a].mean() - upper[:, b].mean(), logit
    logp = m - m.max(axis=1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    s = np.exp(logp) if kind == 'prob' else logp
    su, sl = s[:, :, :(h + 1) // 2], s[:, :, h // 2:]
    return -sl[:, a].mean() - su[:, b].mean(), logit


@pytest.fixture(scope='module')
def objective_fns():
    fns = {}
    for kind in ('logit', 'logit-plain', 'prob', 'loglik'):
        obj = ClassObjective(kind)
        m = T.tensor4('m')
        fns[kind] = (obj, theano.function([m], obj.loss(m)))
    return fns


@pytest.mark.parametrize('kind', ['logit', 'logit-plain', 'prob', 'loglik'])
@pytest.mark.parametrize('h', [1, 4, 5])
def test_objective_matches_numpy(objective_fns, kind, h):
    obj, f = objective_fns[kind]
    m = np.random.RandomState(h).normal(0, 3, (1, 7, h, 3)).astype('float32')
    for a, b in [(2, 2), (1, 5)]:
        obj.set_classes(a, b)   # the same compiled function: no recompilation
        loss, logit = f(m)
        want_loss, want_logit = numpy_objective(m.astype('float64'), a, b, kind)
        assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-6)
        assert logit == pytest.approx(want_logit, rel=1e-5, abs=1e-6)


def test_objective_regions(objective_fns):
    """Class A is read from the lower rows only, class B from the upper."""
    obj, f = objective_fns['logit']
    obj.set_classes(1, 2)
    m = np.zeros((1, 4, 4, 2), dtype='float32')
    base = f(m)[0]
    m[0, 1, :2] = 10   # A in the upper half: ignored but for the mean term
    assert f(m)[0] == pytest.approx(base + 10 * 4 / m.size)
    m[0, 1, :2] = 0
    m[0, 1, 2:] = 10   # A in the lower half: counts
    assert f(m)[0] == pytest.approx(base - 10 + 10 * 4 / m.size)
    m[0, 1, 2:] = 0
    m[0, 2, 2:] = 10   # B in the lower half: ignored
    assert f(m)[0] == pytest.approx(base + 10 * 4 / m.size)


def test_one_class_sets_both_halves():
    obj = ClassObjective('logit', classes=(7,))
    assert obj.classes == (7, 7)
    with pytest.raises(ValueError, match='unknown objective'):
        ClassObjective('softmax')


# --- Adam ------------------------------------------------------------------

def numpy_adam(x, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = np.clip(x - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), 0, 255)
    return x


def test_adam_matches_numpy_reference():
    rng = np.random.RandomState(0)
    target = rng.uniform(0, 255, (2, 3)).astype('float32')
    x0 = rng.uniform(0, 255, (2, 3)).astype('float32')
    x = theano.shared(x0.copy())
    adam = Adam(x, lr=5.0, constrain=lambda v: T.clip(v, 0, 255))
    grad = T.sqr(x - target).sum() * 0.01
    step = theano.function([], [], updates=adam.updates(T.grad(grad, x)))
    grads = []
    for _ in range(6):
        grads.append(0.02 * (x.get_value().astype('float64') - target))
        step()
    want = numpy_adam(x0.astype('float64'), grads, 5.0)
    np.testing.assert_allclose(x.get_value(), want, rtol=1e-5, atol=1e-3)
    # After a reset the next step is again a full lr-sized first step.
    adam.reset()
    before = x.get_value().copy()
    step()
    assert np.abs(x.get_value() - before).max() == pytest.approx(5.0, rel=1e-4)


def test_adam_step_has_no_float64():
    x = theano.shared(np.zeros(3, dtype='float32'))
    adam = Adam(x)
    f = theano.function([], [], updates=adam.updates(T.grad(T.sqr(x - 1).sum(), x)))
    dtypes = {v.dtype for node in f.maker.fgraph.toposort() for v in node.outputs
              if hasattr(v, 'dtype')}
    assert 'float64' not in dtypes


# --- the compiled step on a tiny network -----------------------------------

@pytest.fixture(scope='module')
def tiny_optimizer(tiny):
    return ImageOptimizer(tiny, ClassObjective('logit', classes=(3,)), lr=5.0)


def test_gradient_matches_finite_differences(tiny):
    """d loss / d image of network + objective, along random directions."""
    obj = ClassObjective('logit', classes=(3, 6))
    image = T.tensor4('image')
    loss, _ = obj.loss(tiny.logit_map(image))
    f = theano.function([image], [loss, T.grad(loss, image)])
    rng = np.random.RandomState(1)
    x = rng.uniform(20, 235, (1, 3) + tiny.size).astype('float32')
    _, g = f(x)
    assert np.abs(g).max() > 0
    eps = 0.5   # pixels, on the 0..255 scale
    for _ in range(3):
        d = rng.normal(size=x.shape).astype('float32')
        d /= np.linalg.norm(d)
        numeric = (f(x + eps * d)[0] - f(x - eps * d)[0]) / (2 * eps)
        assert float((g * d).sum()) == pytest.approx(float(numeric), rel=2e-2, abs=1e-5)


def test_step_raises_target_logit_and_clips(tiny_optimizer):
    opt = tiny_optimizer
    opt.set_image(np.full(opt.network.size + (3,), 128.0))
    opt.rule.reset()
    first_loss, first = opt.step()
    for _ in range(20):
        loss, last = opt.step()
    assert last > first + 0.2 and loss < first_loss
    value = opt.get_float_image()
    assert value.min() >= 0 and value.max() <= 255
    assert opt.get_image().dtype == np.uint8


def test_prior_in_the_step_lowers_the_prior_term(tiny):
    """One step with the prior on lowers the prior term more than the same
    step without it (the sign is right), and the loss is network term plus
    strength times prior term."""
    from inception_art.prior import PatchPrior, default_path
    prior = PatchPrior.load(default_path('student'), scales=(1, 2))
    x = T.tensor4('x')
    term = theano.function([x], prior.term(x, size=tiny.size))
    start = np.random.RandomState(7).uniform(0, 255, tiny.size + (3,)).astype('float32')
    after = {}
    for strength in (0.0, 50.0):
        opt = ImageOptimizer(tiny, ClassObjective('logit', classes=(3,)), lr=2.0,
                             prior=prior, prior_strength=strength)
        opt.restart(start)
        opt.step()
        after[strength] = float(term(opt.get_float_image().transpose(2, 0, 1)[None]))
    before = float(term(start.transpose(2, 0, 1)[None]))
    assert after[50.0] < before and after[50.0] < after[0.0]


def test_each_step_moves_a_strided_priors_grid(tiny):
    """A strided prior is read on a grid the step moves at random: over a few
    steps, its offsets take several values within the grid spacing."""
    from inception_art.prior import PatchPrior, default_path
    prior = PatchPrior.load(default_path('gaussian'), scales=(1,), stride=4)
    opt = ImageOptimizer(tiny, ClassObjective('logit', classes=(3,)), prior=prior,
                         prior_strength=1.0)
    assert opt.random_parts[-1] is prior
    seen = set()
    for _ in range(8):
        opt.step()
        seen.add(tuple(prior.offsets[1].get_value()))
    assert len(seen) > 2 and all(0 <= v < 4 for offset in seen for v in offset)


@pytest.mark.parametrize('rule', ['adam', 'adam2015', 'gd'])
def test_pixels_stay_in_range_when_the_gradient_pushes_out(tiny, rule):
    """Start at the edges of the range with every gradient pushing further
    out (the objective asks for brighter where the image is 250 and darker
    where it is 5): the clip holds the image inside [0, 255]."""
    opt = ImageOptimizer(tiny, ClassObjective('logit', classes=(3,)), lr=20.0, rule=rule)
    image = np.full(tiny.size + (3,), 250.0, dtype='float32')
    image[:, : tiny.size[1] // 2] = 5.0
    opt.restart(image)
    # A loss whose gradient is -(image - 128): minimising it pushes bright
    # pixels brighter and dark ones darker.
    out = opt.picture.image
    grad = T.grad(-T.sqr(out - 128.0).sum(), opt.picture.param)
    push = theano.function([], [], updates=opt.rule.updates(grad))
    for _ in range(5):
        push()
    value = opt.get_float_image()
    assert value.min() == 0.0 and value.max() == 255.0
