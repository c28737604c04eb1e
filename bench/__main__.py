"""``python -m bench`` (``make bench``): the benchmark suite.

    python -m bench [--only results,prior,...] [--quick] [--out-dir DIR] [--list]

Runs each benchmark of :data:`BENCHMARKS` in turn, each in a fresh process
(the generic worker of :mod:`bench.harness`: ``MODULE.run(**kwargs)``), so
that compile caches, thread pools, clusters and peak memory do not leak
from one into the next, and a crash ends only its own. Each one's dict is
written with the machine and the date to ``DIR/NAME.json`` (default
``bench/``). ``--quick`` passes on to every benchmark (a smoke run, each
says what it leaves out) and writes under ``.cache/bench-quick/`` unless
``--out-dir`` says otherwise, so a trial never replaces the committed
figures. Exit status 1 if any benchmark failed or reported errors.

Each module also runs alone, with options of its own
(``python -m bench.run --only vgg16``, ``python -m bench.render_bench``).
"""
import argparse
import json
import sys
import time
from pathlib import Path

from bench import harness

#: (name: the JSON it writes, module with ``run(quick=False, ...)``, the
#: keyword arguments ``make bench`` gives it), in the order they run.
BENCHMARKS = (
    ('results', 'bench.run', {}),
    ('prior', 'bench.prior_bench', {'steps': ['vgg16', 'efficientnet-lite0']}),
    ('video', 'bench.video_bench', {}),
    ('live', 'bench.live_bench', {}),
    ('render', 'bench.render_bench', {}),
    ('winograd', 'bench.winograd_bench', {}),
    ('gallery', 'bench.gallery_bench', {}),
)
NAMES = [name for name, _, _ in BENCHMARKS]


def chosen(only):
    """The benchmarks named in ``only`` (comma-separated; all if empty), in
    the suite's order."""
    names = [n for n in (only or '').split(',') if n] or NAMES
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise SystemExit('python -m bench: no benchmark %s (there are: %s)'
                         % (', '.join(unknown), ', '.join(NAMES)))
    return [b for b in BENCHMARKS if b[0] in names]


def run_one(name, module, kwargs, quick, out_dir):
    """Run one benchmark in a fresh process and write its JSON; returns
    what went wrong, or None."""
    print('== %s (%s)%s' % (name, module, ', quick' if quick else ''), flush=True)
    started = time.perf_counter()
    record, _ = harness.call_worker(
        'bench.harness', [module, '--kwargs', json.dumps(dict(kwargs, quick=quick))],
        capture=False)
    if record is None or 'error' in record:
        why = (record or {}).get('error') or 'its process ended without a result'
        print('== %s failed: %s' % (name, why), flush=True)
        if record and record.get('traceback'):
            print(record['traceback'], end='', flush=True)
        return why
    path = harness.save(out_dir / (name + '.json'), record['result'])
    errors = record['result'].get('errors')
    print('== %s: wrote %s in %.0f s%s' % (name, path, time.perf_counter() - started,
                                          ', %d error(s)' % len(errors) if errors else ''),
          flush=True)
    return '%d error(s) in its results' % len(errors) if errors else None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m bench',
        description='Run the benchmarks, each in a fresh process; write DIR/NAME.json.')
    parser.add_argument('--only', metavar='NAMES',
                        help='comma-separated benchmarks (default: all): ' + ','.join(NAMES))
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run of each (written under .cache/bench-quick/)')
    parser.add_argument('--out-dir', type=Path,
                        help='where the JSON goes (default: bench/; with --quick, '
                             '.cache/bench-quick/)')
    parser.add_argument('--list', action='store_true', help='list the benchmarks and stop')
    args = parser.parse_args(argv)
    benchmarks = chosen(args.only)
    if args.list:
        for name, module, kwargs in benchmarks:
            print('%-9s %s%s' % (name, module, ' %s' % kwargs if kwargs else ''))
        return 0
    out_dir = args.out_dir or (harness.ROOT / '.cache' / 'bench-quick' if args.quick
                               else harness.ROOT / 'bench')
    failed = {}
    for name, module, kwargs in benchmarks:
        why = run_one(name, module, kwargs, args.quick, out_dir)
        if why:
            failed[name] = why
    for name, why in failed.items():
        print('failed: %s (%s)' % (name, why), file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
