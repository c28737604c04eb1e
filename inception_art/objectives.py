"""What the image is optimised for: class objectives on a network's logit map.

An objective turns a symbolic logit map (N, 1000, h, w) into a scalar loss
to *minimise* and a scalar "target logit" to report. Its targets are Theano
shared variables, so changing the subject never recompiles the step.

Region layout, as in the 2015 stream: class A on the lower half of the map,
class B on the upper half (A = B for one class). With an odd number of
rows the middle row belongs to both halves; a single row is both halves.

:class:`ChannelObjective` asks for one channel of an intermediate layer
instead (the "top-level features" of the 2015 post's title); an objective's
``layer`` attribute names the network output it reads (None: the logit map).
"""
import numpy as np

from .theano_env import theano, T

#: ``'logit'`` is the 2015 code's objective; ``'logit-plain'`` the same
#: without its mean-of-all-logits term (see :class:`ClassObjective`).
KINDS = ('logit', 'logit-plain', 'prob', 'loglik')


def halves(logit_map):
    """``(upper, lower)`` row halves of a map (N, K, h, w)."""
    h = logit_map.shape[2]
    return logit_map[:, :, :(h + 1) // 2], logit_map[:, :, h // 2:]


def log_softmax(logit_map):
    """Log-probabilities over the class axis at every position."""
    shifted = logit_map - logit_map.max(axis=1, keepdims=True)
    return shifted - T.log(T.exp(shifted).sum(axis=1, keepdims=True))


class ClassObjective:
    """Ask for class A below and class B above.

    Parameters
    ----------
    kind : {'logit', 'logit-plain', 'prob', 'loglik'}
        ``'logit'`` (the 2015 objective, default): minimise
        ``-mean(logit[A] | lower) - mean(logit[B] | upper) + mean(all logits)``;
        the last term keeps the other classes down. ``'logit-plain'``: the
        same without that term (the target logits alone). ``'prob'``: the softmax
        probabilities of A and B instead; ``'loglik'``: their log-probabilities.
        The write-up argued that the last two make the network suppress the
        other classes rather than strengthen the wanted one.
    classes : tuple of int
        ``(A,)`` or ``(A, B)``.
    """

    #: The network output the loss reads: None is the logit map.
    layer = None

    def __init__(self, kind='logit', classes=(0,)):
        if kind not in KINDS:
            raise ValueError('unknown objective %r; choose one of: %s'
                             % (kind, ', '.join(KINDS)))
        self.kind = kind
        self.class_a = theano.shared(np.int32(0), name='class_a')
        self.class_b = theano.shared(np.int32(0), name='class_b')
        self.set_classes(*classes)

    def set_classes(self, a, b=None):
        """Change the target classes (B defaults to A); no recompilation."""
        self.class_a.set_value(np.int32(a))
        self.class_b.set_value(np.int32(a if b is None else b))

    @property
    def classes(self):
        return int(self.class_a.get_value()), int(self.class_b.get_value())

    def loss(self, logit_map):
        """Symbolic ``(loss, target_logit)`` for a logit map (N, K, h, w)."""
        upper, lower = halves(logit_map)
        logit = 0.5 * (lower[:, self.class_a].mean() + upper[:, self.class_b].mean())
        if self.kind == 'logit':
            return -2 * logit + logit_map.mean(), logit
        if self.kind == 'logit-plain':
            return -2 * logit, logit
        scores = log_softmax(logit_map)
        if self.kind == 'prob':
            scores = T.exp(scores)
        upper, lower = halves(scores)
        return -(lower[:, self.class_a].mean() + upper[:, self.class_b].mean()), logit


class ChannelObjective:
    """Ask for one channel of a named layer: maximise its mean activation.

    Parameters
    ----------
    layer : str
        A key of the network's ``features`` (e.g. ``'block15'`` or
        ``'head'`` of EfficientNet-Lite, ``'conv5_3'`` of VGG).
    channel : int
        The channel; a shared variable, so changing it never recompiles.

    The loss is ``-mean(activation[:, channel])`` over the batch and all
    positions; the reported value (in place of a target logit) is that mean.
    """

    def __init__(self, layer, channel=0):
        self.layer = layer
        self.channel = theano.shared(np.int32(0), name='channel')
        self.set_channel(channel)

    def set_channel(self, channel):
        """Change the channel (no recompilation)."""
        if channel < 0:
            raise ValueError('channel must be >= 0, got %r' % (channel,))
        self.channel.set_value(np.int32(channel))

    def set_classes(self, a, b=None):
        """Select channel ``a``: the render loop's name for setting the
        target (:func:`inception_art.loop.render` calls it); ``b`` must be
        None or ``a``, since a channel has no region layout."""
        if b is not None and b != a:
            raise ValueError('a channel objective takes one channel, got %r and %r' % (a, b))
        self.set_channel(a)

    def loss(self, feature_map):
        """Symbolic ``(loss, mean activation)`` for a map (N, C, h, w)."""
        value = feature_map[:, self.channel].mean()
        return -value, value
