"""One Theano measurement in its own process (run by :mod:`bench.run`).

Builds a network, compiles :class:`inception_art.step.ImageOptimizer`
(one Adam step on the image: forward, gradient to the input, update) and
times ``step()``. Writes a JSON record to ``--out``::

    python -m bench.theano_worker --net vgg16 --size 224x224 --repeats 3 --out r.json

``--compile-only`` stops after compiling (for cold/warm cache timings: set
``INCEPTION_ART_CACHE``); ``--profile`` runs the steps under Theano's
profiler and records the time per Op class; ``--photo`` computes the logit
map of an (h, w, 3) image saved as ``.npy`` into ``--logits-out``. The
protocol (the record written whatever happens) is
:func:`bench.harness.worker_main`'s.
"""
import time

_T_START = time.perf_counter()

import io  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from bench import common, harness  # noqa: E402
from testkit.vgg16 import random_vgg16  # noqa: E402


def build_network(name, size):
    """The network; VGG-16 with random weights of the real shapes."""
    from inception_art.nets import build
    if name != 'vgg16':
        return build(name, size)
    from inception_art.nets import vgg
    from inception_art.weights import VGGWeights, vgg_layer_table
    convs, fcs, mean = random_vgg16()
    expected = [(l.W, l.b) for l in vgg_layer_table(16)]
    got = [(W.shape, b.shape) for W, b in convs + fcs]
    assert got == [(tuple(W), tuple(b)) for W, b in expected], 'VGG-16 shapes differ'
    return vgg.build(16, size, weights=VGGWeights(convs, fcs, mean))


def environment(theano):
    """Versions and the Theano flags that matter for speed."""
    import lasagne
    cfg = theano.config
    return {
        'python': platform.python_version(),
        'theano': theano.__version__,
        'lasagne': getattr(lasagne, '__version__', '?'),
        'numpy': np.__version__,
        'blas_ldflags': cfg.blas.ldflags,
        'openmp': bool(cfg.openmp),
        'floatX': cfg.floatX,
        'gcc_cxxflags': cfg.gcc.cxxflags,
        'mode': str(cfg.mode),
        'linker': str(cfg.linker),
        'malloc_env': {k: os.environ[k] for k in
                       ('MALLOC_MMAP_MAX_', 'MALLOC_TRIM_THRESHOLD_',
                        'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS')
                       if k in os.environ},
    }


def float64_nodes(fn):
    """Names of Ops in the compiled function with a float64 output."""
    return sorted({str(node.op) for node in fn.maker.fgraph.toposort()
                   if any(getattr(o.type, 'dtype', '') == 'float64'
                          for o in node.outputs)})


def profile_summary(profile, top=12):
    """Time per Op class and per Op from a Theano ``ProfileStats``."""
    total = sum(profile.apply_time.values()) or 1.0
    calls = max(profile.fct_callcount, 1)

    def table(times, counts):
        rows = sorted(times.items(), key=lambda kv: -kv[1])[:top]
        return [{'op': getattr(k, '__name__', str(k))[:120],
                 's_per_step': t / calls, 'share': t / total,
                 'nodes': counts.get(k, 0)} for k, t in rows]

    text = io.StringIO()
    profile.summary(file=text, n_ops_to_print=top, n_apply_to_print=top)
    return {
        'calls': profile.fct_callcount,
        'thunk_s_per_step': total / calls,
        'call_s_per_step': profile.fct_call_time / calls,
        'by_class': table(profile.class_time(), profile.class_nodes()),
        'by_op': table(profile.op_time(), profile.op_nodes()),
        'text': text.getvalue()[:30000],
    }


def run(args):
    record = {'framework': 'theano', 'net': args.net,
              'size': args.size, 'pid': os.getpid()}
    size = common.parse_size(args.size)
    if args.profile:
        flags = os.environ.get('THEANO_FLAGS', '')
        os.environ['THEANO_FLAGS'] = ','.join(filter(None, [flags, 'profile=True']))

    t0 = time.perf_counter()
    from inception_art.theano_env import theano, T
    from inception_art.objectives import ClassObjective
    from inception_art.step import ImageOptimizer
    from bench.flops import forward_macs, step_flops
    record['import_s'] = time.perf_counter() - t0
    record['env'] = environment(theano)
    record['compiledir'] = theano.config.compiledir

    t0 = time.perf_counter()
    network = build_network(args.net, size)
    record['build_s'] = time.perf_counter() - t0
    t0 = time.perf_counter()
    optimizer = ImageOptimizer(network, ClassObjective(classes=(common.TARGET_CLASS,)),
                               lr=common.LR)
    record['compile_s'] = time.perf_counter() - t0
    record['build_compile_s'] = record['build_s'] + record['compile_s']
    record['since_process_start_s'] = time.perf_counter() - _T_START
    macs, parts = forward_macs(network)
    record['forward_macs'] = macs
    record['forward_macs_parts'] = parts
    record['step_flops'] = step_flops(network)
    record['float64_ops'] = float64_nodes(optimizer._step)
    record['logit_map_shape'] = list(network.logits.output_shape[1:])
    if args.compile_only:
        record['peak_rss_mb'] = harness.peak_rss_mb()
        return record

    record['rss_before_steps_mb'] = harness.hwm_mb()
    record.update(harness.step_record(optimizer.step, args.warmup, args.repeats))
    if args.profile:
        record['profile'] = profile_summary(optimizer._step.profile)

    if args.photo:
        image = np.load(args.photo).astype('float32')
        x = T.tensor4('x')
        forward = theano.function([x], network.logit_map(x))
        logits = forward(np.ascontiguousarray(image.transpose(2, 0, 1)[None]))
        np.save(args.logits_out, np.asarray(logits, dtype='float32'))
    return record


def main(argv=None):
    parser = harness.step_worker_parser(__doc__.split('\n')[0])
    parser.add_argument('--compile-only', action='store_true')
    return harness.worker_main(
        parser, run, lambda args: {'framework': 'theano', 'net': args.net, 'size': args.size},
        argv, started=_T_START)


if __name__ == '__main__':
    sys.exit(main())
