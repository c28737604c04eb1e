"""A network as a classifier of photographs: RGB images -> class logits,
viewed as ImageNet evaluation does (the shorter side scaled to
``size / 0.875``, the centre cropped to the network's native size)."""
import numpy as np

from .. import imagenet
from ..images import center_crop
from ..theano_env import theano, T
from . import DEFAULT, build


class Classifier:
    """A compiled forward pass: RGB images -> class logits.

    Parameters
    ----------
    model : str
        Registry name (see :mod:`inception_art.nets`).
    kwargs
        Passed to :func:`inception_art.nets.build`.
    """

    def __init__(self, model=DEFAULT, **kwargs):
        self.network = build(model, **kwargs)
        images = T.tensor4('images')
        logits = self.network.logit_map(images).mean(axis=(2, 3))
        self._logits = theano.function([images], logits, name='classify')

    def logits(self, images):
        """Class logits (N, 1000) for (h, w, 3) uint8 images of any size."""
        batch = np.stack([center_crop(im, self.network.size) for im in images])
        return self._logits(batch.transpose(0, 3, 1, 2).astype('float32'))

    def top(self, image, k=5):
        """The ``k`` best classes of one image as a list of dicts with
        ``index``, ``label``, ``logit`` and ``prob``."""
        logits = self.logits([image])[0].astype('float64')
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return [dict(index=int(i), label=imagenet.LABELS[i],
                     logit=round(float(logits[i]), 4), prob=round(float(probs[i]), 6))
                for i in np.argsort(-logits)[:k]]
