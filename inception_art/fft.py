"""The orthonormal 2-d real FFT pair of the Fourier images, as Theano ops
on ``scipy.fft``.

Theano's own ``theano.tensor.fft`` runs ``numpy.fft``, which computes in
double precision and on one core: 24 ms a step, forward and back, for a
512x512 three-channel image, where ``scipy.fft`` takes 8 ms in single
precision (``python -m bench.breakdown`` shows the parameterisation's
share). The arithmetic is the same; so are the gradients: the inverse
transform's is the forward transform with the two-sided frequencies
doubled, and back.

A spectrum is stored as Theano stores one: real and imaginary parts in a
last axis of 2, (C, h, w // 2 + 1, 2) for planes (C, h, w).
"""
import os

import numpy as np
import scipy.fft

from .theano_env import T, theano


def threads():
    """The cores this process may use, as its BLAS is told
    (``OPENBLAS_NUM_THREADS`` or ``OMP_NUM_THREADS``), else its CPU
    affinity."""
    for name in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS'):
        if os.environ.get(name, '').isdigit() and int(os.environ[name]) > 0:
            return int(os.environ[name])
    if hasattr(os, 'sched_getaffinity'):          # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _two_sided(width):
    """The columns of a half spectrum of ``width`` columns that stand for two
    frequencies (+f and -f): all but the first and, for an even width, the
    last."""
    return slice(1, width // 2 + width % 2)


class RFFT2(theano.gof.Op):
    """Unnormalised forward FFT of real planes (C, h, w) over the last two
    axes: (C, h, w // 2 + 1, 2)."""

    __props__ = ()

    def make_node(self, planes):
        planes = T.as_tensor_variable(planes)
        if planes.ndim != 3 or planes.dtype not in ('float32', 'float64'):
            raise TypeError('rfft2: need 3-d float planes, got %s' % planes.type)
        return theano.Apply(self, [planes], [T.TensorType(planes.dtype, (False,) * 4)()])

    def perform(self, node, inputs, outputs):
        planes, = inputs
        spectrum = scipy.fft.rfft2(planes, workers=threads())
        # a complex array viewed as pairs of reals: no copy
        outputs[0][0] = np.ascontiguousarray(spectrum).view(planes.dtype).reshape(
            spectrum.shape + (2,))

    def infer_shape(self, node, shapes):
        c, h, w = shapes[0]
        return [(c, h, w // 2 + 1, 2)]

    def grad(self, inputs, output_grads):
        # not needed: it is only ever the gradient of irfft2
        return [theano.gradient.grad_not_implemented(self, 0, inputs[0])]


class IRFFT2(theano.gof.Op):
    """Unnormalised inverse FFT of half spectra (C, h, w // 2 + 1, 2) to real
    planes (C, h, w), ``size`` = (h, w)."""

    __props__ = ('size',)

    def __init__(self, size):
        self.size = tuple(int(v) for v in size)

    def make_node(self, spectrum):
        spectrum = T.as_tensor_variable(spectrum)
        if spectrum.ndim != 4 or spectrum.dtype not in ('float32', 'float64'):
            raise TypeError('irfft2: need a 4-d float spectrum, got %s' % spectrum.type)
        return theano.Apply(self, [spectrum], [T.TensorType(spectrum.dtype, (False,) * 3)()])

    def perform(self, node, inputs, outputs):
        spectrum, = inputs
        h, w = self.size
        if spectrum.shape[1:] != (h, w // 2 + 1, 2):
            raise ValueError('irfft2: a spectrum %s cannot make planes %dx%d (WxH)'
                             % (spectrum.shape, w, h))
        kind = np.complex64 if spectrum.dtype == np.float32 else np.complex128
        complex_ = np.ascontiguousarray(spectrum).view(kind)[..., 0]     # no copy
        planes = scipy.fft.irfft2(complex_, s=self.size, norm='forward', workers=threads())
        outputs[0][0] = planes.astype(spectrum.dtype, copy=False)

    def infer_shape(self, node, shapes):
        return [(shapes[0][0],) + self.size]

    def grad(self, inputs, output_grads):
        g = RFFT2()(output_grads[0])
        two = _two_sided(self.size[1])
        return [T.set_subtensor(g[:, :, two], g[:, :, two] * 2)]


def irfft2(spectrum, size):
    """Planes (C, h, w) of the half spectra ``spectrum`` (C, h, w // 2 + 1,
    2), orthonormal: ``numpy.fft.irfft2(..., norm='ortho')``."""
    h, w = size
    return IRFFT2(size)(spectrum) / np.asarray(np.sqrt(h * w), dtype=spectrum.dtype)
