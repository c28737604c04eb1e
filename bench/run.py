"""Benchmark the compiled image step: Theano against PyTorch, three sizes.

``python -m bench.run`` (in ``make bench``: ``results``): for
EfficientNet-Lite0 and VGG-16 (random weights of the real shapes) at
224x224, 448x252 and 840x472 (WxH), it times
:class:`inception_art.step.ImageOptimizer`'s ``step()`` and the same step
in PyTorch (:mod:`bench.torch_reference`), each in a fresh subprocess
(:func:`bench.harness.run_worker`), and the cold / warm compile of the
Theano step at 224x224. It writes ``bench/results.json`` (atomically) and
prints a table.

Options::

    --quick        224x224 only, fewer repeats, no profiles
    --only NAME    one network (efficientnet-lite0 or vgg16); repeatable
    --rounds N     processes per measurement (default 2, alternating Theano
                   and PyTorch; 1 with --quick)
    --no-torch     skip the PyTorch reference
    --no-compile   skip the cold/warm compile timings
    --no-profile   skip the profiles of the 224x224 steps
    --out PATH     where to write the JSON (default: bench/results.json for
                   a full run, .cache/bench-partial.json with --quick/--only)

The machine is shared: before each measurement the runner waits (a bounded
time) for other processes to go quiet, and it records how many cores other
processes used while each measurement ran (``background_cores``).
"""
import argparse
import datetime
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import common, harness
from bench.harness import run_worker

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

#: Timed steps (after 2 warm-up steps) per network and size (h, w).
REPEATS = {'efficientnet-lite0': {(224, 224): 10, (252, 448): 8, (472, 840): 5},
           'vgg16': {(224, 224): 5, (252, 448): 3, (472, 840): 3}}
QUICK_REPEATS = {'efficientnet-lite0': 5, 'vgg16': 2}
WARMUP = 2
WORKER_TIMEOUT_S = 900

NOTES = {
    'step': 'One ImageOptimizer.step(): logit map, class-logit objective (ClassObjective '
            "kind='logit', class %d), gradient to the image, hand-written Adam update "
            '(lr %.1f) and clip to 0..255. Batch 1, float32. Each measurement runs in '
            'fresh processes: `rounds` of them per (network, size, framework), '
            'alternating Theano and PyTorch; each does %d warm-up steps, then the timed '
            'ones. step_s is the median of all timed steps pooled; step_s_per_process '
            'is each process\'s own median (on this machine a process is sometimes '
            'uniformly ~40%% slower than the next, hence several).'
            % (common.TARGET_CLASS, common.LR, WARMUP),
    'gflops': 'Achieved GFLOP/s = step FLOPs / step_s. Step FLOPs are counted '
              'analytically from the built network\'s Lasagne layers: 2 FLOPs per '
              'multiply-add of every convolution of the forward pass (dense and '
              'depthwise, the classifier included; pooling, padding, biases, '
              'activations and the objective not counted), times 2 for the forward '
              'pass plus the gradient to the input (no weight gradients). The same '
              'count is used for the PyTorch step.',
    'compile': 'compile_cold_s / compile_warm_s: build + compile of the step '
               '(network construction from weights already in memory for VGG, '
               'reading the .pth for Lite0, then ImageOptimizer(...)) in a fresh '
               'process with INCEPTION_ART_CACHE pointing to an empty temporary folder '
               '(cold) and then to the same folder again (warm). Measured at 224x224 '
               'only: compile cost hardly depends on the image size (the C code of '
               'the ops does not depend on it). The Python import of Theano, which '
               'also compiles Theano\'s own helper modules into an empty cache, is '
               'reported apart (import_s), and process_s is the whole process.',
    'memory': 'peak_rss_mb: getrusage(RUSAGE_SELF).ru_maxrss of the process that '
              'built, compiled and ran the steps (VGG: includes the random weights, '
              'generated in numpy, besides their copy in the network). '
              'steps_peak_rss_mb: the peak during the steps only (VmHWM reset '
              'through /proc/self/clear_refs just before them).',
    'torch': 'PyTorch reference (bench/torch_reference.py): CPU, 2 threads, float32, '
             'the same architecture written independently in torch (Lite0: the '
             'same .pth weights, TF-SAME padding, ReLU6, batch-norm folded into the '
             'convolutions for the timing; VGG-16: the same random weights), the '
             'same objective, backward to the image only, torch.optim.Adam on the '
             'image, clamp to 0..255. torch_step_s uses channels-last tensors '
             '(the fast layout for oneDNN convolutions); torch_nchw_step_s the '
             'default NCHW layout (full runs only). ratio = step_s / torch_step_s '
             '(> 1: Theano slower); ratio_nchw likewise.',
    'vgg_weights': 'VGG-16 weights are random (He-normal) with the exact shapes of '
                   'the real ones (138 M parameters): the real ones cannot be '
                   'downloaded here; the timing does not depend on the values.',
    'noise': 'The machine is shared: background_cores is the average number of '
             'cores other processes used while a measurement ran (from /proc/stat '
             'minus the worker\'s own CPU time). Above ~0.3 the numbers are suspect; '
             'multi-threaded code that synchronises often (PyTorch\'s OpenMP) '
             'suffers much more from it than coarse-grained code.',
}


# --------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------

def theano_args(net, size, warmup, repeats, extra=()):
    return ['--net', net, '--size', common.size_label(size), '--warmup', str(warmup),
            '--repeats', str(repeats)] + list(extra)


def prepare_photo(path, size):
    """scikit-image's 'chelsea' photograph resized to ``size`` (h, w), as
    an (h, w, 3) float32 0..255 ``.npy``; None if scikit-image is missing."""
    try:
        from PIL import Image
        from skimage import data
    except ImportError:
        return None
    h, w = size
    image = Image.fromarray(data.chelsea()).resize((w, h), Image.BILINEAR)
    np.save(path, np.asarray(image, dtype=np.float32))
    return path


def compare_logits(theano_path, torch_path):
    """Max abs differences of the Lite0 logit maps, and both top-5."""
    ours = np.load(theano_path)
    ref = np.load(torch_path)
    top = {}
    for name, logit_map in (('theano', ours), ('torch', ref['bn'])):
        top[name] = [int(i) for i in np.argsort(-logit_map.mean(axis=(0, 2, 3)))[:5]]
    return {
        'photo': "scikit-image 'chelsea', resized to 224x224",
        'logit_map_shape': list(ours.shape),
        'max_abs_diff': float(np.abs(ours - ref['bn']).max()),
        'max_abs_diff_torch_folded_bn': float(np.abs(ours - ref['folded']).max()),
        'max_abs_diff_mean_logits': float(np.abs(ours.mean(axis=(2, 3))
                                                 - ref['bn'].mean(axis=(2, 3))).max()),
        'max_abs_logit': float(np.abs(ref['bn']).max()),
        'top5_theano': top['theano'],
        'top5_torch': top['torch'],
        'note': 'max_abs_diff: Theano network vs the torch reference with batch-norm '
                'as modules (unfolded); the folded torch model is the one timed.',
    }


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------

def pooled(records, prefix=''):
    """Fields of a row from the records of several processes (rounds) of one
    measurement: the median of all their timed steps pooled, each process's
    own median, the largest peak memory and background load."""
    good = [r for r in records if 'error' not in r]
    times = [t for r in good for t in r.get('step_times', [])]
    return {
        prefix + 'step_s': float(np.median(times)) if times else None,
        prefix + 'step_times': times,
        prefix + 'step_s_per_process': [r.get('step_s') for r in good],
        prefix + 'peak_rss_mb': max((r.get('peak_rss_mb') or 0 for r in good), default=None),
        prefix + 'steps_peak_rss_mb': max((r.get('steps_peak_rss_mb') or 0 for r in good),
                                          default=None),
        prefix + 'loss_first': good[0].get('loss_first') if good else None,
        prefix + 'background_cores': max((r.get('background_cores') or 0 for r in good),
                                         default=None),
    }


def measure_size(net, size, quick, rounds, workdir, quiet, photo, use_torch, results,
                 note_error):
    """Theano and PyTorch steps of ``net`` at ``size``: ``rounds``
    processes of each, alternating; returns the table row."""
    label = common.size_label(size)
    repeats = QUICK_REPEATS[net] if quick else REPEATS[net][size]
    check = photo is not None and net == 'efficientnet-lite0' and size == (224, 224)
    th_records, pt_records = [], []

    def measure(framework, module, round_, logits_file):
        # The first round also computes the logit map of the photo (Lite0 at
        # 224x224), so the two frameworks' logits can be compared.
        extra = (['--photo', str(photo), '--logits-out', str(workdir / logits_file)]
                 if check and round_ == 0 else [])
        print('%s %s: %s, %d steps (round %d)...' % (net, label, framework, repeats, round_ + 1),
              flush=True)
        record = run_worker(module, theano_args(net, size, WARMUP, repeats, extra), workdir,
                            quiet=quiet)
        note_error('%s %s %s' % (net, label, framework), record)
        return record

    for round_ in range(rounds):
        th = measure('theano', 'bench.theano_worker', round_, 'theano_logits.npy')
        th_records.append(th)
        if not use_torch:
            continue
        pt = measure('torch', 'bench.torch_reference', round_, 'torch_logits.npz')
        pt_records.append(pt)
        if check and round_ == 0 and 'error' not in th and 'error' not in pt:
            results['checks']['efficientnet-lite0_logits'] = compare_logits(
                workdir / 'theano_logits.npy', workdir / 'torch_logits.npz')

    th = next((r for r in th_records if 'error' not in r), th_records[0])
    results.setdefault('theano_env', th.get('env'))
    flops = th.get('step_flops')
    row = {'net': net, 'size': label, 'height': size[0], 'width': size[1]}
    row.update(pooled(th_records))
    row.update({
        'gflops': gflops(flops, row['step_s']),
        'forward_gmacs': flops and th['forward_macs'] / 1e9,
        'forward_macs_parts': th.get('forward_macs_parts'),
        'gflop_per_step': flops and flops / 1e9,
        'logit_map_shape': th.get('logit_map_shape'),
        'float64_ops': th.get('float64_ops'),
        'compile_cold_s': None, 'compile_warm_s': None})
    if not use_torch:
        return row
    results.setdefault('torch_version', next(
        (r.get('torch') for r in pt_records if r.get('torch')), None))
    row.update(pooled(pt_records, 'torch_'))
    row['torch_gflops'] = gflops(flops, row['torch_step_s'])
    row['torch_threads'] = next((r.get('threads') for r in pt_records if 'threads' in r), None)
    if row['step_s'] and row['torch_step_s']:
        row['ratio'] = row['step_s'] / row['torch_step_s']
    if row['loss_first'] is not None and row['torch_loss_first'] is not None:
        row['loss_first_abs_diff'] = abs(row['loss_first'] - row['torch_loss_first'])
    if not quick:
        print('%s %s: torch NCHW, %d steps...' % (net, label, repeats), flush=True)
        nchw = run_worker('bench.torch_reference',
                          theano_args(net, size, WARMUP, repeats,
                                      ['--memory-format', 'contiguous']),
                          workdir, quiet=quiet)
        note_error('%s %s torch NCHW' % (net, label), nchw)
        row.update(pooled([nchw], 'torch_nchw_'))
        row.pop('torch_nchw_loss_first', None)
        if row['step_s'] and row['torch_nchw_step_s']:
            row['ratio_nchw'] = row['step_s'] / row['torch_nchw_step_s']
    return row


def gflops(flops, seconds):
    return flops / seconds / 1e9 if flops and seconds else None


def fmt(value, spec, missing='-'):
    return missing if value is None else format(value, spec)


def print_table(rows):
    head = ('%-18s %-8s | %8s %7s | %8s %7s | %6s | %7s %6s | %9s | %11s | %9s'
            % ('network', 'WxH', 'theano s', 'GFLOP/s', 'torch s', 'GFLOP/s', 'ratio',
               'torch s', 'ratio', 'RSS MB', 'compile s', 'bg cores'))
    print(head)
    print('%-18s %-8s | %8s %7s | %8s %7s | %6s | %7s %6s | %9s | %11s | %9s'
          % ('', '', '', '', '(NHWC)', '', 'th/pt', '(NCHW)', 'th/pt', 'th/pt',
             'cold/warm', 'th/pt'))
    print('-' * len(head))
    for r in rows:
        compile_ = ('%5.1f/%-5.1f' % (r['compile_cold_s'], r['compile_warm_s'])
                    if r.get('compile_cold_s') is not None and r.get('compile_warm_s') is not None
                    else '-')
        print('%-18s %-8s | %8s %7s | %8s %7s | %6s | %7s %6s | %4s/%-4s | %11s | %4s/%-4s' % (
            r['net'], r['size'], fmt(r.get('step_s'), '.3f'), fmt(r.get('gflops'), '.1f'),
            fmt(r.get('torch_step_s'), '.3f'), fmt(r.get('torch_gflops'), '.1f'),
            fmt(r.get('ratio'), '.2f'), fmt(r.get('torch_nchw_step_s'), '.3f'),
            fmt(r.get('ratio_nchw'), '.2f'), fmt(r.get('peak_rss_mb'), '.0f'),
            fmt(r.get('torch_peak_rss_mb'), '.0f'), compile_,
            fmt(r.get('background_cores'), '.2f'), fmt(r.get('torch_background_cores'), '.2f')))


def print_profiles(profiles):
    for net, by_framework in profiles.items():
        for framework, prof in by_framework.items():
            if not prof:
                continue
            print('\n%s, %s, 224x224: where a step goes (top ops, seconds per step)'
                  % (net, framework))
            for row in prof.get('by_class', prof.get('by_op', []))[:8]:
                print('  %6.1f%%  %7.4f s  %s' % (100 * row['share'], row['s_per_step'],
                                                  row['op']))


def torch_available():
    return importlib.util.find_spec('torch') is not None


def run(quick=False, only=None, rounds=None, no_torch=False, no_compile=False,
        no_profile=False, max_wait=240.0):
    """The benchmark (options as the command's); prints the table and returns
    what ``bench/results.json`` holds."""
    rounds = rounds or (1 if quick else 2)
    nets = [n for n in common.NETS if not only or n in only]
    sizes = [common.SIZES[0]] if quick else list(common.SIZES)
    use_torch = not no_torch and torch_available()
    if not no_torch and not use_torch:
        print('torch is not installed: skipping the PyTorch reference '
              '(`make bench` installs it; or: .venv/bin/pip install --no-deps '
              'torch==2.13.0)', flush=True)
    profile = not (no_profile or quick)
    started = time.perf_counter()
    quiet = harness.Quiet(max_wait)
    workdir = Path(tempfile.mkdtemp(prefix='inception-art-bench-'))
    results = {
        'timestamp': datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds'),
        'machine': harness.machine_info(),
        'settings': {'quick': quick, 'nets': nets, 'rounds': rounds,
                     'sizes_wxh': [common.size_label(s) for s in sizes],
                     'warmup': WARMUP, 'torch': use_torch, 'target_class': common.TARGET_CLASS,
                     'lr': common.LR},
        'notes': NOTES, 'results': [], 'compile': {}, 'checks': {}, 'profiles': {},
        'errors': [],
    }
    print('machine: %s, %d cores' % (results['machine']['cpu_model'],
                                     results['machine']['cores']), flush=True)
    photo = prepare_photo(workdir / 'photo.npy', (224, 224))
    rows = []

    def note_error(what, record):
        if 'error' in record:
            results['errors'].append({'what': what, 'error': record['error'],
                                      'detail': record.get('traceback',
                                                           record.get('output_tail', ''))})
            return True
        return False

    try:
        for net in nets:
            compile_rec = {}
            if not no_compile:
                cache = workdir / ('cache-' + net)
                cache.mkdir()
                for kind in ('cold', 'warm'):
                    print('%s: %s compile (224x224)...' % (net, kind), flush=True)
                    rec = run_worker('bench.theano_worker',
                                     theano_args(net, (224, 224), 0, 0, ['--compile-only']),
                                     workdir, env={'INCEPTION_ART_CACHE': str(cache)},
                                     quiet=quiet)
                    note_error('%s compile %s' % (net, kind), rec)
                    compile_rec[kind] = {k: rec.get(k) for k in (
                        'import_s', 'build_s', 'compile_s', 'build_compile_s',
                        'since_process_start_s', 'process_s', 'wall_s', 'peak_rss_mb',
                        'background_cores', 'error')}
                shutil.rmtree(cache, ignore_errors=True)
                results['compile'][net] = compile_rec

            for size in sizes:
                row = measure_size(net, size, quick, rounds, workdir, quiet, photo, use_torch,
                                   results, note_error)
                if size == (224, 224) and compile_rec:
                    row['compile_cold_s'] = compile_rec['cold'].get('build_compile_s')
                    row['compile_warm_s'] = compile_rec['warm'].get('build_compile_s')
                rows.append(row)
                results['results'] = rows

            if profile:
                print('%s 224x224: profiles...' % net, flush=True)
                n = QUICK_REPEATS[net]
                th = run_worker('bench.theano_worker',
                                theano_args(net, (224, 224), WARMUP, n, ['--profile']),
                                workdir, quiet=quiet)
                note_error('%s profile theano' % net, th)
                results['profiles'][net] = {'theano': th.get('profile')}
                if use_torch:
                    pt = run_worker('bench.torch_reference',
                                    theano_args(net, (224, 224), WARMUP, 1, ['--profile']),
                                    workdir, quiet=quiet)
                    note_error('%s profile torch' % net, pt)
                    results['profiles'][net]['torch'] = pt.get('profile')
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        results['waited_for_quiet_s'] = quiet.waited_s
        results['total_s'] = time.perf_counter() - started

    print()
    print_table(rows)
    print_profiles(results['profiles'])
    lite = results['checks'].get('efficientnet-lite0_logits')
    if lite:
        print('\nLite0 logits, Theano vs torch reference on a photo: max |diff| %.2g '
              '(logits up to %.1f); top-5 %s / %s'
              % (lite['max_abs_diff'], lite['max_abs_logit'], lite['top5_theano'],
                 lite['top5_torch']))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='224x224 only, fewer repeats')
    parser.add_argument('--only', action='append', choices=common.NETS,
                        help='benchmark only this network (repeatable)')
    parser.add_argument('--no-torch', action='store_true')
    parser.add_argument('--no-compile', action='store_true')
    parser.add_argument('--no-profile', action='store_true')
    parser.add_argument('--rounds', type=int,
                        help='processes per measurement, alternating Theano and PyTorch '
                             '(default 2; 1 with --quick)')
    parser.add_argument('--max-wait', type=float, default=240.0,
                        help='total seconds to wait for a quiet machine (default 240)')
    parser.add_argument('--out', help='JSON output path')
    args = parser.parse_args(argv)
    partial = bool(args.quick or args.only)
    out = Path(args.out) if args.out else (ROOT / '.cache' / 'bench-partial.json' if partial
                                           else HERE / 'results.json')
    results = run(quick=args.quick, only=args.only, rounds=args.rounds, no_torch=args.no_torch,
                  no_compile=args.no_compile, no_profile=args.no_profile,
                  max_wait=args.max_wait)
    harness.save(out, results)
    print('\n%d error(s); wrote %s in %.0f s' % (len(results['errors']), out,
                                                 results['total_s']))
    return 1 if results['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
