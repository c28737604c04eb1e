"""What the research comparison measures of a picture, and the photographs
it holds them against.

Per picture:

* Under the optimised network (a clean forward pass, no jitter): the target
  logit and softmax probability, its rank, the mean of the other logits,
  and the change of both from the start picture (:func:`logit_metrics`).
* Judged top-1 / top-5 by independent networks
  (:func:`inception_art.research.evaluate.judge`: EfficientNet-Lite1 and -Lite2),
  never the optimised one.
* The mean log-density per 8x8 patch under the committed Student-t and
  Gaussian priors (patches on a 2-pixel grid).
* How it looks (:mod:`inception_art.look`): luminance contrast and
  colourfulness, beside the photographs'; the judges' top-5 in the
  thumbnail test (shrunk to 64 pixels and enlarged back).
* The radially averaged power-spectrum slope and the fraction of power at
  large scales (:mod:`inception_art.spectrum`), against the same numbers
  for scikit-image's photographs at the same size (:func:`photographs`).
* The target logit at every step (for the optimiser curves), the steps and
  the seconds (:mod:`inception_art.research.tasks`).
"""
from pathlib import Path

import numpy as np

from .. import look, spectrum
from ..images import center_crop, load_rgb
from ..prior_file import DEFAULT_HELDOUT, DEFAULT_TRAIN, PATCH, default_path

#: Photographs the pictures' statistics are held against: the files of
#: scikit-image's bundled colour photographs that the committed priors
#: were fitted on, and the two held out from that fit.
PHOTOS = DEFAULT_HELDOUT + DEFAULT_TRAIN
#: Patch positions for the log-density metric: every 2nd pixel each way.
PATCH_STRIDE = 2
#: The priors whose patch log-density is measured.
PRIOR_KINDS = ('student', 'gaussian')
#: The fix named by every missing-package error of the comparison.
INSTALL_FIX = "run make compare (or pip install -e '.[judges,compare]')"


def load_priors():
    """``{kind: PatchPrior}`` of the committed priors that measure pictures."""
    from ..prior import PatchPrior   # Theano: only when pictures are measured
    return {k: PatchPrior.load(default_path(k)) for k in PRIOR_KINDS}


def patch_log_density(picture, prior, stride=PATCH_STRIDE):
    """Mean log-density in nats of the 8x8 patches of an (h, w, 3) picture
    (0..255) under ``prior``, patches on a ``stride``-pixel grid."""
    h, w = picture.shape[:2]
    ys, xs = np.mgrid[0:h - PATCH + 1:stride, 0:w - PATCH + 1:stride]
    from ..prior import patches_at
    return float(prior.log_density(patches_at(picture, ys.ravel(), xs.ravel())).mean())


def picture_metrics(picture, priors):
    """Statistics of one picture that need no network: the spectrum slope,
    the large-scale power fraction, the luminance contrast and the
    colourfulness (:mod:`inception_art.look`) and the patch log-density
    under each of ``priors`` (``{kind: PatchPrior}``)."""
    out = dict(slope=spectrum.slope(picture),
               low_freq=spectrum.low_frequency_fraction(picture),
               contrast=look.contrast(picture), colourfulness=look.colourfulness(picture))
    for kind, prior in priors.items():
        out['logp_' + kind] = patch_log_density(picture, prior)
    return out


def logsumexp(x):
    """``log(sum(exp(x)))`` without overflow."""
    top = np.max(x)
    return float(top + np.log(np.exp(x - top).sum()))


def logit_metrics(logits, target, start):
    """What the optimised network sees: ``logits`` (K,) of the final
    picture and ``start`` (K,) of the start picture, for class ``target``.

    ``others_lse`` is the log-sum-exp of the other classes' logits: the
    log-probability of the target is ``logit - log(exp(logit) + exp(others_lse))``,
    so a probability can rise by the target logit rising (``target_gain``)
    or by the others' log-sum-exp falling (``others_gain``), which is what
    the 2015 post said the probability objectives do. The plain mean of the
    999 other logits hardly moves either way and is kept for reference.
    """
    logits = np.asarray(logits, dtype=np.float64)
    start = np.asarray(start, dtype=np.float64)
    others = np.delete(logits, target)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return dict(target_logit=float(logits[target]), prob=float(probs[target]),
                rank=int((logits > logits[target]).sum()) + 1,
                others_mean=float(others.mean()), others_max=float(others.max()),
                others_lse=logsumexp(others),
                target_gain=float(logits[target] - start[target]),
                others_gain=logsumexp(others) - logsumexp(np.delete(start, target)))


def photographs(canvas):
    """scikit-image's photographs (:data:`PHOTOS`), centre-cropped to
    ``canvas`` as a judge would view them: ``{name: (h, w, 3) uint8}``."""
    try:
        import skimage.data
    except ImportError:
        raise ValueError('the comparison needs scikit-image (reference photographs), '
                         'not installed; ' + INSTALL_FIX) from None
    folder = Path(skimage.data.__file__).parent
    return {name.rsplit('.', 1)[0]: center_crop(load_rgb(folder / name), canvas)
            for name in PHOTOS}


def photo_metrics(photos, priors):
    """:func:`picture_metrics` of each photograph, and whether the priors'
    fit held it out: ``{name: {...}}``."""
    return {name: dict(picture_metrics(photo, priors),
                       heldout=name + '.png' in DEFAULT_HELDOUT)
            for name, photo in photos.items()}
