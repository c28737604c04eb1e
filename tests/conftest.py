"""Shared fixtures. Theano compiles are slow, so small networks are built
once per session and shared by the tests that need them."""
import os
import signal

import numpy as np
import pytest

from inception_art.theano_env import lasagne
from inception_art.nets.layers import (AffinePixelLayer, DepthwiseConvLayer,
                                       PadLayer, conv, relu6)
from inception_art.nets.network import Network

# Tests that expect "no VGG weights" must not find a user's real ones: the
# weight folder is models/ under each test's own working directory unless a
# test sets it (monkeypatch), here and in every subprocess a test starts.
os.environ.pop('INCEPTION_ART_MODELS', None)

# A shell that starts a job in the background (``make test &``, some CI
# runners) makes it ignore SIGINT, and every command it starts inherits
# that. The tests that send Ctrl-C as a terminal does need commands that
# take it: a handler, unlike "ignore", is not inherited across exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

TINY_CLASSES = 10


def tiny_network(size=(40, 48), seed=0):
    """A small random network with every layer kind the real ones use:
    input normalisation, asymmetric padding, stride-2 convolution, depthwise
    convolution, ReLU6, a residual sum, max-pooling and a 1x1 classifier."""
    rng = np.random.RandomState(seed)

    def w(*shape):
        return rng.normal(0, 1.0 / np.sqrt(np.prod(shape[1:])), shape)

    inp = lasagne.layers.InputLayer((None, 3) + tuple(size))
    net = AffinePixelLayer(inp, mean=[127.5] * 3, scale=[1 / 127.5] * 3)
    net = conv(PadLayer(net, 0, 1, 0, 1), w(8, 3, 3, 3), rng.normal(0, .1, 8), relu6, stride=2)
    short = net
    net = DepthwiseConvLayer(PadLayer(net, 1, 1, 1, 1), w(8, 1, 3, 3), rng.normal(0, .1, 8),
                             nonlinearity=relu6)
    net = lasagne.layers.ElemwiseSumLayer([conv(net, w(8, 8, 1, 1), np.zeros(8)), short])
    net = lasagne.layers.MaxPool2DLayer(net, 2)
    net = conv(net, w(16, 8, 3, 3), np.zeros(16), lasagne.nonlinearities.rectify, pad=1)
    logits = conv(net, w(TINY_CLASSES, 16, 1, 1), rng.normal(0, .1, TINY_CLASSES))
    return Network(name='tiny', input=inp, logits=logits, size=tuple(size),
                   features={'logits': logits})


def central_difference(loss, shared, index, eps):
    """``d loss() / d shared[index]`` by central differences: ``shared``
    (a Theano shared variable) is moved by +-``eps`` at ``index``, then
    restored."""
    start = shared.get_value()
    values = []
    for sign in (1, -1):
        moved = start.copy()
        moved[index] += sign * eps
        shared.set_value(moved)
        values.append(float(loss()))
    shared.set_value(start)
    return (values[0] - values[1]) / (2 * eps)


@pytest.fixture(scope='session')
def tiny():
    return tiny_network()


# --- no silent skips in CI -----------------------------------------------------
# CI sets INCEPTION_ART_NO_SKIPS=1 (.ci/run): a test that skips there (a
# package or server missing from a fresh machine) fails the run instead of
# hiding what was not tested.

_SKIPPED = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    import os
    if os.environ.get('INCEPTION_ART_NO_SKIPS') == '1' and _SKIPPED:
        print('\nerror: %d test(s) skipped, which CI does not allow:\n  %s'
              % (len(_SKIPPED), '\n  '.join(_SKIPPED)))
        session.exitstatus = 1
