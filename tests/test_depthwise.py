"""Tests of the depthwise and pointwise convolution C ops
(inception_art.nets.depthwise, inception_art.nets.pointwise).

The reference is Theano's own grouped convolution,
``conv2d(num_groups=C, filter_flip=False)``, plus each op's numpy
``perform`` and float64 finite differences (``verify_grad``). Shapes are
small and odd-sized; each Theano function is compiled once per module.
"""
import re
from pathlib import Path

import numpy as np
import pytest

from inception_art.theano_env import theano, T
from inception_art.nets import c_op
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


def test_c_version_covers_every_c_section():
    # an edit anywhere in the C the ops use must change the cache version
    names = ('c_op.c', 'depthwise.c', 'pointwise.c')
    sections = [(f, s) for f in names for s in c_op.c_sections(f)]
    assert sorted(sections) == sorted(c_op._C_VERSIONED)
    for f in names:   # no marker mistyped (its section silently dropped)
        text = Path(c_op.__file__).with_name(f).read_text()
        markers = re.findall(r'^// ====', text, re.M)
        assert len(markers) == 2 * len(c_op.c_sections(f)), f


# --- padding, bias and ReLU6 inside the ops; the pointwise (1x1) ops -------

from inception_art.nets.pointwise import (  # noqa: E402
    PointwiseConv, PointwiseConvGradInput, pointwise_conv)
from inception_art.nets.layers import zero_pad  # noqa: E402

FUSED_CASES = [  # stride, (top, bottom, left, right), act, kernel
    (1, (1, 1, 1, 1), 'relu6', 3),
    (2, (0, 1, 0, 1), 'relu6', 3),     # TF "SAME" at stride 2, even size
    (2, (1, 2, 1, 2), 'linear', 5),
    (1, (2, 2, 2, 2), 'relu6', 5),
    (2, (2, 1, 0, 3), 'relu6', 3),     # every side different
    (3, (1, 0, 2, 1), 'linear', 3),    # the generic stride branch
]


def _reference_depthwise(x, w, b, stride, pad, act):
    """The same layer from Theano's own ops: explicit zero padding, grouped
    conv2d, bias add, T.clip."""
    z = T.nnet.conv2d(zero_pad(x, pad), w, num_groups=C, filter_flip=False,
                      subsample=(stride, stride))
    z = z + b.dimshuffle('x', 0, 'x', 'x')
    return T.clip(z, 0, 6) if act == 'relu6' else z


@pytest.fixture(scope='module')
def fused_compiled():
    """case -> f(x, w, b, gy) = [y, gx, gw, gb] of the op, then of the
    reference graph."""
    x, w, gy = T.tensor4('x'), T.tensor4('w'), T.tensor4('gy')
    b = T.vector('b')
    functions = {}
    for case in FUSED_CASES:
        stride, pad, act, _ = case
        y = depthwise_correlate(x, w, stride, pad, b, act)
        ref = _reference_depthwise(x, w, b, stride, pad, act)
        outs = [y] + T.grad(None, [x, w, b], known_grads={y: gy})
        refs = [ref] + T.grad(None, [x, w, b], known_grads={ref: gy})
        functions[case] = theano.function([x, w, b, gy], outs + refs)
    return functions


def _fused_data(case, shape, seed, dtype='float32'):
    stride, (t, bo, l, r), _, k = case
    rng = np.random.RandomState(seed)
    x = (3 * rng.randn(*shape)).astype(dtype)   # both sides of 0 and 6
    w = rng.randn(shape[1], 1, k, k).astype(dtype)
    b = rng.randn(shape[1]).astype(dtype)
    out = [(n + p - k) // stride + 1
           for n, p in zip(shape[2:], (t + bo, l + r))]
    gy = rng.randn(shape[0], shape[1], *out).astype(dtype)
    return x, w, b, gy


def assert_matches_reference(got):
    """``got`` is the op's (y, gx, gw[, gb]) followed by the reference
    graph's; each pair must agree in shape, dtype and value."""
    n = len(got) // 2
    for name, a, ref in zip(('y', 'gx', 'gw', 'gb'), got[:n], got[n:]):
        assert a.shape == ref.shape and a.dtype == np.float32, name
        np.testing.assert_allclose(a, ref, rtol=1e-5,
                                   atol=1e-5 * max(1, np.abs(ref).max()),
                                   err_msg=name)


@pytest.mark.parametrize('case', FUSED_CASES)
@pytest.mark.parametrize('shape', [(1, C, 11, 13), (2, C, 10, 9)])
def test_fused_op_matches_theano_padding_conv_bias_clip(fused_compiled, case,
                                                        shape):
    x, w, b, gy = _fused_data(case, shape, seed=5)
    got = fused_compiled[case](x, w, b, gy)
    assert_matches_reference(got)
    if case[2] == 'relu6':
        y = got[0]
        assert y.min() == 0 and y.max() == 6   # the clamp did something


@pytest.mark.parametrize('case', FUSED_CASES)
def test_fused_c_code_matches_numpy_perform(fused_compiled, case):
    stride, pad, act, k = case
    x, w, b, gy = _fused_data(case, (2, C, 11, 12), seed=6)
    y, gx, gw = fused_compiled[case](x, w, b, gy)[:3]
    np.testing.assert_allclose(
        y, _perform(DepthwiseCorrelate(stride, pad, act), x, w, b),
        rtol=1e-5, atol=1e-5)
    hw = np.array(x.shape[2:], dtype='int64')
    extra = (y,) if act == 'relu6' else ()
    np.testing.assert_allclose(
        gx, _perform(DepthwiseCorrelateGradInput(stride, pad, act), gy, w,
                     hw, *extra), rtol=1e-5, atol=1e-5)
    gz = gy * ((y > 0) & (y < 6)) if act == 'relu6' else gy
    ref_gw = _perform(DepthwiseCorrelateGradWeights(stride, pad), x, gz,
                      np.array([k, k], dtype='int64'))
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-5,
                               atol=1e-6 * np.abs(ref_gw).max())


@pytest.mark.parametrize('case', [FUSED_CASES[1], FUSED_CASES[4]])
def test_fused_gradients_match_finite_differences(case):
    stride, pad, act, k = case
    rng = np.random.RandomState(7)
    x, w, b, gy = _fused_data(case, (1, 3, 7, 8), seed=8, dtype='float64')
    theano.gradient.verify_grad(
        lambda x_, w_, b_: depthwise_correlate(x_, w_, stride, pad, b_, act),
        [x, w, b], rng=rng)
    # second order: the input gradient's own gradients (the ReLU6 mask is
    # a fixed input here)
    y = _perform(DepthwiseCorrelate(stride, pad, act), x, w, b)
    hw = np.array(x.shape[2:], dtype='int64')
    theano.gradient.verify_grad(
        lambda g_, w_: DepthwiseCorrelateGradInput(stride, pad, act)(
            g_, w_, hw, y), [gy, w], rng=rng)
    theano.gradient.verify_grad(
        lambda x_, g_: DepthwiseCorrelateGradWeights(stride, pad)(
            x_, g_, np.array([k, k], dtype='int64')), [x, gy], rng=rng)


def test_relu6_gradient_reads_the_output_with_open_bounds():
    # the gradient passes where 0 < y < 6 (as PyTorch's hardtanh_backward),
    # so it needs y only, never the pre-activation
    x = T.tensor4('x')
    w = np.ones((1, 1, 1, 1), dtype='float32')
    for b, passes in ((-1.0, False), (0.0, False), (3.0, True), (6.0, False),
                      (9.0, False)):
        y = depthwise_correlate(x, w, b=np.float32([b]), act='relu6')
        g = T.grad(y.sum(), x)
        value = theano.function([x], g)(np.zeros((1, 1, 2, 2), 'float32'))
        assert np.all(value == float(passes)), b


def test_stride_padding_and_activation_share_one_compiled_module():
    # they reach the C code as run-time parameters: the source of nodes with
    # different ones is identical, so Theano builds one module per op class
    x, w, b = T.tensor4('x'), T.tensor4('w'), T.vector('b')
    sources = set()
    for stride, pad, act in ((1, 1, 'relu6'), (2, (0, 1, 0, 1), 'linear'),
                             (1, 2, 'linear')):
        node = DepthwiseCorrelate(stride, pad, act).make_node(x, w, b)
        sub = dict(fail='FAIL', params='PARAMS')
        sources.add(node.op.c_code(node, 'n', ['X', 'W', 'B'], ['Y'], sub))
    assert len(sources) == 1
    assert (DepthwiseCorrelate(1, 1, 'relu6')
            != DepthwiseCorrelate(1, 1, 'linear'))


def test_fused_op_refuses_what_does_not_fit():
    x, w, b, gy = _fused_data(FUSED_CASES[0], (1, C, 6, 7), seed=9)
    xs, ws, bs = T.tensor4('x'), T.tensor4('w'), T.vector('b')
    f = theano.function([xs, ws, bs], depthwise_correlate(
        xs, ws, 1, 1, bs, 'relu6', kernel=(3, 3)))
    f(x, w, b)
    with pytest.raises(ValueError, match='do not fit'):
        f(x, w, b[:C - 1])                         # bias for 7 channels
    with pytest.raises(ValueError, match='do not fit'):
        f(x, np.ones((C, 1, 5, 5), 'float32'), b)  # not the promised 3x3
    with pytest.raises(ValueError, match='pad'):
        DepthwiseCorrelate(1, (1, 2, 3))
    with pytest.raises(ValueError, match='activation'):
        DepthwiseCorrelate(1, 0, 'tanh')
    with pytest.raises(TypeError, match='forward output'):
        DepthwiseCorrelateGradInput(1, 0, 'relu6')(T.tensor4(), T.tensor4(),
                                                   T.lvector())


def test_kernel_hint_makes_shapes_constant():
    # with the kernel size given and the input shape known, the output shape
    # needs no computation in the compiled graph
    x = T.specify_shape(T.tensor4('x'), (1, C, 11, 13))
    w = theano.shared(np.ones((C, 1, 3, 3), 'float32'))
    y = depthwise_correlate(x, w, 2, (0, 1, 0, 1), kernel=(3, 3))
    f = theano.function([x.owner.inputs[0]], y.shape)
    assert all(isinstance(node.op, theano.compile.ops.DeepCopyOp)
               for node in f.maker.fgraph.toposort())
    assert tuple(f(np.zeros((1, C, 11, 13), 'float32'))) == (1, C, 5, 6)


PW_SHAPES = [(1, 5, 7, 9), (2, 16, 30, 20)]


@pytest.fixture(scope='module')
def pointwise_compiled():
    """act -> f(x, w, b, gy) = [y, gx, gw, gb] of the op, then of conv2d +
    bias + T.clip."""
    x, w, gy = T.tensor4('x'), T.tensor4('w'), T.tensor4('gy')
    b = T.vector('b')
    functions = {}
    for act in ('linear', 'relu6'):
        y = pointwise_conv(x, w, b, act)
        ref = T.nnet.conv2d(x, w, filter_flip=False) + b.dimshuffle(
            'x', 0, 'x', 'x')
        if act == 'relu6':
            ref = T.clip(ref, 0, 6)
        outs = [y] + T.grad(None, [x, w, b], known_grads={y: gy})
        refs = [ref] + T.grad(None, [x, w, b], known_grads={ref: gy})
        functions[act] = theano.function([x, w, b, gy], outs + refs)
    return functions


def _pw_data(shape, out, seed, dtype='float32'):
    rng = np.random.RandomState(seed)
    x = rng.randn(*shape).astype(dtype)
    w = (2 * rng.randn(out, shape[1], 1, 1)).astype(dtype)
    b = rng.randn(out).astype(dtype)
    gy = rng.randn(shape[0], out, *shape[2:]).astype(dtype)
    return x, w, b, gy


@pytest.mark.parametrize('act', ['linear', 'relu6'])
@pytest.mark.parametrize('shape', PW_SHAPES)
def test_pointwise_matches_conv2d_bias_clip(pointwise_compiled, act, shape):
    x, w, b, gy = _pw_data(shape, 12, seed=10)
    got = pointwise_compiled[act](x, w, b, gy)
    assert_matches_reference(got)
    # and the numpy perform
    y = got[0]
    np.testing.assert_allclose(y, _perform(PointwiseConv(act), x, w, b),
                               rtol=1e-5, atol=1e-5)
    extra = (y,) if act == 'relu6' else ()
    np.testing.assert_allclose(
        got[1], _perform(PointwiseConvGradInput(act), gy, w, *extra),
        rtol=1e-5, atol=1e-5)


def test_pointwise_gradients_match_finite_differences():
    rng = np.random.RandomState(11)
    x, w, b, gy = _pw_data((2, 3, 4, 5), 4, seed=12, dtype='float64')
    for act in ('linear', 'relu6'):
        theano.gradient.verify_grad(
            lambda x_, w_, b_: pointwise_conv(x_, w_, b_, act), [x, w, b],  # noqa: B023 - run at once
            rng=rng)
    y = _perform(PointwiseConv('relu6'), x, w, b)
    theano.gradient.verify_grad(
        lambda g_, w_: PointwiseConvGradInput('relu6')(g_, w_, y), [gy, w],
        rng=rng)


def test_pointwise_refuses_what_does_not_fit(pointwise_compiled):
    x, w, b, gy = _pw_data((1, 5, 4, 4), 6, seed=13)
    with pytest.raises(ValueError, match='do not fit'):
        pointwise_compiled['relu6'](x, w[:, :4], b, gy)   # 4 inputs, not 5
    with pytest.raises(ValueError, match='do not fit'):
        pointwise_compiled['relu6'](x, w, b[:5], gy)      # 5 biases, not 6
    with pytest.raises(TypeError, match='same dtype'):
        PointwiseConv()(T.tensor4(dtype='float32'), T.tensor4(dtype='float64'))
