"""Pointwise (1x1) convolution as small Theano C ops.

The 1x1 expansion and projection of a MobileNet-style block
(EfficientNet-Lite), each with a bias and most with ReLU6. A 1x1
convolution is one GEMM per image. Theano's ``CorrMM`` copies the input
into its im2col buffer first (and its input gradient goes through a col2im
buffer); the ops here call GEMM (Theano's BLAS) on the tensors themselves.

Like the depthwise ops (:mod:`inception_art.nets.depthwise`, whose
docstring says more) they fuse the bias and the activation (identity or
ReLU6) into the convolution, and the input gradient applies ReLU6's mask,
read off the op's output, while it reads the output gradient.

* :class:`PointwiseConv`: the 1x1 convolution ``y = act(w x + b)``.
* :class:`PointwiseConvGradInput`: its input gradient (the weight and bias
  gradients are ordinary Theano expressions).

The C code is in ``pointwise.c`` next to this file; what these ops share
with the depthwise ones is in :mod:`inception_art.nets.c_op`.

Use :func:`pointwise_conv`.
"""
import numpy as np

from ..theano_env import theano, T
from theano.gof import ParamsType
from theano.scalar import int64

from .blas import UsesBlas, blas_support_code, blas_version
from .c_op import (_C_VERSION, _CodeOp, _ForwardOp, _as_4d_float,
                   _as_weights, _check_act, _np_act, _np_mask, _optional,
                   _same_dtype, c_sections, relu6_mask)

__all__ = ['pointwise_conv', 'PointwiseConv', 'PointwiseConvGradInput']

_C = c_sections('pointwise.c')


class _PointwiseOp(UsesBlas, _CodeOp):
    """The pointwise ops: GEMM through Theano's BLAS (``blas.ldflags``),
    the activation as a run-time parameter."""

    __props__ = ('act',)
    params_type = ParamsType(relu6=int64)

    def __init__(self, act='linear'):
        self.act = _check_act(act)

    relu6 = property(lambda self: int(self.act == 'relu6'))

    def c_support_code(self):
        # after the depthwise ops' support code: inception_art_pw uses its
        # bias_act and mask_relu6
        return (blas_support_code() + c_sections('depthwise.c')['support']
                + _C['support'])

    def c_code_cache_version(self):
        return _C_VERSION + blas_version()


class PointwiseConv(_ForwardOp, _PointwiseOp):
    """A 1x1 convolution with bias and activation: ``y = act(w x + b)``.

    Parameters
    ----------
    act : {'linear', 'relu6'}

    Notes
    -----
    Inputs ``x`` (N, Ci, H, W), ``w`` (Co, Ci, 1, 1) and optionally ``b``
    (Co,), all float32 (or all float64); output ``y`` (N, Co, H, W), equal
    to ``act(T.nnet.conv2d(x, w) + b)``: one GEMM per image, then the bias
    and activation in one vectorised pass.
    Gradients: to ``x`` by :class:`PointwiseConvGradInput`, to ``w`` and
    ``b`` as Theano expressions.
    """

    _c_template = _C['forward']
    _c_locals = ('xc', 'wc', 'bc')

    def make_node(self, x, w, b=None):
        inputs = self._inputs(x, w, b)
        x = inputs[0]
        out = T.TensorType(x.dtype, (x.broadcastable[0], False)
                           + x.broadcastable[2:])
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, w = inputs[:2]
        if w.shape[1:] != (x.shape[1], 1, 1) or (
                len(inputs) > 2 and inputs[2].shape != w.shape[:1]):
            raise ValueError('pointwise_conv: input %s, kernels %s and bias '
                             'do not fit' % (x.shape, w.shape))
        y = np.einsum('oi,nihw->nohw', w[:, :, 0, 0], x)
        if len(inputs) > 2:
            y += inputs[2][None, :, None, None]
        outputs[0][0] = _np_act(y.astype(x.dtype), self.act)

    def infer_shape(self, node, shapes):
        (n, _, h, w), (co, _, _, _) = shapes[:2]
        return [(n, co, h, w)]

    def _grads(self, x, w, y, gy, gz):
        gx = PointwiseConvGradInput(self.act)(gy, w, *([] if y is None else [y]))
        gw = T.tensordot(gz, x, axes=[[0, 2, 3], [0, 2, 3]])
        return gx, gw.dimshuffle(0, 1, 'x', 'x')


class PointwiseConvGradInput(_PointwiseOp):
    """The gradient of :class:`PointwiseConv` with respect to its input.

    Parameters
    ----------
    act
        The forward op's.

    Notes
    -----
    Inputs: the output gradient ``gy`` (N, Co, H, W), the kernels ``w``
    (Co, Ci, 1, 1) and, with ``act='relu6'``, the forward output ``y``
    (the mask ``0 < y < 6`` is applied to ``gy`` in one vectorised pass on
    its way into the GEMM). Output ``gx`` (N, Ci, H, W) = ``w^T (gy *
    mask)``.
    """

    _c_template = _C['grad_input']
    _c_locals = ('gc', 'wc', 'yc')

    def make_node(self, gy, w, y=None):
        gy = _as_4d_float(gy, 'gy')
        w = _as_4d_float(w, 'w')
        _same_dtype(gy, w, 'gy and w')
        inputs = [gy, w]
        if (y is not None) != (self.act == 'relu6'):
            raise TypeError('PointwiseConvGradInput: the forward output y is '
                            'needed with act="relu6" and only then')
        if y is not None:
            y = _as_4d_float(y, 'y')
            _same_dtype(gy, y, 'gy and y')
            inputs.append(y)
        out = T.TensorType(gy.dtype, (gy.broadcastable[0], False)
                           + gy.broadcastable[2:])
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        gy, w = inputs[:2]
        if w.shape[0] != gy.shape[1] or w.shape[2:] != (1, 1) or (
                len(inputs) > 2 and inputs[2].shape != gy.shape):
            raise ValueError('PointwiseConvGradInput: gy %s and kernels %s do '
                             'not fit' % (gy.shape, w.shape))
        if len(inputs) > 2:
            gy = gy * _np_mask(inputs[2])
        gx = np.einsum('oi,nohw->nihw', w[:, :, 0, 0], gy)
        outputs[0][0] = gx.astype(gy.dtype)

    def infer_shape(self, node, shapes):
        (n, _, h, w), (_, ci, _, _) = shapes[:2]
        return [(n, ci, h, w)]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False]] * (len(node.inputs) - 2)

    def grad(self, inputs, output_grads):
        # gx = w^T (gy * m): L = <G, gx> = <m * (w G), gy>, and
        # dL/dw[o, i] = sum (gy * m)[n, o, p] G[n, i, p].
        gy, w = inputs[:2]
        g, = output_grads
        ggy = PointwiseConv()(g, w)
        gz = gy
        if len(inputs) > 2:
            mask = relu6_mask(inputs[2])
            ggy, gz = ggy * mask, gy * mask
        gw = T.tensordot(gz, g, axes=[[0, 2, 3], [0, 2, 3]])
        disconnected = [theano.gradient.DisconnectedType()()
                        for _ in inputs[2:]]
        return [T.patternbroadcast(ggy, gy.broadcastable),
                T.patternbroadcast(gw.dimshuffle(0, 1, 'x', 'x'),
                                   w.broadcastable)] + disconnected

    def c_code(self, node, name, inp, out, sub):
        names = dict(gy=inp[0], w=inp[1], gx=out[0])
        if len(inp) > 2:
            names['y'] = inp[2]
        _optional(names, 'y', 'has_y')
        return self._c(sub, names, 'gx', 'gy')


def pointwise_conv(x, w, b=None, act='linear'):
    """The 1x1 convolution ``act(w x + b)`` by the C op :class:`PointwiseConv`.

    ``x`` (N, Ci, H, W); ``w`` (Co, Ci, 1, 1); ``b`` (Co,) or None; numpy
    arrays are cast to ``x``'s dtype. Equal to ``act(T.nnet.conv2d(x, w) +
    b)``; differentiable in ``x``, ``w`` and ``b``.
    """
    x = T.as_tensor_variable(x)
    inputs = [x, _as_weights(w, x)]
    if b is not None:
        inputs.append(_as_weights(b, x))
    return PointwiseConv(act)(*inputs)
