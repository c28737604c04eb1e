"""Update rules for one image, written by hand as Theano updates.

Each rule takes the shared variable it moves (the image's parameters) and
returns, for a symbolic gradient, the list of ``(shared, new value)`` pairs
of one step: data, as in Lasagne's ``updates``. The learning rate and every
piece of state are shared variables, so a rule can be reset (the 2015
stream reset Adam at every keyframe) and its learning rate changed without
recompiling anything.

* :class:`Adam`: Kingma & Ba's rule, textbook constants (beta1 0.9, beta2
  0.999).
* :class:`Adam2015`: the rule of the 2015 code, whose betas weigh the *new*
  gradient (see ``Adam2015``): almost no averaging, so every pixel moves by
  close to ``lr`` at every step, a near-sign step.
* :class:`NormalisedGradient`: plain gradient descent divided by the mean
  absolute gradient, the baseline that Adam is held against.
"""
import numpy as np

from .theano_env import theano, T


def _identity(x):
    return x


class Adam:
    """Adam updates for a single shared variable.

    Parameters
    ----------
    param : theano shared variable
        The variable to optimise.
    lr : float
        Learning rate, in the units of ``param`` (5.0 on the 0..255 pixel
        scale in 2015).
    beta1, beta2, epsilon : float
        The weights of the *previous* moment estimates (textbook convention)
        and the denominator's guard.
    constrain : callable, optional
        Applied to the updated value, e.g. clipping pixels to [0, 255].
    """

    def __init__(self, param, lr=5.0, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 constrain=None):
        self.param = param
        shape = param.get_value(borrow=True).shape
        zeros = np.zeros(shape, dtype='float32')
        self.m = theano.shared(zeros.copy(), name='adam_m')
        self.v = theano.shared(zeros.copy(), name='adam_v')
        self.t = theano.shared(np.float32(0), name='adam_t')
        self.lr = theano.shared(np.float32(lr), name='adam_lr')
        # Python floats, so Theano keeps the graph in float32.
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.constrain = constrain or _identity

    def updates(self, grad):
        """The list of ``(shared, new value)`` pairs for one step on ``grad``."""
        b1, b2 = self.beta1, self.beta2
        t = self.t + 1
        m = b1 * self.m + (1 - b1) * grad
        v = b2 * self.v + (1 - b2) * T.sqr(grad)
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        new = self.param - self.lr * m_hat / (T.sqrt(v_hat) + self.epsilon)
        return [(self.m, m), (self.v, v), (self.t, t),
                (self.param, self.constrain(new))]

    def reset(self):
        """Forget the moment estimates and restart bias correction."""
        for shared in (self.m, self.v):
            shared.set_value(np.zeros_like(shared.get_value(borrow=True)))
        self.t.set_value(np.float32(0))


class Adam2015(Adam):
    """The 2015 code's Adam: its betas weigh the *new* gradient.

    ``m = 0.9 g + 0.1 m_prev``, ``v = 0.999 g^2 + 0.001 v_prev``, bias
    correction by ``1 - 0.1^t`` and ``1 - 0.001^t``, step
    ``lr m_hat / (sqrt(v_hat) + 1e-8)`` (the 2015 code's
    optimiser). That is textbook Adam with beta1 = 0.1 and beta2 = 0.001,
    which is how it is computed here; the parameters keep the 2015 names and
    meaning (the weight of the new gradient).

    Notes
    -----
    With so little averaging ``m_hat / sqrt(v_hat)`` is close to the sign of
    the gradient, so each pixel moves by about ``lr`` whatever its gradient's
    size. With the clip to [0, 255] this is where the 2015 pictures' saturated
    colours come from.
    """

    def __init__(self, param, lr=5.0, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 constrain=None):
        super().__init__(param, lr=lr, beta1=1 - float(beta1), beta2=1 - float(beta2),
                         epsilon=epsilon, constrain=constrain)


class NormalisedGradient:
    """Gradient descent, ``x <- x - lr * g / (mean|g| + epsilon)``.

    A raw ``lr * grad`` step is not fair to compare with Adam: the
    gradient's scale depends on the network, the objective and the prior
    strength. Dividing by the mean absolute gradient (the 2015 DeepDream
    code's convention) makes ``lr`` the mean per-parameter change of a step,
    as Adam's first step is; afterwards the direction is the gradient's own
    (no per-parameter rescaling, no momentum).

    Parameters
    ----------
    param : theano shared variable
    lr : float
        Mean step, in the units of ``param``.
    epsilon : float
        Keeps a zero gradient from dividing by zero (the step is then 0).
    constrain : callable, optional
    """

    def __init__(self, param, lr=5.0, epsilon=1e-8, constrain=None):
        self.param = param
        self.lr = theano.shared(np.float32(lr), name='gd_lr')
        self.epsilon = float(epsilon)   # a Python float keeps the graph float32
        self.constrain = constrain or _identity

    def updates(self, grad):
        """The ``(shared, new value)`` pair for one step on ``grad``."""
        step = self.lr * grad / (abs(grad).mean() + self.epsilon)
        return [(self.param, self.constrain(self.param - step))]

    def reset(self):
        """Nothing to forget: the rule has no state."""


#: The update rules, by name.
RULES = {'adam': Adam, 'adam2015': Adam2015, 'gd': NormalisedGradient}
