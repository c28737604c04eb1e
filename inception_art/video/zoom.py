"""The geometry of the zoom: "zoom by s and rotate by a degrees about the centre".

The 2015 stream zoomed into its picture continuously, 1.05x per second about
the centre, turning it by 0.01 degree per output frame. Two things use that
motion: the keyframe loop (each keyframe starts from the previous one zoomed
forward) and the frame interpolation (keyframes zoomed forward and backward
to the instant of an output frame). Both get it from :class:`Motion`, so
they cannot disagree.

Conventions
-----------
Pixel centres are at integer coordinates ``(x, y)``, ``y`` pointing down, and
the centre of an image of width ``w`` and height ``h`` is ``((w-1)/2, (h-1)/2)``.
A positive angle turns the picture anticlockwise on the screen. Matrices are
OpenCV's 2x3 affine matrices and map an *output* pixel to the *source* pixel
it shows (the inverse map, ``cv2.WARP_INVERSE_MAP``): that is what a warp
evaluates per output pixel, and composing a resize into it is one product.
"""
import math

import cv2
import numpy as np

#: Bilinear, with the matrix read as output pixel -> source pixel.
_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP


class Motion:
    """A steady zoom and turn about the centre.

    Parameters
    ----------
    zoom : float
        Magnification per second (>= 1 zooms in; 1.05 in 2015).
    degrees_per_second : float
        Rotation per second, anticlockwise (2015: 0.01 degree per frame at
        25 fps, i.e. 0.25).
    """

    def __init__(self, zoom=1.05, degrees_per_second=0.25):
        if not zoom > 0:
            raise ValueError('zoom must be positive, got %r' % (zoom,))
        self.zoom = float(zoom)
        self.degrees_per_second = float(degrees_per_second)

    def __repr__(self):
        return 'Motion(zoom=%g, degrees_per_second=%g)' % (self.zoom,
                                                           self.degrees_per_second)

    def at(self, seconds):
        """``(scale, degrees)`` after ``seconds`` (negative: backward)."""
        return self.zoom ** seconds, self.degrees_per_second * seconds

    def matrix(self, seconds, src_size, dst_size=None):
        """The output-pixel -> source-pixel matrix that shows a ``src_size``
        picture as it looks ``seconds`` later, resized to ``dst_size``.

        Parameters
        ----------
        seconds : float
            How far to move: positive zooms in, negative zooms out (the
            picture then shrinks and leaves a border with no source pixels).
        src_size, dst_size : (h, w)
            Source and output sizes; ``dst_size`` defaults to ``src_size``.

        Returns
        -------
        (2, 3) float64 array
        """
        scale, degrees = self.at(seconds)
        return zoom_matrix(scale, degrees, src_size, dst_size)


def zoom_matrix(scale, degrees, src_size, dst_size=None):
    """The output-pixel -> source-pixel matrix of "magnify ``src_size`` by
    ``scale`` and turn it ``degrees`` anticlockwise about its centre, then
    resize it to ``dst_size``" (see the module docstring).

    A content point at offset ``q`` (source pixels) from the source centre
    appears at offset ``scale * R(degrees) q``, in source pixels, from the
    output centre, which is ``diag(W/w, H/h)`` times that in output pixels.
    Inverted: ``src = c_src + R(-degrees) diag(w/W, h/H) (dst - c_dst) / scale``.

    Returns
    -------
    (2, 3) float64 array
    """
    h, w = src_size
    H, W = dst_size or src_size
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    # R(-a) for y pointing down: an anticlockwise turn on the screen.
    inverse_turn = np.array([[cos, -sin], [sin, cos]])
    A = inverse_turn @ np.diag([w / W, h / H]) / scale
    c_src = np.array([(w - 1) / 2, (h - 1) / 2])
    c_dst = np.array([(W - 1) / 2, (H - 1) / 2])
    return np.hstack([A, (c_src - A @ c_dst)[:, None]])


def warp(src, matrix, out, keep_outside=False):
    """Warp ``src`` into the preallocated ``out`` (bilinear), in place.

    Parameters
    ----------
    src : (h, w, C) uint8 or float32 array
    matrix : (2, 3) array
        Output pixel -> source pixel (:func:`zoom_matrix`).
    out : (H, W, C) C-contiguous array of ``src``'s dtype
        Written in place: preallocating it saves a 1.7 MB allocation and its
        page faults per 1024x576 frame.
    keep_outside : bool
        False: output pixels whose source lies outside ``src`` repeat its
        edge. True: they keep whatever ``out`` held (OpenCV's transparent
        border), which is how a zoomed-out picture shows another one where
        it has no pixels of its own. Pixels whose bilinear neighbourhood is
        only partly inside count as outside, so the edge is clean.

    Returns
    -------
    out
    """
    if not out.flags.c_contiguous:
        raise ValueError('warp: out must be a C-contiguous array')
    H, W = out.shape[:2]
    border = cv2.BORDER_TRANSPARENT if keep_outside else cv2.BORDER_REPLICATE
    cv2.warpAffine(np.ascontiguousarray(src), np.asarray(matrix, dtype=np.float64), (W, H),
                   dst=out, flags=_FLAGS, borderMode=border)
    return out


def covered(matrix, src_size, dst_size):
    """Boolean (H, W) map of the output pixels that have source pixels
    under ``matrix`` (the whole bilinear neighbourhood inside the source),
    i.e. those :func:`warp` with ``keep_outside=True`` overwrites."""
    H, W = dst_size
    h, w = src_size
    ys, xs = np.mgrid[0:H, 0:W]
    m = np.asarray(matrix, dtype=np.float64)
    sx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    sy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
