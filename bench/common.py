"""What the step benchmarks measure: the networks, sizes, class and rate
(numpy-free constants and size labels).

Shared by :mod:`bench.run`, its Theano and PyTorch workers and
:mod:`bench.winograd_bench`. Nothing here imports Theano or torch, so each
worker process loads only its own framework.
"""
NETS = ('efficientnet-lite0', 'vgg16')
#: Image sizes as (height, width); reported as WxH.
SIZES = ((224, 224), (252, 448), (472, 840))
#: The class the step ascends (980: volcano) and Adam's learning rate.
TARGET_CLASS = 980
LR = 5.0


def size_label(size):
    """``(h, w)`` -> ``'WxH'``."""
    h, w = size
    return '%dx%d' % (w, h)


def parse_size(text):
    """``'WxH'`` -> ``(h, w)``."""
    w, h = (int(v) for v in text.lower().split('x'))
    return h, w
