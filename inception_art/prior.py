"""Natural-image prior: a Gaussian or a Student-t on 8x8x3 patches.

The 2015 system added a very simple natural-image prior to the network's
objective, and it was what made the pictures recognisable to people. This
module fits that prior from real photographs and turns it into a Theano
term that the optimiser minimises.

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
patches. ``W`` is the PCA whitening ``diag(lambda)^-1/2 U^T`` of the
covariance ``C + ridge I`` (eigen-decomposition ``C = U diag(lambda) U^T``).
The ridge is 1/12, the variance of 8-bit quantisation noise: it caps the
gain of the weakest directions (the smallest eigenvalue of natural 8x8x3
patches is about 1, so it costs a fraction of a nat of held-out likelihood).

*Why PCA and not ZCA whitening.* Both whiten; the Gaussian log-density and
term are the same for either (they only see ``|z|``). The Student-t is a
product of independent univariate densities on the coordinates of ``z``, so
the choice of rotation matters, and on held-out photographs PCA coordinates
scored about 20 nats per patch higher than ZCA's (see ``prior/README.md``).

* **Gaussian**: ``x ~ N(m, C + ridge I)``. Log-density
  ``sum_k log N(z_k; 0, 1) + log|det W|``.
* **Student-t**: independent univariate Student-t densities on the whitened
  coordinates, ``z_k ~ t(nu_k, 0, s_k)``, with the degrees of freedom
  ``nu_k`` and scale ``s_k`` of each coordinate fitted by maximum likelihood
  (L-BFGS-B on ``log nu, log s``; nu bounded to 0.05..1e4). Log-density
  ``sum_k log t(z_k; nu_k, s_k) + log|det W|`` with
  ``log t(z; nu, s) = lgamma((nu+1)/2) - lgamma(nu/2) - log(nu pi)/2 - log s
  - (nu+1)/2 log(1 + z^2 / (nu s^2))``.

  *Why per-coordinate and not a multivariate t by EM.* A multivariate t is
  elliptical: it sees only the whitened energy ``|z|^2`` of a patch, so it
  cannot tell white noise from an edge of the same energy, and its fitted
  degrees of freedom go to the lower bound (the penalty becomes about
  ``96 log |z|^2``, which grows only logarithmically with noise). It scores
  higher held-out likelihood, but it is the wrong prior for steering an
  image: the per-coordinate t rewards *sparse* whitened coefficients, which
  is what distinguishes natural structure from noise, and it is the form the
  2015 system used.

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

Command line
------------
``python -m inception_art.prior fit DIR --out FILE`` fits from a folder of
images; ``python -m inception_art.prior fit-default`` remakes the committed
``prior/patch8_*.npz`` from scikit-image's bundled photographs.
"""
import argparse
import hashlib
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
from scipy import optimize, special
from tqdm import tqdm

from .cli import run_main
from .images import atomic_path, check_writable
from .theano_env import PROJECT_ROOT, T, theano

PATCH = 8
CHANNELS = 3
DIM = PATCH * PATCH * CHANNELS
KINDS = ('gaussian', 'student')
#: Pooling factors of the 2015 still images and of the 2015 stream.
STILL_SCALES = (1, 2, 5, 11, 23, 47, 95)
VIDEO_SCALES = (1, 4, 8, 16, 32)
FORMAT_VERSION = 1
#: Covariance ridge: the variance of uniform 8-bit quantisation noise.
RIDGE = 1.0 / 12
#: Fewer training patch positions than this is refused (a 192x192
#: covariance needs many more samples than dimensions).
MIN_PATCHES = 2000
DEFAULT_PATCHES = 200000
HELDOUT_PATCHES = 50000
#: Training images are also used mean-pooled by these factors (the term
#: sees pooled images too) and mirrored left-right at random.
TRAIN_POOL = (1, 2, 4)
NU_BOUNDS = (0.05, 1e4)

#: ``fit-default``: scikit-image's bundled colour photographs of everyday
#: scenes. The motorcycle stereo pair stays together (holding out one half
#: would leak the other). Excluded: its synthetic or non-scene images
#: (color, phantom, logo, chessboards, horse silhouette), microscopy and
#: astronomy (ihc, retina, hubble_deep_field) and the greyscale photographs
#: (their patches would carry no colour and shrink the fitted colour
#: variance, so the prior would push renders towards grey).
DEFAULT_TRAIN = ('astronaut.png', 'rocket.jpg', 'motorcycle_left.png',
                 'motorcycle_right.png')
DEFAULT_HELDOUT = ('chelsea.png', 'coffee.png')
GNOME_BACKGROUNDS = Path('/usr/share/backgrounds/gnome')


class PriorFileError(ValueError):
    """A prior file that is missing or not a valid prior (one-line message)."""


class FitError(ValueError):
    """Fitting cannot proceed: no images, too few patches (one line)."""


def default_path(kind):
    """The committed prior of ``kind``: ``<project>/prior/patch8_<kind>.npz``."""
    if kind not in KINDS:
        raise ValueError('prior kind %r: choose gaussian or student' % (kind,))
    return PROJECT_ROOT / 'prior' / ('patch8_%s.npz' % kind)


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
        raises :class:`PriorFileError` with a one-line message."""
        path = Path(path)
        if not path.is_file():
            raise PriorFileError('%s: no such prior file; run `make prior` or '
                                 '`python -m inception_art.prior fit DIR --out FILE`'
                                 % path)
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {k: data[k] for k in data.files}
        except Exception as e:  # zip, pickle, format and I/O errors alike
            raise PriorFileError('%s: not a prior file (%s)'
                                 % (path, str(e).splitlines()[0] if str(e) else
                                    type(e).__name__)) from None
        try:
            version = int(fields['format_version'])
            if version != FORMAT_VERSION:
                raise ValueError('format version %d, expected %d' % (version, FORMAT_VERSION))
            kind = str(fields['kind'])
            if kind not in KINDS:
                raise ValueError('unknown kind %r' % kind)
            arrays = dict(mean=(DIM,), whiten=(DIM, DIM))
            if kind == 'student':
                arrays.update(nu=(DIM,), scale=(DIM,))
            for name, shape in arrays.items():
                a = fields[name]
                if a.shape != shape or not np.issubdtype(a.dtype, np.floating) \
                        or not np.isfinite(a).all():
                    raise ValueError('%s has shape %s, expected finite %s'
                                     % (name, a.shape, shape))
            if kind == 'student' and (fields['nu'].min() <= 0 or fields['scale'].min() <= 0):
                raise ValueError('nu and scale must be positive')
            provenance = json.loads(str(fields.get('provenance', '{}')))
        except KeyError as e:
            raise PriorFileError('%s: not a prior file (no %s)' % (path, e)) from None
        except (ValueError, TypeError) as e:
            raise PriorFileError('%s: not a valid prior file (%s)' % (path, e)) from None
        return cls(kind, fields['mean'], fields['whiten'], fields.get('nu'),
                   fields.get('scale'), scales=scales, provenance=provenance,
                   stride=stride)


# ------------------------------------------------------- the fused C ops --
#
# The penalty of the whitened coefficients is elementwise work on a large
# array (192 x 441 x 245 at 448x252). As Theano elementwise graphs it took
# longer than the convolution itself (a separate pass for the mean, float
# log1p computed in double, the mean's shape products per element); these
# two ops do it in one pass each, per channel plane, in a loop the compiler
# vectorises (-ffast-math lets gcc use glibc's vector logf and reorder the
# per-block float sums; the blocks are summed in double).

_C_PENALTY = """
{
    PyArrayObject* zc = PyArray_GETCONTIGUOUS(%(z)s);
    PyArrayObject* pc = PyArray_GETCONTIGUOUS(%(p)s);
    const int student = %(student)d;
    npy_intp N = PyArray_DIMS(zc)[0], C = PyArray_DIMS(zc)[1];
    npy_intp HW = PyArray_DIMS(zc)[2] * PyArray_DIMS(zc)[3];
    double total = 0.0;
    if (PyArray_DIMS(pc)[0] != 3 || PyArray_DIMS(pc)[1] != C) {
        PyErr_SetString(PyExc_ValueError, "prior penalty: parameters do not match the channels");
        Py_DECREF(zc); Py_DECREF(pc); %(fail)s
    }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 0 || PyArray_TYPE(%(out)s) != PyArray_TYPE(zc)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(0, NULL, PyArray_TYPE(zc), 0);
        if (!%(out)s) { Py_DECREF(zc); Py_DECREF(pc); %(fail)s }
    }
    {
        const %(T)s* z = (const %(T)s*) PyArray_DATA(zc);
        const %(T)s* p = (const %(T)s*) PyArray_DATA(pc);
        Py_BEGIN_ALLOW_THREADS
        for (npy_intp nk = 0; nk < N * C; ++nk) {
            const npy_intp k = nk %% C;
            const %(T)s m = p[k], a = p[C + k], iv = p[2 * C + k];
            const %(T)s* zz = z + nk * HW;
            double plane = 0.0;
            for (npy_intp i0 = 0; i0 < HW; i0 += 4096) {
                const npy_intp i1 = i0 + 4096 < HW ? i0 + 4096 : HW;
                %(T)s acc = 0;
                if (student) {
                    for (npy_intp i = i0; i < i1; ++i) {
                        const %(T)s d = zz[i] - m;
                        acc += %(log)s((%(T)s) 1 + iv * d * d);
                    }
                } else {
                    for (npy_intp i = i0; i < i1; ++i) {
                        const %(T)s d = zz[i] - m;
                        acc += d * d;
                    }
                }
                plane += acc;
            }
            total += student ? a * plane : plane;
        }
        Py_END_ALLOW_THREADS
    }
    *(%(T)s*) PyArray_DATA(%(out)s) = (%(T)s) total;
    Py_DECREF(zc); Py_DECREF(pc);
}
"""

_C_PENALTY_GRAD = """
{
    PyArrayObject* zc = PyArray_GETCONTIGUOUS(%(z)s);
    PyArrayObject* pc = PyArray_GETCONTIGUOUS(%(p)s);
    const int student = %(student)d;
    npy_intp N = PyArray_DIMS(zc)[0], C = PyArray_DIMS(zc)[1];
    npy_intp HW = PyArray_DIMS(zc)[2] * PyArray_DIMS(zc)[3];
    const %(T)s g = *(const %(T)s*) PyArray_DATA(%(g)s);
    if (PyArray_DIMS(pc)[0] != 3 || PyArray_DIMS(pc)[1] != C) {
        PyErr_SetString(PyExc_ValueError, "prior penalty: parameters do not match the channels");
        Py_DECREF(zc); Py_DECREF(pc); %(fail)s
    }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 4 || !PyArray_IS_C_CONTIGUOUS(%(out)s)
            || PyArray_TYPE(%(out)s) != PyArray_TYPE(zc)
            || !PyArray_CompareLists(PyArray_DIMS(%(out)s), PyArray_DIMS(zc), 4)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(4, PyArray_DIMS(zc), PyArray_TYPE(zc), 0);
        if (!%(out)s) { Py_DECREF(zc); Py_DECREF(pc); %(fail)s }
    }
    {
        const %(T)s* z = (const %(T)s*) PyArray_DATA(zc);
        const %(T)s* p = (const %(T)s*) PyArray_DATA(pc);
        %(T)s* out = (%(T)s*) PyArray_DATA(%(out)s);
        Py_BEGIN_ALLOW_THREADS
        for (npy_intp nk = 0; nk < N * C; ++nk) {
            const npy_intp k = nk %% C;
            const %(T)s m = p[k], a = p[C + k], iv = p[2 * C + k];
            const %(T)s* zz = z + nk * HW;
            %(T)s* oo = out + nk * HW;
            if (student) {
                const %(T)s coef = 2 * a * iv * g;
                for (npy_intp i = 0; i < HW; ++i) {
                    const %(T)s d = zz[i] - m;
                    oo[i] = coef * d / ((%(T)s) 1 + iv * d * d);
                }
            } else {
                const %(T)s coef = 2 * g;
                for (npy_intp i = 0; i < HW; ++i)
                    oo[i] = coef * (zz[i] - m);
            }
        }
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(zc); Py_DECREF(pc);
}
"""

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


# ------------------------------------------------------------------ fitting --

def fit_gaussian(patches, ridge=RIDGE):
    """Mean and PCA whitening matrix of (N, 192) patches; returns
    ``(mean, W, eigenvalues)`` with eigenvalues in decreasing order."""
    mean = patches.mean(0)
    cov = np.zeros((DIM, DIM))
    for lo in range(0, len(patches), 65536):
        c = patches[lo:lo + 65536] - mean
        cov += c.T @ c
    cov = cov / (len(patches) - 1) + ridge * np.eye(DIM)
    lam, vec = np.linalg.eigh(cov)
    lam, vec = lam[::-1], vec[:, ::-1]
    # Deterministic signs: each eigenvector's largest entry is positive.
    vec = vec * np.sign(vec[np.abs(vec).argmax(0), np.arange(DIM)])
    return mean, vec.T / np.sqrt(lam)[:, None], lam


def fit_student(z, progress=True, max_iter=300):
    """Per-coordinate maximum-likelihood (nu, scale) of zero-location
    Student-t densities on (N, 192) whitened coefficients (L-BFGS-B on
    ``log nu`` and ``log scale``, all coordinates at once: their
    likelihoods are independent, so the joint optimum is each one's)."""
    z2 = z * z
    n = len(z)
    chunk = max(1, 2 ** 21 // z.shape[1])

    def objective(p):
        nu, s = np.exp(p[:DIM]), np.exp(p[DIM:])
        const = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) \
            - 0.5 * np.log(nu * np.pi) - np.log(s)
        ll, g_log1p, g_ratio = 0.0, np.zeros(DIM), np.zeros(DIM)
        for lo in range(0, n, chunk):
            u = z2[lo:lo + chunk] / (nu * s * s)
            l1 = np.log1p(u)
            r = u / (1 + u)
            ll += ((nu + 1) / 2 * l1).sum()
            g_log1p += l1.sum(0)
            g_ratio += r.sum(0)
        loglik = n * const.sum() - ll
        d_nu = n * (0.5 * special.digamma((nu + 1) / 2) - 0.5 * special.digamma(nu / 2)
                    - 0.5 / nu) - 0.5 * g_log1p + (nu + 1) / 2 * g_ratio / nu
        d_s = -n / s + (nu + 1) * g_ratio / s
        grad = np.concatenate([d_nu * nu, d_s * s])
        return -loglik / n, -grad / n

    bar = tqdm(desc='fitting Student-t (L-BFGS)', unit=' iterations', file=sys.stderr,
               disable=not progress)
    start = np.concatenate([np.full(DIM, math.log(5.0)), np.log(np.sqrt(z2.mean(0)))])
    bounds = [tuple(np.log(NU_BOUNDS))] * DIM + [(None, None)] * DIM
    result = optimize.minimize(objective, start, jac=True, method='L-BFGS-B',
                               bounds=bounds, callback=lambda p: bar.update(),
                               options=dict(maxiter=max_iter))
    bar.close()
    return np.exp(result.x[:DIM]), np.exp(result.x[DIM:])


class ImageSource:
    """One image to take patches from: a file (read when its patches are
    taken, so a large folder is never held in memory at once) or an array,
    optionally restricted to the columns ``cols = (first, stop)``."""

    def __init__(self, path=None, size=None, array=None, cols=None, name=None):
        self.path, self.array, self.cols = path, array, cols
        self.name = name or (Path(path).name if path is not None else 'array')
        h, w = array.shape[:2] if array is not None else size
        self.height = int(h)
        self.width = int(w) if cols is None else int(cols[1] - cols[0])

    def load(self):
        """The (h, w, 3) uint8 pixels; raises FitError if unreadable."""
        image = self.array if self.array is not None else _decode(self.path)
        if self.cols is not None:
            image = image[:, self.cols[0]:self.cols[1]]
        return image

    def positions(self, factor=1):
        h, w = self.height // factor, self.width // factor
        return max(0, h - PATCH + 1) * max(0, w - PATCH + 1)

    def describe(self):
        info = dict(name=self.name, width=self.width, height=self.height)
        if self.cols is not None:
            info['columns'] = [int(c) for c in self.cols]
        if self.path is not None:
            info['sha256'] = hashlib.sha256(Path(self.path).read_bytes()).hexdigest()
        return info


def sample_sources(sources, n, rng, factors=(1,), flips=False, progress=False,
                   desc='sampling patches'):
    """``n`` patch vectors from ``sources``, every (source, pooling factor,
    position) equally likely; each source is read once. A source that
    turns out unreadable is skipped with a warning (fewer patches then)."""
    entries = [(i, f) for i, src in enumerate(sources) for f in factors
               if src.positions(f)]
    weights = np.array([sources[i].positions(f) for i, f in entries], dtype=np.float64)
    if not len(entries):
        raise FitError('no image is at least 8x8 pixels')
    counts = rng.multinomial(n, weights / weights.sum())
    parts = []
    for i, src in enumerate(tqdm(sources, desc=desc, unit=' images', file=sys.stderr,
                                 disable=not progress, leave=False)):
        wanted = [(f, c) for (j, f), c in zip(entries, counts) if j == i and c]
        if not wanted:
            continue
        try:
            image = src.load()
        except FitError as e:
            tqdm.write('warning: skipping %s' % e, file=sys.stderr)
            continue
        for f, c in wanted:
            pooled = mean_pool(image, f)
            ys = rng.randint(0, pooled.shape[0] - PATCH + 1, c)
            xs = rng.randint(0, pooled.shape[1] - PATCH + 1, c)
            parts.append(patches_at(pooled, ys, xs))
    out = np.concatenate(parts) if parts else np.empty((0, DIM))
    if flips:
        flip = rng.rand(len(out)) < 0.5
        out[flip] = out[flip].reshape(-1, CHANNELS, PATCH, PATCH)[..., ::-1].reshape(-1, DIM)
    return out


def fit_priors(train, heldout, n_patches=DEFAULT_PATCHES, seed=0, progress=True,
               provenance=None):
    """Fit both models. ``train`` and ``heldout`` are lists of
    :class:`ImageSource` or (h, w, 3) uint8 arrays. Returns
    ``{'gaussian': PatchPrior, 'student': PatchPrior}``, each with its
    provenance (images, patch counts, held-out log-likelihoods)."""
    train = [s if isinstance(s, ImageSource) else ImageSource(array=np.asarray(s))
             for s in train]
    heldout = [s if isinstance(s, ImageSource) else ImageSource(array=np.asarray(s))
               for s in heldout]
    if n_patches < MIN_PATCHES:
        raise FitError('--patches %d is too few; use at least %d' % (n_patches, MIN_PATCHES))
    available = sum(s.positions() for s in train)
    if available < MIN_PATCHES:
        raise FitError('only %d 8x8 patch positions in the %d training image(s); need at '
                       'least %d: add more or larger images'
                       % (available, len(train), MIN_PATCHES))
    rng = np.random.RandomState(seed)
    x = sample_sources(train, n_patches, rng, TRAIN_POOL, flips=True, progress=progress,
                       desc='sampling training patches')
    if len(x) < MIN_PATCHES:
        raise FitError('only %d training patches could be read; need at least %d'
                       % (len(x), MIN_PATCHES))
    mean, whiten, lam = fit_gaussian(x)
    gaussian = PatchPrior('gaussian', mean, whiten)
    nu, scale = fit_student(gaussian.whitened(x), progress=progress)
    student = PatchPrior('student', mean, whiten, nu, scale)

    n_held = min(HELDOUT_PATCHES, sum(s.positions() for s in heldout))
    xh = sample_sources(heldout, n_held, np.random.RandomState(seed + 1),
                        progress=progress, desc='sampling held-out patches') \
        if n_held else np.empty((0, DIM))
    scores = {}
    for name, model in (('gaussian', gaussian), ('student', student)):
        scores[name] = dict(
            train=round(float(model.log_density(x).mean()), 3),
            heldout=round(float(model.log_density(xh).mean()), 3) if len(xh) else None)
    info = dict(provenance or {})
    info.update(
        format_version=FORMAT_VERSION,
        train_images=[s.describe() for s in train],
        heldout_images=[s.describe() for s in heldout],
        patch_layout='8x8x3 RGB on the 0..255 scale, flattened channel-major: '
                     'index c*64 + y*8 + x',
        patch_count=int(len(x)), heldout_patch_count=int(len(xh)), seed=int(seed),
        train_pool_factors=list(TRAIN_POOL), train_flips='left-right, probability 1/2',
        ridge=RIDGE, whitening='PCA: W = diag(lambda)^-1/2 U^T of cov + ridge*I',
        eigenvalues_min_max=[round(float(lam[-1]), 4), round(float(lam[0]), 1)],
        loglik_units='nats per 8x8x3 patch on the 0..255 pixel scale',
        heldout_loglik_per_patch={k: v['heldout'] for k, v in scores.items()},
        train_loglik_per_patch={k: v['train'] for k, v in scores.items()},
        student_fit='independent Student-t per whitened coordinate (location 0), '
                    'nu and scale by maximum likelihood (L-BFGS-B), nu in %g..%g'
                    % NU_BOUNDS,
        nu_min_median_max=[round(float(v), 3) for v in
                           (nu.min(), np.median(nu), nu.max())],
        versions=dict(numpy=np.__version__, scipy=_version('scipy'),
                      pillow=_version('PIL')))
    for model in (gaussian, student):
        model.provenance = dict(info, kind=model.kind,
                                heldout_loglik=scores[model.kind]['heldout'])
    return dict(gaussian=gaussian, student=student)


def _version(module):
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return None


# ----------------------------------------------------------------- images --

def _decode(path):
    from PIL import Image
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert('RGB'))
    except Exception as e:  # any decoder failure means: not an image
        raise FitError('%s: not a readable image (%s)' % (
            path, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None


def scan_images(paths, progress=True):
    """:class:`ImageSource` for each file that Pillow recognises as an
    image of at least 8x8 pixels (reading only its header); the others are
    skipped with a warning."""
    from PIL import Image
    out = []
    for path in tqdm(paths, desc='scanning images', unit=' files', file=sys.stderr,
                     disable=not progress, leave=False):
        try:
            with Image.open(path) as im:
                w, h = im.size
        except Exception as e:  # any decoder failure means: not an image
            tqdm.write('warning: skipping %s: not a readable image (%s)'
                       % (path, str(e).splitlines()[0] if str(e) else type(e).__name__),
                       file=sys.stderr)
            continue
        if min(w, h) < PATCH:
            tqdm.write('warning: skipping %s: smaller than 8x8 pixels' % path,
                       file=sys.stderr)
            continue
        out.append(ImageSource(path, (h, w)))
    return out


def folder_sources(folder, holdout=None, seed=0, progress=True):
    """The images of ``folder`` (recursively, hidden files ignored) split
    into training and held-out :class:`ImageSource` lists.

    ``holdout`` images (default: a fifth, at least one when there are two
    or more) are held out, chosen at random with ``seed``. A folder of one
    image holds out its right-most fifth of columns instead."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FitError('%s: no such folder' % folder)
    files = sorted(p for p in folder.rglob('*')
                   if p.is_file() and not any(part.startswith('.')
                                              for part in p.relative_to(folder).parts))
    if not files:
        raise FitError('%s: the folder is empty; put photographs (PNG, JPEG, WebP) in it'
                       % folder)
    sources = scan_images(files, progress)
    if not sources:
        raise FitError('%s: none of its %d files is a readable image of at least 8x8 '
                       'pixels (PNG, JPEG, WebP, ...)' % (folder, len(files)))
    for src in sources:
        src.name = str(Path(src.path).relative_to(folder))
    n = len(sources)
    if holdout is None:
        holdout = max(1, n // 5) if n >= 2 else 0
    if not 0 <= holdout < n:
        raise FitError('--holdout %d: must be at least 0 and less than the %d readable '
                       'images' % (holdout, n))
    held_idx = set(np.random.RandomState(seed).permutation(n)[:holdout].tolist())
    train = [s for i, s in enumerate(sources) if i not in held_idx]
    held = [s for i, s in enumerate(sources) if i in held_idx]
    note = ('%d of %d images held out at random (seed %d)' % (holdout, n, seed)
            if held else 'no held-out images (--holdout 0): no held-out score')
    if n == 1 and holdout == 0 and sources[0].width >= 2 * PATCH:
        src = sources[0]
        cut = src.width - max(PATCH, src.width // 5)
        train = [ImageSource(src.path, (src.height, src.width), cols=(0, cut), name=src.name)]
        held = [ImageSource(src.path, (src.height, src.width), cols=(cut, src.width),
                            name=src.name)]
        note = 'one image: its right-most %d columns held out' % (src.width - cut)
    provenance = dict(source='folder %s' % folder, heldout_note=note,
                      skipped_files=len(files) - n)
    return train, held, provenance


def default_sources():
    """scikit-image's bundled photographs for ``fit-default``:
    ``(train, heldout, provenance)``."""
    try:
        import skimage
        import skimage.data
    except ImportError:
        raise FitError('fit-default needs scikit-image (its bundled photographs): '
                       'pip install scikit-image==0.21.0, or make install-dev') from None
    folder = Path(skimage.data.__file__).parent
    missing = [n for n in DEFAULT_TRAIN + DEFAULT_HELDOUT if not (folder / n).is_file()]
    if missing:
        raise FitError('scikit-image %s lacks the bundled photographs %s; install '
                       'scikit-image==0.21.0' % (skimage.__version__, ', '.join(missing)))
    train, held = (scan_images([folder / n for n in names], progress=False)
                   for names in (DEFAULT_TRAIN, DEFAULT_HELDOUT))
    if len(train) + len(held) != len(DEFAULT_TRAIN) + len(DEFAULT_HELDOUT):
        raise FitError('scikit-image %s: a bundled photograph could not be read'
                       % skimage.__version__)
    provenance = dict(
        source='scikit-image %s bundled photographs (skimage.data)' % skimage.__version__,
        heldout_note='fixed: chelsea and coffee held out; the motorcycle stereo pair '
                     'stays together in training',
        gnome_backgrounds=_gnome_note())
    return train, held, provenance


def _gnome_note():
    if not GNOME_BACKGROUNDS.is_dir():
        return ('not installed, and not needed: fit-default uses scikit-image only '
                '(Debian 12 gnome-backgrounds 43.1 has no photographs)')
    return ('installed but not used: Debian 12 gnome-backgrounds 43.1 holds only '
            'computer-rendered wallpapers (WebP renders and SVG drawings), no '
            'photographs')


# --------------------------------------------------------------------- CLI --

def _outputs(out, kind):
    """Output path per kind: ``--kind both`` inserts ``_gaussian`` and
    ``_student`` before the suffix, or uses the default names in a folder."""
    out = Path(out)
    kinds = KINDS if kind == 'both' else (kind,)
    if out.is_dir():
        return {k: out / ('patch8_%s.npz' % k) for k in kinds}
    if kind != 'both':
        return {kind: out}
    suffix = out.suffix or '.npz'
    return {k: out.with_name('%s_%s%s' % (out.stem, k, suffix)) for k in kinds}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m inception_art.prior',
        description='Fit the 8x8x3 natural-image patch prior (Gaussian and Student-t).')
    sub = p.add_subparsers(dest='command', required=True, metavar='{fit,fit-default}')
    f = sub.add_parser('fit', help='fit from a folder of photographs')
    f.add_argument('folder', metavar='DIR', help='folder of images (searched recursively)')
    f.add_argument('--out', metavar='FILE', required=True,
                   help='.npz to write; with --kind both, FILE_gaussian.npz and '
                        'FILE_student.npz (patch8_*.npz if FILE is a folder)')
    f.add_argument('--kind', choices=('both',) + KINDS, default='both',
                   help='(default: %(default)s)')
    f.add_argument('--holdout', type=int, metavar='N',
                   help='images held out for scoring (default: a fifth, at least 1)')
    d = sub.add_parser('fit-default',
                       help="remake prior/patch8_*.npz from scikit-image's photographs")
    d.add_argument('--out-dir', metavar='DIR', default=str(PROJECT_ROOT / 'prior'),
                   help="(default: the project's prior/)")
    for q in (f, d):
        q.add_argument('--patches', type=int, default=DEFAULT_PATCHES, metavar='N',
                       help='training patches (default: %(default)s)')
        q.add_argument('--seed', type=int, default=0, help='(default: %(default)s)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.patches < MIN_PATCHES:
        raise FitError('--patches %d is too few; use at least %d'
                       % (args.patches, MIN_PATCHES))
    if args.command == 'fit':
        outputs = _outputs(args.out, args.kind)
        for path in outputs.values():
            check_writable(path)
        train, held, provenance = folder_sources(args.folder, args.holdout, args.seed)
    else:
        outputs = {k: Path(args.out_dir) / ('patch8_%s.npz' % k) for k in KINDS}
        for path in outputs.values():
            check_writable(path)
        train, held, provenance = default_sources()
    models = fit_priors(train, held, args.patches, args.seed, provenance=provenance)
    for kind, path in outputs.items():
        model = models[kind]
        model.save(path)
        ll = model.provenance['heldout_loglik']
        print('%s: %s prior from %d patches; %s'
              % (path, kind, model.provenance['patch_count'],
                 'no held-out images' if ll is None else
                 'held-out log-likelihood %.1f nats/patch' % ll))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
