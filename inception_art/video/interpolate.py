"""Frame interpolation between two keyframes, as the 2015 stream did it.

Keyframes come every few seconds; the output needs 25 frames a second. The
frame at time ``t`` between the older keyframe ``K0`` (time 0) and the newer
``K1`` (time ``period``) is a cross-fade by time of

* ``K0`` zoomed *forward* to ``t`` (it is ``t`` seconds old), and
* ``K1`` zoomed *backward* to ``t`` (it is ``period - t`` seconds early);

``K1`` zoomed backward is smaller than the frame, and where it has no pixels
``K0`` shows alone. The weight of ``K1`` is ``t / period``, so the video
passes exactly through every keyframe. Because ``K1`` was optimised from
``K0`` zoomed forward by the whole period, the two agree roughly everywhere
and the fade mostly adds the newly grown detail.

Cost per frame: the resize from the keyframe size to the output size is
folded into each warp's matrix, so a frame is two bilinear warps, one copy
and one weighted sum, all in uint8 OpenCV calls into preallocated buffers,
plus the subject text drawn from a cache (about 5 ms at 1024x576 on one
core; ``bench/video_bench.py``).
"""
import cv2
import numpy as np

from .zoom import Motion, warp


class TextOverlay:
    """White text with a dark outline, drawn top-left, rendered once.

    ``cv2.putText`` would redraw the glyphs every frame; instead the text's
    coverage is rendered once into a per-pixel gain and offset over a small
    box, and drawing it is one multiply-add over that box.

    Parameters
    ----------
    text : str
        ASCII text (OpenCV's Hershey font has no other glyphs; others are
        shown as ``?``).
    frame_size : (H, W)
        Size of the frames it goes on: the text is scaled to the height.
    """

    def __init__(self, text, frame_size):
        H, W = frame_size
        text = ''.join(ch if 32 <= ord(ch) < 127 else '?' for ch in str(text))
        self.text = text
        font, scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.3, H / 640)
        thick = max(1, round(2 * H / 576))
        outline = thick + max(2, round(3 * H / 576))
        (tw, th), base = cv2.getTextSize(text, font, scale, outline)
        margin = max(2, round(H / 48))
        box_w = min(W - margin, tw + outline + 2)
        box_h = min(H - margin, th + base + outline + 2)
        self.origin = (margin, margin)
        if not text or box_w <= 0 or box_h <= 0:
            self.gain = self.offset = None
            return
        org = (outline // 2 + 1, th + outline // 2 + 1)
        fill = np.zeros((box_h, box_w), np.uint8)
        edge = np.zeros_like(fill)
        cv2.putText(edge, text, org, font, scale, 255, outline, cv2.LINE_AA)
        cv2.putText(fill, text, org, font, scale, 255, thick, cv2.LINE_AA)
        a_edge = edge.astype(np.float32)[..., None] / 255
        a_fill = fill.astype(np.float32)[..., None] / 255
        # Outline blended to black, then the fill blended to white:
        # pixel * (1 - a_edge) * (1 - a_fill) + 255 * a_fill.
        self.gain = (1 - 0.8 * a_edge) * (1 - a_fill)
        self.offset = 255 * a_fill + 0.5   # + 0.5: round when cast to uint8

    def draw(self, frame):
        """Draw onto ``frame`` (H, W, 3) uint8 in place; returns it."""
        if self.gain is not None:
            x, y = self.origin
            h, w = self.gain.shape[:2]
            box = frame[y:y + h, x:x + w]
            box[...] = box * self.gain + self.offset
        return frame


class Interpolator:
    """The frames between two keyframes, at the output size.

    Parameters
    ----------
    motion : inception_art.video.zoom.Motion
        The zoom and turn per second, the same the keyframes were made with.
    key_size : (h, w)
        Keyframe size (the optimised image).
    out_size : (H, W)
        Output frame size.

    Examples
    --------
    >>> interp = Interpolator(Motion(1.05, 0.25), (252, 448), (576, 1024))
    >>> interp.set_keyframes(k0, k1, period=3.0)          # doctest: +SKIP
    >>> interp.set_text('volcano')                        # doctest: +SKIP
    >>> frames = [interp.frame(i / 25) for i in range(75)]  # doctest: +SKIP
    """

    def __init__(self, motion, key_size, out_size):
        self.motion = motion if isinstance(motion, Motion) else Motion(*motion)
        self.key_size, self.out_size = tuple(key_size), tuple(out_size)
        H, W = self.out_size
        self._older = np.empty((H, W, 3), np.uint8)
        self._newer = np.empty((H, W, 3), np.uint8)
        self.k0 = self.k1 = None
        self.period = None
        self.overlay = None

    def set_keyframes(self, older, newer, period):
        """The keyframes to interpolate: ``older`` at time 0, ``newer`` at
        time ``period`` seconds; (h, w, 3) uint8 arrays of ``key_size``."""
        for k in (older, newer):
            if k.shape != self.key_size + (3,) or k.dtype != np.uint8:
                raise ValueError('keyframes must be %dx%d uint8 RGB, got %s %s'
                                 % (self.key_size[1], self.key_size[0], k.dtype, k.shape))
        if not period > 0:
            raise ValueError('keyframe period must be positive, got %r' % (period,))
        self.k0, self.k1, self.period = older, newer, float(period)

    def set_text(self, text):
        """Overlay ``text`` top-left on every frame (None or '': no text)."""
        if not text:
            self.overlay = None
        elif self.overlay is None or self.overlay.text != text:
            self.overlay = TextOverlay(text, self.out_size)

    def frame(self, t, out=None):
        """The output frame ``t`` seconds after the older keyframe.

        Parameters
        ----------
        t : float
            Seconds since the older keyframe, 0 to ``period`` (clipped).
        out : (H, W, 3) uint8 array, optional
            Where to write the frame; a new array if None. The interpolator
            keeps no reference to it.

        Returns
        -------
        (H, W, 3) uint8 array
        """
        if self.k0 is None:
            raise RuntimeError('set_keyframes() first')
        if out is None:
            out = np.empty(self.out_size + (3,), np.uint8)
        t = min(max(float(t), 0.0), self.period)
        weight = t / self.period
        m0 = self.motion.matrix(t, self.key_size, self.out_size)
        if weight == 0:
            warp(self.k0, m0, out)
        else:
            older, newer = self._older, self._newer
            warp(self.k0, m0, older)
            # The newer keyframe, zoomed out, over a copy of the older one:
            # where it has no pixels the older one shows (and the weighted
            # sum of two equal pixels is that pixel).
            np.copyto(newer, older)
            warp(self.k1, self.motion.matrix(t - self.period, self.key_size,
                                             self.out_size), newer, keep_outside=True)
            cv2.addWeighted(older, 1.0 - weight, newer, weight, 0.0, dst=out)
        if self.overlay is not None:
            self.overlay.draw(out)
        return out

    def beyond(self, seconds, out=None):
        """The newer keyframe ``seconds`` after its own time: the motion
        carried on past the segment, for when the next keyframe is late.

        Parameters
        ----------
        seconds : float
            Seconds past the newer keyframe (>= 0).
        out : (H, W, 3) uint8 array, optional
            As for :meth:`frame`.

        Returns
        -------
        (H, W, 3) uint8 array
        """
        if self.k1 is None:
            raise RuntimeError('set_keyframes() first')
        if out is None:
            out = np.empty(self.out_size + (3,), np.uint8)
        warp(self.k1, self.motion.matrix(seconds, self.key_size, self.out_size), out)
        if self.overlay is not None:
            self.overlay.draw(out)
        return out

    def newer_beyond(self, seconds):
        """:meth:`beyond` at the keyframe size, without the text: a keyframe
        that segments and optimisers can start from."""
        if self.k1 is None:
            raise RuntimeError('set_keyframes() first')
        return warp(self.k1, self.motion.matrix(seconds, self.key_size),
                    np.empty_like(self.k1))
