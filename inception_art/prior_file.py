"""The prior files: where the committed ones are, and reading one with every
check, in one line on failure.

No Theano here, so that a command checks its prior file before anything
compiles, the live mode's main process included
(:func:`inception_art.loop.check`). :class:`inception_art.prior.PatchPrior`
builds the prior's term from what :func:`read` returns.
"""
import json
from pathlib import Path

import numpy as np

PATCH = 8
CHANNELS = 3
DIM = PATCH * PATCH * CHANNELS
KINDS = ('gaussian', 'student')
#: The photographs the committed priors were fitted on (``fit-default``,
#: :mod:`inception_art.prior_fit`) and the two held out from that fit:
#: scikit-image's bundled colour photographs of everyday scenes (the
#: comparison also holds its pictures against them). The motorcycle stereo
#: pair stays together (holding out one half would leak the other).
#: Excluded: its synthetic or non-scene images (color, phantom, logo,
#: chessboards, horse silhouette), microscopy and astronomy (ihc, retina,
#: hubble_deep_field) and the greyscale photographs (their patches would
#: carry no colour and shrink the fitted colour variance, so the prior would
#: push renders towards grey).
DEFAULT_TRAIN = ('astronaut.png', 'rocket.jpg', 'motorcycle_left.png',
                 'motorcycle_right.png')
DEFAULT_HELDOUT = ('chelsea.png', 'coffee.png')
#: Of the prior files; :func:`read` refuses any other.
FORMAT_VERSION = 1
#: The committed priors' folder.
FOLDER = Path(__file__).resolve().parent / 'data' / 'prior'


class PriorFileError(ValueError):
    """A prior file that is missing or not a valid prior (one-line message)."""


def default_path(kind):
    """The committed prior of ``kind``: ``inception_art/data/prior/patch8_<kind>.npz``."""
    if kind not in KINDS:
        raise ValueError('prior kind %r: choose gaussian or student' % (kind,))
    return FOLDER / ('patch8_%s.npz' % kind)


def read(path):
    """The checked contents of the prior file ``path``: ``kind``, ``mean``,
    ``whiten``, for a Student-t ``nu`` and ``scale``, and ``provenance``
    (a dict). A missing or invalid file raises :class:`PriorFileError`."""
    path = Path(path)
    if not path.is_file():
        raise PriorFileError('%s: no such prior file; run `make prior` or '
                             '`python -m inception_art.prior_fit fit DIR --out FILE`' % path)
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - zip, pickle, format and I/O errors alike
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
                raise ValueError('%s has shape %s, expected finite %s' % (name, a.shape, shape))
        if kind == 'student' and (fields['nu'].min() <= 0 or fields['scale'].min() <= 0):
            raise ValueError('nu and scale must be positive')
        provenance = json.loads(str(fields.get('provenance', '{}')))
    except KeyError as e:
        raise PriorFileError('%s: not a prior file (no %s)' % (path, e)) from None
    except (ValueError, TypeError) as e:
        raise PriorFileError('%s: not a valid prior file (%s)' % (path, e)) from None
    return dict({k: fields[k] for k in arrays}, kind=kind, provenance=provenance)
