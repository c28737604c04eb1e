"""The compiled optimisation step: network + objective (+ prior) -> Adam.

One Theano function, built once per network and image size. Everything
that changes at run time (target classes, learning rate, jitter shift,
prior strength) is a shared variable, so nothing recompiles.
"""
import numpy as np

from .adam import Adam
from .gradient import NormalisedGradient
from .theano_env import theano, T


#: The update rules, by name.
OPTIMIZERS = {'adam': Adam, 'gd': NormalisedGradient}


class ImageOptimizer:
    """Gradient ascent on an image for an objective of a network's logits.

    Parameters
    ----------
    network : inception_art.nets.network.Network
    objective : inception_art.objectives.ClassObjective or ChannelObjective
        Reads the logit map, or the feature layer named by its ``layer``.
    lr : float
        Learning rate on the 0..255 pixel scale (Adam: 5.0 in 2015).
    jitter : int
        Largest random shift, in pixels, of the image seen by the network
        at each step (0: none). A shifted view each step keeps the image
        from fitting the network's exact pixel grid.
    prior : object with ``term(image)``, optional
        A natural-image prior; its symbolic term is added to the loss.
    prior_strength : float
        Weight of the prior term.
    seed : int
        Seed of the jitter.
    optimizer : {'adam', 'gd'}
        ``'adam'`` (default, as in 2015) or ``'gd'``, plain gradient descent
        normalised by the mean absolute gradient
        (:class:`~inception_art.gradient.NormalisedGradient`). Either rule is
        the attribute ``adam`` (the name the callers use; both have ``lr``
        and ``reset()``).
    """

    def __init__(self, network, objective, lr=5.0, jitter=0, prior=None,
                 prior_strength=0.0, seed=0, optimizer='adam'):
        if optimizer not in OPTIMIZERS:
            raise ValueError('unknown optimizer %r; choose one of: %s'
                             % (optimizer, ', '.join(OPTIMIZERS)))
        h, w = network.size
        self.network, self.objective = network, objective
        self.image = theano.shared(np.full((1, 3, h, w), 128, dtype='float32'),
                                   name='image')
        self.shift = theano.shared(np.zeros(2, dtype='int32'), name='shift')
        self.prior_strength = theano.shared(np.float32(prior_strength),
                                            name='prior_strength')
        self.jitter = int(jitter)
        self.rng = np.random.RandomState(seed)

        seen = T.roll(T.roll(self.image, self.shift[0], axis=2), self.shift[1], axis=3)
        layer = getattr(objective, 'layer', None)
        out = (network.logit_map(seen) if layer is None
               else network.outputs(seen, [layer])[0])
        loss, logit = objective.loss(out)
        if prior is not None:
            loss = loss + self.prior_strength * prior.term(self.image)
        grad = T.grad(loss, self.image)
        self.adam = OPTIMIZERS[optimizer](self.image, lr=lr,
                                          constrain=lambda x: T.clip(x, 0.0, 255.0))
        self._step = theano.function([], [loss, logit],
                                     updates=self.adam.updates(grad),
                                     name='image_step')

    def set_image(self, image):
        """Start from ``image``: an (h, w, 3) array on the 0..255 scale."""
        self.image.set_value(np.ascontiguousarray(
            np.asarray(image, dtype='float32').transpose(2, 0, 1)[None]))

    def get_image(self):
        """The current image as an (h, w, 3) uint8 array."""
        return np.round(self.image.get_value()[0].transpose(1, 2, 0)).astype('uint8')

    def step(self):
        """One optimiser step; returns ``(loss, target_logit)`` as floats."""
        if self.jitter:
            self.shift.set_value(self.rng.randint(-self.jitter, self.jitter + 1,
                                                  size=2).astype('int32'))
        loss, logit = self._step()
        return float(loss), float(logit)
