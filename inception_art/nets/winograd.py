"""3x3 convolution (stride 1, zero padding 1) by Winograd F(2x2, 3x3).

VGG's thirteen convolutions are all 3x3 at stride 1 with padding 1, and
they are nearly all of its step. Theano's ``CorrMM`` computes them as an
im2col copy and one GEMM of 9 C multiply-adds per output; Winograd's
minimal filtering algorithm F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", 2015) computes each 2x2 output tile from
16 elementwise products of transformed 4x4 input tiles and transformed
kernels: 16 C multiply-adds per 4 outputs instead of 36, 2.25 times fewer,
still in GEMMs (one per position of the 4x4). The transforms are additions
only. The C code is in ``winograd.c`` next to this file: blocks of tiles
(bounded memory, cache-sized), each transformed, multiplied (16 GEMMs) and
transformed back by one of as many threads as OpenBLAS has, each with
single-threaded GEMMs (the transforms are then parallel too).

The results differ from the direct convolution by rounding only (the
transforms add and subtract values of similar size; measured relative
error about 1e-6 in float32 on VGG-16's layers).

Use :func:`conv3x3`, or :class:`Winograd3x3Layer` in a Lasagne network.
"""
import zlib
from pathlib import Path

import numpy as np

from ..theano_env import theano, T, lasagne
from theano.gof import ParamsType
from theano.scalar import int64
from theano.tensor.nnet.abstract_conv import AbstractConv2d_gradWeights

from .blas import UsesBlas, blas_support_code, blas_version

__all__ = ['conv3x3', 'Winograd3x3', 'Winograd3x3Layer']

_C_FILE = Path(__file__).with_name('winograd.c')
_SUPPORT_CODE = _C_FILE.read_text()

# The glue: everything else (shape checks, the output, the work without
# the GIL) is inception_art_wg::run in winograd.c.
_C_CODE = r"""
{
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    int ia_err = !xc || !wc ? -1 : inception_art_wg::run<dtype_%(x)s>(
        xc, wc, &%(y)s, %(params)s->transposed != 0, %(cache)s);
    Py_XDECREF(xc);
    Py_XDECREF(wc);
    if (ia_err) { %(fail)s }
}
"""

# Theano keys its on-disk cache on c_code_cache_version, not on the source:
# derive the version from the C text so an edit never picks up a stale
# compiled module.
_C_VERSION = (1, zlib.crc32((_SUPPORT_CODE + _C_CODE).encode()))


def _flip_transpose(w):
    """``w'[c, k, i, j] = w[k, c, 2 - i, 2 - j]``: the kernels of the input
    gradient (an involution)."""
    return w.dimshuffle(1, 0, 2, 3)[:, :, ::-1, ::-1]


class Winograd3x3(UsesBlas, theano.gof.Op):
    """``y = T.nnet.conv2d(x, g, border_mode=(1, 1), filter_flip=False)``
    for 3x3 kernels ``g``, by Winograd F(2x2, 3x3).

    Parameters
    ----------
    transposed : bool
        ``False``: ``g = w``, ``w`` is (K, C, 3, 3). ``True``: ``g`` is ``w``
        (C, K, 3, 3) with its two first axes swapped and flipped in both
        spatial axes (:func:`_flip_transpose`), which is what the gradient
        with respect to the input needs; done while transforming the
        kernels, so no flipped copy is made.
    keep_kernels : bool
        Keep the kernels' transform between calls while ``w`` is the same
        array with the same values (address, shape and a fingerprint of a
        sample of its values): for weights that do not change, such as a
        network's while a picture is optimised. Costs the transform's
        memory (16/9 of ``w``) per node for the life of the compiled
        function.

    Notes
    -----
    Inputs ``x`` (N, C, H, W) and ``w``, both float32 or both float64;
    output (N, K, H, W). Any H, W >= 1 (odd sizes end in part tiles).
    The gradient with respect to ``x`` is this op with ``transposed``
    negated; with respect to ``w`` Theano's ``AbstractConv2d_gradWeights``
    (VGG's weights are constants here, so its speed does not matter).
    ``perform`` (the numpy fallback, also the tests' second reference) is a
    direct correlation.
    """

    __props__ = ('transposed', 'keep_kernels')
    params_type = ParamsType(transposed=int64)

    def __init__(self, transposed=False, keep_kernels=False):
        self.transposed = bool(transposed)
        self.keep_kernels = bool(keep_kernels)

    def get_params(self, node):
        return self.params_type.get_params(transposed=int(self.transposed))

    def make_node(self, x, w):
        x = T.as_tensor_variable(x)
        w = T.as_tensor_variable(w)
        for name, var in (('x', x), ('w', w)):
            if var.ndim != 4:
                raise TypeError('%s must be 4-d, got %d-d' % (name, var.ndim))
            if var.dtype not in ('float32', 'float64'):
                raise TypeError('%s must be float32 or float64, got %s'
                                % (name, var.dtype))
        if x.dtype != w.dtype:
            raise TypeError('x and w must have the same dtype, got %s and %s'
                            % (x.dtype, w.dtype))
        out_channels = w.broadcastable[1 if self.transposed else 0]
        out = T.TensorType(x.dtype, (x.broadcastable[0], out_channels,
                                     False, False))
        return theano.Apply(self, [x, w], [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, w = inputs
        g = np.ascontiguousarray(
            w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1] if self.transposed else w)
        if x.ndim != 4 or g.shape[1:] != (x.shape[1], 3, 3):
            raise ValueError('Winograd3x3: input %s and kernels %s do not fit'
                             % (x.shape, w.shape))
        n, _, h, wd = x.shape
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        y = np.zeros((n, g.shape[0], h, wd), dtype=np.result_type(x, w))
        for i in range(3):
            for j in range(3):
                y += np.einsum('nchw,kc->nkhw', padded[:, :, i:i + h, j:j + wd],
                               g[:, :, i, j])
        outputs[0][0] = y.astype(x.dtype)

    def infer_shape(self, node, shapes):
        (n, _, h, w), wshape = shapes
        return [(n, wshape[1 if self.transposed else 0], h, w)]

    def grad(self, inputs, output_grads):
        x, w = inputs
        gy, = output_grads
        gx = Winograd3x3(not self.transposed, self.keep_kernels)(gy, w)
        # AbstractConv2d_gradWeights (conv2d convention: flipped kernels
        # unless filter_flip=False) gives the gradient of the kernels g
        # that this op correlates with; map it back to w.
        gg = AbstractConv2d_gradWeights(border_mode=(1, 1),
                                        filter_flip=False)(x, gy, w.shape[2:])
        gw = _flip_transpose(gg) if self.transposed else gg
        return [T.patternbroadcast(gx, x.broadcastable),
                T.patternbroadcast(T.cast(gw, w.dtype), w.broadcastable)]

    def c_support_code(self):
        return blas_support_code() + _SUPPORT_CODE

    def c_support_code_struct(self, node, name):
        if not self.keep_kernels:
            return ''
        return 'inception_art_wg::KernelCache kernels_%s;\n' % name

    def c_init_code_struct(self, node, name, sub):
        if not self.keep_kernels:
            return ''
        return 'memset(&kernels_%s, 0, sizeof(kernels_%s));\n' % (name, name)

    def c_cleanup_code_struct(self, node, name):
        if not self.keep_kernels:
            return ''
        return 'free(kernels_%s.U);\n' % name

    def c_code(self, node, name, inp, out, sub):
        return _C_CODE % dict(x=inp[0], w=inp[1], y=out[0], fail=sub['fail'],
                              params=sub['params'],
                              cache='&kernels_%s' % name if self.keep_kernels else 'NULL')

    def c_code_cache_version(self):
        return _C_VERSION + blas_version()


def conv3x3(x, w, keep_kernels=False):
    """``T.nnet.conv2d(x, w, border_mode=(1, 1), filter_flip=False)`` for
    (K, C, 3, 3) kernels ``w``, by Winograd F(2x2, 3x3); ``keep_kernels``:
    see :class:`Winograd3x3`."""
    return Winograd3x3(keep_kernels=keep_kernels)(x, w)


class Winograd3x3Layer(lasagne.layers.Conv2DLayer):
    """A Lasagne ``Conv2DLayer`` (3x3, stride 1, padding 1) whose
    convolution is :func:`conv3x3`.

    Lasagne 0.1 pads the input with an explicit copy and then runs a
    "valid" convolution; the op pads by itself, so this layer overrides
    ``get_output_for`` rather than passing ``convolution=``. Takes the
    keyword arguments of ``Conv2DLayer`` except ``filter_size``, ``stride``
    and ``pad``, and ``keep_kernels`` (default True: the kernels' transform
    is kept while ``W`` does not change; see :class:`Winograd3x3`).
    """

    def __init__(self, incoming, num_filters, keep_kernels=True, **kwargs):
        super().__init__(incoming, num_filters, (3, 3), stride=(1, 1), pad=1,
                         **kwargs)
        self.keep_kernels = keep_kernels

    def get_output_for(self, input, **kwargs):
        conved = conv3x3(input, self.W, self.keep_kernels)
        if self.b is not None:
            conved = conved + self.b.dimshuffle('x', 0, 'x', 'x')
        return self.nonlinearity(conved)
