"""Small Lasagne layers the networks need beyond Lasagne 0.1's own.

Each layer is a plain :class:`lasagne.layers.Layer`; weights are fixed
(Theano shared variables registered as parameters, so they can be listed),
and shapes may contain ``None``.
"""
import numpy as np

from ..theano_env import theano, T, lasagne, correlate

Layer = lasagne.layers.Layer
identity = lasagne.nonlinearities.identity


def _f32(value):
    return np.ascontiguousarray(value, dtype='float32')


class AffinePixelLayer(Layer):
    """``(x - mean) * scale`` per channel: a network's input normalisation.

    Parameters
    ----------
    incoming : Layer
        An RGB image batch on the 0..255 scale, shape (N, 3, H, W).
    mean, scale : sequence of 3 floats
        Per-channel mean (on the 0..255 scale) and scale.
    """

    def __init__(self, incoming, mean, scale, **kwargs):
        super().__init__(incoming, **kwargs)
        self.mean = np.asarray(mean, dtype='float32').reshape(1, 3, 1, 1)
        self.scale = np.asarray(scale, dtype='float32').reshape(1, 3, 1, 1)

    def get_output_for(self, input, **kwargs):
        return (input - self.mean) * self.scale


class FixedSizeLayer(Layer):
    """Passes its input through, telling Theano that it has the channels,
    height and width of this layer's ``input_shape`` (checked when run).

    For a network whose graph is only right for the size it was built for
    (TensorFlow "SAME" padding is computed for that size): with the shape
    known, Theano works every later shape out while compiling instead of
    computing it in the step. Those shape computations were small integer
    ``Elemwise`` ops, different at every depth, and each of those cost a
    C compilation on a fresh cache.
    """

    def get_output_for(self, input, **kwargs):
        _, c, h, w = self.input_shape
        if None in (c, h, w):
            return input
        return T.specify_shape(input, (input.shape[0], c, h, w))


class PadLayer(Layer):
    """Zero padding with independent top, bottom, left and right widths.

    TensorFlow's "SAME" padding at stride 2 puts the odd pixel at the bottom
    and right, which Theano's symmetric border modes cannot express.
    """

    def __init__(self, incoming, top, bottom, left, right, **kwargs):
        super().__init__(incoming, **kwargs)
        self.widths = (top, bottom, left, right)

    def get_output_shape_for(self, input_shape):
        n, c, h, w = input_shape
        t, b, l, r = self.widths
        return (n, c, None if h is None else h + t + b,
                None if w is None else w + l + r)

    def get_output_for(self, input, **kwargs):
        return zero_pad(input, self.widths)


def zero_pad(input, widths):
    """``input`` (N, C, H, W) zero-padded by (top, bottom, left, right)."""
    t, b, l, r = widths
    if not any(widths):
        return input
    n, c, h, w = input.shape
    out = T.zeros((n, c, h + t + b, w + l + r), dtype=input.dtype)
    return T.set_subtensor(out[:, :, t:t + h, l:l + w], input)


def same_padding(size, kernel, stride):
    """TensorFlow "SAME" padding of one axis: ``(before, after)``.

    The output has ``ceil(size / stride)`` positions; any odd pixel of
    padding goes after.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class DepthwiseConvLayer(Layer):
    """Depthwise cross-correlation, one ``kh x kw`` kernel per channel, with
    zero padding, bias and activation.

    Parameters
    ----------
    incoming : Layer
    W : array, shape (C, 1, kh, kw)
        Kernels in torch's depthwise layout (cross-correlation).
    b : array, shape (C,)
    stride : int
    nonlinearity : callable or None
        ``None`` (linear) and :func:`relu6` run inside the op; anything
        else is applied after it.
    implementation : {'op', 'grouped'}
        ``'op'``: the custom C op of :mod:`inception_art.nets.depthwise`
        (padding, bias and ReLU6 inside it; several times faster on a CPU);
        ``'grouped'``: Theano's ``conv2d(num_groups=C)`` after an explicit
        padding, bias add and activation, kept as the reference.
    pad : int or (top, bottom, left, right)
        Zero padding of the input (TensorFlow "SAME" at stride 2 is
        asymmetric).
    """

    def __init__(self, incoming, W, b, stride=1, nonlinearity=None,
                 implementation='op', pad=0, **kwargs):
        super().__init__(incoming, **kwargs)
        if implementation not in ('op', 'grouped'):
            raise ValueError("implementation must be 'op' or 'grouped', got "
                             "%r" % (implementation,))
        self.W = self.add_param(_f32(W), np.shape(W), name='W',
                                trainable=False)
        self.b = self.add_param(_f32(b), np.shape(b), name='b',
                                trainable=False)
        self.kernel = np.shape(W)[2:]
        self.stride = stride
        self.pad = tuple(pad) if isinstance(pad, (tuple, list)) else (pad,) * 4
        if len(self.pad) != 4:
            raise ValueError('pad must be an int or (top, bottom, left, '
                             'right), got %r' % (pad,))
        self.nonlinearity = nonlinearity or identity
        self.implementation = implementation

    def get_output_shape_for(self, input_shape):
        n, c, h, w = input_shape
        t, b, l, r = self.pad

        def out(size, before, after, k):
            if size is None:
                return None
            return (size + before + after - k) // self.stride + 1
        return (n, c, out(h, t, b, self.kernel[0]),
                out(w, l, r, self.kernel[1]))

    def get_output_for(self, input, **kwargs):
        if self.implementation == 'op':
            from .depthwise import depthwise_correlate
            act, after = _fused_activation(self.nonlinearity)
            return after(depthwise_correlate(input, self.W, self.stride,
                                             self.pad, self.b, act,
                                             kernel=self.kernel))
        channels = self.input_shape[1]
        conved = correlate(zero_pad(input, self.pad), self.W,
                           num_groups=channels,
                           subsample=(self.stride, self.stride))
        return self.nonlinearity(conved + self.b.dimshuffle('x', 0, 'x', 'x'))


class PointwiseConvLayer(lasagne.layers.Conv2DLayer):
    """A 1x1 convolution with fixed weights, bias and activation in one op.

    A Lasagne ``Conv2DLayer`` (so that code that walks the layers sees a
    convolution), computed by :class:`inception_art.nets.pointwise.
    PointwiseConv`: one GEMM per image with the bias and the activation
    (:func:`relu6` or linear; any other ``nonlinearity`` is applied after)
    applied right after it. ``implementation='grouped'`` computes
    it as a Lasagne ``Conv2DLayer`` does (Theano's ``conv2d``), the
    reference.
    """

    def __init__(self, incoming, W, b, nonlinearity=None, implementation='op',
                 **kwargs):
        W = np.asarray(W, dtype='float32')
        if W.shape[2:] != (1, 1):
            raise ValueError('PointwiseConvLayer takes 1x1 kernels, got %s'
                             % (W.shape,))
        super().__init__(incoming, W.shape[0], (1, 1), W=_f32(W), b=_f32(b),
                         nonlinearity=nonlinearity or identity,
                         convolution=correlate, **kwargs)
        self.implementation = implementation

    def get_output_for(self, input, **kwargs):
        if self.implementation != 'op':
            return super().get_output_for(input, **kwargs)
        from .pointwise import pointwise_conv
        act, after = _fused_activation(self.nonlinearity)
        return after(pointwise_conv(input, self.W, self.b, act))


class PaddedConv2DLayer(lasagne.layers.Conv2DLayer):
    """A Lasagne ``Conv2DLayer`` with asymmetric zero padding (top, bottom,
    left, right), done by Theano's convolution itself (its ``border_mode``
    takes a pair per axis) instead of by a padded copy of the input."""

    def __init__(self, incoming, num_filters, filter_size, widths, **kwargs):
        self.widths = tuple(int(p) for p in widths)
        super().__init__(incoming, num_filters, filter_size, pad=0, **kwargs)

    def get_output_shape_for(self, input_shape):
        n, c, h, w = input_shape
        t, b, l, r = self.widths

        def out(size, before, after, k, s):
            if size is None:
                return None
            return (size + before + after - k) // s + 1
        return (n, self.num_filters,
                out(h, t, b, self.filter_size[0], self.stride[0]),
                out(w, l, r, self.filter_size[1], self.stride[1]))

    def get_output_for(self, input, **kwargs):
        t, b, l, r = self.widths
        conved = self.convolution(input, self.W, subsample=self.stride,
                                  image_shape=self.input_shape,
                                  filter_shape=self.get_W_shape(),
                                  border_mode=((t, b), (l, r)))
        return self.nonlinearity(conved + self.b.dimshuffle('x', 0, 'x', 'x'))


def conv(incoming, W, b, nonlinearity=None, pad=0, stride=1, name=None):
    """A Lasagne ``Conv2DLayer`` with fixed cross-correlation weights.

    ``W`` is (out, in, kh, kw) as Caffe, torch and MatConvNet-converted
    weights are; ``nonlinearity=None`` means linear. ``pad`` is Lasagne's
    (an int, a pair, ``'same'`` ...) or (top, bottom, left, right).
    """
    W = np.asarray(W, dtype='float32')
    common = dict(W=_f32(W), b=_f32(b), stride=stride,
                  nonlinearity=nonlinearity or identity,
                  convolution=correlate, name=name)
    if isinstance(pad, (tuple, list)) and len(pad) == 4:
        return PaddedConv2DLayer(incoming, W.shape[0], W.shape[2:], pad,
                                 **common)
    return lasagne.layers.Conv2DLayer(incoming, W.shape[0], W.shape[2:],
                                      pad=pad, **common)


def pointwise(incoming, W, b, nonlinearity=None, name=None,
              implementation='op'):
    """A 1x1 convolution layer (:class:`PointwiseConvLayer`)."""
    return PointwiseConvLayer(incoming, W, b, nonlinearity=nonlinearity,
                              implementation=implementation, name=name)


class _ScalarReLU6(theano.scalar.UnaryScalarOp):
    """``min(max(x, 0), 6)`` whose gradient is computed from its *output*:
    ``g * (0 < y < 6)``.

    ``T.clip``'s gradient reads its input, which keeps the pre-activation
    alive and stops Theano from fusing ``conv + bias`` and the clamp into
    one in-place pass. With the gradient written in terms of the output,
    ``relu6(conv + b)`` becomes one ``Composite`` computed in place, and the
    backward pass needs only ``y``. The values are ``T.clip``'s exactly
    (NaN stays NaN); the gradient differs from ``T.clip``'s only where the
    pre-activation is exactly 0 or 6 (there it is 0, as in PyTorch).
    """

    def impl(self, x):
        return 0 if x < 0 else (6 if x > 6 else x)

    def c_code(self, node, name, inputs, outputs, sub):
        (x,), (z,) = inputs, outputs
        return '%(z)s = %(x)s < 0 ? 0 : (%(x)s > 6 ? 6 : %(x)s);' % locals()

    def L_op(self, inputs, outputs, output_grads):
        (x,), (y,), (gz,) = inputs, outputs, output_grads
        if y.type in theano.scalar.discrete_types:
            return [x.zeros_like().astype(theano.config.floatX)]
        return [gz * ((y > 0) & (y < 6))]

    def c_code_cache_version(self):
        return (1,)


_relu6 = T.elemwise.Elemwise(
    _ScalarReLU6(theano.scalar.upcast_out_no_complex, name='relu6'),
    name='relu6')


def relu6(x):
    """ReLU capped at 6, EfficientNet-Lite's activation (see
    :class:`_ScalarReLU6`; the layers here run it inside their ops)."""
    return _relu6(x)


def _fused_activation(nonlinearity):
    """``(act, after)``: the activation an op here applies itself
    (``'linear'`` or ``'relu6'``) and the function left to apply after."""
    if nonlinearity in (None, identity):
        return 'linear', identity
    if nonlinearity is relu6:
        return 'relu6', identity
    return 'linear', nonlinearity
