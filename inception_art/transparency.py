"""Transparency: a picture with an opacity map, seen over a new random
backdrop at every step (Mordvintsev et al. 2018, "Differentiable Image
Parameterizations", Lucid's transparency).

The network sees ``alpha * rgb + (1 - alpha) * backdrop``, and opacity
costs ``transparency * mean(alpha)`` in the loss. A backdrop that changes
every step cannot help the class, so the optimiser has no reason to paint
a background (the washed-out ground of the opaque pictures); only what the
class needs stays opaque. The finished picture is composited over a calm
ground: a soft two-colour gradient drawn from the seed, in the range of
luminance and saturation that photographs' borders have.

The opacity is a fourth channel of the Fourier image
(:class:`inception_art.param.FourierImage` with ``transparent=True``).
"""
import colorsys

import numpy as np

from .images import resize_float
from .theano_env import T, theano

#: The backdrops' smooth random field: so many cells a side, upsampled.
CELLS = 6


def smooth_field(rng, size, cells=CELLS):
    """An (h, w, 3) smooth random colour field on the 0..255 scale: uniform
    colours on a ``cells`` x ``cells`` grid, enlarged bicubically."""
    h, w = size
    grid = rng.uniform(0, 255, (cells, cells, 3)).astype('float32')
    return np.clip(resize_float(grid, (h, w)), 0, 255)


def ground(size, seed):
    """The calm ground a finished picture is shown on: a vertical gradient
    between two colours of one hue family drawn from ``seed``, each of
    luminance 65..110 (0..255) and HSV saturation 0.35..0.6, inside the
    range that photographs' borders have (``inception_art/data/prior/photographs.json``:
    luminance 54..122, saturation 0.31..0.68)."""
    from .look import BT601
    rng = np.random.RandomState(seed)
    h, w = size
    hue, ends = rng.uniform(), []
    for _ in range(2):
        unit = np.asarray(colorsys.hsv_to_rgb((hue + rng.uniform(-0.06, 0.06)) % 1,
                                              rng.uniform(0.35, 0.6), 1.0))
        # the HSV value that gives the drawn luminance (a dark hue may cap it)
        value = min(1.0, rng.uniform(65, 110) / (255 * float(unit @ BT601)))
        ends.append(255 * value * unit)
    t = np.linspace(0, 1, h)[:, None, None]
    return np.broadcast_to(ends[0] * (1 - t) + ends[1] * t, (h, w, 3)).astype('float32')


class Backdrops:
    """A new random backdrop behind the picture at every step: a smooth
    random colour field (:func:`smooth_field`), a shared (1, 3, h, w)
    variable, drawn by :meth:`randomise` like the other per-step draws."""

    def __init__(self, size):
        self.size = tuple(size)
        h, w = self.size
        self.image = theano.shared(np.full((1, 3, h, w), 128, dtype='float32'),
                                   name='backdrop')

    def randomise(self, rng):
        field = smooth_field(rng, self.size)
        self.image.set_value(np.ascontiguousarray(field.transpose(2, 0, 1)[None]))


def composite(rgb, alpha, backdrop):
    """``alpha * rgb + (1 - alpha) * backdrop``: symbolic or numpy, any
    broadcastable shapes."""
    return alpha * rgb + (1 - alpha) * backdrop


def opacity(alpha):
    """The opacity cost's unit: the mean opacity (0: clear, 1: opaque)."""
    return T.mean(alpha)
