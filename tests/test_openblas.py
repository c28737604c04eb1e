"""The BLAS kernels (inception_art/openblas.py): the ones in use suit the CPU,
a fallback is replaced by checked kernels, and wrong ones are never chosen."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from inception_art import openblas
from inception_art.theano_env import theano, T


def doctor(env, *args):
    """``python -m inception_art.doctor --json`` in a fresh process."""
    done = subprocess.run([sys.executable, '-m', 'inception_art.doctor', '--json', *args],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **env))
    return done, json.loads(done.stdout)


def test_the_kernels_in_use_suit_the_cpu():
    """On a CPU that offers AVX2 or AVX-512, Theano's BLAS runs kernels of at
    least AVX2 (the SSE3 'Prescott' fallback is 3-5x slower)."""
    state = openblas.STATE
    assert state is not None and state['core'], state
    level = openblas.cpu()['level']
    assert not openblas.is_fallback(state['core'], level), (
        'OpenBLAS runs its %s kernels on an %s CPU: %s' % (state['core'], level, state))
    if level in ('avx2', 'avx512'):
        assert openblas.core_level(state['core']) in ('avx2', 'avx512')


def test_theano_computes_with_the_library_that_was_checked():
    """A compiled Theano product runs in this process on the OpenBLAS that
    was loaded and checked (one copy, its kernels), and is right."""
    a, b = T.matrix(), T.matrix()
    f = theano.function([a, b], T.dot(a, b))
    assert any('Gemm' in type(n.op).__name__ or 'Dot22' in type(n.op).__name__
               for n in f.maker.fgraph.toposort())
    rng = np.random.RandomState(0)
    x, y = rng.randn(70, 90).astype('float32'), rng.randn(90, 50).astype('float32')
    assert np.allclose(f(x, y), np.einsum('ik,kj->ij', x.astype(float), y.astype(float)),
                       atol=1e-4)
    maps = open('/proc/self/maps').read()
    loaded = {line.split()[-1] for line in maps.splitlines() if 'libopenblas.so' in line
              or 'libopenblasp' in line and 'site-packages' not in line}
    assert {os.path.realpath(p) for p in loaded} == {os.path.realpath(openblas.STATE['path'])}


def test_a_fallback_from_the_environment_is_replaced_by_checked_kernels(tmp_path):
    """The Xeon case: the library loads its SSE3 'Prescott' kernels (forced
    here by the environment, as OpenBLAS's own detection does on CPUs it
    does not know). Theano's BLAS gets checked AVX2 kernels instead; numpy's
    and scipy's own OpenBLAS keep what the environment gives them; the
    choice is kept, so the next process checks nothing."""
    env = {'OPENBLAS_CORETYPE': 'Prescott', 'INCEPTION_ART_CACHE': str(tmp_path)}
    done, first = doctor(env)
    assert done.returncode == 0, done.stderr
    blas = first['blas']
    assert blas['checked_now'] and blas['chosen'] and not blas['fallback']
    assert openblas.core_level(blas['core']) in ('avx2', 'avx512')
    assert [t['asked'] for t in blas['tried']][0] is None          # the detected one first
    assert blas['tried'][0]['core'] == 'Prescott'
    assert all(t['error'] <= openblas.TOLERANCE for t in blas['tried'])
    numpy_blas = [b for b in first['other_blas'] if b['owner'] == 'numpy']
    assert numpy_blas and all(b['core'] == 'Prescott' for b in numpy_blas)
    assert first['numpy_error'] <= openblas.TOLERANCE
    done, second = doctor(env)
    assert not second['blas']['checked_now'] and second['blas']['core'] == blas['core']


def test_the_doctor_says_which_kernels_run():
    done = subprocess.run([sys.executable, '-m', 'inception_art.doctor'], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'BLAS:       %s, %s kernels' % (openblas.STATE['path'], openblas.STATE['core']) \
        in done.stdout
    assert 'numpy:' in done.stdout and 'warning' not in done.stdout


def test_numpy_still_computes_right_beside_the_chosen_kernels(tmp_path):
    code = ('import inception_art.theano_env, numpy as np; r = np.random.RandomState(1); '
            'a, b = r.randn(130, 70).astype("float32"), r.randn(70, 90).astype("float32"); '
            'ref = np.einsum("ik,kj->ij", a.astype(float), b.astype(float)); '
            'print(abs(a @ b - ref).max() / abs(ref).max())')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=dict(os.environ, OPENBLAS_CORETYPE='Prescott',
                                   INCEPTION_ART_CACHE=str(tmp_path)), timeout=300)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < openblas.TOLERANCE


def test_the_check_tells_wrong_products_from_right_ones():
    right = lambda a, b, ta, tb: (a.T if ta else a) @ (b.T if tb else b)
    assert openblas.product_errors(right, lambda a, x: a @ x) < 1e-5
    # a kernel that drops the last row of every block of 64, as a bad edge case would
    def dropped(a, b, ta, tb):
        c = right(a, b, ta, tb)
        c[63::64] = 0
        return c
    assert openblas.product_errors(dropped, lambda a, x: a @ x) > 0.1
    # a kernel that rounds its inputs to bfloat16 (a Cooperlake-style mistake)
    def bf16(x):
        return (x.view(np.uint32) & 0xFFFF0000).view(np.float32)
    rounded = lambda a, b, ta, tb: right(bf16(a.copy()), bf16(b.copy()), ta, tb)
    assert openblas.product_errors(rounded, lambda a, x: a @ x) > openblas.TOLERANCE


def test_the_choice_passes_over_kernels_that_fail_or_are_wrong(monkeypatch):
    """Candidates are taken best first; a crash or a wrong product is
    passed over, and where none passes the detected kernels stay."""
    results = {None: {'core': 'Prescott', 'error': 1e-7, 'gflops': 30.0},
               'SkylakeX': {'failed': 'killed by signal 4'},
               'Haswell': {'core': 'Haswell', 'error': 3.0, 'gflops': 80.0}}
    monkeypatch.setattr(openblas, '_probe_in_subprocess',
                        lambda name, core: dict(results[core], asked=core))
    choice = openblas.choose('libopenblas.so.0', {'level': 'avx512'})
    assert choice['core'] is None and 'no better kernels' in choice['reason']
    assert [t['asked'] for t in choice['tried']] == [None, 'SkylakeX', 'Haswell']
    results['Haswell']['error'] = 1e-6
    choice = openblas.choose('libopenblas.so.0', {'level': 'avx512'})
    assert choice['core'] == 'Haswell'
    # a detected core of the CPU's own level is kept without trying others
    results[None]['core'] = 'SkylakeX'
    choice = openblas.choose('libopenblas.so.0', {'level': 'avx512'})
    assert choice['core'] is None and len(choice['tried']) == 1


def test_a_library_that_does_not_load_is_a_failed_check():
    result = openblas._probe_in_subprocess('libno-such-blas.so.0', None)
    assert result['failed'] and 'libno-such-blas' in result['failed']


@pytest.mark.parametrize('flags, level', [
    ('fpu sse sse2 pni', 'sse'), ('sse4_2 avx', 'avx'), ('avx avx2 fma', 'avx2'),
    ('avx avx2 fma avx512f avx512bw avx512vl avx512dq', 'avx512'),
    ('avx avx2 fma avx512f', 'avx2'),      # AVX-512 without the parts SkylakeX needs
])
def test_the_cpu_level_comes_from_its_flags(flags, level):
    assert openblas.isa_level(flags.split()) == level


def test_fallback_is_below_avx2_on_a_cpu_that_has_it():
    assert openblas.is_fallback('Prescott', 'avx512') and openblas.is_fallback('Nehalem', 'avx2')
    assert openblas.is_fallback('Sandybridge', 'avx2')
    assert not openblas.is_fallback('Haswell', 'avx512')
    assert not openblas.is_fallback('Zen', 'avx2')
    assert not openblas.is_fallback('Prescott', 'avx')
