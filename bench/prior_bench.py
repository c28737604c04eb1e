"""Cost of the natural-image prior term: ``bench/prior.json``.

    python -m bench.prior_bench [--repeat 15] [--steps vgg16,efficientnet-lite0]
                                [--quick] [--out bench/prior.json]

(``make bench`` runs it with both networks' steps: ``python -m bench``.)

First the term alone: forward + gradient to the image, compiled as the
render step uses it (float32, shared image), median time per call for each
prior kind and scale set at 448x252 and 224x224.

Then (``--steps``) the term inside the real compiled step
(:class:`inception_art.step.ImageOptimizer`: network + objective + prior ->
Adam): the same network's step without a prior and with each prior are
timed round-robin in one process, so that other load on the machine slows
them alike; the extra time is the prior's cost in context. VGG-16 uses
random weights of the real shapes (as ``make bench`` does).

Labels: ``video`` and ``still`` are the 2015 scale sets; ``/4`` means
patches 4 pixels apart on a randomly moved grid (``PatchPrior(stride=4)``).

Then the whole Lite0 step of the recipes the prior joins (``lite0_steps``):
without the prior and with it at strides 1, 4 and 8, and the prior's share.

``--quick``, a smoke run: 3 repeats, no networks' steps, and of the
recipes' steps only the stills' at stride 4.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench import harness
from inception_art.prior import STILL_SCALES, VIDEO_SCALES, PatchPrior, default_path
from inception_art.theano_env import theano, T

SIZES = {'vgg16': (252, 448), 'efficientnet-lite0': (224, 224)}
#: (label, scales, stride at full resolution)
SETTINGS = (('video', VIDEO_SCALES, 1), ('still', STILL_SCALES, 1),
            ('video/4', VIDEO_SCALES, 4), ('still/4', STILL_SCALES, 4))


def summary(times):
    """Median and minimum: on a shared machine the minimum is the better
    estimate of the uncontended time."""
    return float(np.median(times)), float(np.min(times))


def term_alone(repeat):
    """Print and return the term's own cost for every kind and setting."""
    rows = []
    print('term alone: forward + gradient; median / min of %d calls' % repeat)
    for size in ((252, 448), (224, 224)):
        h, w = size
        image = theano.shared(np.random.RandomState(0).uniform(0, 255, (1, 3, h, w))
                              .astype('float32'))
        for kind in ('gaussian', 'student'):
            base = PatchPrior.load(default_path(kind))
            for label, scales, stride in SETTINGS + (('1 only', (1,), 1),):
                prior = base.with_scales(scales, stride)
                term = prior.term(image)
                fn = theano.function([], [term, T.grad(term, image)])
                median, best = summary(harness.time_steps(fn, 1, repeat)[0])
                rows.append(dict(kind=kind, setting=label, size='%dx%d' % (w, h),
                                 median_s=median, min_s=best))
                print('  %-8s %-7s %dx%d  scales used %-14s %.3f / %.3f s' % (
                    kind, label, w, h, ','.join(map(str, prior.usable_scales(size))),
                    median, best), flush=True)
    return rows


def in_step(net, repeat):
    """Print and return the step's time without and with each prior."""
    from bench.theano_worker import build_network
    from inception_art.objectives import ClassObjective
    from inception_art.step import ImageOptimizer
    size = SIZES[net]
    network = build_network(net, size)
    configs = [('no prior', None)] + [
        ('%s %s' % (kind, label),
         PatchPrior.load(default_path(kind)).with_scales(scales, stride))
        for kind in ('gaussian', 'student') for label, scales, stride in SETTINGS]
    optimizers = []
    for _label, prior in configs:
        opt = ImageOptimizer(network, ClassObjective(classes=(980,)), prior=prior,
                             prior_strength=1.0 if prior else 0.0)
        opt.set_image(np.random.RandomState(0).uniform(0, 255, size + (3,)))
        opt.step()
        optimizers.append(opt)
    times = harness.round_robin([opt.step for opt in optimizers], repeat)
    base = summary(times[0])
    rows = []
    print('%s step at %dx%d, round-robin; median / min of %d steps'
          % (net, size[1], size[0], repeat))
    for (label, _), ts in zip(configs, times):
        m = summary(ts)
        rows.append(dict(network=net, prior=label, median_s=m[0], min_s=m[1],
                         extra_fraction=(m[0] - base[0]) / base[0]))
        extra = '' if label == 'no prior' else '  extra: median %+.3f s (%+.0f%%), ' \
            'min %+.3f s (%+.0f%%)' % (m[0] - base[0], 100 * (m[0] - base[0]) / base[0],
                                       m[1] - base[1], 100 * (m[1] - base[1]) / base[1])
        print('  %-16s %.3f / %.3f s%s' % ((label,) + m + (extra,)), flush=True)
    return rows


#: (label, recipe, overrides): the Lite0 steps the prior joins by default,
#: each at its own size and scales.
USES = (('stills 512x512', 'default', dict(prior_scales='still')),
        ('keyframe 448x252', '2015-stream', dict(size=(252, 448))),
        ('2015 stream 840x472', '2015-stream', {}))
STRIDES = (1, 4, 8)


def in_recipe_steps(repeat, strides=STRIDES, uses=USES):
    """Print and return, for each of ``uses``, the whole Lite0 step
    (the recipe's, as render compiles it) without the prior and with it at
    each of ``strides``, timed round-robin in one process; ``fraction`` is
    the prior's extra time over the step without it."""
    from inception_art import recipes
    from inception_art.loop import Renderer
    rows = []
    renderer = Renderer()
    for label, recipe, overrides in uses:
        base = recipes.settings(recipe, **overrides)
        size = tuple(base['size'])
        configs = [('no prior', dict(base, prior_strength=0.0))] + [
            ('stride %d' % k, dict(base, prior_strength=1.0, prior_stride=k)) for k in strides]
        steps = []
        for _, s in configs:
            opt = renderer.optimizer(s, size)
            opt.restart(np.random.RandomState(0).uniform(0, 255, size + (3,)),
                        lr=s['lr'], prior_strength=s['prior_strength'])
            opt.step()
            steps.append(opt)
        times = harness.round_robin([opt.step for opt in steps], repeat)
        none = summary(times[0])
        print('Lite0 step, %s (%s recipe, %s scales); median / min of %d'
              % (label, recipe, base['prior_scales'], repeat))
        for (name, s), ts in zip(configs, times):
            m = summary(ts)
            fraction = (m[0] - none[0]) / none[0]
            rows.append(dict(use=label, recipe=recipe, size='%dx%d' % size[::-1],
                             prior_scales=base['prior_scales'], prior=name,
                             stride=s['prior_stride'] if s['prior_strength'] else None,
                             median_s=m[0], min_s=m[1], fraction=fraction))
            print('  %-9s %.3f / %.3f s%s' % ((name,) + m + (
                '' if name == 'no prior' else '  prior: %+.0f%% of the step' % (100 * fraction),)),
                  flush=True)
    return rows


def run(quick=False, repeat=15, steps=(), recipes_only=False, previous=None):
    """The figures of ``bench/prior.json``: the term alone, inside the steps
    of the networks in ``steps``, and the recipes' Lite0 steps.
    ``recipes_only``: only the last, added to ``previous`` (what the file
    held)."""
    strides, uses = STRIDES, USES
    if quick:
        repeat, steps, strides, uses = 3, (), (4,), USES[:1]
    if recipes_only:
        results = dict(previous or {})
    else:
        results = dict(term_alone=term_alone(repeat), in_step=[])
        for net in steps:
            results['in_step'] += in_step(net, max(3, repeat // 3))
    results.update(lite0_steps=in_recipe_steps(max(3, repeat // 3), strides, uses),
                   lite0_steps_date=time.strftime('%Y-%m-%d %H:%M'),
                   lite0_steps_machine=harness.machine_info(),
                   target='the prior at most 25% of a whole Lite0 step ')
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeat', type=int, default=15)
    p.add_argument('--steps', default='', metavar='NETS',
                   help='comma-separated networks to time the step of: '
                        'vgg16, efficientnet-lite0')
    p.add_argument('--quick', action='store_true', help='a smoke run (see above)')
    p.add_argument('--out', help='also write the figures to this JSON file')
    p.add_argument('--recipes-only', action='store_true',
                   help='time only the recipes\' Lite0 steps, replacing them in --out')
    args = p.parse_args(argv)
    previous = (json.loads(Path(args.out).read_text())
                if args.recipes_only and args.out and Path(args.out).exists() else {})
    results = run(quick=args.quick, repeat=args.repeat,
                  steps=[n for n in args.steps.split(',') if n],
                  recipes_only=args.recipes_only, previous=previous)
    if args.out and args.recipes_only:
        # The term's figures keep the machine and the date they were measured on.
        harness.write_json(args.out, results)
    elif args.out:
        harness.save(args.out, results)


if __name__ == '__main__':
    main()
