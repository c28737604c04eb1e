"""Plain gradient descent on one image, the baseline that Adam is held against.

The 2015 write-up says Adam sped the optimisation up; to test that, the
alternative must be plain gradient descent with a step size that is fair to
it. A raw ``lr * grad`` step is not: the gradient's scale depends on the
network, the objective and the prior strength, so no single learning rate
is comparable across them. This rule divides the gradient by its mean
absolute value at every step (the convention of the 2015 "DeepDream"
code), so ``lr`` is the mean per-pixel change of each step, on the 0..255
scale. Adam's first step moves every pixel by exactly ``lr`` too, so the
two start out at the same step length; afterwards Adam's per-pixel steps
shrink where the gradient's sign fluctuates, the normalised gradient's do
not, and the direction is the gradient's own (no per-pixel rescaling, no
momentum).

The class has Adam's interface (``lr``, ``updates``, ``reset``), so the
render loop drives either.
"""
import numpy as np

from .theano_env import theano, T


class NormalisedGradient:
    """Gradient descent, ``x <- x - lr * g / (mean|g| + epsilon)``.

    Parameters
    ----------
    param : theano shared variable
        The variable to optimise (here the image, 0..255 scale).
    lr : float
        Mean per-pixel step, in the units of ``param`` (pixels).
    epsilon : float
        Keeps a zero gradient from dividing by zero (the step is then 0).
    constrain : callable, optional
        Applied to the updated value, e.g. clipping to [0, 255].
    """

    def __init__(self, param, lr=5.0, epsilon=1e-8, constrain=None):
        self.param = param
        self.lr = theano.shared(np.float32(lr), name='gd_lr')
        self.epsilon = float(epsilon)   # a Python float keeps the graph float32
        self.constrain = constrain or (lambda x: x)

    def updates(self, grad):
        """The ``(shared, new value)`` pair for one step on ``grad``."""
        step = self.lr * grad / (abs(grad).mean() + self.epsilon)
        return [(self.param, self.constrain(self.param - step))]

    def reset(self):
        """Nothing to forget: the rule has no state (Adam's interface)."""
