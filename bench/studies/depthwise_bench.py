"""Time the depthwise C op against Theano's grouped ``conv2d``.

At EfficientNet-Lite0-like shapes, for each implementation: the forward
pass alone, and the forward pass plus the gradient to the input (what a
pixel-ascent step needs: the weights are fixed). Prints medians of several
runs (milliseconds) and the speed-up of the op. Not a test::

    python -m bench.studies.depthwise_bench [--repeats 30]
"""
import argparse

import numpy as np

from bench import harness
from inception_art.theano_env import theano, T
from inception_art.nets.depthwise import depthwise_correlate

#: (input shape, kernel, stride): the padded input of one depthwise layer.
SHAPES = [((1, 32, 114, 114), 3, 1),
          ((1, 96, 113, 113), 3, 2),
          ((1, 144, 58, 58), 3, 1),
          ((1, 144, 59, 59), 5, 2),
          ((1, 240, 32, 32), 5, 1),
          ((1, 480, 16, 16), 3, 1),
          ((1, 672, 18, 18), 5, 1),
          ((1, 1152, 11, 11), 5, 1)]


def build(shape, k, s, grouped):
    """Compiled (forward, forward + input gradient) functions."""
    rng = np.random.RandomState(0)
    c = shape[1]
    x = theano.shared(rng.randn(*shape).astype('float32'), name='x')
    w = theano.shared(rng.randn(c, 1, k, k).astype('float32') * 0.1, name='w')
    if grouped:
        y = T.nnet.conv2d(x, w, num_groups=c, filter_flip=False,
                          subsample=(s, s))
    else:
        y = depthwise_correlate(x, w, stride=s)
    oh, ow = [(n - k) // s + 1 for n in shape[2:]]
    g = theano.shared(rng.randn(shape[0], c, oh, ow).astype('float32'))
    gx = T.grad(None, x, known_grads={y: g})
    # borrowed outputs: no copy, no reduction, only the convolutions run
    fwd = theano.function([], theano.Out(y, borrow=True))
    both = theano.function([], [theano.Out(y, borrow=True),
                                theano.Out(gx, borrow=True)])
    return fwd, both


def median_time(f, repeats):
    """Median milliseconds of ``repeats`` calls after one to warm up
    (allocations, caches)."""
    times, _ = harness.time_steps(f, 1, repeats)
    return float(np.median(times)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=30)
    args = parser.parse_args()
    print('%-22s %2s %2s | %9s %9s %6s | %9s %9s %6s' % (
        'padded input', 'k', 's', 'fwd conv', 'fwd op', 'ratio',
        'f+gx conv', 'f+gx op', 'ratio'))
    totals = np.zeros(4)
    for shape, k, s in SHAPES:
        row = []
        for grouped in (True, False):
            fwd, both = build(shape, k, s, grouped)
            row += [median_time(fwd, args.repeats),
                    median_time(both, args.repeats)]
        conv_f, conv_b, op_f, op_b = row
        totals += row
        print('%-22s %2d %2d | %9.3f %9.3f %5.1fx | %9.3f %9.3f %5.1fx' % (
            shape, k, s, conv_f, op_f, conv_f / op_f, conv_b, op_b,
            conv_b / op_b))
    conv_f, conv_b, op_f, op_b = totals
    print('%-28s | %9.3f %9.3f %5.1fx | %9.3f %9.3f %5.1fx' % (
        'sum of the rows (ms)', conv_f, op_f, conv_f / op_f, conv_b, op_b,
        conv_b / op_b))


if __name__ == '__main__':
    main()
