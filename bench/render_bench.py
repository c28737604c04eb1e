"""What a render step costs, ingredient by ingredient: ``bench/render.json``.

``python -m bench.render_bench [--out bench/render.json]`` times, in one
process and one run, the compiled step of the default recipe and of that
recipe with one ingredient changed at a time (seconds per step, median of
``--repeats`` steps after two warm-ups, compile excluded), then the whole
default render as a user runs it (``python -m inception_art.render``, warm
compile cache, wall seconds). Each figure says what it measured; the CPU
model is recorded beside them, since the machines vary. ``--quick``, a
smoke run: the default recipe's step alone, 2 steps, no whole render.

The ``breakdown`` (:mod:`bench.breakdown`) splits a step by stage, for the
default recipe at 512x512, the keyframe recipe at 448x252 and 840x472, and
the live recipe.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from bench import common, harness

#: The default recipe, then one ingredient changed at a time.
VARIANTS = (
    ('default', {}),
    ('pixels instead of Fourier', dict(param='pixels', lr=5.0)),
    ('no random affine view', dict(shift=0.0, scale=(1.0, 1.0), degrees=0.0)),
    ('views 2 only', dict(views=(2,))),
    ('view 1 (the full 512x512 canvas)', dict(views=(1,))),
    ('prior: Student-t, still scales, strength 1', dict(prior_strength=1.0)),
    ('prior: Student-t, video scales, strength 1',
     dict(prior_strength=1.0, prior_scales='video')),
)


def time_variant(renderer, overrides, repeats):
    from inception_art import recipes
    from inception_art.loop import canvas_size
    s = recipes.settings('default', **overrides)
    started = time.perf_counter()
    opt = renderer.optimizer(s, canvas_size(s))
    compile_seconds = time.perf_counter() - started
    opt.objective.set_classes(common.TARGET_CLASS)
    opt.restart(__import__('numpy').full(canvas_size(s) + (3,), 128.0), dict(s.run, seed=0))
    times, _ = harness.time_steps(opt.step, 2, repeats)
    return dict(seconds_per_step=harness.stats(times), build_and_compile_seconds=compile_seconds)


#: The render command, run so that it reports its own peak memory at exit:
#: VmHWM of its own address space. (A child's ru_maxrss would start at this
#: process's size: Linux carries it over the fork.)
_RENDER = ("import atexit, runpy, sys; from bench.harness import hwm_mb; "
           "atexit.register(lambda: print('peak_rss_mb %s' % hwm_mb(), file=sys.stderr)); "
           "sys.argv[0] = 'render'; "
           "runpy.run_module('inception_art.render', run_name='__main__', alter_sys=True)")


def whole_render(out_dir):
    """Wall seconds of the default render command, run twice (the first
    warms the compile cache; the second is what is reported), and the warm
    run's peak resident memory."""
    times, peak = [], None
    for i in range(2):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, '-c', _RENDER, '--class', 'volcano',
                               '--out', os.path.join(out_dir, 'volcano%d.png' % i)],
                              check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        peak = float(done.stderr.rsplit('peak_rss_mb ', 1)[1].split()[0])
    return dict(first_seconds=times[0], warm_seconds=times[1], warm_peak_rss_mb=peak)


def run(quick=False, repeats=10):
    """The figures of ``bench/render.json``."""
    from inception_art.loop import Renderer
    variants, repeats = (VARIANTS[:1], 2) if quick else (VARIANTS, repeats)
    renderer = Renderer()
    steps = {}
    for name, overrides in variants:
        steps[name] = dict(time_variant(renderer, overrides, repeats),
                           overrides={k: list(v) if isinstance(v, tuple) else v
                                      for k, v in overrides.items()})
        print('%-45s %.3f s/step' % (name, steps[name]['seconds_per_step']['median']),
              flush=True)
    from bench import breakdown
    split = breakdown.run(repeats, breakdown.CASES[:1] if quick else breakdown.CASES)
    render = None
    if not quick:
        with tempfile.TemporaryDirectory() as tmp:
            render = whole_render(tmp)
        print('make render, warm: %.1f s' % render['warm_seconds'])
    return dict(
        what='seconds per compiled step of the default recipe (512x512, EfficientNet-Lite0) '
             'and with one ingredient changed; the whole default render command',
        steps=steps, breakdown=split, default_render=render)


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.render_bench',
                                description=__doc__.splitlines()[0])
    p.add_argument('--out', default='bench/render.json')
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--quick', action='store_true', help='a smoke run (see above)')
    args = p.parse_args(argv)
    harness.save(args.out, run(quick=args.quick, repeats=args.repeats))
    return 0


if __name__ == '__main__':
    sys.exit(main())
