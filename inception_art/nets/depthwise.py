"""Depthwise convolution as small Theano C ops.

The depthwise convolution of a MobileNet-style block (EfficientNet-Lite),
between a 1x1 expansion and a 1x1 projection (those are the ops of
:mod:`inception_art.nets.pointwise`), with a bias and most with ReLU6.

Theano's ``T.nnet.conv2d(x, w, num_groups=C)`` runs a depthwise
convolution as C separate tiny GEMMs (one per channel, after an im2col copy
each). On EfficientNet-Lite0 that is about half of a whole step for 9% of
its multiply-adds. The ops here do the same arithmetic with direct loops
that the compiler vectorises (see the comments in ``depthwise.c``).
Measured with ``bench/studies/depthwise_bench.py`` at EfficientNet-Lite0's
eight kinds of depthwise layer (2 Zen 4 cores, single-threaded OpenBLAS for
conv2d): forward 6.6-19x and forward + input gradient 6.4-14x faster than
the grouped conv2d; summed over the eight, 15.2 -> 1.3 ms and 33.7 -> 3.4
ms.

These ops, and the pointwise ones, fuse what follows a convolution in these
networks: zero padding (depthwise; independent top, bottom, left and right
widths, as TensorFlow's "SAME" needs at stride 2), the bias and the
activation (identity or ReLU6). In Theano those were separate passes over
memory: an ``Alloc`` and ``IncSubtensor`` per padded layer, a bias ``add``
and a ``clip`` that could not be fused (the clip's gradient read the
pre-activation). Here the activation's gradient is computed from the op's
*output* (ReLU6 passes the gradient where ``0 < y < 6``, as PyTorch's
``hardtanh_backward`` does), and the gradient ops apply that mask while
copying the output gradient, so the forward pass keeps no pre-activation
and the backward pass has no separate mask pass.

The ops, all cross-correlation (no kernel flip):

* :class:`DepthwiseCorrelate`: ``y = act(x_padded (*) w + b)``, one kernel
  per channel, the same stride in both axes.
* :class:`DepthwiseCorrelateGradInput`: the gradient with respect to ``x``
  (the transposed correlation of the masked output gradient, cropped).
* :class:`DepthwiseCorrelateGradWeights`: the gradient with respect to
  ``w`` (a C op as well, so that networks with trainable depthwise weights
  work and ``T.grad`` never needs numpy).

Stride, padding and activation reach the C code as run-time parameters
(Theano's ``ParamsType``), not as text in it: every layer of a network then
shares one compiled module per op class, which keeps the first (cold)
compile short.

Each op's gradient is expressed with the others (and, for the ReLU6 mask,
elementwise Theano), so second derivatives work too. Each op has a numpy
``perform`` used as the reference in the tests and as the fallback when
Theano runs without a C++ compiler. float32 is the case that matters;
float64 is supported (same code, other element type) so that
``theano.gradient.verify_grad`` can run at double precision.

The C code is in ``depthwise.c`` next to this file; what these ops share
with the pointwise ones is in :mod:`inception_art.nets.c_op`.

Use :func:`depthwise_correlate`.
"""
import numpy as np

from ..theano_env import theano, T
from theano.gof import ParamsType
from theano.scalar import int64

from .c_op import (_CodeOp, _ForwardOp, _as_4d_float,
                   _as_weights, _check_act, _np_act, _np_mask, _optional,
                   _same_dtype, c_sections, relu6_mask)

__all__ = ['depthwise_correlate', 'DepthwiseCorrelate',
           'DepthwiseCorrelateGradInput', 'DepthwiseCorrelateGradWeights']

_C = c_sections('depthwise.c')


def _check_stride(stride):
    if isinstance(stride, (tuple, list)):
        if len(stride) != 2 or stride[0] != stride[1]:
            raise ValueError('depthwise ops take one stride for both axes, '
                             'got %r' % (stride,))
        stride = stride[0]
    stride = int(stride)
    if stride < 1:
        raise ValueError('stride must be >= 1, got %d' % stride)
    return stride


def _check_pad(pad):
    """``pad``: an int (all sides) or (top, bottom, left, right)."""
    if isinstance(pad, (tuple, list)):
        if len(pad) != 4:
            raise ValueError('pad must be an int or (top, bottom, left, '
                             'right), got %r' % (pad,))
        pad = tuple(int(p) for p in pad)
    else:
        pad = (int(pad),) * 4
    if min(pad) < 0:
        raise ValueError('padding must be >= 0, got %r' % (pad,))
    return pad


def _check_kernel(kernel):
    kernel = tuple(int(k) for k in kernel)
    if len(kernel) != 2 or min(kernel) < 1:
        raise ValueError('kernel must be (kh, kw), got %r' % (kernel,))
    return kernel


def _as_shape(var):
    var = T.as_tensor_variable(var)
    if var.ndim != 1:
        raise TypeError('a shape must be a vector, got %d-d' % var.ndim)
    if var.dtype != 'int64':
        var = T.cast(var, 'int64')
    return var


def _out_size(size, kernel, stride):
    return (size - kernel) // stride + 1


def _np_pad(x, pad):
    t, b, l, r = pad
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))


class _DepthwiseOp(_CodeOp):
    """The depthwise ops' parameters: stride, padding, activation and (a
    shape hint, used by the forward op) the kernel size.

    They reach the C code through ``params`` (a struct filled at run time),
    so one compiled module serves every layer.
    """

    __props__ = ('stride', 'pad', 'act', 'kernel')
    params_type = ParamsType(stride=int64, pad_top=int64, pad_bottom=int64,
                             pad_left=int64, pad_right=int64, relu6=int64,
                             kernel_h=int64, kernel_w=int64)

    def __init__(self, stride=1, pad=0, act='linear', kernel=None):
        self.stride = _check_stride(stride)
        self.pad = _check_pad(pad)
        self.act = _check_act(act)
        self.kernel = None if kernel is None else _check_kernel(kernel)

    pad_top = property(lambda self: self.pad[0])
    pad_bottom = property(lambda self: self.pad[1])
    pad_left = property(lambda self: self.pad[2])
    pad_right = property(lambda self: self.pad[3])
    relu6 = property(lambda self: int(self.act == 'relu6'))
    kernel_h = property(lambda self: (self.kernel or (0, 0))[0])
    kernel_w = property(lambda self: (self.kernel or (0, 0))[1])

    def _padded(self, h, w):
        t, b, l, r = self.pad
        return h + t + b, w + l + r

    def c_support_code(self):
        return _C['support']

    def _c(self, sub, names, out, ref):
        # the parameters as C locals, the templates' %(c_params)s
        names = dict(names, c_params=_C['params'] % dict(params=sub['params']))
        return super()._c(sub, names, out, ref)


class DepthwiseCorrelate(_ForwardOp, _DepthwiseOp):
    """Depthwise cross-correlation, one kernel per channel, with zero
    padding, bias and activation.

    Parameters
    ----------
    stride : int
        The same stride in both axes (1 and 2 are the tuned cases; any
        positive stride works).
    pad : int or (top, bottom, left, right)
        Zero padding of the input.
    act : {'linear', 'relu6'}
        The activation applied to ``correlation + bias``.
    kernel : (kh, kw), optional
        The kernel size, when known while building the graph (checked at
        run time). Like the ``kshp`` of Theano's own convolutions: with it,
        output shapes are constants to Theano (when the input's are), so
        the compiled step holds no shape arithmetic.

    Notes
    -----
    Inputs ``x`` (N, C, H, W), ``w`` (C, 1, kh, kw) and optionally ``b``
    (C,), all float32 (or all float64); output ``y`` (N, C, (H + top +
    bottom - kh) // s + 1, (W + left + right - kw) // s + 1) with
    ``y[n, c, i, j] = act(b[c] + sum_{u, v} w[c, 0, u, v] * xp[n, c, i*s +
    u, j*s + v])``, ``xp`` the padded input. With no padding, bias or
    activation this equals ``T.nnet.conv2d(x, w, num_groups=C,
    filter_flip=False, subsample=(s, s))``. Gradients: to ``x`` by
    :class:`DepthwiseCorrelateGradInput` (which reads ``y`` for the ReLU6
    mask), to ``w`` by :class:`DepthwiseCorrelateGradWeights`, to ``b`` a
    sum.
    """

    _c_template = _C['forward']
    _c_locals = ('xc', 'wc', 'bc')

    def make_node(self, x, w, b=None):
        inputs = self._inputs(x, w, b)
        x = inputs[0]
        out = T.TensorType(x.dtype, x.broadcastable[:2] + (False, False))
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, w = inputs[:2]
        s = self.stride
        n, c = x.shape[:2]
        h, wd = self._padded(*x.shape[2:])
        kh, kw = w.shape[2:]
        if w.shape[:2] != (c, 1) or kh > h or kw > wd or (
                len(inputs) > 2 and inputs[2].shape != (c,)) or (
                self.kernel not in (None, (kh, kw))):
            raise ValueError('depthwise_correlate: input %s, kernels %s and '
                             'bias do not fit' % (x.shape, w.shape))
        xp = _np_pad(x, self.pad)
        oh, ow = _out_size(h, kh, s), _out_size(wd, kw, s)
        y = np.zeros((n, c, oh, ow), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                y += (w[None, :, 0, u, v, None, None]
                      * xp[:, :, u:u + s * (oh - 1) + 1:s,
                           v:v + s * (ow - 1) + 1:s])
        if len(inputs) > 2:
            y += inputs[2][None, :, None, None]
        outputs[0][0] = _np_act(y, self.act)

    def infer_shape(self, node, shapes):
        (n, c, h, w), (_, _, kh, kw) = shapes[:2]
        if self.kernel is not None:
            kh, kw = self.kernel
        s = self.stride
        h, w = self._padded(h, w)
        return [(n, c, _out_size(h, kh, s), _out_size(w, kw, s))]

    def _grads(self, x, w, y, gy, gz):
        gx = DepthwiseCorrelateGradInput(self.stride, self.pad, self.act)(
            gy, w, x.shape[2:], *([] if y is None else [y]))
        gw = DepthwiseCorrelateGradWeights(self.stride, self.pad)(
            x, gz, self.kernel or w.shape[2:])
        return gx, gw


class DepthwiseCorrelateGradInput(_DepthwiseOp):
    """The gradient of :class:`DepthwiseCorrelate` with respect to its input.

    Parameters
    ----------
    stride, pad, act
        The forward op's.

    Notes
    -----
    Inputs: the output gradient ``gy`` (N, C, OH, OW), the kernels ``w``
    (C, 1, kh, kw), the input's spatial size ``(H, W)`` (an int64 vector:
    with a stride, H is not fixed by OH) and, with ``act='relu6'``, the
    forward output ``y`` (N, C, OH, OW): ``gy`` counts only where
    ``0 < y < 6``. Output ``gx`` (N, C, H, W), the transposed correlation:
    each (masked) ``gy`` value spread over the ``kh x kw`` window it came
    from, cropped to the unpadded input. The C code gathers instead of
    scattering (per output phase modulo the stride, a stride-1 correlation
    with a flipped sub-kernel), so every ``gx`` element is written once and
    the inner loops vectorise like the forward pass.
    """

    _c_template = _C['grad_input']
    _c_locals = ('gc', 'wc', 'yc')

    def make_node(self, gy, w, shape, y=None):
        gy = _as_4d_float(gy, 'gy')
        w = _as_4d_float(w, 'w')
        shape = _as_shape(shape)
        _same_dtype(gy, w, 'gy and w')
        inputs = [gy, w, shape]
        if (y is not None) != (self.act == 'relu6'):
            raise TypeError('DepthwiseCorrelateGradInput: the forward output '
                            'y is needed with act="relu6" and only then')
        if y is not None:
            y = _as_4d_float(y, 'y')
            _same_dtype(gy, y, 'gy and y')
            inputs.append(y)
        out = T.TensorType(gy.dtype, gy.broadcastable[:2] + (False, False))
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        gy, w, shape = inputs[:3]
        s = self.stride
        t, _, l, _ = self.pad
        h0, w0 = int(shape[0]), int(shape[1])
        h, wd = self._padded(h0, w0)
        n, c, oh, ow = gy.shape
        kh, kw = w.shape[2:]
        if (w.shape[:2] != (c, 1) or kh > h or kw > wd
                or (_out_size(h, kh, s), _out_size(wd, kw, s)) != (oh, ow)
                or (len(inputs) > 3 and inputs[3].shape != gy.shape)):
            raise ValueError('DepthwiseCorrelateGradInput: gy %s, w %s and '
                             'input size %s do not fit'
                             % (gy.shape, w.shape, (h0, w0)))
        if len(inputs) > 3:
            gy = gy * _np_mask(inputs[3])
        gx = np.zeros((n, c, h, wd), dtype=gy.dtype)
        for u in range(kh):
            for v in range(kw):
                gx[:, :, u:u + s * (oh - 1) + 1:s,
                   v:v + s * (ow - 1) + 1:s] += (w[None, :, 0, u, v, None, None]
                                                  * gy)
        outputs[0][0] = np.ascontiguousarray(gx[:, :, t:t + h0, l:l + w0])

    def infer_shape(self, node, shapes):
        n, c = shapes[0][:2]
        shape = node.inputs[2]
        return [(n, c, shape[0], shape[1])]

    def connection_pattern(self, node):
        # the ReLU6 mask is piecewise constant in y: no gradient flows to y
        return [[True], [True], [False]] + [[False]] * (len(node.inputs) - 3)

    def grad(self, inputs, output_grads):
        # gx = F^T(gy * m), F the linear padded correlation with w, m the
        # mask: L = <G, gx> = <m * F(G), gy> = <gradweights(G, gy * m), w>.
        gy, w = inputs[:2]
        g, = output_grads
        ggy = DepthwiseCorrelate(self.stride, self.pad)(g, w)
        gz = gy
        if len(inputs) > 3:
            mask = relu6_mask(inputs[3])
            ggy, gz = ggy * mask, gy * mask
        gw = DepthwiseCorrelateGradWeights(self.stride, self.pad)(
            g, gz, w.shape[2:])
        disconnected = [theano.gradient.DisconnectedType()()
                        for _ in inputs[2:]]
        return [T.patternbroadcast(ggy, gy.broadcastable),
                T.patternbroadcast(gw, w.broadcastable)] + disconnected

    def c_code(self, node, name, inp, out, sub):
        names = dict(gy=inp[0], w=inp[1], shape=inp[2], gx=out[0])
        if len(inp) > 3:
            names['y'] = inp[3]
        _optional(names, 'y', 'has_y')
        return self._c(sub, names, 'gx', 'gy')


class DepthwiseCorrelateGradWeights(_DepthwiseOp):
    """The gradient of :class:`DepthwiseCorrelate` with respect to its kernels.

    Parameters
    ----------
    stride, pad
        The forward op's. (The activation's mask is applied by the caller:
        ``gy`` here is the gradient of the pre-activation.)

    Notes
    -----
    Inputs: the forward input ``x`` (N, C, H, W), the output gradient ``gy``
    (N, C, OH, OW) and the kernel size ``(kh, kw)`` (an int64 vector).
    Output ``gw`` (C, 1, kh, kw), ``gw[c, 0, u, v] = sum_{n, i, j}
    gy[n, c, i, j] * xp[n, c, i*s + u, j*s + v]``, ``xp`` the padded input.
    The C code keeps a row of partial sums per tap (vectorisable
    multiply-adds) and adds each row up once, in double precision.
    """

    _c_template = _C['grad_weights']
    _c_locals = ('xc', 'gc')

    def __init__(self, stride=1, pad=0):
        super().__init__(stride, pad)

    def make_node(self, x, gy, shape):
        x = _as_4d_float(x, 'x')
        gy = _as_4d_float(gy, 'gy')
        shape = _as_shape(shape)
        _same_dtype(x, gy, 'x and gy')
        out = T.TensorType(x.dtype, (x.broadcastable[1], True, False, False))
        return theano.Apply(self, [x, gy, shape], [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, gy, shape = inputs
        s = self.stride
        kh, kw = int(shape[0]), int(shape[1])
        n, c = x.shape[:2]
        h, wd = self._padded(*x.shape[2:])
        oh, ow = gy.shape[2:]
        if (gy.shape[:2] != (n, c) or not 1 <= kh <= h or not 1 <= kw <= wd
                or (_out_size(h, kh, s), _out_size(wd, kw, s)) != (oh, ow)):
            raise ValueError('DepthwiseCorrelateGradWeights: x %s, gy %s and '
                             'kernel size %s do not fit'
                             % (x.shape, gy.shape, (kh, kw)))
        xp = _np_pad(x, self.pad)
        gw = np.empty((c, 1, kh, kw), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                window = xp[:, :, u:u + s * (oh - 1) + 1:s,
                            v:v + s * (ow - 1) + 1:s]
                gw[:, 0, u, v] = np.einsum('ncij,ncij->c', window, gy)
        outputs[0][0] = gw

    def infer_shape(self, node, shapes):
        c = shapes[0][1]
        shape = node.inputs[2]
        return [(c, 1, shape[0], shape[1])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def grad(self, inputs, output_grads):
        # gw is linear in x and in gy: L = <G, gw> = <gradinput(gy, G), x>
        # = <forward(x, G), gy>.
        x, gy, shape = inputs
        g, = output_grads
        gx = DepthwiseCorrelateGradInput(self.stride, self.pad)(
            gy, g, x.shape[2:])
        ggy = DepthwiseCorrelate(self.stride, self.pad)(x, g)
        return [T.patternbroadcast(gx, x.broadcastable),
                T.patternbroadcast(ggy, gy.broadcastable),
                theano.gradient.DisconnectedType()()]

    def c_code(self, node, name, inp, out, sub):
        return self._c(sub, dict(x=inp[0], gy=inp[1], shape=inp[2],
                                 gw=out[0]), 'gw', 'x')


def depthwise_correlate(x, w, stride=1, pad=0, b=None, act='linear',
                        kernel=None):
    """Depthwise cross-correlation of ``x`` with ``w``, then ``act(. + b)``.

    Parameters
    ----------
    x : Theano 4-d tensor, (N, C, H, W), float32 (or float64)
    w : Theano 4-d tensor or array, (C, 1, kh, kw)
        One kernel per channel in torch's depthwise layout, used as a
        cross-correlation (not flipped). A numpy array is cast to ``x``'s
        dtype (likewise ``b``).
    stride : int or (s, s)
        The same stride in both axes.
    pad : int or (top, bottom, left, right)
        Zero padding of ``x``, done inside the op.
    b : Theano vector or array, (C,), optional
        A bias per channel.
    act : {'linear', 'relu6'}
        Activation of the output.
    kernel : (kh, kw), optional
        The kernel size, if known while building (a shape hint, checked at
        run time); taken from ``w`` when it is a numpy array.

    Returns
    -------
    Theano 4-d tensor, (N, C, (H + top + bottom - kh) // stride + 1,
    (W + left + right - kw) // stride + 1)
        With no padding, bias or activation, equal to ``T.nnet.conv2d(x, w,
        num_groups=C, filter_flip=False, subsample=(stride, stride))``,
        computed by the C op :class:`DepthwiseCorrelate`; differentiable in
        ``x``, ``w`` and ``b``.
    """
    x = T.as_tensor_variable(x)
    if kernel is None and isinstance(w, np.ndarray):
        kernel = w.shape[2:]
    inputs = [x, _as_weights(w, x)]
    if b is not None:
        inputs.append(_as_weights(b, x))
    return DepthwiseCorrelate(stride, pad, act, kernel)(*inputs)
