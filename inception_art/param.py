"""How the optimised image is represented: its parameterisation.

The optimiser moves *parameters*; the network and the prior see the
*image* that the parameters make. Three parameterisations:

* :class:`PixelImage` (2015): the parameters are the pixels, on the 0..255
  scale, clipped to [0, 255] after every step.
* :class:`PhaseImage`: only the phases of such an image move; the
  magnitude of every frequency stays the photographs' average.
* :class:`FourierImage`: the parameters are the Fourier coefficients of three
  decorrelated colour channels, scaled so that a step moves every spatial
  frequency as much as photographs vary at it; a fixed colour matrix turns
  them into RGB and a sigmoid into 0..255. Both come from photographs: the
  colour matrix is the square root of the colour covariance of our fitted
  patch prior, and the spectrum falls as ``1 / f^alpha`` with the
  photographs' measured ``alpha`` (``inception_art/data/prior/photographs.json``). The prior
  then serves twice: as a preconditioner here and as a penalty in the loss.

Why a preconditioner helps: with pixels, every pixel moves independently,
and the network's gradient is mostly fine texture. In the Fourier basis,
an update rule that moves each parameter by about the same amount (Adam)
moves large-scale structure much more than pixel-level detail, which is
how photographs vary, so large shapes form and colours decorrelate as in
photographs.

Both classes offer the same small interface: ``param`` (the shared
variable the update rule moves), ``image`` (the symbolic (1, 3, h, w) image
on the 0..255 scale), ``constrain`` (applied after each update),
``set_image`` and ``get_image``.
"""
import numpy as np

from .fft import irfft2
from .theano_env import T, theano

KINDS = ('pixels', 'fourier', 'phase')


class PixelImage:
    """The pixels themselves, clipped to [0, 255] after every step.

    Parameters
    ----------
    size : tuple (h, w)
    """

    kind = 'pixels'
    transparent = False

    def __init__(self, size):
        self.size = tuple(size)
        h, w = self.size
        self.param = theano.shared(np.full((1, 3, h, w), 128, dtype='float32'),
                                   name='image')
        self.image = self.param

    @staticmethod
    def constrain(value):
        return T.clip(value, 0.0, 255.0)

    def set_image(self, image, rng=None):
        """Start from ``image``, an (h, w, 3) array on the 0..255 scale."""
        self.param.set_value(np.ascontiguousarray(
            np.asarray(image, dtype='float32').transpose(2, 0, 1)[None]))

    def get_image(self):
        """The current image, (h, w, 3) float32 on the 0..255 scale."""
        return self.param.get_value()[0].transpose(1, 2, 0)


def colour_matrix(prior):
    """The 3x3 matrix that maps decorrelated colour channels to RGB.

    It is the symmetric square root of the colour covariance of ``prior``'s
    patch Gaussian (the 3x3 covariance of one pixel's R, G and B, averaged
    over the 64 pixel positions of a patch), divided by its largest column
    norm, so that no channel's step is larger than a unit step.
    """
    inverse = prior.whiten.T @ prior.whiten          # (C + ridge I)^-1
    cov = np.linalg.inv(inverse).reshape(3, 64, 3, 64)
    colour = np.einsum('apbp->ab', cov) / 64
    values, vectors = np.linalg.eigh(colour)
    root = vectors @ np.diag(np.sqrt(np.maximum(values, 0))) @ vectors.T
    return root / np.linalg.norm(root, axis=0).max()


def spectrum_scale(size, alpha):
    """Per-coefficient scale of an (h, w//2 + 1) real-FFT spectrum:
    ``1 / max(f, 1/max(h, w))^alpha`` for the radial frequency ``f`` in
    cycles per pixel, normalised to a root-mean-square of 1 over the full
    spectrum, so that a step of ``lr`` on every coefficient changes the
    image by about ``lr`` (RMS) whatever the size and ``alpha``."""
    h, w = size
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    scale = 1.0 / np.maximum(f, 1.0 / max(h, w)) ** alpha
    # Columns 1..w/2-1 stand for two coefficients each (their conjugates).
    weight = np.full(scale.shape[1], 2.0)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    rms = np.sqrt((scale ** 2 * weight).sum() / (h * w))
    return scale / rms


def _logit(p):
    return np.log(p) - np.log1p(-p)


#: A set image is clipped to this many grey levels inside (0, 255): the
#: sigmoid never reaches its ends.
MARGIN = 0.5


def _checked(image, size):
    """``image`` as float64, or a ValueError when it is not (h, w, 3) of ``size``."""
    h, w = size
    image = np.asarray(image, dtype=np.float64)
    if image.shape != (h, w, 3):
        raise ValueError('image of shape %s for a %dx%d parameterisation'
                         % (image.shape, w, h))
    return image


def decorrelate(image, colour=None):
    """An (h, w, 3) 0..255 picture in the decorrelated colour channels of
    the Fourier images, before their sigmoid: (3, h, w) float64. ``colour``
    defaults to the committed Student-t prior's (:func:`colour_matrix`)."""
    if colour is None:
        colour = default_colour()
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape[:2]
    p = np.clip(image, MARGIN, 255 - MARGIN) / 255
    return np.linalg.solve(colour, _logit(p).reshape(-1, 3).T).reshape(3, h, w)


def default_colour():
    """The colour matrix of the committed Student-t prior."""
    from types import SimpleNamespace
    from . import prior_file
    fields = prior_file.read(prior_file.default_path('student'))
    return colour_matrix(SimpleNamespace(whiten=fields['whiten']))


class FourierImage:
    """A decorrelated-colour, frequency-scaled image (see the module docstring).

    Parameters
    ----------
    size : tuple (h, w)
    colour : (3, 3) array
        Decorrelated channels to RGB (:func:`colour_matrix`).
    alpha : float
        Amplitude-spectrum slope: the coefficients are scaled by
        ``1 / f^alpha`` (:func:`spectrum_scale`).

    Notes
    -----
    ``image = 255 sigmoid(colour @ irfft2(scale * spectrum))`` per pixel,
    with the orthonormal inverse real FFT (:mod:`inception_art.fft`, whose
    gradient is the forward FFT). The sigmoid keeps every pixel inside (0, 255)
    without clipping. :meth:`set_image` inverts all of it exactly, so a photo
    start, an octave's enlargement or a zoomed keyframe carry over.
    """

    kind = 'fourier'
    MARGIN = MARGIN

    def __init__(self, size, colour, alpha, transparent=False):
        self.size = tuple(size)
        h, w = self.size
        self.colour = np.asarray(colour, dtype=np.float64)
        self.alpha = float(alpha)
        self.transparent = bool(transparent)
        self.scale = spectrum_scale(self.size, self.alpha)
        channels = 4 if self.transparent else 3
        self.param = theano.shared(np.zeros((channels, h, w // 2 + 1, 2), dtype='float32'),
                                   name='spectrum')
        scaled = self.param * T.constant(self.scale[None, :, :, None].astype('float32'))
        planes = irfft2(scaled, self.size)                                  # (3|4, h, w)
        rgb = T.tensordot(T.constant(self.colour.astype('float32')), planes[:3], axes=1)
        self.image = (255.0 * T.nnet.sigmoid(rgb)).dimshuffle('x', 0, 1, 2)
        if self.transparent:
            #: the opacity, (1, 1, h, w) in (0, 1): the fourth plane's sigmoid
            self.opacity = T.nnet.sigmoid(planes[3]).dimshuffle('x', 'x', 0, 1)
            from .transparency import ground
            self.ground = ground(self.size, 0)

    @staticmethod
    def constrain(value):
        return value

    def set_image(self, image, rng=None):
        """Set the parameters that make ``image``, an (h, w, 3) array on the
        0..255 scale (pixels within ``MARGIN`` of 0 or 255 are moved in); a
        transparent image starts half opaque."""
        channels = decorrelate(_checked(image, self.size), self.colour)
        if self.transparent:
            channels = np.concatenate([channels, np.zeros((1,) + self.size)])
        spectrum = np.fft.rfft2(channels, norm='ortho') / self.scale
        self.param.set_value(np.stack([spectrum.real, spectrum.imag], -1).astype('float32'))

    def _planes(self):
        h, w = self.size
        value = self.param.get_value().astype(np.float64)
        spectrum = (value[..., 0] + 1j * value[..., 1]) * self.scale
        return np.fft.irfft2(spectrum, s=(h, w), norm='ortho')

    def get_rgba(self):
        """The colour, (h, w, 3) float32 on the 0..255 scale, and the
        opacity, (h, w) float32 in (0, 1) (1 everywhere when opaque)."""
        planes = self._planes()
        rgb = np.tensordot(self.colour, planes[:3], axes=1).transpose(1, 2, 0)
        rgb = (255 / (1 + np.exp(-rgb))).astype('float32')
        if not self.transparent:
            return rgb, np.ones(self.size, dtype='float32')
        return rgb, (1 / (1 + np.exp(-planes[3]))).astype('float32')

    def get_image(self):
        """The current image, (h, w, 3) float32 on the 0..255 scale; a
        transparent one composited over :attr:`ground`."""
        rgb, alpha = self.get_rgba()
        if not self.transparent:
            return rgb
        from .transparency import composite
        return composite(rgb, alpha[..., None], self.ground).astype('float32')


class PhaseImage:
    """A phase-only Fourier image: the magnitude of every spatial frequency
    is fixed to the photographs' average; only the phases move (Fel et al.
    2023, "MACO").

    Parameters
    ----------
    size : tuple (h, w)
    colour : (3, 3) array
        Decorrelated channels to RGB (:func:`colour_matrix`).
    statistics : dict
        The photographs' decorrelated channels
        (:func:`inception_art.look.decorrelated_statistics`): the RMS
        magnitude in rings of radial frequency, and each channel's mean and
        standard deviation.

    Notes
    -----
    ``channels = irfft2(M e^{i phase})``, then each channel is standardised
    and given the photographs' mean and spread before the colour matrix and
    the sigmoid, so the optimiser can change where structure is but neither
    how much there is at each scale (no glitter: the fine scales keep the
    photographs' small share) nor the overall colour and contrast.
    :meth:`set_image` keeps a picture's phases (a flat picture has none: its
    phases are drawn at random), so the picture it makes is the start's
    structure with the photographs' spectrum.
    """

    kind = 'phase'
    transparent = False

    def __init__(self, size, colour, statistics):
        self.size = tuple(size)
        h, w = self.size
        self.colour = np.asarray(colour, dtype=np.float64)
        self.magnitude = ring_magnitude(self.size, statistics)          # (3, h, w//2+1)
        mean = np.asarray(statistics['mean'], dtype='float32')[:, None, None]
        sd = np.asarray(statistics['sd'], dtype='float32')[:, None, None]
        self.param = theano.shared(np.zeros((3, h, w // 2 + 1), dtype='float32'),
                                   name='phase')
        m = T.constant(self.magnitude.astype('float32'))
        spectrum = T.stack([m * T.cos(self.param), m * T.sin(self.param)], axis=3)
        channels = irfft2(spectrum, self.size)                              # (3, h, w)
        centred = channels - channels.mean(axis=(1, 2), keepdims=True)
        spread = T.sqrt(T.sqr(centred).mean(axis=(1, 2), keepdims=True) + 1e-8)
        standard = centred / spread * T.constant(sd) + T.constant(mean)
        rgb = T.tensordot(T.constant(self.colour.astype('float32')), standard, axes=1)
        self.image = (255.0 * T.nnet.sigmoid(rgb)).dimshuffle('x', 0, 1, 2)
        self._mean, self._sd = mean.astype(np.float64), sd.astype(np.float64)

    @staticmethod
    def constrain(value):
        return value

    def set_image(self, image, rng=None):
        """Keep the phases of ``image`` ((h, w, 3), 0..255); where it has
        none (a flat picture) draw them from ``rng``."""
        channels = decorrelate(_checked(image, self.size), self.colour)
        spectrum = np.fft.rfft2(channels - channels.mean(axis=(1, 2), keepdims=True),
                                norm='ortho')
        phase = np.angle(spectrum)
        flat = np.abs(spectrum) < 1e-6
        if flat.any():
            rng = rng if rng is not None else np.random.RandomState(0)
            phase[flat] = rng.uniform(-np.pi, np.pi, size=int(flat.sum()))
        self.param.set_value(phase.astype('float32'))

    def get_image(self):
        """The current image, (h, w, 3) float32 on the 0..255 scale."""
        h, w = self.size
        phase = self.param.get_value().astype(np.float64)
        channels = np.fft.irfft2(self.magnitude * np.exp(1j * phase), s=(h, w), norm='ortho')
        centred = channels - channels.mean(axis=(1, 2), keepdims=True)
        standard = centred / np.sqrt((centred ** 2).mean(axis=(1, 2), keepdims=True) + 1e-8)
        rgb = np.tensordot(self.colour, standard * self._sd + self._mean, axes=1)
        return (255 / (1 + np.exp(-rgb.transpose(1, 2, 0)))).astype('float32')


def ring_magnitude(size, statistics):
    """The photographs' RMS magnitude at every coefficient of an (h, w//2+1)
    real spectrum, per channel: (3, h, w//2+1), interpolated in log-log
    between ring centres; 0 at the mean (which the image sets apart)."""
    h, w = size
    bins = np.asarray(statistics['bins'])
    centres = np.sqrt(bins[:-1] * bins[1:])
    magnitude = np.asarray(statistics['magnitude'])                    # (3, rings)
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    known = magnitude > 0
    out = np.zeros((3,) + f.shape)
    for c in range(3):
        logm = np.interp(np.log(np.maximum(f, 1e-9)), np.log(centres[known[c]]),
                         np.log(magnitude[c][known[c]]))
        out[c] = np.exp(logm)
    out[:, 0, 0] = 0.0
    return out


def build(kind, size, prior=None, alpha=None, transparent=False):
    """A parameterisation by name: ``'pixels'``, ``'fourier'`` or ``'phase'``.

    ``'fourier'`` and ``'phase'`` take their colour matrix from ``prior``
    (the committed Student-t prior when None); ``'fourier'`` its slope
    ``alpha`` from the photographs' measurements when None, ``'phase'`` the
    photographs' decorrelated spectrum, mean and spread. ``transparent``
    (``'fourier'`` only) adds an opacity plane
    (:mod:`inception_art.transparency`).
    """
    if transparent and kind != 'fourier':
        raise ValueError('--transparency needs --param fourier, not %s' % kind)
    if kind == 'pixels':
        return PixelImage(size)
    if kind not in KINDS:
        raise ValueError('unknown parameterisation %r; choose one of: %s'
                         % (kind, ', '.join(KINDS)))
    colour = colour_matrix(prior) if prior is not None else default_colour()
    from .look import reference
    if kind == 'phase':
        return PhaseImage(size, colour, reference()['decorrelated'])
    if alpha is None:
        alpha = reference()['amplitude_slope']
    return FourierImage(size, colour, alpha, transparent)
