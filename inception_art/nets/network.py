"""The :class:`Network` record every network family builds."""
from dataclasses import dataclass, field

from ..theano_env import lasagne


class InputSizeError(ValueError):
    """An image size the network cannot take (one-line message)."""


@dataclass
class Network:
    """A classifier built from Lasagne layers, run fully convolutionally.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``'efficientnet-lite0'``.
    input : lasagne.layers.InputLayer
        Takes an RGB image batch on the 0..255 scale, shape (N, 3, H, W);
        the input normalisation is part of the network.
    logits : lasagne.layers.Layer
        The map of class logits, shape (N, 1000, h, w): the classifier
        applied at every position. Averaged over positions, it gives the
        image's class logits.
    features : dict of str to Layer
        Named intermediate layers, in order, for channel objectives.
    size : tuple (height, width)
        The input size the graph was built for.
    norms : list of (Layer, gamma, beta)
        Layers whose outputs are a folded batch norm's, without a
        nonlinearity after it, with the norm's scale and shift (numpy, one
        per channel): over natural images each channel of such an output
        has mean ``beta`` and standard deviation ``|gamma|``
        (:mod:`inception_art.feature_prior`). Empty for networks without.
    """

    name: str
    input: object
    logits: object
    size: tuple
    features: dict = field(default_factory=dict)
    norms: list = field(default_factory=list)

    def logit_map(self, image):
        """The symbolic logit map for a symbolic image (N, 3, H, W), 0..255."""
        return lasagne.layers.get_output(self.logits, image)

    def outputs(self, image, names):
        """Symbolic outputs of the named feature layers, one graph."""
        layers = [self.features[n] for n in names]
        return lasagne.layers.get_output(layers, image)
