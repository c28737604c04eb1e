"""Natural-image prior at run time: a Gaussian or a Student-t on 8x8x3
patches, and its Theano term.

The 2015 system added a very simple natural-image prior to the network's
objective, and it was what made the pictures recognisable to people. This
module reads a fitted prior (the committed ``inception_art/data/prior/patch8_*.npz``) and turns
it into a Theano term that the optimiser minimises. It holds the models, the
prior file format, the patch helpers and the fused C ops of the penalty
(whose C is ``prior.c``). Fitting a prior from photographs, and its command
line, is :mod:`inception_art.prior_fit`, which builds on this module.

Patch vectors
-------------
A patch is an 8x8 window of an RGB image on the 0..255 pixel scale,
flattened *channel-major*: element ``c*64 + y*8 + x`` is channel ``c``
(R, G, B) of row ``y``, column ``x``. This is the order of a filter bank of
shape (192, 3, 8, 8) flattened in C order, so row ``k`` of the whitening
matrix, reshaped to (3, 8, 8), is the k-th convolution filter.

The models
----------
Both models share a mean ``m`` (192,) and a whitening matrix ``W``
(192x192): ``z = W (x - m)`` has the identity covariance on the training
patches. ``W`` is a PCA whitening of the training covariance ``C`` plus a
small ridge (how it and the Student-t's parameters are fitted, and why PCA
and a per-coordinate t: :mod:`inception_art.prior_fit`).

* **Gaussian**: ``x ~ N(m, C + ridge I)``. Log-density
  ``sum_k log N(z_k; 0, 1) + log|det W|``.
* **Student-t**: independent univariate Student-t densities on the whitened
  coordinates, ``z_k ~ t(nu_k, 0, s_k)``, with the degrees of freedom
  ``nu_k`` and scale ``s_k`` of each coordinate fitted by maximum
  likelihood. Log-density
  ``sum_k log t(z_k; nu_k, s_k) + log|det W|`` with
  ``log t(z; nu, s) = lgamma((nu+1)/2) - lgamma(nu/2) - log(nu pi)/2 - log s
  - (nu+1)/2 log(1 + z^2 / (nu s^2))``.

The Theano term
---------------
For each pooling scale ``s`` the image is mean-pooled by ``s`` (the
remainder rows and columns are dropped), and the 192 filters are
cross-correlated ("valid") with the pooled ``image - 128``, giving the
coefficients ``z = W (x - 128)`` of the patch ``x`` at every position;
``mu = W (m - 128)`` is the whitened mean, so ``z - mu = W (x - m)``. The
per-scale penalty is the mean over positions and the 192 coordinates of

* Gaussian: ``(z_k - mu_k)^2`` (the 2015 definition; its expectation on the
  training patches is 1), or
* Student-t: ``(nu_k + 1)/2 * log(1 + (z_k - mu_k)^2 / (nu_k s_k^2))``, the
  per-coordinate negative log-density without its constant (0 at the mode).

The term is the average of the per-scale penalties over the scales used,
times an optional strength. A scale whose pooled image is smaller than 8x8
in either dimension is skipped (at 224x224 the still scales 47 and 95 pool
to 4x4 and 2x2). Defaults follow 2015: ``STILL_SCALES`` for still images,
``VIDEO_SCALES`` for the stream.

Cost
----
The full-resolution scale dominates: 192 x 192 multiply-adds per pixel
for the convolution and as many for its gradient (more than
EfficientNet-Lite0 itself per pixel). Measured with ``bench/prior_bench.py``
(2 cores, forward + gradient of the term alone, float32): at 448x252 about
0.13 s with the video scales and 0.16-0.17 s with the still scales; inside a
VGG-16 step at 448x252 (1.25 s) the prior added 10-14%. At 224x224 it is
0.06-0.08 s, more than a whole EfficientNet-Lite0 step (0.05 s). The
penalty itself is two small C ops (one pass each over the coefficients);
``stride=N`` reads patches N image pixels apart at every scale (at least
one pooled pixel), on a grid moved at random before each step: an unbiased
estimate of the same mean at a fraction of the cost (``bench/prior.json``).
"""
import json
import math
import zlib
from pathlib import Path

import numpy as np
from scipy import special

from . import prior_file
from .c_source import sections
from .prior_file import (CHANNELS, DEFAULT_HELDOUT, DEFAULT_TRAIN, DIM,  # noqa: F401
                         FORMAT_VERSION, KINDS, PATCH, PriorFileError, default_path)
from .images import atomic_path
from .theano_env import T, theano

#: Pooling factors of the 2015 still images and of the 2015 stream.
STILL_SCALES = (1, 2, 5, 11, 23, 47, 95)
VIDEO_SCALES = (1, 4, 8, 16, 32)



# ---------------------------------------------------------------- patches --

def mean_pool(image, factor):
    """Mean-pool an (h, w, 3) array by ``factor`` (float64), dropping the
    remainder rows and columns as the Theano term does; factor 1 returns
    ``image`` itself."""
    image = np.asarray(image)
    if factor == 1:
        return image
    h, w = image.shape[0] // factor, image.shape[1] // factor
    crop = image[:h * factor, :w * factor]
    return crop.reshape(h, factor, w, factor, -1).mean(axis=(1, 3), dtype=np.float64)


def patches_at(image, ys, xs):
    """The (N, 192) patch vectors (channel-major, see the module docstring)
    of an (h, w, 3) image whose top-left corners are ``ys``, ``xs``."""
    dy, dx = np.mgrid[:PATCH, :PATCH]
    rows = np.asarray(ys)[:, None, None] + dy          # (N, 8, 8)
    cols = np.asarray(xs)[:, None, None] + dx
    windows = np.asarray(image)[rows, cols]            # (N, 8, 8, 3)
    return windows.transpose(0, 3, 1, 2).reshape(len(rows), DIM).astype(np.float64)


def all_patches(image):
    """Every 8x8 patch of an (h, w, 3) image, row-major over positions."""
    ys, xs = np.mgrid[:image.shape[0] - PATCH + 1, :image.shape[1] - PATCH + 1]
    return patches_at(image, ys.ravel(), xs.ravel())


# ------------------------------------------------------------- the models --

def student_logpdf(z, nu, scale):
    """Elementwise log-density of the univariate Student-t ``t(nu, 0, scale)``."""
    return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)
            - 0.5 * np.log(nu * np.pi) - np.log(scale)
            - (nu + 1) / 2 * np.log1p(z * z / (nu * scale * scale)))


def student_penalty(z, nu, scale):
    """The term's per-coordinate penalty: ``-log t`` without its constant."""
    return (nu + 1) / 2 * np.log1p(z * z / (nu * scale * scale))


class PatchPrior:
    """A fitted patch prior; see the module docstring for the formulas.

    Parameters
    ----------
    kind : 'gaussian' or 'student'
    mean : (192,) mean patch on the 0..255 scale
    whiten : (192, 192) whitening matrix ``W``; its rows are the filters
    nu, scale : (192,) Student-t degrees of freedom and scales (student only)
    scales : pooling factors of the Theano term (default ``STILL_SCALES``)
    provenance : dict describing how the prior was fitted
    stride : int
        Spacing of the patches the Theano term reads, in image pixels; 1
        (the default, and 2015's) reads every position at every scale. At
        pooling scale ``s`` the patches are ``stride / s`` pooled pixels
        apart (rounded, at least 1), on a grid whose offset :meth:`randomise`
        draws anew before each step: an unbiased estimate of the mean over
        all positions, at about ``(s / stride)**2`` of the cost.
    """

    def __init__(self, kind, mean, whiten, nu=None, scale=None,
                 scales=STILL_SCALES, provenance=None, stride=1):
        if kind not in KINDS:
            raise ValueError('prior kind %r: choose gaussian or student' % (kind,))
        self.kind = kind
        self.mean = np.asarray(mean, dtype=np.float64).reshape(DIM)
        self.whiten = np.asarray(whiten, dtype=np.float64).reshape(DIM, DIM)
        if kind == 'student':
            self.nu = np.asarray(nu, dtype=np.float64).reshape(DIM)
            self.scale = np.asarray(scale, dtype=np.float64).reshape(DIM)
        else:
            self.nu = self.scale = None
        self.scales = tuple(int(s) for s in scales)
        self.stride = int(stride)
        if self.stride < 1:
            raise ValueError('prior stride must be >= 1, got %r' % (stride,))
        if not self.scales or min(self.scales) < 1:
            raise ValueError('prior scales must be pooling factors >= 1, got %r'
                             % (scales,))
        self.provenance = dict(provenance or {})
        #: The random grid offset (dy, dx) of each scale read at a step > 1
        #: (shared variables, made when the term is built).
        self.offsets = {}
        #: Whitened mean: the term's ``mu = W (m - 128)``.
        self.mu = self.whiten @ (self.mean - 128.0)
        self.log_det = float(np.linalg.slogdet(self.whiten)[1])

    def __repr__(self):
        return 'PatchPrior(%s, scales=%s, stride=%d)' % (self.kind, self.scales, self.stride)

    @property
    def filters(self):
        """The (192, 3, 8, 8) whitening filters (rows of ``W``)."""
        return self.whiten.reshape(DIM, CHANNELS, PATCH, PATCH)

    def with_scales(self, scales=None, stride=None):
        """The same prior with other pooling scales and/or stride."""
        return PatchPrior(self.kind, self.mean, self.whiten, self.nu, self.scale,
                          self.scales if scales is None else scales, self.provenance,
                          self.stride if stride is None else stride)

    # ------------------------------------------------------------ numpy --
    def whitened(self, patches):
        """``z = W (x - m)`` for (N, 192) patch vectors on the 0..255 scale."""
        patches = np.asarray(patches, dtype=np.float64).reshape(-1, DIM)
        return (patches - self.mean) @ self.whiten.T

    def log_density(self, patches):
        """Per-patch log-density in nats of (N, 192) patch vectors on the
        0..255 scale, flattened channel-major (``c*64 + y*8 + x``)."""
        z = self.whitened(patches)
        if self.kind == 'gaussian':
            return self.log_det - 0.5 * (z * z).sum(1) - 0.5 * DIM * math.log(2 * math.pi)
        return self.log_det + student_logpdf(z, self.nu, self.scale).sum(1)

    def penalty(self, patches):
        """The term's per-patch penalty (mean over the 192 coordinates) of
        (N, 192) patch vectors on the 0..255 scale."""
        z = self.whitened(patches)
        if self.kind == 'gaussian':
            return (z * z).mean(1)
        return student_penalty(z, self.nu, self.scale).mean(1)

    # ----------------------------------------------------------- Theano --
    def usable_scales(self, size):
        """The pooling factors whose pooled (h, w) image holds an 8x8 patch."""
        h, w = size
        return tuple(s for s in self.scales if h // s >= PATCH and w // s >= PATCH)

    def term(self, image, strength=None, size=None):
        """Symbolic prior penalty of ``image`` (N, 3, H, W) on the 0..255
        scale: the mean per-scale penalty averaged over the usable scales,
        times ``strength`` if given (a number or a shared scalar).

        The image size must be known when the graph is built: it is read
        from a shared variable's value, or given as ``size=(H, W)``.
        """
        h, w = _static_size(image, size)
        used = self.usable_scales((h, w))
        if not used:
            raise ValueError('image %dx%d is too small for the prior: it needs at '
                             'least 8x8 pixels at pooling scale %d'
                             % (w, h, min(self.scales)))
        from theano.tensor.signal.pool import pool_2d
        dtype = image.dtype
        filters = T.constant(self.filters.astype(dtype), name='prior_filters')
        params = T.constant(self._penalty_params().astype(dtype), name='prior_params')
        penalty = _Penalty(self.kind == 'student')
        centred = image - np.asarray(128, dtype=dtype)
        total = 0
        for s in used:
            pooled = centred if s == 1 else pool_2d(
                centred, ws=(s, s), ignore_border=True, mode='average_exc_pad')
            hs, ws, step = h // s, w // s, self.step_at(s)
            if step > 1:
                # A window of fixed size at a random offset, so that every
                # position is on the grid equally often over the steps.
                hs, ws = hs - step + 1, ws - step + 1
                if min(hs, ws) < PATCH:
                    hs, ws, step = h // s, w // s, 1
                else:
                    offset = self.offsets.setdefault(s, theano.shared(
                        np.zeros(2, 'int32'), name='prior_offset_%d' % s))
                    pooled = pooled[:, :, offset[0]:offset[0] + hs, offset[1]:offset[1] + ws]
            z = T.nnet.conv2d(pooled, filters, input_shape=(None, CHANNELS, hs, ws),
                              filter_shape=(DIM, CHANNELS, PATCH, PATCH),
                              border_mode='valid', subsample=(step, step),
                              filter_flip=False)
            count = z.shape[0] * (DIM * ((hs - PATCH) // step + 1)
                                  * ((ws - PATCH) // step + 1))
            total = total + penalty(z, params) / T.cast(count, dtype)
        total = total / np.asarray(len(used), dtype=dtype)
        return total if strength is None else strength * total

    def step_at(self, scale):
        """Spacing of the patches read at pooling ``scale``, in pooled pixels:
        ``stride / scale`` rounded, at least 1."""
        return max(1, int(round(self.stride / float(scale))))

    def randomise(self, rng):
        """Draw each strided scale's grid offset from ``rng`` (a numpy
        ``RandomState``; nothing is drawn when no scale is strided)."""
        for s, offset in sorted(self.offsets.items()):
            offset.set_value(rng.randint(0, self.step_at(s), size=2).astype('int32'))

    def _penalty_params(self):
        """(3, 192): the whitened mean ``mu``, then for the Student-t
        ``(nu+1)/2`` and ``1/(nu s^2)`` (ones for the Gaussian)."""
        if self.kind == 'gaussian':
            return np.stack([self.mu, np.ones(DIM), np.ones(DIM)])
        return np.stack([self.mu, (self.nu + 1) / 2, 1 / (self.nu * self.scale ** 2)])

    # --------------------------------------------------------------- files --
    def save(self, path):
        """Write the prior to ``path`` (.npz) atomically."""
        arrays = dict(format_version=np.array(FORMAT_VERSION), kind=np.array(self.kind),
                      mean=self.mean, whiten=self.whiten,
                      provenance=np.array(json.dumps(self.provenance, indent=1,
                                                     sort_keys=True)))
        if self.kind == 'student':
            arrays.update(nu=self.nu, scale=self.scale)
        with atomic_path(path) as tmp:
            with open(tmp, 'wb') as f:
                np.savez_compressed(f, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path, scales=STILL_SCALES, stride=1):
        """Read a prior written by :meth:`save`; a missing or invalid file
        raises :class:`PriorFileError` with a one-line message
        (:func:`inception_art.prior_file.read`)."""
        f = prior_file.read(path)
        return cls(f['kind'], f['mean'], f['whiten'], f.get('nu'), f.get('scale'),
                   scales=scales, provenance=f['provenance'], stride=stride)


# ------------------------------------------------------- the fused C ops --
#
# The penalty of the whitened coefficients is elementwise work on a large
# array; as Theano elementwise graphs it took longer than the convolution
# itself, so two C ops do it in one pass each. Their C, and why it is
# written as it is, is in prior.c.

_C_SECTIONS = sections(Path(__file__).with_name('prior.c'))
_C_PENALTY = _C_SECTIONS['penalty']
_C_PENALTY_GRAD = _C_SECTIONS['penalty_grad']

# Theano keys its compile cache on this alone: derived from the C text, so
# that an edit of prior.c recompiles (and moving the C there kept it).
_C_VERSION = (1, zlib.crc32((_C_PENALTY + _C_PENALTY_GRAD).encode()))


def _np_penalty_parts(z, p, student):
    d = z - p[0][None, :, None, None]
    if not student:
        return d * d, 2 * d
    iv, a = p[2][None, :, None, None], p[1][None, :, None, None]
    return a * np.log1p(iv * d * d), 2 * a * iv * d / (1 + iv * d * d)


class _PenaltyOp(theano.gof.Op):
    __props__ = ('student',)

    def __init__(self, student):
        self.student = bool(student)

    def c_code_cache_version(self):
        return _C_VERSION

    def c_compile_args(self):
        return ['-ffast-math']

    def c_libraries(self):
        return ['m']

    def c_headers(self):
        return ['<math.h>']

    def _code(self, template, node, names, sub):
        dtype = node.inputs[0].dtype
        names = dict(names, fail=sub['fail'], student=int(self.student),
                     T='npy_' + dtype, log='logf' if dtype == 'float32' else 'log')
        return template % names


class _Penalty(_PenaltyOp):
    """Sum over a (N, C, H, W) array ``z`` of the per-coordinate penalty
    of ``z - mu[c]``; ``params`` is (3, C): ``mu``, ``(nu+1)/2``,
    ``1/(nu s^2)``. Gaussian: ``d^2``; Student-t: ``a log(1 + iv d^2)``."""

    def make_node(self, z, params):
        z, params = T.as_tensor_variable(z), T.as_tensor_variable(params)
        if z.ndim != 4 or params.ndim != 2 or z.dtype not in ('float32', 'float64') \
                or params.dtype != z.dtype:
            raise TypeError('prior penalty: need a 4-d float z and 2-d params of its dtype')
        return theano.Apply(self, [z, params], [T.TensorType(z.dtype, ())()])

    def perform(self, node, inputs, outputs):
        z, p = inputs
        value, _ = _np_penalty_parts(z, p, self.student)
        outputs[0][0] = np.asarray(value.sum(dtype=np.float64), dtype=z.dtype)

    def infer_shape(self, node, shapes):
        return [()]

    def grad(self, inputs, output_grads):
        z, params = inputs
        return [_PenaltyGrad(self.student)(z, params, output_grads[0]),
                theano.gradient.grad_not_implemented(self, 1, params)]

    def c_code(self, node, name, inp, out, sub):
        return self._code(_C_PENALTY, node, dict(z=inp[0], p=inp[1], out=out[0]), sub)


class _PenaltyGrad(_PenaltyOp):
    """``g`` times the derivative of :class:`_Penalty` with respect to ``z``."""

    def make_node(self, z, params, g):
        z, params = T.as_tensor_variable(z), T.as_tensor_variable(params)
        g = T.cast(T.as_tensor_variable(g), z.dtype)
        return theano.Apply(self, [z, params, g], [z.type()])

    def perform(self, node, inputs, outputs):
        z, p, g = inputs
        _, grad = _np_penalty_parts(z, p, self.student)
        outputs[0][0] = np.ascontiguousarray(g * grad, dtype=z.dtype)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, output_grads):
        return [theano.gradient.grad_not_implemented(self, i, v)
                for i, v in enumerate(inputs)]

    def c_code(self, node, name, inp, out, sub):
        return self._code(_C_PENALTY_GRAD, node,
                          dict(z=inp[0], p=inp[1], g=inp[2], out=out[0]), sub)


def _static_size(image, size):
    if size is not None:
        return tuple(int(v) for v in size)
    if hasattr(image, 'get_value'):
        shape = image.get_value(borrow=True, return_internal_type=True).shape
        return int(shape[2]), int(shape[3])
    raise ValueError('PatchPrior.term needs the image size: pass size=(height, width)')

