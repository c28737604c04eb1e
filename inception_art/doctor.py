"""``python -m inception_art.doctor``: what this installation runs on.

Prints the versions, the CPU, and the BLAS libraries in the process:
Theano's (the system OpenBLAS, with the kernels :mod:`inception_art.openblas`
chose and the checks that chose them), and numpy's and scipy's own. Kernels that fall
short of the CPU are a warning line that says what to do, and exit status 1.

    python -m inception_art.doctor            # a report
    python -m inception_art.doctor --json     # the same as JSON (make bench records it)
"""
import json
import platform
import sys

from .cli import ArgumentParser, run_main


def report():
    """Everything the command prints, as a dict."""
    from . import __version__, openblas
    from .theano_env import cache_dir, theano
    import os
    import numpy
    import threadpoolctl
    state = dict(openblas.STATE or {})
    ours = os.path.realpath(state.get('path') or '')
    # numpy's and scipy's wheels carry their own OpenBLAS (in numpy.libs/...)
    others = [dict(owner=os.path.basename(os.path.dirname(i['filepath'])).replace('.libs', ''),
                   api=i.get('internal_api'), version=i.get('version'),
                   core=i.get('architecture'), path=i['filepath'])
              for i in threadpoolctl.threadpool_info() if i.get('user_api') == 'blas'
              and os.path.realpath(i['filepath']) != ours]
    # numpy's own BLAS, checked as the chosen kernels are (float32 matmul)
    numpy_error = openblas.product_errors(
        lambda a, b, ta, tb: (a.T if ta else a) @ (b.T if tb else b), lambda a, x: a @ x)
    return {
        'inception_art': __version__, 'python': platform.python_version(),
        'numpy_error': numpy_error,
        'numpy': numpy.__version__, 'theano': theano.__version__,
        'cache': str(cache_dir()), 'cpu': openblas.cpu(),
        'blas': state, 'other_blas': others,
    }


def lines(r):
    """The report as the lines the command prints."""
    cpu, blas = r['cpu'], r['blas']
    out = ['inception_art %s, Python %s, numpy %s, Theano %s'
           % (r['inception_art'], r['python'], r['numpy'], r['theano']),
           'cache:      %s' % r['cache'],
           'cpu:        %s (%s, family %s model %s)'
           % (cpu['model'], (cpu['level'] or '?').upper(), cpu['family'], cpu['model_number'])]
    if blas.get('core'):
        out.append('BLAS:       %s, %s kernels%s (%s)'
                   % (blas['path'], blas['core'],
                      ', chosen for this CPU' if blas.get('chosen') else '', blas['reason']))
        out.append('            %s' % blas['config'])
        for t in blas.get('tried', []):
            asked = t.get('asked') or 'as detected'
            out.append('  checked   %-12s %s' % (asked, t['failed'] if 'failed' in t else
                                                 '%s: error %.1e, %.0f GFLOP/s'
                                                 % (t['core'], t['error'], t['gflops'])))
    else:
        out.append('BLAS:       %s (%s)' % (blas.get('ldflags'), blas.get('reason')))
    for b in r['other_blas']:
        out.append('%-11s %s %s, %s kernels (its own, as the environment loads it)'
                   % (b['owner'] + ':', b['api'], b['version'], b['core']))
    out.append('numpy:      float32 products checked: error %.1e' % r['numpy_error'])
    if blas.get('fallback'):
        from .openblas import warning
        out.append(warning(blas))
    from .openblas import TOLERANCE
    if r['numpy_error'] > TOLERANCE:
        out.append('warning: numpy\'s own BLAS computes wrong float32 products (error %.1e); '
                   'unset OPENBLAS_CORETYPE or set it to a core type this CPU runs right'
                   % r['numpy_error'])
    return out


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art doctor',
    'inception-art doctor --json',
)


def main(argv=None):
    parser = ArgumentParser(
        prog='inception-art doctor', examples=EXAMPLES,
        description='Show the versions, the CPU and the BLAS kernels in use.')
    parser.add_argument('--json', action='store_true', help='print JSON')
    args = parser.parse_args(argv)
    r = report()
    print(json.dumps(r, indent=1) if args.json else '\n'.join(lines(r)))
    from .openblas import TOLERANCE
    return 1 if r['blas'].get('fallback') or r['numpy_error'] > TOLERANCE else 0


if __name__ == '__main__':
    sys.exit(run_main(main))
