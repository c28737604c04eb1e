"""Reading and writing pictures: clear errors, atomic writes."""
import contextlib
import errno
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageFileError(ValueError):
    """An image that cannot be read or written (one-line message)."""


def load_rgb(path):
    """Read ``path`` as an (h, w, 3) uint8 RGB array."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert('RGB'))
    except FileNotFoundError:
        raise ImageFileError('%s: no such file; check the path' % path) from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ImageFileError('%s: not a readable image (%s); give a PNG or JPEG '
                             'file' % (path, str(e).splitlines()[0])) from None


def resize(image, size):
    """Resize an (h, w, 3) uint8 array to ``size`` = (h, w), bicubic."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC))


def resize_float(image, size):
    """Resize an (h, w, 3) float picture to ``size`` (bicubic, float).

    Kept apart from :func:`resize` (photographs, uint8, Pillow): a canvas
    carried between octaves stays float, unrounded (OpenCV resizes float32).
    """
    import cv2
    h, w = size
    image = np.asarray(image, dtype='float32')
    if image.shape[:2] == (h, w):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC)


def center_crop(image, size):
    """Scale the shorter side to ``size / 0.875`` and crop the centre:
    the usual ImageNet evaluation view. ``size`` = (h, w)."""
    h, w = size
    scale = max(h, w) / 0.875 / min(image.shape[:2])
    big = resize(image, (max(h, round(image.shape[0] * scale)),
                         max(w, round(image.shape[1] * scale))))
    top, left = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[top:top + h, left:left + w]


def check_writable(path):
    """Raise a one-line error unless a file can be written at ``path``;
    return its folder. Commands call it before any long work."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ImageFileError('%s: folder %s does not exist; create it or choose '
                             'another --out' % (path, folder))
    if not os.access(folder, os.W_OK) or path.is_dir():
        raise ImageFileError('%s: cannot write there; choose another --out' % path)
    return folder


def _umask():
    """The process umask, read without changing it (``os.umask`` can only
    be read by setting it, which races with other threads)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def give_default_mode(path):
    """Give a file made by ``tempfile.mkstemp`` (always 0600) the mode a
    plain ``open()`` would have given it, before it is renamed into place."""
    os.chmod(path, 0o666 & ~_umask())


#: Why a write fails when the disk is full, by errno: the disk itself, a
#: quota, or a file-size limit (``ulimit -f``, RLIMIT_FSIZE).
_FULL = {errno.ENOSPC: 'the disk is full', errno.EDQUOT: 'the disk quota is used up',
         errno.EFBIG: 'the file-size limit (ulimit -f) was reached'}


def out_of_space(error):
    """Why ``error`` (an OSError) means the output did not fit, or None."""
    return _FULL.get(getattr(error, 'errno', None))


def not_written(path, reason):
    """The one-line error for an output that could not be written; says
    whether a file of that name from before is still there, unchanged
    (every output is written beside it and renamed into place)."""
    path = Path(path)
    kept = ('the %s already there is unchanged' % path.name if path.exists()
            else 'no file was made')
    return ImageFileError('%s not written: %s; %s' % (path, reason, kept))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on
    success, delete it on failure, so a reader never sees half a file and an
    earlier file is only replaced by a complete new one. A full disk fails
    with one line that says so (:func:`not_written`)."""
    path = Path(path)
    folder = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix='.' + path.name + '.', suffix=path.suffix,
                               dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        give_default_mode(tmp)
        os.replace(tmp, path)
    except OSError as e:
        reason = out_of_space(e)
        if reason is None:
            raise
        raise not_written(path, reason) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_png(image, path):
    """Write an (h, w, 3) uint8 array as a PNG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, dtype='uint8')).save(tmp, format='PNG')
    return Path(path)
