"""What the Theano and PyTorch benchmark workers share (numpy only).

Nothing here imports Theano or torch, so each worker process loads only
its own framework.
"""
import json
import os
import resource
import tempfile
import time

import numpy as np

NETS = ('efficientnet-lite0', 'vgg16')
#: Image sizes as (height, width); reported as WxH.
SIZES = ((224, 224), (252, 448), (472, 840))
#: The class the step ascends (980: volcano) and Adam's learning rate.
TARGET_CLASS = 980
LR = 5.0

#: VGG-16: 3x3 convolutions per block, block widths, fc widths, fc6 kernel.
VGG16_BLOCKS = (2, 2, 3, 3, 3)
VGG16_WIDTHS = (64, 128, 256, 512, 512)
VGG16_FC = (4096, 4096, 1000)
VGG16_FC6_KERNEL = 7
VGG_MEAN_RGB = (123.68, 116.779, 103.939)


def size_label(size):
    """``(h, w)`` -> ``'WxH'``."""
    h, w = size
    return '%dx%d' % (w, h)


def parse_size(text):
    """``'WxH'`` -> ``(h, w)``."""
    w, h = (int(v) for v in text.lower().split('x'))
    return h, w


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


def time_steps(step, warmup, repeats):
    """Call ``step()`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns ``(seconds per timed call, [first call's result, last call's
    result])``.
    """
    results = []
    for _ in range(warmup):
        results.append(step())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        results.append(step())
        times.append(time.perf_counter() - t0)
    return times, [results[0], results[-1]]


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0);
    returns whether it worked. Afterwards :func:`hwm_mb` is the peak since."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def hwm_mb():
    """Peak resident memory (VmHWM) of this process in MiB, or None."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def peak_rss_mb():
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (Linux reports KiB).

    Note: after :func:`reset_peak_rss` Linux reports the reset mark here too
    (both read the same counter), so read this first."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_json_atomic(path, data):
    """Write ``data`` as JSON to ``path`` through a temporary file + rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.json', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=1, sort_keys=False)
            f.write('\n')
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def stats(times):
    """Median, min and max of a list of seconds (None if empty)."""
    if not times:
        return None
    return {'median': float(np.median(times)), 'min': float(np.min(times)),
            'max': float(np.max(times)), 'n': len(times)}
