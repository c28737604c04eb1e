"""The BLAS kernels: checked on every machine, and chosen where OpenBLAS
falls back to slow ones.

Theano's compiled ops and ours call the system OpenBLAS (Debian's 0.3.21,
built with ``DYNAMIC_ARCH``: it picks its kernels when it loads, from the
CPU it sees). It does not know newer Intel Xeons (seen: family 6, model 207)
and takes its SSE3 ``Prescott`` kernels there, 3-5x slower than the CPU
allows. ``OPENBLAS_CORETYPE``, read when the library loads, picks other
kernels, but a wrong pick computes wrong results (``Cooperlake`` on that
Xeon: errors of 142 in a 512x512 sgemm), and numpy's and scipy's own
OpenBLAS read the same variable.

So, before Theano loads anything:

1. **Once per machine** (the answer is kept in the cache folder, keyed by
   CPU, library and environment), subprocesses load the library with each
   candidate core type and check it: small sgemm and sgemv products against
   exact references, then a timed 384x384 sgemm. The library as the
   environment loads it is tried first and kept when it runs kernels of the
   CPU's instruction set; otherwise the candidates for the CPU's flags
   (:data:`CANDIDATES`) are tried, best first, and the first one that
   computes right results, no slower than the detected one, wins. A
   candidate that crashes (an instruction the CPU lacks) or is wrong is
   passed over.
2. **In every process** the library is loaded with ``OPENBLAS_CORETYPE``
   set to the choice for that one ``dlopen``, after numpy, and the variable
   is put back at once: numpy's and scipy's BLAS keep what the environment
   gives them. Theano's compiled modules then find the library loaded.

``INCEPTION_ART_BLAS_CORETYPE`` overrides the choice: a core type name
(still checked), or ``off`` to load the library as the environment says.
Where Theano links another BLAS (``INCEPTION_ART_BLAS``), nothing is
chosen. ``python -m inception_art.doctor`` shows the outcome.

This module imports nothing of the package and nothing but numpy, so that
it runs as a script in the check's subprocesses.
"""
import ctypes
import ctypes.util
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Bump when the check or the choice changes: the kept answers are redone.
VERSION = 2

#: Instruction-set levels, lowest first.
LEVELS = ('sse', 'avx', 'avx2', 'avx512')

#: OpenBLAS core types (lower case) by the instruction set of their kernels;
#: any other name runs SSE kernels.
CORE_LEVELS = {
    'sandybridge': 'avx', 'bulldozer': 'avx', 'piledriver': 'avx', 'steamroller': 'avx',
    'excavator': 'avx',
    'haswell': 'avx2', 'zen': 'avx2',
    'skylakex': 'avx512', 'cooperlake': 'avx512', 'sapphirerapids': 'avx512',
}

#: Core types to try, best first, on a CPU of each level. Cooperlake and
#: SapphireRapids are left out: Cooperlake's sgemm was wrong on a Xeon that
#: offers its instructions, and the two add only bfloat16 kernels, which
#: float32 work never calls.
CANDIDATES = {'avx512': ('SkylakeX', 'Haswell'), 'avx2': ('Haswell',), 'avx': ('Sandybridge',),
              'sse': ()}

#: The largest relative error a float32 product may have (float32 sums of
#: 200 terms: about 1e-6; a wrong kernel: order 1).
TOLERANCE = 1e-4


def cpu():
    """``{'model', 'vendor', 'flags', 'level'}`` of this machine's CPU, from
    /proc/cpuinfo (level None where it cannot be read)."""
    info = {'model': None, 'vendor': None, 'family': None, 'model_number': None,
            'flags': []}
    try:
        text = Path('/proc/cpuinfo').read_text()
    except OSError:
        return dict(info, level=None)
    keys = {'model name': 'model', 'vendor_id': 'vendor', 'cpu family': 'family',
            'model': 'model_number', 'flags': 'flags'}
    for line in text.splitlines():
        key, _, value = line.partition(':')
        key = keys.get(key.strip())
        if key and info[key] in (None, []):
            info[key] = value.split() if key == 'flags' else value.strip()
        if not line.strip() and info['flags']:
            break                                   # the first CPU is enough
    return dict(info, level=isa_level(info['flags']))


def isa_level(flags):
    """The instruction-set level (:data:`LEVELS`) that ``flags`` offer."""
    flags = set(flags)
    if {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'} <= flags:
        return 'avx512'
    if {'avx2', 'fma'} <= flags:
        return 'avx2'
    return 'avx' if 'avx' in flags else 'sse'


def core_level(corename):
    """The instruction-set level of an OpenBLAS core type's kernels."""
    return CORE_LEVELS.get((corename or '').lower(), 'sse')


def is_fallback(corename, level):
    """Whether kernels of ``corename`` fall short of a CPU of ``level`` that
    offers AVX2 or AVX-512 (below AVX2 there is no fast float32 kernel to
    miss)."""
    if level not in ('avx2', 'avx512'):
        return False
    return LEVELS.index(core_level(corename)) < LEVELS.index('avx2')


def library_name():
    """What ``dlopen`` is given for the system OpenBLAS (its soname, as the
    compiled modules' ``-lopenblas`` records it), or None."""
    return ctypes.util.find_library('openblas')


# ------------------------------------------------------------ the check --

def _functions(lib):
    lib.openblas_get_corename.restype = ctypes.c_char_p
    lib.openblas_get_config.restype = ctypes.c_char_p
    f = ctypes.c_float
    p = ctypes.c_void_p
    i = ctypes.c_int
    lib.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
    lib.cblas_sgemv.argtypes = [i, i, i, i, f, p, i, p, i, f, p, i]
    return lib


def sgemm(lib, a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` in float32 through the library's ``cblas_sgemm``
    (row-major; ``a`` and ``b`` C-contiguous float32)."""
    import numpy as np
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    c = np.zeros((m, n), np.float32)
    lib.cblas_sgemm(101, 112 if trans_a else 111, 112 if trans_b else 111, m, n, k, 1.0,
                    a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 0.0,
                    c.ctypes.data, n)
    return c


def sgemv(lib, a, x):
    """``a @ x`` in float32 through the library's ``cblas_sgemv``."""
    import numpy as np
    y = np.zeros(a.shape[0], np.float32)
    lib.cblas_sgemv(101, 111, a.shape[0], a.shape[1], 1.0, a.ctypes.data, a.shape[1],
                    x.ctypes.data, 1, 0.0, y.ctypes.data, 1)
    return y


def product_errors(gemm, gemv):
    """The largest relative errors of ``gemm(a, b, trans_a, trans_b)`` and
    ``gemv(a, x)`` against references that use no BLAS: exact integer
    products (small integers are exact in float32) and float64 ``einsum``
    products of random floats, over shapes that reach the kernels' edge
    cases (odd sizes, transposes)."""
    import numpy as np
    rng = np.random.RandomState(0)
    errors = []
    for m, n, k, ta, tb in ((64, 64, 64, False, False), (67, 129, 200, False, False),
                            (96, 80, 150, True, False), (50, 33, 257, False, True),
                            (128, 96, 320, True, True)):
        for integers in (True, False):
            def draw(shape, integers=integers):
                if integers:
                    return rng.randint(-8, 9, shape).astype(np.float32)
                return rng.standard_normal(shape).astype(np.float32)
            a = draw((k, m) if ta else (m, k))
            b = draw((n, k) if tb else (k, n))
            got = gemm(a, b, ta, tb)
            ref = np.einsum('ik,kj->ij', (a.T if ta else a).astype(np.float64),
                            (b.T if tb else b).astype(np.float64))
            errors.append(float(np.abs(got - ref).max() / np.abs(ref).max()))
    a = rng.standard_normal((300, 170)).astype(np.float32)
    x = rng.standard_normal(170).astype(np.float32)
    ref = np.einsum('ij,j->i', a.astype(np.float64), x.astype(np.float64))
    errors.append(float(np.abs(gemv(a, x) - ref).max() / np.abs(ref).max()))
    return max(errors)


def gflops(gemm, n=384, seconds=0.3):
    """Float32 GFLOP/s of ``gemm`` on n x n products (the best of repeats)."""
    import numpy as np
    a = np.ones((n, n), np.float32)
    gemm(a, a, False, False)                  # warm up: threads, buffers
    best, start = float('inf'), time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        gemm(a, a, False, False)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def probe(name, core=None):
    """Load library ``name`` (with ``OPENBLAS_CORETYPE=core`` when given) in
    this process and check it: ``{'core', 'config', 'error', 'gflops'}``.
    Only for a fresh process: a library reads the variable once."""
    import numpy  # noqa: F401  (numpy's BLAS loads first, as in the package)
    if core:
        os.environ['OPENBLAS_CORETYPE'] = core
    lib = _functions(ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL))
    gemm = lambda a, b, ta, tb: sgemm(lib, a, b, ta, tb)
    gemv = lambda a, x: sgemv(lib, a, x)
    return {'core': lib.openblas_get_corename().decode(),
            'config': lib.openblas_get_config().decode(),
            'error': product_errors(gemm, gemv), 'gflops': round(gflops(gemm), 1)}


def _probe_in_subprocess(name, core):
    """:func:`probe` in a fresh Python; a crash or a time-out is a result."""
    try:
        # -P: the package's folder must not shadow modules numpy imports
        done = subprocess.run([sys.executable, '-P', __file__, name, core or ''],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {'asked': core, 'failed': 'no answer in 120 s'}
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ['exit status %d' % done.returncode])[-1]
        if done.returncode < 0:
            why = 'killed by signal %d' % -done.returncode
        return {'asked': core, 'failed': why}
    return dict(json.loads(done.stdout), asked=core)


def _correct(result):
    return 'failed' not in result and result['error'] <= TOLERANCE


def choose(name, cpu_info, forced=None):
    """The core type to load library ``name`` with on this CPU, and the
    checks that chose it: ``{'core', 'reason', 'tried'}``; core None keeps
    the library's own choice."""
    detected = _probe_in_subprocess(name, None)
    tried = [detected]
    level = cpu_info['level'] or 'sse'
    if forced:
        candidates = [forced]
    elif _correct(detected) and LEVELS.index(core_level(detected['core'])) >= LEVELS.index(level):
        return {'core': None, 'reason': 'the detected kernels match the CPU', 'tried': tried}
    else:
        candidates = [c for c in CANDIDATES.get(level, ())
                      if not _correct(detected) or LEVELS.index(core_level(c))
                      > LEVELS.index(core_level(detected['core']))]
    for core in candidates:
        result = _probe_in_subprocess(name, core)
        tried.append(result)
        if not _correct(result) or result['core'].lower() != core.lower():
            continue
        if _correct(detected) and result['gflops'] < detected['gflops'] and not forced:
            continue
        return {'core': core, 'reason': ('asked for by INCEPTION_ART_BLAS_CORETYPE' if forced
                                         else 'the detected %s kernels fall short of this '
                                              'CPU' % detected.get('core')), 'tried': tried}
    why = ('%s failed its check' % forced if forced
           else 'no better kernels passed the check' if candidates
           else 'none better to try')
    return {'core': None, 'reason': why, 'tried': tried}


def _library_file(name):
    """The file ``dlopen(name)`` would load, found without loading it (a
    load would fix the library's kernels): ldconfig's cache."""
    for ldconfig in ('/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig'):
        try:
            listing = subprocess.run([ldconfig, '-p'], capture_output=True, text=True,
                                     timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in listing.splitlines():
            if line.strip().startswith(name + ' ') and '=>' in line:
                return os.path.realpath(line.split('=>')[1].strip())
    return None


def _key(name, cpu_info):
    """What the kept choice depends on: the CPU, the library file, the
    environment's variables and this check's version."""
    path = _library_file(name)
    try:
        stat = os.stat(path)
        stamp = (path, stat.st_size, stat.st_mtime_ns)
    except (OSError, TypeError):
        stamp = (path,)
    env = [os.environ.get(v) for v in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE',
                                       'INCEPTION_ART_BLAS_CORETYPE')]
    text = repr((VERSION, cpu_info, stamp, env, sys.executable))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _loaded_path(lib):
    """The file a loaded library came from (glibc's ``dladdr``)."""
    class DlInfo(ctypes.Structure):
        _fields_ = [('dli_fname', ctypes.c_char_p), ('dli_fbase', ctypes.c_void_p),
                    ('dli_sname', ctypes.c_char_p), ('dli_saddr', ctypes.c_void_p)]
    try:
        libdl = ctypes.CDLL(None)
        info = DlInfo()
        address = ctypes.cast(lib.openblas_get_corename, ctypes.c_void_p)
        if libdl.dladdr(address, ctypes.byref(info)):
            return info.dli_fname.decode()
    except (AttributeError, OSError):
        pass
    return None


def _write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.' + path.name)
    with os.fdopen(fd, 'w') as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path)


#: What :func:`load` did in this process (None before it ran).
STATE = None


def load(cache_folder, ldflags='-lopenblas'):
    """Load the system OpenBLAS with the kernels chosen for this machine
    (see the module docstring) and return :data:`STATE`: the kernels in use
    and how they were chosen. Call before Theano compiles or loads a
    module; a second call returns the first's state."""
    global STATE
    if STATE is not None:
        return STATE
    info = cpu()
    name = library_name()
    forced = os.environ.get('INCEPTION_ART_BLAS_CORETYPE', '').strip() or None
    state = {'library': name, 'ldflags': ldflags, 'cpu': info['model'],
             'cpu_level': info['level'], 'chosen': None, 'reason': None,
             'checked_now': False}
    if name is None or 'openblas' not in ldflags or forced == 'off':
        state['reason'] = ('no OpenBLAS found' if name is None
                           else 'Theano links %s: not chosen here' % ldflags
                           if 'openblas' not in ldflags else 'INCEPTION_ART_BLAS_CORETYPE=off')
    else:
        kept = Path(cache_folder) / 'blas' / ('choice-%s.json' % _key(name, info))
        try:
            choice = json.loads(kept.read_text())
        except (OSError, ValueError):
            choice = choose(name, info, forced)
            try:
                _write_json(kept, choice)
            except OSError:
                pass                  # a read-only cache: choose again next time
            state['checked_now'] = True
        state.update(chosen=choice['core'], reason=choice['reason'], tried=choice['tried'])
    import numpy  # noqa: F401  (numpy's own BLAS loads with the environment's value)
    before = os.environ.get('OPENBLAS_CORETYPE')
    if state['chosen']:
        os.environ['OPENBLAS_CORETYPE'] = state['chosen']
    try:
        lib = _functions(ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)) if name else None
    except OSError as e:
        lib, state['reason'] = None, 'could not load %s: %s' % (name, e)
    finally:
        if before is None:
            os.environ.pop('OPENBLAS_CORETYPE', None)
        else:
            os.environ['OPENBLAS_CORETYPE'] = before
    if lib is not None:
        state.update(core=lib.openblas_get_corename().decode(),
                     config=lib.openblas_get_config().decode(), path=_loaded_path(lib))
        state['fallback'] = is_fallback(state['core'], info['level'])
    STATE = state
    if state['checked_now'] and state.get('fallback'):
        print(warning(state), file=sys.stderr)
    return state


def warning(state):
    """One line for kernels that fall short of the CPU, with what to do."""
    return ('warning: OpenBLAS runs its %s kernels on this %s CPU (%s), several times slower '
            'than it could; set INCEPTION_ART_BLAS_CORETYPE to a core type that suits it '
            '(e.g. Haswell) or install an OpenBLAS that knows this CPU '
            '(python -m inception_art.doctor)'
            % (state['core'], state['cpu_level'].upper(), state['reason']))


if __name__ == '__main__':
    # The check's subprocess: python openblas.py LIBRARY [CORETYPE]
    print(json.dumps(probe(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
