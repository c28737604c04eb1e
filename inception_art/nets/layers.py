"""Small Lasagne layers the networks need beyond Lasagne 0.1's own.

Each layer is a plain :class:`lasagne.layers.Layer`; weights are fixed
(Theano shared variables registered as parameters, so they can be listed),
and shapes may contain ``None``.
"""
import numpy as np

from ..theano_env import T, lasagne, correlate

Layer = lasagne.layers.Layer


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
        t, b, l, r = self.widths
        if not any(self.widths):
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
    """Depthwise cross-correlation, one ``kh x kw`` kernel per channel.

    Parameters
    ----------
    incoming : Layer
    W : array, shape (C, 1, kh, kw)
        Kernels in torch's depthwise layout (cross-correlation).
    b : array, shape (C,)
    stride : int
    nonlinearity : callable or None
    implementation : {'op', 'grouped'}
        ``'op'``: the custom C op of :mod:`inception_art.nets.depthwise`
        (about twice as fast on a CPU); ``'grouped'``: Theano's
        ``conv2d(num_groups=C)``, kept as the reference.
    """

    def __init__(self, incoming, W, b, stride=1, nonlinearity=None,
                 implementation='op', **kwargs):
        super().__init__(incoming, **kwargs)
        self.W = self.add_param(_f32(W), np.shape(W), name='W',
                                trainable=False)
        self.b = self.add_param(_f32(b), np.shape(b), name='b',
                                trainable=False)
        self.kernel = np.shape(W)[2:]
        self.stride = stride
        self.nonlinearity = nonlinearity or (lambda x: x)
        self.implementation = implementation

    def get_output_shape_for(self, input_shape):
        n, c, h, w = input_shape

        def out(size, k):
            return None if size is None else (size - k) // self.stride + 1
        return (n, c, out(h, self.kernel[0]), out(w, self.kernel[1]))

    def get_output_for(self, input, **kwargs):
        if self.implementation == 'op':
            from .depthwise import depthwise_correlate
            conved = depthwise_correlate(input, self.W, stride=self.stride)
        else:
            channels = self.input_shape[1]
            conved = correlate(input, self.W, num_groups=channels,
                               subsample=(self.stride, self.stride))
        return self.nonlinearity(conved + self.b.dimshuffle('x', 0, 'x', 'x'))


def conv(incoming, W, b, nonlinearity=None, pad=0, stride=1, name=None):
    """A Lasagne ``Conv2DLayer`` with fixed cross-correlation weights.

    ``W`` is (out, in, kh, kw) as Caffe, torch and MatConvNet-converted
    weights are; ``nonlinearity=None`` means linear.
    """
    W = np.asarray(W, dtype='float32')
    return lasagne.layers.Conv2DLayer(
        incoming, W.shape[0], W.shape[2:], stride=stride, pad=pad,
        W=_f32(W), b=_f32(b),
        nonlinearity=nonlinearity or lasagne.nonlinearities.identity,
        convolution=correlate, name=name)


def relu6(x):
    """ReLU capped at 6, EfficientNet-Lite's activation."""
    return T.clip(x, 0.0, 6.0)
