"""What keeping the Winograd kernels' transform between steps buys VGG-16.

Two comparisons, each in one process with the two variants' steps
alternating (the machine's drift cancels in the ratio):

* ``keep``: the transform kept (``keep_kernels``) against redone every call,
  at 224x224, 448x252 and 840x472;
* ``conv5``: at 224x224, conv5 (14x14, 49 tiles) on Winograd against on
  CorrMM, both with the transform kept.

VGG-16 with random weights of the real shapes, as ``bench.winograd_bench``::

    PYTHONPATH=. .venv/bin/python -m bench.studies.winograd_keep

writes ``bench/studies/winograd_keep.json``.
"""
import time

import numpy as np

from bench import common, harness
from bench.theano_worker import build_network

OUT = 'bench/studies/winograd_keep.json'
ROUNDS = 6


def optimizer(size, keep=True, min_tiles=0):
    from inception_art.theano_env import lasagne
    from inception_art.nets import vgg
    from inception_art.nets.winograd import Winograd3x3Layer
    from inception_art.objectives import ClassObjective
    from inception_art.step import ImageOptimizer
    vgg.WINOGRAD_MIN_TILES = min_tiles
    net = build_network('vgg16', size)
    for layer in lasagne.layers.get_all_layers(net.logits):
        if isinstance(layer, Winograd3x3Layer):
            layer.keep_kernels = keep
    return ImageOptimizer(net, ClassObjective(classes=(common.TARGET_CLASS,)), lr=common.LR)


def compare(size, a, b):
    for step in (a.step, b.step, a.step, b.step):      # warm-up
        step()
    ta, tb = harness.round_robin((a.step, b.step), ROUNDS)
    return {'size': common.size_label(size), 'a_min_s': min(ta), 'b_min_s': min(tb),
            'ratio_min': min(ta) / min(tb), 'ratio_median': float(np.median(ta) / np.median(tb))}


def main():
    rows = []
    for size in ((224, 224), (252, 448), (472, 840)):
        row = compare(size, optimizer(size, keep=True), optimizer(size, keep=False))
        rows.append(dict(row, what='keep / redo'))
        print(rows[-1], flush=True)
    size = (224, 224)
    row = compare(size, optimizer(size, min_tiles=0), optimizer(size, min_tiles=64))
    rows.append(dict(row, what='conv5 on Winograd / on CorrMM (transform kept)'))
    print(rows[-1], flush=True)
    harness.write_json(OUT, {'what': __doc__.split('\n\n')[0],
                             'date': time.strftime('%Y-%m-%d %H:%M'),
                             'machine': harness.machine_info(), 'rounds': ROUNDS,
                             'rows': rows})
    print('wrote', OUT)


if __name__ == '__main__':
    main()
