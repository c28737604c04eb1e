"""Encoding: raw RGB frames piped into the ffmpeg that imageio-ffmpeg bundles.

:class:`FFmpegPipe` is an ffmpeg process fed raw frames on its stdin, with
whatever output arguments the caller gives (an mp4 file here; the live mode
sends FLV over RTMP the same way). :class:`VideoFile` uses it to write an
H.264 mp4 (yuv420p, the pixel format every player decodes) or an animated
GIF, atomically, and so that Ctrl-C still leaves a playable file.

Why ffmpeg runs in its own process group: a Ctrl-C in the terminal sends
SIGINT to the whole foreground group. ffmpeg would stop at once, and the
frames still in flight would then hit a closed pipe. Kept out of the group,
ffmpeg only sees its stdin close, which is an ordinary end of input: it
encodes what it holds and writes the container's index, and the file is
complete up to the last frame written.
"""
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..images import check_writable, give_default_mode, not_written


class EncoderError(OSError):
    """ffmpeg failed; the message is its last line of complaint.

    ``out_of_space`` says why, when the output did not fit (a full disk,
    a quota, a file-size limit); None otherwise.
    """

    out_of_space = None


#: ffmpeg's words for an output that did not fit (strerror), and ours.
_NO_SPACE = {'No space left on device': 'the disk is full',
             'Disk quota exceeded': 'the disk quota is used up',
             'File too large': 'the file-size limit (ulimit -f) was reached'}


def ffmpeg_exe():
    """Path of the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _write_whole(stream, data):
    """Write all of ``data`` with SIGINT held back until it is written.

    A Ctrl-C arriving mid-write would make Python's handler raise
    KeyboardInterrupt inside the write, after an unknown part of the frame
    had gone into the pipe: every later frame (those of the finished file
    included) would be shifted. Blocked, the signal is delivered right after
    the write, and the KeyboardInterrupt comes between two whole frames.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        stream.write(data)
        stream.flush()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class FFmpegPipe:
    """An ffmpeg process that reads raw RGB24 frames from its stdin.

    Parameters
    ----------
    size : (h, w)
        Frame size.
    fps : float
        Frame rate of the input.
    output_args : sequence of str
        ffmpeg's output options and destination, e.g.
        ``['-c:v', 'libx264', '-pix_fmt', 'yuv420p', 'out.mp4']``.
    input_args : sequence of str
        More inputs after the raw frames (e.g.
        ``['-f', 'lavfi', '-i', 'anullsrc']`` for a silent audio track).
    loglevel : str
        ffmpeg's ``-loglevel``; its messages go to a temporary file, read
        back when it fails (a pipe could fill up and stall it).

    Use as a context manager, or call :meth:`close`. Frames are written in
    the caller's thread and block while ffmpeg is busy, which paces the
    producer to the encoder.
    """

    def __init__(self, size, fps, output_args, input_args=(), loglevel='error'):
        self.size = tuple(size)
        h, w = self.size
        self.frames = 0
        self._log = tempfile.TemporaryFile()
        command = [ffmpeg_exe(), '-hide_banner', '-loglevel', loglevel, '-y',
                   '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '%dx%d' % (w, h),
                   '-framerate', repr(float(fps)), '-i', 'pipe:0',
                   *input_args, *output_args]
        # start_new_session: see the module docstring (Ctrl-C).
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=self._log,
                                        start_new_session=True)

    def write(self, frame):
        """Send one (h, w, 3) uint8 frame."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.shape != self.size + (3,):
            raise ValueError('frame is %s; this encoder takes %dx%d RGB frames'
                             % (frame.shape, self.size[1], self.size[0]))
        try:
            _write_whole(self.process.stdin, memoryview(frame).cast('B'))
        except BrokenPipeError:
            self.process.wait()
            raise self._error('ffmpeg stopped taking frames') from None
        self.frames += 1

    def close(self, timeout=None):
        """End the input and wait for ffmpeg to finish the output.

        A Ctrl-C while waiting does not abandon the file: ffmpeg is
        finishing it and is waited for all the same (a second one is
        re-raised after ffmpeg ends).

        Raises
        ------
        EncoderError
            If ffmpeg exits with an error.
        """
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        interrupted = None
        while True:
            try:
                code = self.process.wait(timeout)
                break
            except KeyboardInterrupt as e:
                interrupted = e
        error = self._error('ffmpeg failed (exit %d)' % code) if code else None
        self._log.close()
        if error is not None:
            raise error
        if interrupted is not None:
            raise interrupted

    def kill(self):
        """Stop ffmpeg at once (its output is then incomplete)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        # Closed here, not by the garbage collector: frames still buffered
        # for a dead ffmpeg would fail to flush there and print a traceback.
        try:
            self.process.stdin.close()
        except OSError:
            pass
        if not self._log.closed:
            self._log.close()

    def _error(self, what):
        """An :class:`EncoderError`: ``what``, then ffmpeg's complaint."""
        complaint = self._complaint()
        error = EncoderError('%s: %s' % (what, complaint))
        if self.process.returncode == -signal.SIGXFSZ:
            # Over RLIMIT_FSIZE the kernel sends SIGXFSZ, which kills ffmpeg
            # before it can say anything.
            error.out_of_space = _NO_SPACE['File too large']
        for words, reason in _NO_SPACE.items():
            if words in complaint:
                error.out_of_space = reason
        return error

    def _complaint(self):
        self._log.seek(0)
        lines = [l.strip() for l in self._log.read().decode('utf-8', 'replace').splitlines()
                 if l.strip()]
        return lines[-1] if lines else 'no message'

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None or issubclass(kind, KeyboardInterrupt):
            self.close()
        else:
            self.kill()


def mp4_args(crf=20, preset='veryfast'):
    """ffmpeg output options for H.264 in yuv420p, ready to play anywhere.

    ``+faststart`` moves the index to the front once the input ends, so a
    browser can start playing before it has the whole file; the input ends
    on an interrupt too (see the module docstring), so it holds then as well.
    """
    return ['-an', '-c:v', 'libx264', '-preset', preset, '-crf', str(crf),
            '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4']


#: The GIF palette: a 6x7x6 RGB cube (green, to which the eye is most
#: sensitive, gets the extra level) plus four greys: 256 colours.
_CUBE = (6, 7, 6)
_BAYER4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]])


def gif_palette():
    """The (256, 3) uint8 GIF palette (see :class:`GifDither`)."""
    axes = [np.linspace(0, 255, n) for n in _CUBE]
    cube = np.stack(np.meshgrid(*axes, indexing='ij'), -1).reshape(-1, 3)
    greys = np.repeat([[32], [64], [128], [192]], 3, axis=1)
    return np.vstack([cube, greys]).round().astype(np.uint8)


class GifDither:
    """Ordered (4x4 Bayer) dithering of RGB frames onto the GIF palette.

    Why not ffmpeg's ``palettegen``/``paletteuse``: a palette for the whole
    film needs every frame held until the end (1.3 GB for 30 s at
    1024x576), and a palette per frame took 0.4-0.6 s a frame here; even a
    fixed palette costs ffmpeg 0.1 s a frame searching the nearest colour
    of every new colour. Frames already on the palette's colours map
    through ffmpeg's colour cache at once, and the dither itself is one
    table look-up per channel (about 8 ms a frame at 1024x576).
    """

    def __init__(self, size):
        h, w = size
        cells = np.tile(_BAYER4, ((h + 3) // 4, (w + 3) // 4))[:h, :w]
        self._index = (cells * 256).astype(np.intp)
        offsets = (_BAYER4.ravel() + 0.5) / 16 - 0.5   # -15/32 .. 15/32 of a level
        values = np.arange(256)
        tables = []
        for levels in _CUBE:
            step = 255 / (levels - 1)
            q = np.clip(np.round(values[None] / step + offsets[:, None]), 0, levels - 1)
            tables.append(np.round(q * step).astype(np.uint8).ravel())
        self._tables = tables

    def __call__(self, frame, out=None):
        """Dither ``frame`` (h, w, 3) uint8; returns ``out`` (new if None)."""
        out = np.empty_like(frame) if out is None else out
        for c, table in enumerate(self._tables):
            out[..., c] = table[self._index + frame[..., c]]
        return out


def gif_args(palette_input=1):
    """ffmpeg output options for an animated GIF whose frames are already
    dithered onto :func:`gif_palette` (input ``palette_input``)."""
    return ['-an', '-filter_complex',
            '[0:v][%d:v]paletteuse=dither=none' % palette_input,
            '-loop', '0', '-f', 'gif']


class VideoFile:
    """Frames to a video file that appears atomically.

    The frames go to a temporary file beside ``path`` (a dot file), renamed
    onto ``path`` when the film ends, normally or by Ctrl-C
    (``KeyboardInterrupt``): then the frames written so far make a complete
    file. On any other error the temporary file is removed and ``path`` is
    left as it was.

    Parameters
    ----------
    path : path-like
        Destination (``.mp4`` or ``.gif``).
    size : (h, w)
        Frame size; both even for mp4 (yuv420p halves the colour planes).
    fps : float
    gif : bool
        Write an animated GIF instead of an mp4.

    Examples
    --------
    >>> with VideoFile('dream.mp4', (576, 1024), 25) as video:  # doctest: +SKIP
    ...     for frame in frames:
    ...         video.write(frame)
    """

    def __init__(self, path, size, fps, gif=False):
        self.path = Path(path)
        h, w = size
        if not gif and (h % 2 or w % 2):
            raise ValueError('mp4 frames need an even width and height, got %dx%d' % (w, h))
        folder = check_writable(self.path)
        fd, tmp = tempfile.mkstemp(prefix='.' + self.path.name + '.',
                                   suffix=self.path.suffix or ('.gif' if gif else '.mp4'),
                                   dir=folder)
        os.close(fd)
        self.tmp = Path(tmp)
        self._palette = self._dither = None
        try:
            if gif:
                self._dither, self._buffer = GifDither(size), np.empty((h, w, 3), np.uint8)
                fd, palette = tempfile.mkstemp(prefix='inception_art_palette.', suffix='.png')
                os.close(fd)
                self._palette = Path(palette)
                from PIL import Image
                Image.fromarray(gif_palette().reshape(16, 16, 3)).save(self._palette)
                self.pipe = FFmpegPipe(size, fps, gif_args(1) + [str(self.tmp)],
                                       input_args=['-i', str(self._palette)])
            else:
                self.pipe = FFmpegPipe(size, fps, mp4_args() + [str(self.tmp)])
        except BaseException:
            self._remove_temporaries()
            raise
        #: True once the file is in place at ``path``.
        self.finished = False
        #: True when a Ctrl-C cut the video short (the file holds what came before).
        self.interrupted = False

    @property
    def frames(self):
        """Frames written so far."""
        return self.pipe.frames

    def write(self, frame):
        """Append one (h, w, 3) uint8 frame."""
        if self._dither is not None:
            frame = self._dither(np.asarray(frame, dtype=np.uint8), self._buffer)
        try:
            self.pipe.write(frame)
        except EncoderError as e:
            raise self._reworded(e) from None

    def _reworded(self, error):
        # A full disk in one line that says what became of the file.
        return error if error.out_of_space is None else not_written(self.path,
                                                                   error.out_of_space)

    def close(self):
        """Finish the file and rename it into place; returns its path.

        A Ctrl-C while ffmpeg finishes the file still lets it finish (see
        :meth:`FFmpegPipe.close`); the file is renamed into place, marked
        :attr:`interrupted`, and the interrupt re-raised after that.
        """
        interrupt = None
        try:
            try:
                self.pipe.close()
            except KeyboardInterrupt as e:      # ffmpeg has finished all the same
                interrupt = e
            except EncoderError as e:
                raise self._reworded(e) from None
            if self.pipe.frames == 0:
                raise EncoderError('no frames were written; %s not created' % self.path)
            give_default_mode(self.tmp)
            os.replace(self.tmp, self.path)
            self.finished = True
        finally:
            self._remove_temporaries()
        if interrupt is not None:
            self.interrupted = True
            raise interrupt
        return self.path

    def discard(self):
        """Stop ffmpeg and remove the temporary file."""
        self.pipe.kill()
        self._remove_temporaries()

    def _remove_temporaries(self):
        for path in (self.tmp, self._palette):
            if path is not None and path.exists():
                path.unlink()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
        elif issubclass(kind, KeyboardInterrupt):
            self.interrupted = True
            if self.pipe.frames:
                self.close()
            else:
                self.discard()
        else:
            self.discard()


def read_frames(path):
    """Every frame of a video file as an (n, h, w, 3) uint8 RGB array,
    decoded by the bundled ffmpeg."""
    info = probe(path)
    raw = subprocess.run([ffmpeg_exe(), '-v', 'error', '-i', str(path), '-f', 'rawvideo',
                          '-pix_fmt', 'rgb24', '-'], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info['height'], info['width'], 3)


def probe(path):
    """What a video file holds, by decoding it with the bundled ffmpeg
    (which has no ffprobe).

    Returns
    -------
    dict
        ``frames`` (decoded frame count), ``width``, ``height``, ``fps``,
        ``codec`` and ``pix_fmt`` of the first video stream.

    Raises
    ------
    EncoderError
        If ffmpeg cannot decode the file.
    """
    import re
    result = subprocess.run([ffmpeg_exe(), '-hide_banner', '-nostdin', '-i', str(path),
                             '-map', '0:v:0', '-f', 'null', '-'],
                            capture_output=True, text=True, errors='replace')
    text = result.stderr
    stream = re.search(r'Stream #0:\d+[^:]*: Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?.*?'
                       r'(\d+)x(\d+).*?([\d.]+) (?:fps|tbr)', text)
    frames = re.findall(r'frame=\s*(\d+)', text)
    if result.returncode or not stream or not frames:
        lines = [l for l in text.splitlines() if l.strip()]
        raise EncoderError('%s: not a readable video (%s)'
                           % (path, lines[-1].strip() if lines else 'no output'))
    codec, pix_fmt, w, h, fps = stream.groups()
    return dict(frames=int(frames[-1]), width=int(w), height=int(h), fps=float(fps),
                codec=codec, pix_fmt=pix_fmt)
