"""Analytic operation counts of a built network, from its Lasagne layers.

Only convolutions are counted (dense 2-D and depthwise, the classifier
included, which is a convolution in these fully convolutional networks);
padding, pooling, biases, activations and the objective are left out (well
under 1 % of the multiply-adds here). Batch size 1.
"""
import numpy as np

from inception_art.nets.layers import DepthwiseConvLayer
from inception_art.theano_env import lasagne


def layer_macs(layer):
    """Multiply-adds of one layer's forward pass (0 for uncounted layers)."""
    if isinstance(layer, lasagne.layers.Conv2DLayer):
        out = int(np.prod(layer.output_shape[1:]))
        return out * layer.input_shape[1] * int(np.prod(layer.filter_size))
    if isinstance(layer, DepthwiseConvLayer):
        return int(np.prod(layer.output_shape[1:])) * int(np.prod(layer.kernel))
    return 0


def forward_macs(network):
    """``(total, {'conv': .., 'depthwise': ..})`` forward multiply-adds."""
    parts = {'conv': 0, 'depthwise': 0}
    for layer in lasagne.layers.get_all_layers(network.logits):
        kind = 'depthwise' if isinstance(layer, DepthwiseConvLayer) else 'conv'
        parts[kind] += layer_macs(layer)
    return sum(parts.values()), parts


def step_flops(network):
    """FLOPs of one image step: 2 per multiply-add, times 2 for the forward
    pass plus the gradient to the input (no weight gradients: the weights
    are fixed; each convolution's input gradient costs what its forward
    pass does)."""
    macs, _ = forward_macs(network)
    return 2 * 2 * macs
