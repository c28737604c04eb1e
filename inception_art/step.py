"""The compiled optimisation step, assembled from its parts.

One Theano function, built once per canvas size:

    parameters --param--> image --transforms--> view --network views--> maps
                            |                                             |
                            +--prior term--+           objective <--------+
                                           v               v
                                     loss = objective + strength * prior
                                           |
                          gradient --update rule--> new parameters

* parameterisation (:mod:`~inception_art.param`): pixels or a
  decorrelated-colour Fourier image;
* transforms (:mod:`~inception_art.transforms`): a roll jitter and a random
  shift, scale and rotation;
* network views (:mod:`~inception_art.views`): the canvas pooled by factors;
* objective (:mod:`~inception_art.objectives`) and prior
  (:mod:`~inception_art.prior`), which always acts on the image itself;
* update rule (:mod:`~inception_art.updates`).

Everything that changes at run time (target classes, learning rate,
transform draws, prior strength) is a shared variable, so nothing
recompiles.
"""
import numpy as np
from scipy import ndimage

from . import param as parameterisations
from .theano_env import theano, T
from .transforms import Jitter, RandomAffine
from .transparency import Backdrops, composite, ground, opacity
from .updates import RULES
from .views import NetworkViews, mean_loss


class ImageOptimizer:
    """Gradient ascent on an image for an objective of a network's output.

    Parameters
    ----------
    network : Network or NetworkViews
        A network built for the canvas size (one full-size view), or the
        pooled views of a canvas.
    objective : ClassObjective or ChannelObjective
        Reads the logit map, or the feature layer named by its ``layer``.
    lr : float
        Learning rate, in the parameters' units (pixels: the 0..255 scale,
        5.0 in 2015; Fourier: about the RMS change of the image before its
        sigmoid).
    jitter : int
        Largest roll of the view at each step, in pixels (0: none).
    prior : PatchPrior, optional
        A natural-image prior; its term, on the image, joins the loss.
    prior_strength : float
        Weight of the prior term.
    seed : int
        Seed of the transforms' draws.
    rule : {'adam', 'adam2015', 'gd'}
        The update rule (:data:`inception_art.updates.RULES`).
    param : {'pixels', 'fourier'} or a parameterisation object
        How the image is represented (:mod:`inception_art.param`).
    affine : dict, optional
        Keyword arguments of :class:`~inception_art.transforms.RandomAffine`
        (``shift``, ``scale``, ``degrees``): a random view each step (left out
        of the graph when every draw would be the identity).
    feature_statistics : bool
        Add the network's batch-norm statistics term
        (:mod:`inception_art.feature_prior`), weighted by ``stats_strength``.
    transparent : bool
        Give the Fourier image an opacity, show it over a new random
        backdrop each step and charge ``transparency`` times its mean
        opacity (:mod:`inception_art.transparency`).
    """

    def __init__(self, network, objective, lr=5.0, jitter=0, prior=None,
                 prior_strength=0.0, seed=0, rule='adam', param='pixels',
                 affine=None, feature_statistics=False, stats_strength=0.0,
                 transparent=False, transparency=0.0):
        if rule not in RULES:
            raise ValueError('unknown update rule %r; choose one of: %s'
                             % (rule, ', '.join(RULES)))
        views = network if isinstance(network, NetworkViews) else NetworkViews.of(network)
        self.views, self.objective, self.prior = views, objective, prior
        self.size = views.size
        self.picture = (param if not isinstance(param, str)
                        else parameterisations.build(param, self.size, transparent=transparent))
        self.prior_strength = theano.shared(np.float32(prior_strength),
                                            name='prior_strength')
        self.stats_strength = theano.shared(np.float32(stats_strength),
                                            name='stats_strength')
        self.transparency = theano.shared(np.float32(transparency), name='transparency')
        self.rng = np.random.RandomState(seed)
        self.jitter = Jitter(jitter)
        self.transforms = [self.jitter]
        if affine:
            view = RandomAffine(self.size, **affine)
            if view.active:
                self.transforms.append(view)

        image = self.picture.image
        #: Whatever draws a random state before each step.
        self.random_parts = list(self.transforms) + views.random_parts
        if self.picture.transparent:
            backdrops = Backdrops(self.size)
            self.random_parts.append(backdrops)
            image = composite(image, self.picture.opacity, backdrops.image)
        #: The symbolic image the transforms and the prior see (a transparent
        #: one over this step's backdrop).
        self.image = image
        seen = image
        for transform in self.transforms:
            seen = transform(seen)
        loss, logit = mean_loss(objective, views.outputs(seen, getattr(objective, 'layer', None)))
        if self.picture.transparent:
            loss = loss + self.transparency * opacity(self.picture.opacity)
        if prior is not None:
            loss = loss + self.prior_strength * prior.term(image, size=self.size)
            self.random_parts.append(prior)
        if feature_statistics:
            loss = loss + self.stats_strength * views.feature_statistics(seen)
        grad = T.grad(loss, self.picture.param)
        self.rule = RULES[rule](self.picture.param, lr=lr,
                                     constrain=self.picture.constrain)
        self._step = theano.function([], [loss, logit], updates=self.rule.updates(grad),
                                     name='image_step')

    @property
    def network(self):
        """The network of the first view."""
        return next(iter(self.views.networks.values()), self.views.crop_network)

    def restart(self, image, run=None):
        """Start again from ``image`` ((h, w, 3), 0..255): the update rule
        forgets its state.

        ``run`` is the run part of the render settings
        (:attr:`inception_art.recipes.RenderSettings.run`, or any mapping of
        some of its names: ``lr``, ``jitter``, ``prior_strength``, ``seed``);
        what it names is set, what it leaves out keeps its value.
        """
        run = dict(run or {})
        unknown = set(run) - set(self.RUN)
        if unknown:
            raise ValueError('not a run setting: %s' % ', '.join(sorted(unknown)))
        for name, value in run.items():
            if value is not None:
                self.RUN[name](self, value)
        self.rule.reset()
        self.set_image(image)

    #: How each run setting is set: a shared variable, or the draws' seed.
    RUN = {
        'lr': lambda self, v: self.rule.lr.set_value(np.float32(v)),
        'prior_strength': lambda self, v: self.prior_strength.set_value(np.float32(v)),
        'stats_strength': lambda self, v: self.stats_strength.set_value(np.float32(v)),
        'jitter': lambda self, v: setattr(self.jitter, 'pixels', int(v)),
        'transparency': lambda self, v: self.transparency.set_value(np.float32(v)),
        'seed': lambda self, v: self._seed(v),
    }

    def _seed(self, seed):
        self.rng.seed(seed)
        if self.picture.transparent:
            self.picture.ground = ground(self.size, seed)

    def set_image(self, image):
        """Make the image ``image``: an (h, w, 3) array on the 0..255 scale
        (a phase-only image draws the phases a flat one lacks from the
        step's random state)."""
        self.picture.set_image(image, rng=self.rng if self.picture.kind == 'phase' else None)

    def get_float_image(self):
        """The current image, (h, w, 3) float32 on the 0..255 scale."""
        return self.picture.get_image()

    def get_image(self):
        """The current image as an (h, w, 3) uint8 array."""
        return np.round(np.clip(self.get_float_image(), 0, 255)).astype('uint8')

    def blur(self, sigma):
        """Blur the image spatially by a Gaussian of ``sigma`` pixels: a cheap
        way to damp the high frequencies that fool one network and nobody
        else (the update rule's state is kept)."""
        self.set_image(ndimage.gaussian_filter(self.get_float_image(), (sigma, sigma, 0)))

    def step(self):
        """One step; returns ``(loss, target_logit)`` as floats."""
        for part in self.random_parts:
            part.randomise(self.rng)
        loss, logit = self._step()
        return float(loss), float(logit)

    def run(self, steps, blur=0.0, blur_every=0, blur_after_last=False, callback=None):
        """Take ``steps`` steps; returns the last ``(loss, target_logit)``.

        Parameters
        ----------
        steps : int
        blur, blur_every : float, int
            Blur the image by ``blur`` pixels (:meth:`blur`) after every
            ``blur_every``-th step (0 for either: never).
        blur_after_last : bool
            Whether the schedule may blur after the final step too. A
            picture is shown as it left the optimiser, so a run that ends a
            picture says False; one that hands its image on (an octave to
            the next) says True.
        callback : callable, optional
            ``callback(i, loss, logit)`` after step ``i`` (from 0).
        """
        loss = logit = float('nan')
        for i in range(steps):
            loss, logit = self.step()
            if callback is not None:
                callback(i, loss, logit)
            if blur and blur_every and (i + 1) % blur_every == 0 and (
                    blur_after_last or i + 1 < steps):
                self.blur(blur)
        return loss, logit
