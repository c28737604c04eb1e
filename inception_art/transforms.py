"""Random transforms of the image, inside the compiled step.

At every step the network sees a slightly different view of the image, so
the image cannot fit the network's exact pixel grid: what survives is
structure that reads as the class at any small shift, scale and angle,
which is also what a person sees.

* :class:`Jitter`: a random whole-pixel shift (a roll: what leaves one edge
  comes in at the other), the transform of the first versions of this
  project.
* :class:`RandomAffine`: a random shift, scale and rotation about the
  centre, by bilinear resampling; where the view looks past the image's
  edge it sees grey (128), as a grey padding would show.
* :class:`CentreCrops`: several crops near the centre, each resampled to
  the network's view, seen as one batch (it changes the size: the network
  views take it, :mod:`inception_art.views`).

Each transform is a function of a symbolic image (N, 3, h, w) that keeps its
size; its random state is a shared variable that :meth:`randomise` sets
from a numpy ``RandomState`` before each step, so nothing recompiles.
"""
import math

import numpy as np

from .resample import bilinear_sample
from .theano_env import T, theano


class Jitter:
    """Roll the image by up to ``pixels`` in each direction.

    Parameters
    ----------
    pixels : int
        Largest shift (0: none).
    """

    def __init__(self, pixels):
        self.pixels = int(pixels)
        self.shift = theano.shared(np.zeros(2, dtype='int32'), name='shift')

    def __call__(self, image):
        return T.roll(T.roll(image, self.shift[0], axis=2), self.shift[1], axis=3)

    def randomise(self, rng):
        if self.pixels:
            self.shift.set_value(rng.randint(-self.pixels, self.pixels + 1,
                                             size=2).astype('int32'))


def affine_matrix(size, scale=1.0, degrees=0.0, shift=(0.0, 0.0)):
    """The (2, 3) matrix that maps an output pixel ``(x, y, 1)`` to the input
    position it samples, for a view scaled by ``scale`` and rotated by
    ``degrees`` about the image centre, then shifted by ``shift`` = (dy, dx)
    pixels. ``scale`` > 1 enlarges the content (the view sees less)."""
    h, w = size
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    a = math.radians(degrees)
    c, s = math.cos(a) / scale, math.sin(a) / scale
    # input = R(-a) / scale * (output - centre - shift) + centre
    m = np.array([[c, s], [-s, c]])
    offset = np.array([cx, cy]) - m @ np.array([cx + shift[1], cy + shift[0]])
    return np.hstack([m, offset[:, None]]).astype('float32')


class RandomAffine:
    """A random shift, scale and rotation by bilinear resampling.

    Parameters
    ----------
    size : tuple (h, w)
        The image size (the view keeps it).
    shift : float
        Largest shift in pixels, each direction.
    scale : tuple (low, high)
        Range of the scale factor (uniform).
    degrees : float
        Largest rotation, either way.
    fill : float
        What the view sees beyond the image's edges (0..255 scale).

    Notes
    -----
    Bilinear weights of the four neighbours of each sampled position; a
    neighbour outside the image contributes ``fill`` instead. The gradient
    scatters back by the same weights (:mod:`inception_art.resample`).
    """

    def __init__(self, size, shift=0.0, scale=(1.0, 1.0), degrees=0.0, fill=128.0):
        self.size = tuple(size)
        self.max_shift, self.scale_range = float(shift), tuple(float(s) for s in scale)
        self.degrees, self.fill = float(degrees), float(fill)
        self.matrix = theano.shared(affine_matrix(self.size), name='affine')

    @property
    def active(self):
        """False when every drawn view would be the identity."""
        return bool(self.max_shift or self.degrees or self.scale_range != (1.0, 1.0))

    def __call__(self, image):
        h, w = self.size
        ys, xs = np.mgrid[:h, :w].astype('float32')
        xs, ys = T.constant(xs.ravel()), T.constant(ys.ravel())
        m = self.matrix
        x = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        y = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        return bilinear_sample(image, x, y, self.fill).reshape((1, 3, h, w))

    def randomise(self, rng):
        low, high = self.scale_range
        self.matrix.set_value(affine_matrix(
            self.size, scale=rng.uniform(low, high),
            degrees=rng.uniform(-self.degrees, self.degrees),
            shift=rng.uniform(-self.max_shift, self.max_shift, size=2)))


class CentreCrops:
    """``count`` square crops of the canvas at every step, each resampled to
    the network's view (``out`` pixels a side), their centres drawn near the
    middle of the canvas.

    The network is asked for the class where the object should stand, at
    several scales at once, so it grows as one object from the middle
    instead of as parts strewn over the canvas (Fel et al. 2023, "MACO";
    Nguyen et al. 2016 draw crops near the centre too).

    Parameters
    ----------
    size : tuple (h, w)
        The canvas.
    out : int
        Side of each crop as the network sees it.
    count : int
        Crops per step: the network sees them as one batch.
    spread : float
        Standard deviation of a crop's centre, a fraction of the canvas
        (drawn from N(0.5, spread), kept inside 0.1..0.9).
    extent : tuple (low, high)
        A crop's side as a fraction of the canvas's shorter side (uniform).
    fill : float
        What a crop sees past the canvas's edge.
    """

    def __init__(self, size, out=224, count=4, spread=0.15, extent=(0.3, 0.6), fill=128.0):
        self.size, self.out, self.count = tuple(size), int(out), int(count)
        self.spread, self.extent, self.fill = float(spread), tuple(extent), float(fill)
        # per crop: the canvas position of the view's pixel (0, 0) and the
        # step between the view's pixels, (y0, x0, step)
        self.boxes = theano.shared(np.zeros((self.count, 3), dtype='float32'), name='crops')
        self.randomise(np.random.RandomState(0))

    def __call__(self, image):
        n = self.out
        ys, xs = np.mgrid[:n, :n].astype('float32')
        xs, ys = T.constant(xs.ravel()), T.constant(ys.ravel())
        b = self.boxes
        x = (b[:, 1].dimshuffle(0, 'x') + b[:, 2].dimshuffle(0, 'x') * xs).flatten()
        y = (b[:, 0].dimshuffle(0, 'x') + b[:, 2].dimshuffle(0, 'x') * ys).flatten()
        rgb = bilinear_sample(image, x, y, self.fill)      # (3, count*n*n)
        return rgb.reshape((3, self.count, n, n)).dimshuffle(1, 0, 2, 3)

    def draw(self, rng):
        """The crops' boxes, (count, 3): (y0, x0, step) each."""
        h, w = self.size
        boxes = np.zeros((self.count, 3), dtype='float32')
        for k in range(self.count):
            cy, cx = np.clip(rng.normal(0.5, self.spread, size=2), 0.1, 0.9) * (h, w)
            side = rng.uniform(*self.extent) * min(h, w)
            step = side / self.out
            boxes[k] = (cy - step * (self.out - 1) / 2, cx - step * (self.out - 1) / 2, step)
        return boxes

    def randomise(self, rng):
        self.boxes.set_value(self.draw(rng))
