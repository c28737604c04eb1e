"""The Winograd F(2x2, 3x3) op against Theano's own convolution: values,
input gradient, a finite-difference check, and VGG-16's step."""
import numpy as np
import pytest

from inception_art.nets.winograd import Winograd3x3, conv3x3
from inception_art.theano_env import theano, T

# (N, C, K, H, W): odd and even sizes, tiny planes (a single part tile),
# RGB input and wider layers.
SHAPES = [(1, 3, 8, 7, 9), (2, 5, 6, 8, 8), (1, 64, 32, 13, 17),
          (2, 16, 24, 1, 1), (1, 8, 4, 2, 3), (2, 32, 64, 11, 6),
          (1, 128, 128, 9, 15)]


def rel_err(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.fixture(scope='module')
def functions():
    """Forward and input gradient of the op and of ``conv2d``, float32; the
    gradient is that of ``sum(y * r)`` for a random ``r`` (an arbitrary
    output gradient)."""
    x, w, r = T.tensor4('x'), T.tensor4('w'), T.tensor4('r')
    ours = conv3x3(x, w)
    ref = T.nnet.conv2d(x, w, border_mode=(1, 1), filter_flip=False)
    return theano.function(
        [x, w, r], [ours, ref, T.grad((ours * r).sum(), x),
                    T.grad((ref * r).sum(), x)])


@pytest.mark.parametrize('shape', SHAPES)
def test_matches_conv2d(functions, shape):
    n, c, k, h, w = shape
    rng = np.random.RandomState(sum(shape))
    x = rng.randn(n, c, h, w).astype('float32')
    kernels = rng.randn(k, c, 3, 3).astype('float32')
    r = rng.randn(n, k, h, w).astype('float32')
    y, y_ref, gx, gx_ref = functions(x, kernels, r)
    assert y.shape == (n, k, h, w) and gx.shape == x.shape
    assert rel_err(y, y_ref) < 1e-4
    assert rel_err(gx, gx_ref) < 1e-4


def test_compiled_code_is_used(functions):
    """Both directions run the op (in C), not conv2d or the fallback."""
    ops = [node.op for node in functions.maker.fgraph.toposort()
           if isinstance(node.op, Winograd3x3)]
    assert {op.transposed for op in ops} == {False, True}


def test_numpy_fallback_matches():
    x, w = T.tensor4('x'), T.tensor4('w')
    y = Winograd3x3()(x, w)
    y_t = Winograd3x3(transposed=True)(x, w.dimshuffle(1, 0, 2, 3)[:, :, ::-1, ::-1])
    # conv2d has no Python implementation: the reference is compiled apart
    ref = theano.function([x, w], T.nnet.conv2d(x, w, border_mode=(1, 1),
                                                filter_flip=False))
    py = theano.function([x, w], [y, y_t], mode=theano.Mode(linker='py'))
    rng = np.random.RandomState(3)
    xv = rng.randn(2, 4, 5, 6).astype('float32')
    wv = rng.randn(3, 4, 3, 3).astype('float32')
    (a, b), want = py(xv, wv), ref(xv, wv)
    assert rel_err(a, want) < 1e-5 and rel_err(b, want) < 1e-5


@pytest.mark.parametrize('transposed', [False, True])
def test_gradients_float64(transposed):
    """Finite differences at double precision, for both inputs (the weight
    gradient goes through Theano's own conv gradient)."""
    rng = np.random.RandomState(4)
    x = rng.randn(1, 2, 5, 4)
    w = rng.randn(3, 2, 3, 3) if not transposed else rng.randn(2, 3, 3, 3)
    theano.gradient.verify_grad(Winograd3x3(transposed), [x, w], rng=rng,
                                eps=1e-6, abs_tol=1e-6, rel_tol=1e-6)


def test_float64_matches_conv2d():
    x, w = T.dtensor4('x'), T.dtensor4('w')
    f = theano.function([x, w], [conv3x3(x, w), T.nnet.conv2d(
        x, w, border_mode=(1, 1), filter_flip=False)])
    rng = np.random.RandomState(5)
    got, want = f(rng.randn(2, 7, 9, 10), rng.randn(5, 7, 3, 3))
    assert rel_err(got, want) < 1e-12


def test_rejects_bad_shapes():
    x, w = T.tensor4('x'), T.tensor4('w')
    f = theano.function([x, w], conv3x3(x, w))
    with pytest.raises(ValueError, match='do not fit'):
        f(np.zeros((1, 3, 4, 4), 'float32'), np.zeros((2, 4, 3, 3), 'float32'))
    with pytest.raises(ValueError, match='do not fit'):
        f(np.zeros((1, 3, 4, 4), 'float32'), np.zeros((2, 3, 5, 5), 'float32'))
    with pytest.raises(TypeError):
        conv3x3(x, T.dtensor4('w64'))


@pytest.mark.full_network
def test_vgg16_step_matches_corrmm():
    """VGG-16 with random weights of the real shapes at 224x224 (as the
    benchmark builds it): the logit map and the gradient of the class-980
    logit objective to the image, Winograd against CorrMM.

    Every layer's output agrees to ~1e-6 (rounding), but among VGG's
    millions of ReLUs a pre-activation within rounding of 0 takes the
    other side in a few places (seen: 2 units with this image), which
    switches the gradient through that unit on or off, so the gradients
    differ by more there (at most 2% of the largest entry, over 3% of the
    pixels, for this image). Elsewhere they agree to 1e-4: required of
    95% of the entries, and of the whole in the L2 norm to 1e-2.
    """
    from testkit.vgg16 import random_vgg16
    from inception_art.nets import vgg
    from inception_art.objectives import ClassObjective
    from inception_art.weights import VGGWeights
    convs, fcs, mean = random_vgg16()
    weights = VGGWeights(convs, fcs, mean)
    image = T.tensor4('image')
    outputs = []
    for impl in ('corrmm', 'winograd'):
        net = vgg.build(16, (224, 224), weights=weights, conv3x3=impl)
        logits = net.logit_map(image)
        loss, _ = ClassObjective(classes=(980,)).loss(logits)
        outputs += [logits, T.grad(loss, image)]
    f = theano.function([image], outputs)
    wino = [node for node in f.maker.fgraph.toposort()
            if isinstance(node.op, Winograd3x3)]
    assert len(wino) == 2 * 12  # conv1_2 .. conv5_3 (conv1_1, 3 channels: CorrMM)
    rgb = np.random.RandomState(6).uniform(0, 255, (1, 3, 224, 224))
    logits_ref, grad_ref, logits, grad = f(rgb.astype('float32'))
    assert np.abs(grad_ref).max() > 0
    assert rel_err(logits, logits_ref) < 1e-4
    close = np.abs(grad - grad_ref) <= 1e-4 * np.abs(grad_ref).max()
    assert close.mean() > 0.95
    assert np.linalg.norm(grad - grad_ref) < 1e-2 * np.linalg.norm(grad_ref)


def test_kept_kernels_follow_new_and_changed_weights():
    """keep_kernels: the transform is reused while the weights stay; new
    weights (set_value) and weights changed in place are transformed again."""
    rng = np.random.RandomState(3)
    x_value = rng.randn(1, 64, 9, 10).astype('float32')
    r_value = rng.randn(1, 64, 9, 10).astype('float32')
    w = theano.shared(rng.randn(64, 64, 3, 3).astype('float32'))
    x = T.tensor4('x')
    ours = conv3x3(x, w, keep_kernels=True)
    ref = T.nnet.conv2d(x, w, border_mode=(1, 1), filter_flip=False)
    f = theano.function([x], [ours, ref, T.grad((ours * r_value).sum(), x),
                              T.grad((ref * r_value).sum(), x)])
    assert any(isinstance(n.op, Winograd3x3) and n.op.keep_kernels
               for n in f.maker.fgraph.toposort())

    def check():
        y, y_ref, gx, gx_ref = f(x_value)
        assert rel_err(y, y_ref) < 1e-5 and rel_err(gx, gx_ref) < 1e-5

    check()
    check()                                              # the kept transform
    w.set_value(rng.randn(64, 64, 3, 3).astype('float32'))
    check()
    w.get_value(borrow=True)[...] *= -0.5               # in place: same array
    check()
    # A change the fingerprint does not sample is not seen: the proof that
    # the transform is kept, and the documented limit of the key.
    before = f(x_value)[0]
    w.get_value(borrow=True).flat[1] += 100.0
    assert np.array_equal(f(x_value)[0], before)
