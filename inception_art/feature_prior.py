"""A prior from the network itself: the statistics of its batch norms.

A batch-norm layer was trained to see, over natural images, inputs whose
every channel has the running mean and variance it stores. Pulling the
picture's feature statistics to them is a natural-image prior that the
network brings along (Yin et al. 2020, "DeepInversion": images inverted
from a MobileNetV2 so were recognised 92-96% by a ResNet-18).

EfficientNet-Lite's norms are folded into its convolutions, so the stored
mean and variance are gone from the graph; but a folded layer's output is
``gamma (x - mean) / sqrt(var + eps) + beta``, which over natural images
has per-channel mean ``beta`` and standard deviation ``|gamma|``. Each
block's projection has no nonlinearity after it, so its output is exactly
that (:attr:`inception_art.nets.network.Network.norms`). The term, per
layer and channel, is

    ((mean - beta) / |gamma|)^2 + (sd / |gamma| - 1)^2

averaged over the channels and the layers: 0 for a picture with natural
statistics, scale-free across layers. The mean and sd are taken over the
batch (several crops) and every position.
"""
import numpy as np

from .theano_env import T, lasagne


def feature_statistics_term(network, image):
    """The symbolic term for ``network`` seeing ``image`` (N, 3, h, w);
    raises ValueError for a network without folded norms."""
    if not network.norms:
        raise ValueError('%s has no folded batch norms to take statistics from'
                         % network.name)
    layers = [layer for layer, _, _ in network.norms]
    outputs = lasagne.layers.get_output(layers, image)
    terms = []
    for out, (_, gamma, beta) in zip(outputs, network.norms):
        scale = T.constant(np.abs(gamma).astype('float32') + np.float32(1e-3))
        mean = out.mean(axis=(0, 2, 3))
        sd = T.sqrt(T.sqr(out - mean.dimshuffle('x', 0, 'x', 'x')).mean(axis=(0, 2, 3))
                    + np.float32(1e-6))
        terms.append(T.mean(T.sqr((mean - T.constant(beta.astype('float32'))) / scale)
                            + T.sqr(sd / scale - 1)))
    return sum(terms) / np.float32(len(terms))
