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


def size_label(size):
    """``(h, w)`` -> ``'WxH'``."""
    h, w = size
    return '%dx%d' % (w, h)


def parse_size(text):
    """``'WxH'`` -> ``(h, w)``."""
    w, h = (int(v) for v in text.lower().split('x'))
    return h, w


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
