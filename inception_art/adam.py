"""Adam (Kingma & Ba 2014), written by hand as Theano updates on one image.

The moments and the step counter are shared variables, so the optimiser
can be reset (the 2015 stream reset it at every keyframe) and its learning
rate changed without recompiling anything.
"""
import numpy as np

from .theano_env import theano, T


class Adam:
    """Adam updates for a single shared variable.

    Parameters
    ----------
    param : theano shared variable
        The variable to optimise (here the image, 0..255 scale).
    lr : float
        Learning rate, in the units of ``param`` (pixels): 5.0 in 2015.
    beta1, beta2, epsilon : float
        Adam's usual constants.
    constrain : callable, optional
        Applied to the updated value, e.g. clipping to [0, 255].
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
        self.constrain = constrain or (lambda x: x)

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
