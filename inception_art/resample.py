"""Bilinear resampling of an image at given positions, as one C op each way.

The views of :mod:`inception_art.transforms` (the random affine view, the
centre crops) sample the canvas at positions computed from a small random
state. :func:`bilinear_sample` reads the canvas there; its gradient
scatters back to the canvas by the same weights. Each is one pass in C
(``resample.c``) where the Theano graph it replaced took four gathers and,
backwards, four scatters, nearly half of a default step.

``perform`` is the numpy reference (and what runs without a C compiler).
"""
import zlib
from pathlib import Path

import numpy as np

from .c_source import sections
from .theano_env import T, theano

_C = sections(Path(__file__).with_name('resample.c'))
# Theano keys its compile cache on this alone: derived from the C text.
_C_VERSION = (1, zlib.crc32((_C['support'] + _C['forward'] + _C['grad']).encode()))


def neighbours(image_size, x, y):
    """The four neighbours of each position (numpy): flat indices (4, P),
    weights (4, P) (0 for a neighbour outside the image) and the weight
    left to the fill (P,)."""
    h, w = image_size
    x, y = np.asarray(x), np.asarray(y)
    near = (x > -2) & (x < w + 1) & (y > -2) & (y < h + 1)
    x0, y0 = np.floor(np.where(near, x, 0)), np.floor(np.where(near, y, 0))
    fx, fy = np.where(near, x, 0) - x0, np.where(near, y, 0) - y0
    index, weight = [], []
    for dy, dx, wt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                       (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        inside = near & (xx >= 0) & (xx <= w - 1) & (yy >= 0) & (yy <= h - 1)
        index.append(np.where(inside, yy * w + xx, 0).astype(np.int64))
        weight.append(np.where(inside, wt, 0).astype(x.dtype))
    weight = np.array(weight)
    return np.array(index), weight, (1 - weight.sum(axis=0)).astype(x.dtype)


class _ResampleOp(theano.gof.Op):
    __props__ = ('fill',)

    def __init__(self, fill=128.0):
        self.fill = float(fill)

    def c_code_cache_version(self):
        return _C_VERSION

    def c_support_code(self):
        return _C['support']

    def c_headers(self):
        return ['<math.h>', '<string.h>']

    def _code(self, template, node, names, sub):
        dtype = node.inputs[0].dtype
        return template % dict(names, fail=sub['fail'], fill=repr(self.fill),
                               T='npy_' + dtype,
                               floor='floorf' if dtype == 'float32' else 'floor')

    @staticmethod
    def _checked(image, x, y):
        image = T.as_tensor_variable(image)
        x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
        if image.ndim != 4 or x.ndim != 1 or y.ndim != 1 \
                or image.dtype not in ('float32', 'float64') \
                or x.dtype != image.dtype or y.dtype != image.dtype:
            raise TypeError('bilinear sample: need a 4-d float image and 1-d positions '
                            'of its dtype, got %s, %s, %s' % (image.type, x.type, y.type))
        return image, x, y


class BilinearSample(_ResampleOp):
    """``image`` (1, C, H, W) read bilinearly at the positions ``x``, ``y``
    (P,) (in input pixels): an output (C, P). A neighbour past the image's
    edge contributes ``fill``. Differentiable in the image; the positions
    are not connected to the gradient (they are a random draw)."""

    def make_node(self, image, x, y):
        image, x, y = self._checked(image, x, y)
        return theano.Apply(self, [image, x, y], [T.matrix(dtype=image.dtype)])

    def perform(self, node, inputs, outputs):
        image, x, y = inputs
        c, h, w = image.shape[1:]
        index, weight, rest = neighbours((h, w), x, y)
        flat = image[0].reshape(c, h * w)
        out = rest * np.asarray(self.fill, image.dtype) + sum(
            flat[:, index[k]] * weight[k] for k in range(4))
        outputs[0][0] = np.ascontiguousarray(out, dtype=image.dtype)

    def infer_shape(self, node, shapes):
        return [(shapes[0][1], shapes[1][0])]

    def connection_pattern(self, node):
        return [[True], [False], [False]]

    def grad(self, inputs, output_grads):
        image, x, y = inputs
        disconnected = theano.gradient.DisconnectedType()
        return [BilinearSampleGrad(self.fill)(image, x, y, output_grads[0]),
                disconnected(), disconnected()]

    def c_code(self, node, name, inp, out, sub):
        return self._code(_C['forward'], node,
                          dict(image=inp[0], x=inp[1], y=inp[2], out=out[0]), sub)


class BilinearSampleGrad(_ResampleOp):
    """The gradient of :class:`BilinearSample` with respect to its image:
    ``g`` (C, P) scattered back to (1, C, H, W) by the same weights. The
    image is an input for its shape alone."""

    def make_node(self, image, x, y, g):
        image, x, y = self._checked(image, x, y)
        g = T.cast(T.as_tensor_variable(g), image.dtype)
        return theano.Apply(self, [image, x, y, g], [image.type()])

    def perform(self, node, inputs, outputs):
        image, x, y, g = inputs
        c, h, w = image.shape[1:]
        index, weight, _ = neighbours((h, w), x, y)
        out = np.zeros((c, h * w), dtype=image.dtype)
        for k in range(4):
            for ch in range(c):
                np.add.at(out[ch], index[k], weight[k] * g[ch])
        outputs[0][0] = out.reshape(image.shape)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, output_grads):
        return [theano.gradient.grad_not_implemented(self, i, v)
                for i, v in enumerate(inputs)]

    def c_code(self, node, name, inp, out, sub):
        return self._code(_C['grad'], node,
                          dict(image=inp[0], x=inp[1], y=inp[2], g=inp[3], out=out[0]), sub)


def bilinear_sample(image, x, y, fill):
    """Sample ``image`` (1, C, h, w) bilinearly at symbolic positions ``x``,
    ``y`` (flat, in input pixels); positions past an edge see ``fill``.
    Returns (C, len(x))."""
    x, y = T.cast(x, image.dtype), T.cast(y, image.dtype)
    return BilinearSample(fill)(image, x, y)
