"""The radially averaged power spectrum of a picture, and its slope.

Photographs of natural scenes have a power spectrum that falls roughly as
``1 / f^2`` with spatial frequency ``f`` (a log-log slope near -2): most of
their power is in large-scale structure. A picture whose slope is flatter
(closer to 0) has relatively more fine detail and less large-scale
structure; white noise has slope 0. This is how the comparison measures the
2015 post's remark that the pictures "lack large-scale structure".

Method: the picture's luminance (mean of R, G, B), minus its mean, times a
2-D Hann window (so the picture's borders do not add a spurious ``1 / f^2``
cross), is Fourier transformed; ``|F|^2`` is averaged over rings of equal
radial frequency ``f`` in cycles per pixel (one ring per frequency bin of
width ``1 / max(h, w)``); the slope is the least-squares line of
``log P`` against ``log f`` over a mid-frequency band (default
:data:`BAND`), away from the window's smearing of the lowest frequencies and
from the pixel-level noise and the anisotropic corners above Nyquist.
"""
import numpy as np

#: Frequency band of the slope fit, cycles per pixel: at 224 pixels, from
#: about 4.5 to 56 cycles across the picture (wavelengths of 4 to 50 pixels).
BAND = (0.02, 0.25)
#: "Large-scale" for :func:`low_frequency_fraction`: wavelengths longer
#: than an eighth of the picture's longer side.
LOW_CYCLES = 8


def luminance(image):
    """An (h, w) float64 luminance of an (h, w, 3) or (h, w) picture."""
    image = np.asarray(image, dtype=np.float64)
    return image.mean(axis=2) if image.ndim == 3 else image


def ring_sums(image):
    """Power ``|F|^2`` of a picture summed over rings of equal radial
    frequency (see the module docstring).

    Returns
    -------
    freqs, sums, counts : 1-D arrays
        Ring centre frequencies in cycles per pixel (0 < f <= 0.5), the
        summed power and the number of Fourier coefficients in each ring.
        The zero-frequency term and the corners beyond 0.5 are left out.
    """
    grey = luminance(image)
    h, w = grey.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    spectrum = np.abs(np.fft.fft2((grey - grey.mean()) * window)) ** 2
    n = max(h, w)
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    ring = np.rint(radius * n).astype(int)           # bin width 1 / n
    keep = (ring >= 1) & (ring <= n // 2)
    sums = np.bincount(ring[keep], weights=spectrum[keep], minlength=n // 2 + 1)
    counts = np.bincount(ring[keep], minlength=n // 2 + 1)
    rings = np.nonzero(counts)[0]
    return rings / n, sums[rings], counts[rings]


def radial_power(image):
    """Radially averaged power spectrum ``(freqs, mean power)`` of an
    (h, w, 3) or (h, w) picture; frequencies in cycles per pixel."""
    freqs, sums, counts = ring_sums(image)
    return freqs, sums / counts


def slope(image, band=BAND):
    """Log-log slope of the radially averaged power spectrum over ``band``
    (cycles per pixel): about -2 for photographs, 0 for white noise.

    A picture with no variation at all (a flat grey) has no spectrum to
    fit and gets ``nan``.
    """
    freqs, power = radial_power(image)
    use = (freqs >= band[0]) & (freqs <= band[1]) & (power > 0)
    if use.sum() < 3:
        return float('nan')
    return float(np.polyfit(np.log(freqs[use]), np.log(power[use]), 1)[0])


def low_frequency_fraction(image, cycles=LOW_CYCLES):
    """Fraction of the (non-constant) power at most ``cycles`` cycles across
    the picture's longer side: how much of the picture is large-scale
    structure. ``nan`` for a flat picture."""
    freqs, sums, _ = ring_sums(image)
    n = max(np.shape(image)[:2])
    if sums.sum() <= 0:
        return float('nan')
    return float(sums[freqs * n <= cycles + 0.5].sum() / sums.sum())
