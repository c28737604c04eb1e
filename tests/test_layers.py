"""Tests of the network layers (inception_art.nets.layers): ReLU6, the fused
depthwise and pointwise layers against Theano's own operations, asymmetric
padding done by the convolution, and the fixed-size input.

The reference for every fused layer is ``implementation='grouped'``: the
same layer built from Theano's ops only (explicit zero padding, conv2d, a
bias add, the activation).
"""
import numpy as np
import pytest

from inception_art.nets.layers import (
    DepthwiseConvLayer, FixedSizeLayer, PadLayer, PaddedConv2DLayer,
    PointwiseConvLayer, conv, pointwise, relu6)
from inception_art.theano_env import theano, T, lasagne

RNG = np.random.RandomState(0)


def _compile(layer, inp, image_shape, seed=1):
    """f(x) = [output, d sum(output * r) / d x] for a fixed random r."""
    x = T.tensor4('x')
    out = lasagne.layers.get_output(layer, {inp: x})
    shape = theano.function([x], out.shape)(np.zeros(image_shape, 'float32'))
    r = np.random.RandomState(seed).randn(*shape).astype('float32')
    return theano.function([x], [out, T.grad((out * r).sum(), x)])


def _assert_close(got, want, what):
    for name, a, b in zip(('output', 'gradient'), got, want):
        assert a.shape == b.shape and a.dtype == np.float32, (what, name)
        np.testing.assert_allclose(a, b, rtol=1e-5,
                                   atol=1e-5 * max(1, np.abs(b).max()),
                                   err_msg='%s %s' % (what, name))


# --- ReLU6 ---------------------------------------------------------------

def test_relu6_equals_clip_including_nan_and_inf():
    x = T.vector('x')
    f = theano.function([x], [relu6(x), T.clip(x, 0, 6)])
    v = np.array([-np.inf, -3, -0.0, 0, 1e-30, 2.5, 6, 6.5, np.inf, np.nan],
                 dtype='float32')
    got, want = f(v)
    np.testing.assert_array_equal(got, want)   # NaN stays NaN, as clip's
    assert got.dtype == np.float32


def test_relu6_gradient_is_read_off_its_output():
    x = T.vector('x')
    g = theano.function([x], T.grad(relu6(x).sum(), x))
    v = np.array([-1, 0, 0.5, 5.9, 6, 7], dtype='float32')
    np.testing.assert_array_equal(g(v), [0, 0, 1, 1, 0, 0])


def test_conv_bias_relu6_is_one_inplace_pass():
    # T.clip's gradient reads the pre-activation, which kept "conv + bias"
    # and the clamp two passes; ReLU6's reads the output, so they fuse into
    # one Composite computed in place on the convolution's output.
    x = T.tensor4('x')
    W = RNG.randn(4, 3, 3, 3).astype('float32')
    b = theano.shared(RNG.randn(4).astype('float32'))
    z = T.nnet.conv2d(x, W, filter_flip=False)
    y = relu6(z + b.dimshuffle('x', 0, 'x', 'x'))
    f = theano.function([x], [y, T.grad(y.sum(), x)])
    nodes = f.maker.fgraph.toposort()
    conv_out = [n for n in nodes if type(n.op).__name__ == 'CorrMM'][0].outputs[0]
    users = [c for c, _ in conv_out.clients]
    assert len(users) == 1
    assert isinstance(users[0].op, T.elemwise.Elemwise)
    assert users[0].op.destroy_map == {0: [0]}          # in place
    assert 'relu6' in str(users[0].op)


# --- depthwise -------------------------------------------------------------

@pytest.mark.parametrize('stride,pad,k', [(1, (1, 1, 1, 1), 3),
                                          (2, (0, 1, 0, 1), 3),
                                          (2, (1, 2, 2, 1), 5)])
@pytest.mark.parametrize('nonlinearity', [relu6, None,
                                          lasagne.nonlinearities.rectify])
def test_depthwise_layer_matches_reference(stride, pad, k, nonlinearity):
    shape = (1, 6, 13, 16)
    inp = lasagne.layers.InputLayer((None,) + shape[1:])
    W = RNG.randn(6, 1, k, k).astype('float32')
    b = RNG.randn(6).astype('float32')
    layers = {impl: DepthwiseConvLayer(inp, W, b, stride=stride, pad=pad,
                                       nonlinearity=nonlinearity,
                                       implementation=impl)
              for impl in ('op', 'grouped')}
    x = (40 * RNG.randn(*shape)).astype('float32')
    got, want = [_compile(layers[i], inp, shape)(x) for i in ('op', 'grouped')]
    _assert_close(got, want, 'depthwise')
    assert got[0].shape[1:] == layers['op'].output_shape[1:]


def test_depthwise_layer_pad_forms():
    inp = lasagne.layers.InputLayer((None, 2, 9, 9))
    W, b = np.ones((2, 1, 3, 3), 'float32'), np.zeros(2, 'float32')
    assert DepthwiseConvLayer(inp, W, b, pad=1).pad == (1, 1, 1, 1)
    assert DepthwiseConvLayer(inp, W, b, stride=2,
                              pad=(0, 1, 0, 1)).output_shape == (None, 2, 4, 4)
    with pytest.raises(ValueError, match='pad'):
        DepthwiseConvLayer(inp, W, b, pad=(1, 1))
    with pytest.raises(ValueError, match='implementation'):
        DepthwiseConvLayer(inp, W, b, implementation='fast')


# --- pointwise -------------------------------------------------------------

@pytest.mark.parametrize('nonlinearity', [relu6, None,
                                          lasagne.nonlinearities.rectify])
def test_pointwise_layer_matches_reference(nonlinearity):
    shape = (2, 5, 7, 9)
    inp = lasagne.layers.InputLayer((None,) + shape[1:])
    W = (3 * RNG.randn(8, 5, 1, 1)).astype('float32')
    b = RNG.randn(8).astype('float32')
    layers = {impl: pointwise(inp, W, b, nonlinearity, implementation=impl)
              for impl in ('op', 'grouped')}
    x = RNG.randn(*shape).astype('float32')
    got, want = [_compile(layers[i], inp, shape)(x) for i in ('op', 'grouped')]
    _assert_close(got, want, 'pointwise')
    layer = layers['op']
    assert isinstance(layer, lasagne.layers.Conv2DLayer)  # counted as a conv
    assert isinstance(layer, PointwiseConvLayer)
    assert layer.output_shape == (None, 8, 7, 9)
    with pytest.raises(ValueError, match='1x1'):
        PointwiseConvLayer(inp, np.ones((8, 5, 3, 3)), b)


# --- asymmetric padding by the convolution ---------------------------------

def test_conv_with_four_paddings_matches_pad_layer():
    shape = (1, 3, 12, 15)
    inp = lasagne.layers.InputLayer((None,) + shape[1:])
    W = RNG.randn(4, 3, 3, 3).astype('float32')
    b = RNG.randn(4).astype('float32')
    fused = conv(inp, W, b, relu6, stride=2, pad=(0, 1, 1, 2))
    padded = conv(PadLayer(inp, 0, 1, 1, 2), W, b, relu6, stride=2)
    assert isinstance(fused, PaddedConv2DLayer)
    assert fused.output_shape == padded.output_shape == (None, 4, 6, 8)
    x = (60 * RNG.randn(*shape)).astype('float32')
    got, want = [_compile(layer, inp, shape)(x) for layer in (fused, padded)]
    _assert_close(got, want, 'conv')


# --- fixed size --------------------------------------------------------------

def test_fixed_size_layer_makes_later_shapes_constant_and_checks():
    inp = lasagne.layers.InputLayer((None, 2, 9, 10))
    net = DepthwiseConvLayer(FixedSizeLayer(inp), np.ones((2, 1, 3, 3)),
                             np.zeros(2), stride=2, pad=(0, 1, 0, 1))
    x = T.tensor4('x')
    out = lasagne.layers.get_output(net, {inp: x})
    f = theano.function([x], out.shape[1:])
    # the shape is a constant: nothing left to compute but the copy out
    assert all(isinstance(n.op, theano.compile.ops.DeepCopyOp)
               for n in f.maker.fgraph.toposort())
    assert tuple(f(np.zeros((3, 2, 9, 10), 'float32'))) == (2, 4, 5)
    g = theano.function([x], out)
    g(np.zeros((1, 2, 9, 10), 'float32'))
    with pytest.raises(AssertionError):
        g(np.zeros((1, 2, 9, 11), 'float32'))   # not the size it was built for


# --- the whole network -------------------------------------------------------

@pytest.mark.full_network
def test_lite0_fused_ops_match_theano_reference_on_a_photo():
    """EfficientNet-Lite0 built from the fused C ops against the same
    network from Theano's own ops, on a real photo: logits and the gradient
    of a class logit to the image."""
    skimage = pytest.importorskip('skimage.data')
    from inception_art import nets
    from inception_art.images import center_crop
    image = center_crop(skimage.chelsea(), (224, 224)).astype('float32')
    x = np.ascontiguousarray(image.transpose(2, 0, 1)[None])
    results = {}
    for impl in ('op', 'grouped'):
        net = nets.build('efficientnet-lite0', depthwise=impl)
        images = T.tensor4('images')
        logits = net.logit_map(images).mean(axis=(2, 3))
        f = theano.function([images], [logits, T.grad(logits[0, 282], images)])
        results[impl] = f(x)
    (logits, grad), (ref_logits, ref_grad) = results['op'], results['grouped']
    assert np.abs(logits - ref_logits).max() < 1e-4
    assert list(np.argsort(-logits[0])[:3]) == [282, 285, 281]
    # Where a pre-activation sits within rounding of a ReLU6 kink, the two
    # (summing in different orders) may take different sides, changing the
    # gradient in that unit's receptive field: compare the gradients as
    # wholes. (Here: 6e-7; an astronaut crop with one flipped unit: 7e-3.)
    assert (np.linalg.norm(grad - ref_grad)
            < 1e-2 * np.linalg.norm(ref_grad))
