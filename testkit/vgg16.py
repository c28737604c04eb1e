"""Random VGG-16 weights of the real shapes (numpy only).

The real weights cannot be downloaded here, and a step's cost does not
depend on their values: the tests (``tests/test_winograd.py``) and the
benchmarks build VGG-16 from these. The shapes are written out here from
VGG's definition, not taken from :mod:`inception_art.weights`, so the
benchmark's check that the two agree means something.
"""
import numpy as np

#: 3x3 convolutions per block, block widths, fc widths, fc6 kernel.
VGG16_BLOCKS = (2, 2, 3, 3, 3)
VGG16_WIDTHS = (64, 128, 256, 512, 512)
VGG16_FC = (4096, 4096, 1000)
VGG16_FC6_KERNEL = 7
VGG_MEAN_RGB = (123.68, 116.779, 103.939)


def vgg16_shapes():
    """``[(name, W shape, b shape)]``: the 13 convolutions, then fc6-fc8 as
    convolutions (fc6 7x7 over pool5, fc7 and fc8 1x1)."""
    shapes, cin = [], 3
    for block, (count, width) in enumerate(zip(VGG16_BLOCKS, VGG16_WIDTHS), 1):
        for i in range(1, count + 1):
            shapes.append(('conv%d_%d' % (block, i), (width, cin, 3, 3), (width,)))
            cin = width
    k = VGG16_FC6_KERNEL
    for name, width in zip(('fc6', 'fc7', 'fc8'), VGG16_FC):
        shapes.append((name, (width, cin, k, k), (width,)))
        cin, k = width, 1
    return shapes


def random_vgg16(seed=0):
    """Random VGG-16 weights of the real shapes, identical in every process.

    He-normal kernels (the last layer unit-variance scaled) and small
    biases, so activations neither vanish nor explode through 16 layers
    and both frameworks see non-trivial logits.

    Returns
    -------
    convs, fcs : lists of (W, b) float32
        ``W`` is (out, in, kh, kw), a cross-correlation kernel.
    mean_rgb : float32 array (3,)
    """
    rng = np.random.default_rng(seed)
    layers = []
    shapes = vgg16_shapes()
    for i, (_, w_shape, b_shape) in enumerate(shapes):
        fan_in = int(np.prod(w_shape[1:]))
        gain = 1.0 if i == len(shapes) - 1 else 2.0
        W = rng.standard_normal(w_shape, dtype=np.float32)
        W *= np.float32(np.sqrt(gain / fan_in))
        b = (rng.standard_normal(b_shape, dtype=np.float32) * np.float32(0.01))
        layers.append((W, b))
    return layers[:13], layers[13:], np.asarray(VGG_MEAN_RGB, dtype=np.float32)
