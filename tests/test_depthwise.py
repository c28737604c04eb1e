"""Tests of the depthwise cross-correlation C ops (inception_art.nets.depthwise).

The reference is Theano's own grouped convolution,
``conv2d(num_groups=C, filter_flip=False)``, plus each op's numpy
``perform`` and float64 finite differences (``verify_grad``). Shapes are
small and odd-sized; each Theano function is compiled once per module.
"""
import numpy as np
import pytest

from inception_art.theano_env import theano, T
from inception_art.nets.depthwise import (
    DepthwiseCorrelate, DepthwiseCorrelateGradInput,
    DepthwiseCorrelateGradWeights, depthwise_correlate)

C = 8
OP_CLASSES = (DepthwiseCorrelate, DepthwiseCorrelateGradInput,
              DepthwiseCorrelateGradWeights)


def _data(shape, k, stride, seed=0, dtype='float32'):
    rng = np.random.RandomState(seed)
    x = rng.randn(*shape).astype(dtype)
    w = rng.randn(shape[1], 1, k, k).astype(dtype)
    out = [(n - k) // stride + 1 for n in shape[2:]]
    gy = rng.randn(shape[0], shape[1], *out).astype(dtype)
    return x, w, gy


@pytest.fixture(scope='module')
def compiled():
    """stride -> f(x, w, gy) = [y, gx, gw] of the op, then of grouped conv2d.

    The gradients are taken with ``known_grads``, i.e. for the loss
    ``sum(y * gy)``.
    """
    x = T.tensor4('x')
    w = T.tensor4('w')
    gy = T.tensor4('gy')
    functions = {}
    for stride in (1, 2):
        y = depthwise_correlate(x, w, stride=stride)
        ref = T.nnet.conv2d(x, w, num_groups=C, filter_flip=False,
                            subsample=(stride, stride))
        outs = [y] + T.grad(None, [x, w], known_grads={y: gy})
        refs = [ref] + T.grad(None, [x, w], known_grads={ref: gy})
        functions[stride] = theano.function([x, w, gy], outs + refs)
    return functions


CASES = [(stride, k, shape) for stride in (1, 2) for k in (3, 5)
         for shape in ((1, C, 11, 13), (2, C, 10, 9))]


@pytest.mark.parametrize('stride,k,shape', CASES)
def test_forward_and_gradients_match_grouped_conv2d(compiled, stride, k,
                                                    shape):
    x, w, gy = _data(shape, k, stride)
    y, gx, gw, ref_y, ref_gx, ref_gw = compiled[stride](x, w, gy)
    assert y.shape == ref_y.shape == gy.shape
    assert gx.shape == x.shape and gw.shape == w.shape
    assert y.dtype == gx.dtype == gw.dtype == np.float32
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-5, atol=1e-5)
    # gw sums over all positions: compare relative to its scale
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-5,
                               atol=1e-6 * np.abs(ref_gw).max())


def _perform(op, *inputs):
    node = op.make_node(*inputs)
    storage = [[None]]
    op.perform(node, inputs, storage)
    return storage[0][0]


@pytest.mark.parametrize('stride,k,shape', CASES)
def test_c_code_matches_numpy_perform(compiled, stride, k, shape):
    x, w, gy = _data(shape, k, stride, seed=1)
    y, gx, gw = compiled[stride](x, w, gy)[:3]
    shape_hw = np.array(x.shape[2:], dtype='int64')
    kernel_hw = np.array(w.shape[2:], dtype='int64')
    np.testing.assert_allclose(y, _perform(DepthwiseCorrelate(stride), x, w),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        gx, _perform(DepthwiseCorrelateGradInput(stride), gy, w, shape_hw),
        rtol=1e-5, atol=1e-5)
    ref_gw = _perform(DepthwiseCorrelateGradWeights(stride), x, gy,
                      kernel_hw)
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-5,
                               atol=1e-6 * np.abs(ref_gw).max())


def test_compiled_graph_runs_the_c_ops(compiled):
    assert theano.config.cxx, 'no C++ compiler: the ops would fall back'
    f = compiled[2]
    assert f.maker.mode.linker.__class__.__name__ != 'PerformLinker'
    ours = [(node, thunk) for node, thunk in zip(f.fn.nodes, f.fn.thunks)
            if isinstance(node.op, OP_CLASSES)]
    assert sorted(type(node.op).__name__ for node, _ in ours) == sorted(
        cls.__name__ for cls in OP_CLASSES)
    for node, thunk in ours:
        assert hasattr(thunk, 'cthunk'), '%s runs in Python' % node.op
        assert not hasattr(thunk, 'perform')
    # the compiled step keeps float32 throughout (no float64 creep)
    for node in f.maker.fgraph.toposort():
        if isinstance(node.op, OP_CLASSES):
            for var in node.inputs + node.outputs:
                assert var.dtype in ('float32', 'int64')


def test_shape_is_inferred_without_running_the_op():
    x = T.tensor4('x')
    w = T.tensor4('w')
    y = depthwise_correlate(x, w, stride=2)
    gx = T.grad(None, x, known_grads={y: T.ones_like(y)})
    f = theano.function([x, w], [y.shape, gx.shape])
    assert not any(isinstance(node.op, OP_CLASSES)
                   for node in f.maker.fgraph.toposort())
    x_val, w_val, _ = _data((1, C, 11, 13), 3, 2)
    y_shape, gx_shape = f(x_val, w_val)
    assert tuple(y_shape) == (1, C, 5, 6)
    assert tuple(gx_shape) == (1, C, 11, 13)


@pytest.mark.parametrize('stride', [1, 2])
def test_gradients_match_finite_differences(stride):
    rng = np.random.RandomState(2)
    x, w, gy = _data((1, 3, 7, 8), 3, stride, seed=3, dtype='float64')
    # to the input (the case a pixel-ascent step uses) and to the kernels
    theano.gradient.verify_grad(
        lambda x_: depthwise_correlate(x_, w, stride), [x], rng=rng)
    theano.gradient.verify_grad(
        lambda x_, w_: depthwise_correlate(x_, w_, stride), [x, w], rng=rng)
    # second order: the gradient ops' own gradients
    xhw = np.array(x.shape[2:], dtype='int64')
    khw = np.array(w.shape[2:], dtype='int64')
    theano.gradient.verify_grad(
        lambda g_, w_: DepthwiseCorrelateGradInput(stride)(g_, w_, xhw),
        [gy, w], rng=rng)
    theano.gradient.verify_grad(
        lambda x_, g_: DepthwiseCorrelateGradWeights(stride)(x_, g_, khw),
        [x, gy], rng=rng)


def test_float32_input_gradient_matches_central_differences():
    # the float32 path itself (verify_grad above runs float64)
    x_val, w_val, gy_val = _data((1, 2, 6, 7), 3, 2, seed=4)
    x = theano.shared(x_val)
    loss = (depthwise_correlate(x, w_val, stride=2) * gy_val).sum()
    f = theano.function([], [loss, T.grad(loss, x)])
    _, grad = f()
    eps = 1e-2
    numeric = np.zeros_like(x_val)
    for index in np.ndindex(*x_val.shape):
        values = []
        for sign in (1, -1):
            shifted = x_val.copy()
            shifted[index] += sign * eps
            x.set_value(shifted)
            values.append(float(f()[0]))
        numeric[index] = (values[0] - values[1]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-3)


def test_mismatched_inputs_are_refused(compiled):
    x, w, gy = _data((1, C, 11, 13), 3, 1)
    with pytest.raises(ValueError, match='do not fit'):
        compiled[1](x, w[:C - 1], gy)     # kernels for 7 channels, input 8
    small = x[:, :, :2, :2]
    with pytest.raises(ValueError, match='do not fit'):
        compiled[1](small, w, gy)         # kernel larger than the input
    with pytest.raises(TypeError, match='same dtype'):
        DepthwiseCorrelate(1)(T.tensor4(dtype='float32'),
                              T.tensor4(dtype='float64'))
    with pytest.raises(ValueError):
        DepthwiseCorrelate((1, 2))


def test_ops_compare_by_stride():
    assert DepthwiseCorrelate(2) == DepthwiseCorrelate((2, 2))
    assert DepthwiseCorrelate(1) != DepthwiseCorrelate(2)
    assert hash(DepthwiseCorrelate(2)) == hash(DepthwiseCorrelate(2))
    assert DepthwiseCorrelate(1).c_code_cache_version()
