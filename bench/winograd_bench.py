"""VGG-16's step with Winograd 3x3 convolutions against CorrMM and PyTorch.

    python -m bench.winograd_bench [--repeat 5] [--sizes 224x224,448x252,840x472]
                                   [--no-torch] [--quick] [--out bench/winograd.json]

For each size, VGG-16 (random weights of the real shapes, as ``make bench``
builds it) is compiled twice into :class:`inception_art.step.ImageOptimizer`,
once with Theano's ``conv2d`` (CorrMM) for every 3x3 convolution and once
with :mod:`inception_art.nets.winograd` (``vgg.build(conv3x3=...)``), and the
two steps are timed round-robin in this process, so that other load on the
(shared) machine slows both alike. PyTorch's step (``bench.torch_reference``,
2 threads, NCHW and channels-last) runs in worker processes of its own
before and after, as ``bench.run`` runs it. Every figure is the median and
the minimum over all timed steps; on a shared machine the minimum is the
better estimate of the uncontended time. Writes ``bench/winograd.json``.
``--quick``, a smoke run: 224x224 only, 2 timed steps.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench import common, harness
from testkit.vgg16 import random_vgg16

HERE = Path(__file__).resolve().parent
IMPLS = ('corrmm', 'winograd')
TORCH_LAYOUTS = ('contiguous', 'channels_last')


def summary(times):
    return {'median_s': float(np.median(times)), 'min_s': float(np.min(times)),
            'n': len(times)}


def theano_steps(size, repeat):
    """``{impl: [seconds per step]}``, the two steps timed round-robin."""
    from inception_art.nets import vgg
    from inception_art.objectives import ClassObjective
    from inception_art.step import ImageOptimizer
    from inception_art.weights import VGGWeights
    convs, fcs, mean = random_vgg16()
    steps = {}
    for impl in IMPLS:
        network = vgg.build(16, size, weights=VGGWeights(convs, fcs, mean),
                            conv3x3=impl)
        opt = ImageOptimizer(network, ClassObjective(classes=(common.TARGET_CLASS,)),
                             lr=common.LR)
        opt.set_image(np.full(size + (3,), 128.0))
        opt.step()  # warm-up: first-call allocations
        steps[impl] = opt
    return dict(zip(IMPLS, harness.round_robin([steps[impl].step for impl in IMPLS], repeat)))


def torch_steps(size, layout, repeat, workdir):
    """Seconds per step of PyTorch's VGG-16 in a worker process."""
    record = harness.run_worker('bench.torch_reference', [
        '--net', 'vgg16', '--size', common.size_label(size), '--threads', '2',
        '--warmup', '2', '--repeats', str(repeat), '--memory-format', layout],
        workdir)
    if 'error' in record:
        raise RuntimeError('torch worker: %s' % record['error'])
    return record['step_times']


def run(quick=False, repeat=5, sizes=('224x224', '448x252', '840x472'), no_torch=False):
    """The figures of ``bench/winograd.json``; ``sizes`` as WxH labels."""
    if quick:
        repeat, sizes = 2, ('224x224',)
    from inception_art.nets import vgg
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for label in sizes:
            size = common.parse_size(label)
            torch_times = {layout: [] for layout in TORCH_LAYOUTS}
            if not no_torch:
                for layout in TORCH_LAYOUTS:
                    torch_times[layout] += torch_steps(size, layout, repeat, workdir)
            times = theano_steps(size, repeat)
            if not no_torch:
                for layout in TORCH_LAYOUTS:
                    torch_times[layout] += torch_steps(size, layout, repeat, workdir)
            row = {'size': label}
            for impl in IMPLS:
                row['theano_' + impl] = summary(times[impl])
            for layout, ts in torch_times.items():
                if ts:
                    row['torch_' + layout] = summary(ts)
            row['winograd_speedup_min'] = (row['theano_corrmm']['min_s']
                                           / row['theano_winograd']['min_s'])
            row['winograd_speedup_median'] = (row['theano_corrmm']['median_s']
                                              / row['theano_winograd']['median_s'])
            if torch_times['contiguous']:
                row['winograd_over_torch_nchw_min'] = (
                    row['theano_winograd']['min_s'] / row['torch_contiguous']['min_s'])
                row['winograd_over_torch_channels_last_min'] = (
                    row['theano_winograd']['min_s'] / row['torch_channels_last']['min_s'])
            rows.append(row)
            print('%-8s ' % label + '  '.join(
                '%s %.3f / %.3f s' % (k, v['median_s'], v['min_s'])
                for k, v in row.items() if isinstance(v, dict)), flush=True)
    results = {
        'what': "VGG-16 ImageOptimizer.step() (forward, class-980 logit objective, "
                "gradient to the image, Adam), batch 1, float32, random weights of "
                "the real shapes. theano_corrmm: every 3x3 convolution by Theano's "
                "conv2d (CorrMM, input padded by Lasagne); theano_winograd: "
                "inception_art.nets.winograd (Winograd F(2x2,3x3)) for the 3x3 "
                "convolutions with >= %d input channels and >= %d 2x2 output tiles "
                "(conv1_1, 3 channels, stays on CorrMM), the kernels' transform "
                "kept between steps. torch_*: bench.torch_reference, 2 threads, NCHW "
                "('contiguous') and channels_last." % (vgg.WINOGRAD_MIN_CHANNELS,
                                                   vgg.WINOGRAD_MIN_TILES),
        'timing': 'The two Theano steps round-robin in one process, %d timed steps '
                  'each after a warm-up; PyTorch in 2 worker processes per layout '
                  '(before and after the Theano steps), %d timed steps each after 2 '
                  'warm-ups. median_s / min_s over all timed steps. The machine is '
                  'shared with other benchmarks: min_s is the better estimate of '
                  'the uncontended time; ratios *_min use it.'
                  % (repeat, repeat),
        'rows': rows,
    }
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeat', type=int, default=5,
                   help='timed steps per implementation and size (Theano), '
                        'per worker (PyTorch, two workers per layout)')
    p.add_argument('--sizes', default='224x224,448x252,840x472', help='WxH,...')
    p.add_argument('--no-torch', action='store_true')
    p.add_argument('--quick', action='store_true', help='a smoke run (see above)')
    p.add_argument('--out', default=str(HERE / 'winograd.json'))
    args = p.parse_args(argv)
    harness.save(args.out, run(quick=args.quick, repeat=args.repeat,
                               sizes=args.sizes.split(','), no_torch=args.no_torch))


if __name__ == '__main__':
    main()
