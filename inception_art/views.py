"""What the network sees of the canvas: views average-pooled by factors.

The 2015 stills optimised a large canvas (1920x1080) but showed it to the
network average-pooled by 3 and by 4: two fully convolutional views whose
losses were averaged. The network's 224-pixel receptive field then covers
670-900 canvas pixels, so objects are large on the canvas, at a fraction of
the network's cost at full size. Pool 1 is the plain full-size view.

A network is built for one input size (:mod:`inception_art.nets`), so each
pooling factor has its own network, built for the pooled size.
"""



class NetworkViews:
    """The networks that see a canvas of ``size``, one per pooling factor.

    Parameters
    ----------
    model : str or callable
        Network name (:data:`inception_art.nets.NAMES`), or a function that
        builds a network for a size (h, w).
    size : tuple (h, w)
        The canvas.
    factors : tuple of int
        Average-pooling factors (1: the canvas itself); the pooled size drops
        the remainder rows and columns.
    networks : dict of int to Network, optional
        Already built networks by factor, each for its pooled size (the rest
        are built here).
    crops : inception_art.transforms.CentreCrops, optional
        Crops of the canvas, seen as one batch by a network built for their
        size, beside the pooled views (``factors`` may then be empty).
    """

    def __init__(self, model, size, factors=(1,), networks=None, crops=None):
        from . import nets
        self.model, self.size = model, tuple(size)
        self.factors = tuple(int(f) for f in factors)
        networks = dict(networks or {})
        check(model, self.size, [f for f in self.factors if f not in networks])
        h, w = self.size
        build = model if callable(model) else (lambda size: nets.build(model, size))
        self.networks = {f: networks.get(f) or build((h // f, w // f)) for f in self.factors}
        self.crops = crops
        self.crop_network = build((crops.out, crops.out)) if crops else None
        if not self.networks and not crops:
            raise ValueError('the network sees nothing: give --views or --crops')

    @classmethod
    def of(cls, network):
        """The single full-size view of an already built ``network``."""
        return cls(network.name, network.size, (1,), {1: network})

    def pooled(self, image, factor):
        from theano.tensor.signal.pool import pool_2d
        if factor == 1:
            return image
        return pool_2d(image, ws=(factor, factor), ignore_border=True,
                       mode='average_exc_pad')

    def seen(self, image):
        """``[(network, what it sees)]`` for every view of ``image``."""
        seen = [(network, self.pooled(image, f)) for f, network in self.networks.items()]
        if self.crops:
            seen.append((self.crop_network, self.crops(image)))
        return seen

    def outputs(self, image, layer=None):
        """One symbolic map per view (the crops' batch is one): the logit
        map, or the feature layer ``layer``."""
        return [network.logit_map(x) if layer is None else network.outputs(x, [layer])[0]
                for network, x in self.seen(image)]

    def feature_statistics(self, image):
        """The batch-norm statistics term (:mod:`inception_art.feature_prior`)
        averaged over the views."""
        from .feature_prior import feature_statistics_term
        terms = [feature_statistics_term(network, x) for network, x in self.seen(image)]
        return sum(terms) / float(len(terms))

    @property
    def random_parts(self):
        """What draws a random state before each step (the crops)."""
        return [self.crops] if self.crops else []


def check(model, size, factors):
    """Raise a one-line error unless every pooled view of a ``size`` canvas
    is large enough for ``model`` (checked before anything is built; a
    network-building function is not checked)."""
    from . import nets
    h, w = size
    if not factors or callable(model):
        return
    if min(factors) < 1:
        raise ValueError('network views must be pooling factors >= 1, got %s'
                         % ','.join(map(str, factors)))
    least = nets.min_size(model)
    for f in factors:
        if min(h // f, w // f) < least:
            raise ValueError('view pooled by %d of a %dx%d canvas is %dx%d, smaller than '
                             '%s\'s minimum %dx%d; use smaller --views or a larger --size'
                             % (f, w, h, w // f, h // f, model, least, least))


def mean_loss(objective, maps):
    """The objective's ``(loss, target)`` averaged over the views' maps."""
    pairs = [objective.loss(m) for m in maps]
    n = float(len(pairs))
    return (sum(p[0] for p in pairs) / n, sum(p[1] for p in pairs) / n)



