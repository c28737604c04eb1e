"""VGG-16 and VGG-19 in Lasagne, run fully convolutionally.

fc6 is a 7x7 "valid" convolution over the pool5 map and fc7/fc8 are 1x1
convolutions, so an image of at least 224x224 gives a map of class logits,
one per 32-pixel step (224x224: 1x1; 840x472: 20x8).

Smaller images are refused with a clear message rather than padded: below
224 pixels fc6 would see mostly zero padding, which is not what the network
was trained on, and its logits would mean little.

Weights come from user-supplied files (see ``models/README.md``), read by
:func:`inception_art.weights.vgg_params` into one canonical layout:
cross-correlation kernels for RGB input.
"""
import os
from pathlib import Path

from ..theano_env import lasagne
from ..weights import VGG_CONVS_PER_BLOCK, vgg_params
from .layers import AffinePixelLayer, _f32, conv
from . import MIN_SIZES
from .network import InputSizeError, Network
from .winograd import Winograd3x3Layer

MIN_SIZE = MIN_SIZES['vgg']

#: How the 3x3 convolutions are computed: ``'winograd'``
#: (:mod:`inception_art.nets.winograd`, for the layers with at least
#: :data:`WINOGRAD_MIN_CHANNELS` input channels and
#: :data:`WINOGRAD_MIN_TILES` output tiles, Theano's ``conv2d`` for the
#: others) or ``'corrmm'`` (Theano's ``conv2d``, all of them).
CONV3X3 = ('winograd', 'corrmm')
#: Winograd's GEMMs sum over the input channels: with conv1_1's 3 they are
#: too thin to beat CorrMM (measured 0.4-0.7x, forward + input gradient).
WINOGRAD_MIN_CHANNELS = 16
#: ... and over at least this many 2x2 output tiles. While the kernel
#: transform was redone every call it was only repaid over enough tiles
#: (conv5 at 224x224, 49 tiles, measured 0.7x CorrMM's speed); kept between
#: calls (:class:`~inception_art.nets.winograd.Winograd3x3`'s
#: ``keep_kernels``), conv5 on Winograd made the whole 224x224 step 4-9%
#: faster (``bench.studies.winograd_keep``), so every layer with enough
#: channels takes it.
WINOGRAD_MIN_TILES = 0


def models_dirs():
    """Where VGG weight files are looked for, in order: ``$INCEPTION_ART_MODELS``
    if set, the user's data folder (``$XDG_DATA_HOME/inception_art/models``,
    by default ``~/.local/share/inception_art/models``), then ``models/`` in
    the current folder (where ``make`` runs)."""
    folders = []
    if os.environ.get('INCEPTION_ART_MODELS'):
        folders.append(Path(os.environ['INCEPTION_ART_MODELS']))
    data_home = os.environ.get('XDG_DATA_HOME') or Path.home() / '.local' / 'share'
    folders.append(Path(data_home) / 'inception_art' / 'models')
    folders.append(Path('models'))
    return folders


def file_names(depth):
    """The published file names of VGG-``depth``, in the order they are preferred."""
    return ['vgg%d.pkl' % depth, 'imagenet-vgg-verydeep-%d.mat' % depth]


def default_path(depth, folder=None):
    """The first of :func:`file_names` present in ``folder``, or else in the
    first of :func:`models_dirs` that has one. None is found: a
    :class:`~inception_art.weights.WeightFileError` naming every folder."""
    folders = [Path(folder)] if folder else models_dirs()
    names = file_names(depth)
    for f in folders:
        for name in names:
            if (f / name).is_file():
                return f / name
    from ..weights import KNOWN_FILES, WeightFileError
    raise WeightFileError(
        ' or '.join(names), 'not found in %s' % ', '.join(str(f) for f in folders),
        'get one (%s) and put it in one of those folders, or set INCEPTION_ART_MODELS '
        'to its folder'
        % '; '.join('%s from %s' % (n, KNOWN_FILES[n]['published']) for n in names))


def build(depth=16, size=(224, 224), path=None, weights=None,
          conv3x3='winograd'):
    """Build VGG-``depth`` for RGB input of ``size`` (h, w).

    Parameters
    ----------
    depth : {16, 19}
    size : tuple of int
        Input height and width, each at least 224.
    path : path-like, optional
        Weight file (``.pkl`` or ``.mat``); default: see :func:`default_path`.
    weights : VGGWeights, optional
        Already loaded weights (tests pass small ones).
    conv3x3 : {'winograd', 'corrmm'}
        The 3x3 convolutions' implementation (see :data:`CONV3X3`).
    """
    if conv3x3 not in CONV3X3:
        raise ValueError('conv3x3 must be one of %s, got %r'
                         % (', '.join(CONV3X3), conv3x3))
    h, w = size
    if min(h, w) < MIN_SIZE:
        raise InputSizeError(
            'vgg%d needs images of at least %dx%d (fc6 is a 7x7 convolution '
            'over the 1/32 map); got %dx%d: use --canvas with both sides >= %d'
            % (depth, MIN_SIZE, MIN_SIZE, w, h, MIN_SIZE))
    if weights is None:
        weights = vgg_params(path or default_path(depth), depth)
    relu = lasagne.nonlinearities.rectify
    inp = lasagne.layers.InputLayer((None, 3, h, w))
    net = AffinePixelLayer(inp, mean=weights.mean_rgb, scale=[1.0] * 3)
    features = {}
    convs = iter(weights.convs)
    for block, count in enumerate(VGG_CONVS_PER_BLOCK[depth], start=1):
        for i in range(1, count + 1):
            W, b = next(convs)
            name = 'conv%d_%d' % (block, i)
            th, tw = ((s + 1) // 2 for s in net.output_shape[2:])
            if (conv3x3 == 'winograd' and W.shape[1] >= WINOGRAD_MIN_CHANNELS
                    and th * tw >= WINOGRAD_MIN_TILES):
                net = Winograd3x3Layer(net, W.shape[0], W=_f32(W), b=_f32(b),
                                       nonlinearity=relu, name=name)
            else:
                net = conv(net, W, b, relu, pad=1, name=name)
            features[name] = net
        net = features['pool%d' % block] = lasagne.layers.MaxPool2DLayer(net, 2)
    (W6, b6), (W7, b7), (W8, b8) = weights.fcs
    net = features['fc6'] = conv(net, W6, b6, relu, name='fc6')
    net = features['fc7'] = conv(net, W7, b7, relu, name='fc7')
    logits = features['fc8'] = conv(net, W8, b8, name='fc8')
    return Network(name='vgg%d' % depth, input=inp, logits=logits,
                   size=(h, w), features=features)
