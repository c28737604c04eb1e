"""Where a render step's time goes: seconds per step split by stage.

The compiled step is one Theano function, so its stages cannot be timed
inside it. Each stage is compiled here as its own function, forward and
backward, from the very parts the step was built of
(:class:`inception_art.step.ImageOptimizer`): the parameterisation, the
view (the random transforms, the pooling, the crops), the network's forward
and backward for each view, the prior, the update. Their sum against the
step itself shows what the split leaves out (the fusion Theano does across
stages, the calls' overhead).

    python -m bench.breakdown [--out .cache/breakdown.json] [--repeats 10]

writes the split for the default recipe at 512x512, the keyframe recipe at
448x252 and at 840x472 (the 2015 stream's canvas), and the live recipe
(840x472 seen at pool 2); ``make bench`` puts
it into ``bench/render.json`` (:mod:`bench.render_bench`).
"""
import argparse
import sys

import numpy as np

from bench import common, harness

#: (name, recipe, canvas (h, w)): what the split is measured for.
CASES = (
    ('default recipe, 512x512', 'default', (512, 512)),
    ('keyframe recipe, 448x252', 'keyframes', (252, 448)),
    ('keyframe recipe, 840x472', 'keyframes', (472, 840)),
    ('live recipe, 840x472 seen at pool 2', 'live', (472, 840)),
)


def _timed(fn, repeats):
    times, _ = harness.time_steps(fn, 2, repeats)
    return harness.stats(times)['median']


def stages(opt, repeats=10):
    """Seconds per step of each stage of the compiled step ``opt`` (an
    :class:`~inception_art.step.ImageOptimizer` whose image is set), and of
    the step itself. Returns ``{stage: seconds}``."""
    from inception_art.theano_env import T, theano
    for part in opt.random_parts:
        part.randomise(opt.rng)
    picture, image, out = opt.picture, opt.image, {}
    # the parameterisation: parameters -> image and back (with a
    # transparent image, its composite over the backdrop)
    value = theano.function([], image)()
    weights = np.random.RandomState(0).randn(*value.shape).astype(value.dtype)
    out['parameterisation'] = _timed(theano.function(
        [], T.grad((image * weights).sum(), picture.param)), repeats)
    # the view: image -> what each network sees, and back
    canvas = theano.shared(value, name='canvas')
    seen = canvas
    for transform in opt.transforms:
        seen = transform(seen)
    views = opt.views.seen(seen)
    energy = sum(0.5 * T.sqr(x).sum() for _, x in views)
    out['view'] = _timed(theano.function([], T.grad(energy, canvas)), repeats)
    # each network on what it sees: forward, objective, backward
    inputs = theano.function([], [x for _, x in views])()
    for (network, _), x in zip(views, inputs):
        shown = theano.shared(x, name='seen')
        loss, _ = opt.objective.loss(network.logit_map(shown))
        name = 'network %dx%d%s' % (x.shape[3], x.shape[2],
                                    ' x%d' % x.shape[0] if x.shape[0] > 1 else '')
        out[name] = _timed(theano.function([], T.grad(loss, shown)), repeats)
    if opt.prior is not None:
        out['prior'] = _timed(theano.function(
            [], T.grad(opt.prior.term(canvas, size=opt.size), canvas)), repeats)
    # the update rule on a copy of the parameters, given a gradient
    param = theano.shared(picture.param.get_value(), name='param')
    grad = theano.shared(np.random.RandomState(1).randn(
        *param.get_value().shape).astype(param.dtype), name='grad')
    rule = type(opt.rule)(param, lr=0.05, constrain=picture.constrain)
    out['update'] = _timed(theano.function([], [], updates=rule.updates(grad)), repeats)
    out['sum of the stages'] = sum(out.values())
    out['the compiled step'] = _timed(opt.step, repeats)
    return out


def run(repeats=10, cases=CASES):
    """The split for each case: ``{case: {stage: seconds}}``."""
    from inception_art import recipes
    from inception_art.loop import Renderer
    renderer, result = Renderer(), {}
    for name, recipe, canvas in cases:
        s = recipes.settings(recipe, canvas=canvas)
        opt = renderer.optimizer(s, canvas)
        opt.objective.set_classes(common.TARGET_CLASS)
        opt.restart(np.full(canvas + (3,), 128.0), dict(s.run, seed=0))
        result[name] = stages(opt, repeats)
        print(name, ', '.join('%s %.4f' % kv for kv in result[name].items()), flush=True)
    return dict(what='seconds per step of each stage, compiled alone (forward and backward), '
                     'against the compiled step', cases=result)


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.breakdown',
                                description=__doc__.splitlines()[0])
    p.add_argument('--out', default='.cache/breakdown.json')
    p.add_argument('--repeats', type=int, default=10)
    args = p.parse_args(argv)
    harness.save(args.out, run(args.repeats))
    return 0


if __name__ == '__main__':
    sys.exit(main())
