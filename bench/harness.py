"""What every benchmark shares: the machine, timing, the JSON writer, workers.

* :func:`machine_info`: the CPU, cores, memory and the BLAS kernels in use,
  recorded beside every figure (the machines vary, and a BLAS that falls
  back to old kernels changes every figure);
* timing: :func:`time_steps`, :func:`round_robin`, :func:`stats`, peak
  memory (:func:`peak_rss_mb`, :func:`hwm_mb`, :func:`reset_peak_rss`),
  :func:`step_record`, and :class:`Quiet` (waiting for a quiet machine);
* :func:`write_json`, the one way a benchmark writes JSON (atomically), and
  :func:`save`, which adds the machine and the date first;
* the worker protocol: a measurement in a fresh process. The parent runs
  ``python -m MODULE ARGS --out FILE`` (:func:`call_worker`,
  :func:`run_worker`); the worker's main is :func:`worker_main`, which
  writes a record to ``FILE`` whatever happens. ``python -m bench.harness
  MODULE --kwargs JSON --out FILE`` is the generic worker: it calls
  ``MODULE.run(**kwargs)`` (how ``python -m bench`` runs each benchmark).

Numpy and the standard library only at import, so that the PyTorch worker
loads no Theano.
"""
import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from testkit.procs import own_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
#: Seconds a measuring worker (:func:`run_worker`) may take.
WORKER_TIMEOUT_S = 900


# --------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------

def blas_info():
    """The BLAS kernels in use, from :func:`inception_art.doctor.report`:
    Theano's OpenBLAS (its file, build configuration, kernels and whether
    they fall short of the CPU) and numpy's own OpenBLAS's kernels.
    ``{'error': ...}`` when the doctor cannot say (its import fails, say):
    a benchmark is not lost for want of it."""
    try:
        from inception_art import doctor
        report = doctor.report()
    except Exception as e:  # noqa: BLE001 - recorded in the JSON instead
        return {'error': '%s: %s' % (type(e).__name__, e)}
    blas = report.get('blas') or {}
    numpy_core = next((b.get('core') for b in report.get('other_blas') or []
                       if b.get('owner') == 'numpy'), None)
    return {'path': blas.get('path') or blas.get('ldflags'), 'config': blas.get('config'),
            'core': blas.get('core'), 'fallback': blas.get('fallback'),
            'numpy_core': numpy_core}


def machine_info():
    """CPU model, cores, memory, kernel, instruction sets, BLAS kernels."""
    info = {'cpu_model': None, 'cores': os.cpu_count(),
            'cores_usable': len(os.sched_getaffinity(0)),
            'kernel': platform.release(), 'python': platform.python_version()}
    try:
        cpuinfo = Path('/proc/cpuinfo').read_text()
        for line in cpuinfo.splitlines():
            key, _, value = line.partition(':')
            key, value = key.strip(), value.strip()
            if key == 'model name' and info['cpu_model'] is None:
                info['cpu_model'] = value
            elif key == 'flags' and 'isa' not in info:
                flags = set(value.split())
                info['isa'] = [f for f in ('avx2', 'fma', 'avx512f', 'avx512_bf16',
                                           'avx512_vnni') if f in flags]
            elif key == 'cpu MHz' and 'cpu_mhz' not in info:
                info['cpu_mhz'] = float(value)
    except OSError:
        pass
    try:
        for line in Path('/proc/meminfo').read_text().splitlines():
            if line.startswith('MemTotal:'):
                info['mem_total_mb'] = int(line.split()[1]) // 1024
    except OSError:
        pass
    info['numpy'] = np.__version__
    info['blas'] = blas_info()
    return info


def cpu_busy_s():
    """CPU seconds all processes have spent busy so far (from /proc/stat)."""
    fields = [int(v) for v in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf('SC_CLK_TCK')


class Quiet:
    """Wait, within a total budget, for other processes to leave the CPUs."""

    def __init__(self, budget_s, threshold_cores=0.3, sample_s=2.0):
        self.budget_s, self.threshold, self.sample_s = budget_s, threshold_cores, sample_s
        self.waited_s = 0.0

    def background_cores(self, sample_s=None):
        busy0 = cpu_busy_s()
        time.sleep(sample_s or self.sample_s)
        return (cpu_busy_s() - busy0) / (sample_s or self.sample_s)

    def wait(self):
        """Sample the load; wait while others use more than the threshold.
        Returns the last background load seen (cores)."""
        load = self.background_cores(0.5)
        announced = False
        while load > self.threshold and self.waited_s < self.budget_s:
            if not announced:
                print('  (waiting for the machine to go quiet: others use %.1f cores)'
                      % load, flush=True)
                announced = True
            t0 = time.perf_counter()
            load = self.background_cores()
            self.waited_s += time.perf_counter() - t0
        return load


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

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


def round_robin(steps, repeat):
    """Seconds of each of ``steps`` (callables), ``repeat`` rounds taking one
    call of each in turn, so that other load on the machine slows them alike."""
    times = [[] for _ in steps]
    for _ in range(repeat):
        for i, step in enumerate(steps):
            t = time.perf_counter()
            step()
            times[i].append(time.perf_counter() - t)
    return times


def stats(times):
    """Median, min and max of a list of seconds (None if empty)."""
    if not times:
        return None
    return {'median': float(np.median(times)), 'min': float(np.min(times)),
            'max': float(np.max(times)), 'n': len(times)}


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0);
    returns whether it worked. Afterwards :func:`hwm_mb` is the peak since."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def hwm_mb(pid='self'):
    """Peak resident memory (VmHWM) of this process (or of ``pid``) in MiB,
    or None."""
    try:
        with open('/proc/%s/status' % pid) as f:
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


def step_record(step, warmup, repeats):
    """Time an image step as a worker does: ``warmup`` untimed calls, then
    ``repeats`` timed ones, each returning ``(loss, logit)``; the record's
    fields for the times, the first and last results and the peak memory
    (of the steps alone, and of the whole process)."""
    before = peak_rss_mb()
    reset = reset_peak_rss()
    times, (first, last) = time_steps(step, warmup, repeats)
    record = {'peak_rss_before_steps_mb': before, 'step_times': times,
              'step_s': float(np.median(times)), 'warmup': warmup}
    record['loss_first'], record['logit_first'] = first
    record['loss_last'], record['logit_last'] = last
    # ru_maxrss: the whole process (build, compile and steps).
    record['steps_peak_rss_mb'] = hwm_mb() if reset else None
    record['peak_rss_mb'] = max(peak_rss_mb(), before)
    return record


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def _json_text(data, indent, one_line):
    lists = [k for k in one_line if k in data]
    if not lists:
        return json.dumps(data, indent=indent) + '\n'
    pad = ' ' * (indent or 1)
    head = json.dumps({k: v for k, v in data.items() if k not in lists}, indent=indent or 1)
    parts = [head[2:-2]] if len(head) > 2 else []
    parts += ['%s%s: [\n%s\n%s]' % (pad, json.dumps(k), ',\n'.join(json.dumps(item)
                                                             for item in data[k]), pad)
              for k in lists]
    return '{\n' + ',\n'.join(parts) + '\n}\n'


def write_json(path, data, indent=1, one_line=()):
    """Write ``data`` as JSON to ``path``: a temporary file beside it, then
    ``os.replace`` (:func:`inception_art.images.atomic_path`), so a reader
    never sees half a file and a failed run leaves the old one. The folder
    is made if missing.

    ``one_line``: keys whose lists are written one item a line, after the
    rest (a soak's hour is 360 samples: readable, and diffs stay short).
    """
    from inception_art.images import atomic_path
    text = _json_text(data, indent, one_line)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def save(path, result):
    """Write a benchmark's ``result`` with the machine (:func:`machine_info`;
    what the benchmark noted of the machine itself, its load say, kept
    beside it) and the date (when it ended, unless it says) first."""
    machine = dict(machine_info(), **(result.get('machine') or {}))
    date = result.get('date') or time.strftime('%Y-%m-%d %H:%M')
    rest = {k: v for k, v in result.items() if k not in ('machine', 'date')}
    return write_json(path, dict(machine=machine, date=date, **rest))


# --------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------

def call_worker(module, argv, workdir=None, env=None, timeout=None, capture=True):
    """Run ``python -m module argv --out FILE`` from the project root.

    Returns ``(record, output)``: the JSON the worker wrote to ``FILE``
    (None if it wrote none) and its output (empty unless ``capture``;
    without it the worker prints straight to this process's terminal).
    """
    fd, out = tempfile.mkstemp(prefix='record-', suffix='.json', dir=workdir)
    os.close(fd)
    os.unlink(out)
    cmd = [sys.executable, '-m', module] + list(argv) + ['--out', out]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, **(env or {})),
                              capture_output=capture, text=True, timeout=timeout)
        output = (proc.stdout or '') + (proc.stderr or '')
    except subprocess.TimeoutExpired as exc:
        output = 'timed out after %d s\n%s' % (timeout, exc.stderr or '')
    try:
        with open(out) as f:
            record = json.load(f)
        os.unlink(out)
    except (OSError, ValueError):
        record = None
    return record, output


def run_worker(module, argv, workdir, env=None, quiet=None):
    """A measurement in a fresh process (:func:`call_worker`, at most
    :data:`WORKER_TIMEOUT_S`): its record, with wall time and background
    load added; a record with ``error`` if the worker wrote none."""
    load_before = quiet.wait() if quiet else None
    children = resource.RUSAGE_CHILDREN
    busy0, child0, t0 = cpu_busy_s(), own_cpu_seconds(children), time.perf_counter()
    record, output = call_worker(module, argv, workdir, env, timeout=WORKER_TIMEOUT_S)
    wall = time.perf_counter() - t0
    # Busy CPU time on the machine minus the worker's own: the others' load.
    others = (cpu_busy_s() - busy0) - (own_cpu_seconds(children) - child0)
    if record is None:
        record = {'error': 'worker wrote no record: ' + ' '.join(argv),
                  'output_tail': output[-3000:]}
    record['wall_s'] = wall
    record['background_cores'] = max(others / wall, 0.0)
    record['background_cores_before'] = load_before
    if 'error' in record:
        print('  ERROR %s %s: %s' % (module, ' '.join(argv), record['error']), flush=True)
        if 'traceback' in record:
            print('    ' + record['traceback'].strip().splitlines()[-1], flush=True)
    return record


def worker_main(parser, run, describe, argv=None, started=None):
    """A worker's main: parse ``argv`` (``parser`` has ``--out``), call
    ``run(args)`` for the record and write it to ``--out``. An exception
    becomes the record ``describe(args)`` plus ``error`` and ``traceback``,
    for the parent to report. ``started`` (``time.perf_counter()`` when the
    process began): the record gets ``process_s``. Returns the exit status."""
    args = parser.parse_args(argv)
    try:
        record = run(args)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        record = dict(describe(args), error='%s: %s' % (type(exc).__name__, exc),
                      traceback=traceback.format_exc()[-4000:])
    if started is not None:
        record['process_s'] = time.perf_counter() - started
    write_json(args.out, record)
    return 1 if 'error' in record else 0


def step_worker_parser(description):
    """The options both step workers (:mod:`bench.theano_worker`,
    :mod:`bench.torch_reference`) take from :mod:`bench.run`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--net', required=True)
    parser.add_argument('--size', required=True, help='WxH')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--photo', help='also the logit map of this (h, w, 3) image (.npy)')
    parser.add_argument('--logits-out', help='where that logit map goes')
    parser.add_argument('--out', required=True, help='the JSON record')
    return parser


def call_run(args):
    """``MODULE.run(**kwargs)``, as the generic worker's record."""
    module = importlib.import_module(args.module)
    return {'result': module.run(**json.loads(args.kwargs))}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m bench.harness',
        description='Call MODULE.run(**KWARGS) and write its dict as a worker record.')
    parser.add_argument('module', help='e.g. bench.render_bench')
    parser.add_argument('--kwargs', default='{}', help='JSON object of keyword arguments')
    parser.add_argument('--out', required=True)
    return worker_main(parser, call_run, lambda args: {'module': args.module}, argv)


if __name__ == '__main__':
    sys.exit(main())
