"""Theano configuration for inception_art: the one place that sets Theano flags.

Importing this module (``import inception_art`` does it first) configures
Theano 1.0.5 for this stack before Theano itself is imported:

* ``floatX=float32``, OpenBLAS given explicitly through ``blas.ldflags``
  (Theano 1.0.5 otherwise crashes reading numpy's removed distutils BLAS
  info), no OpenMP (it parallelises a batch of one and fights OpenBLAS for
  the cores: measured 1.5x slower on VGG).
* the OpenBLAS kernels for this CPU, checked (:mod:`inception_art.openblas`),
  loaded before anything of Theano's.
* a persistent compile cache (``base_compiledir``) so a second process reuses
  the compiled C code of the first one.
* glibc's malloc told to keep large blocks (``mallopt``): Theano's
  convolution allocates a big scratch buffer on every call and glibc
  otherwise hands it back to the OS each time (15-45 % of a step).
* the pure-Python ``scan`` fallback: its Cython extension cannot build on
  Python 3.11 and the failure is not caught by Theano.
* a higher recursion limit, because ``T.grad`` recurses through deep graphs.
* Ops with an empty ``__props__`` get a non-empty one, so that compiled code
  that contains them is cached across processes instead of being rebuilt by
  gcc every time (about 3 s per process).
* a cold cache compiles faster: gcc reads the headers every Theano module
  starts with from a precompiled header kept in the cache folder
  (``INCEPTION_ART_PCH=0`` turns that off), and writes no debug info.
* the Lasagne 0.1 compatibility module ``theano.tensor.signal.downsample``.

Modules that use Theano or Lasagne import both from here
(``from .theano_env import T, lasagne``), never directly.

A user's own ``THEANO_FLAGS`` are kept and take precedence over ours.
The cache folder is ``$INCEPTION_ART_CACHE`` if set, else ``.cache/theano``
in the project checkout, else ``~/.cache/inception_art/theano``.
"""
import ctypes
import os
import shutil
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

from . import openblas

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir():
    """The folder for Theano's compiled code (see the module docstring)."""
    if os.environ.get('INCEPTION_ART_CACHE'):
        return Path(os.environ['INCEPTION_ART_CACHE'])
    local = PROJECT_ROOT / '.cache'
    if (PROJECT_ROOT / 'setup.py').exists() and os.access(PROJECT_ROOT, os.W_OK):
        return local / 'theano'
    return Path.home() / '.cache' / 'inception_art' / 'theano'


#: The linker's own folders (Debian, Ubuntu, Fedora, Arch): an OpenBLAS there
#: links with a plain ``-lopenblas``.
DEFAULT_LIB_DIRS = ('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64',
                    '/usr/lib', '/usr/local/lib')
#: Folders the linker does not search (Homebrew's, a source build's): linked
#: with ``-L`` and an rpath.
OTHER_LIB_DIRS = ('/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib',
                  '/opt/OpenBLAS/lib')
#: The one line for a machine without any.
NO_BLAS = ('no OpenBLAS to link against: install it (Debian/Ubuntu: apt install '
           'libopenblas-dev; Fedora: dnf install openblas-devel; Arch: pacman -S openblas; '
           'macOS: brew install openblas) or set INCEPTION_ART_BLAS to the linker flags of '
           "another BLAS, e.g. '-L/opt/blas/lib -lopenblas'")


def blas_ldflags():
    """How Theano links the BLAS: ``$INCEPTION_ART_BLAS`` (linker flags),
    else an OpenBLAS in the linker's folders, else one that pkg-config
    knows, else one in :data:`OTHER_LIB_DIRS`. None of them: an OSError
    with :data:`NO_BLAS`."""
    if os.environ.get('INCEPTION_ART_BLAS'):
        return os.environ['INCEPTION_ART_BLAS']
    names = ('libopenblas.so', 'libopenblas.dylib')
    if any(Path(d, n).exists() for d in DEFAULT_LIB_DIRS for n in names):
        return '-lopenblas'
    try:
        found = subprocess.run(['pkg-config', '--libs', 'openblas'], capture_output=True,
                               text=True, timeout=10)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass                      # no pkg-config
    for d in OTHER_LIB_DIRS:
        if any(Path(d, n).exists() for n in names):
            return '-L%s -Wl,-rpath,%s -lopenblas' % (d, d)
    raise OSError(NO_BLAS)


def check_compiler():
    """Theano compiles C++ against Python's headers: say in one line which
    is missing, rather than let the first compile fail deep inside Theano."""
    missing = []
    if not shutil.which(os.environ.get('CXX', 'g++')):
        missing.append('a C++ compiler, g++ (Debian/Ubuntu: apt install g++)')
    include = Path(sysconfig.get_paths()['include'])
    if not (include / 'Python.h').is_file():
        missing.append("Python's headers, %s/Python.h (Debian/Ubuntu: apt install "
                       'python%d.%d-dev)' % ((include,) + sys.version_info[:2]))
    if missing:
        raise OSError('cannot compile the network: missing %s' % ' and '.join(missing))


def _keep_malloc_arenas():
    # M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4 in glibc's malloc.h.
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:  # not glibc: nothing to tune
        return
    libc.mallopt(-4, 0)
    libc.mallopt(-1, 1 << 30)


def _flags(ldflags):
    ours = {
        'floatX': 'float32',
        'device': 'cpu',
        'openmp': 'False',
        'blas.ldflags': ldflags,
        'base_compiledir': str(cache_dir()),
        # -g0: Theano always passes -g; debug info cost ~10% of each
        # module's compile time (measured) and nothing at run time.
        'gcc.cxxflags': '-O3 -Wno-unused-label -Wno-unused-variable -g0',
        'compiledir_format': 'compiledir_%(python_version)s-%(processor)s',
    }
    user = os.environ.get('THEANO_FLAGS', '')
    for item in filter(None, user.split(',')):
        ours.pop(item.split('=', 1)[0].strip(), None)
    return ','.join([user] * bool(user) + ['%s=%s' % kv for kv in ours.items()])


def _version_prop_less_ops(op_base):
    # Theano treats a graph as unversioned (never cached on disk) when an Op
    # has __props__ == (). The props' names only enter the cache key, not the
    # Op's equality, so a marker name is enough.
    stack = [op_base]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__dict__.get('__props__') == () and hasattr(cls, 'c_code'):
            cls.__props__ = ('cached_by_inception_art',)


#: What every C module Theano generates includes first (checked on the
#: Lite0 step: the same six lines open all of its 60-odd modules; the rest
#: are common in Theano's ops). Parsing these headers was about half of
#: each module's gcc time.
_PRELUDE = ('Python.h', 'iostream', '"theano_mod_helper.h"', 'math.h',
            'numpy/arrayobject.h', 'numpy/arrayscalars.h', 'vector',
            'algorithm', 'string.h', 'stdlib.h', 'limits.h', 'stdio.h')


def _use_precompiled_header(theano):
    """Have gcc read the common headers of Theano's C modules from a
    precompiled header (built once per cache folder and compiler setup).

    Theano compiles one module per distinct Op, each ~0.6 s of gcc of which
    ~0.3 s is parsing Python's and numpy's headers. ``-include prelude.h``
    in ``gcc.cxxflags`` makes gcc load ``prelude.h.gch`` instead, which
    roughly halved the cold compile of the Lite0 step. The header is built
    with exactly the flags Theano then compiles with; gcc itself refuses a
    precompiled header from another compiler or with other code-generation
    flags (it then reads ``prelude.h`` as text: slower, same result), and
    the folder name hashes everything else it depends on (Python, numpy and
    Theano versions, flags, include folders). Any failure leaves Theano as
    it was.
    """
    import hashlib
    import subprocess
    import sysconfig
    import tempfile

    import numpy
    try:
        from theano.gof.cmodule import GCC_compiler
        if not theano.config.cxx or 'clang' in theano.config.cxx:
            return
        version = subprocess.run([theano.config.cxx, '--version'],
                                 capture_output=True, text=True,
                                 timeout=30).stdout
        # the flags of every module: Theano's defaults (CLinker.compile_args)
        # then the compiler's (which hold gcc.cxxflags and -march=...)
        flags = ['-O3', '-fno-math-errno', '-Wno-unused-label',
                 '-Wno-unused-variable', '-Wno-write-strings']
        flags += GCC_compiler.compile_args() + ['-fvisibility=hidden']
        includes = [sysconfig.get_paths()['include'], numpy.get_include(),
                    str(Path(theano.gof.__file__).parent / 'c_code')]
        text = ''.join('#include %s\n' % (h if h.startswith('"') else
                                           '<%s>' % h) for h in _PRELUDE)
        key = hashlib.sha256(repr((version, flags, includes, text,
                                   sys.version, numpy.__version__,
                                   theano.__version__)).encode())
        folder = cache_dir() / ('pch-' + key.hexdigest()[:16])
        header = folder / 'prelude.h'
        if ' ' in str(header):  # Theano splits gcc.cxxflags on spaces
            return
        if not (folder / 'prelude.h.gch').exists():
            folder.mkdir(parents=True, exist_ok=True)
            # another process may be compiling against these files: each
            # one appears whole (os.replace), the header before its .gch
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                (Path(tmp) / 'prelude.h').write_text(text)
                if not header.exists():
                    os.replace(Path(tmp) / 'prelude.h', header)
                built = Path(tmp) / 'prelude.h.gch'
                subprocess.run(
                    [theano.config.cxx, '-x', 'c++-header', '-g'] + flags
                    + ['-I' + d for d in includes]
                    + ['-o', str(built), str(header)],
                    check=True, capture_output=True, timeout=300)
                os.replace(built, folder / 'prelude.h.gch')
        theano.config.gcc.cxxflags += ' -include ' + str(header)
    except (OSError, ValueError, subprocess.SubprocessError):
        return


def _install_downsample_shim(theano):
    from theano.tensor.signal import pool

    def max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0),
                    mode='max'):
        """Lasagne 0.1's call, mapped to Theano 1.0's ``pool_2d``."""
        return pool.pool_2d(input, ws=ds, ignore_border=ignore_border,
                            stride=st, pad=padding, mode=mode)

    module = types.ModuleType('theano.tensor.signal.downsample')
    module.max_pool_2d = max_pool_2d
    sys.modules[module.__name__] = module
    theano.tensor.signal.downsample = module


def configure():
    """Configure and import Theano once; return the ``theano`` module."""
    if 'theano' in sys.modules and getattr(configure, 'done', False):
        return sys.modules['theano']
    check_compiler()
    ldflags = blas_ldflags()
    os.environ['THEANO_FLAGS'] = _flags(ldflags)
    cache_dir().mkdir(parents=True, exist_ok=True)
    _keep_malloc_arenas()
    openblas.load(cache_dir(), ldflags)
    sys.modules.setdefault('theano.scan_module.scan_perform_ext', None)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    import theano
    import theano.tensor.signal  # the shim attaches to it
    from theano import gof
    _install_downsample_shim(theano)
    _version_prop_less_ops(gof.Op)
    if os.environ.get('INCEPTION_ART_PCH', '1') != '0':
        _use_precompiled_header(theano)
    configure.done = True
    return theano


theano = configure()
T = theano.tensor
import lasagne  # noqa: E402, F401 (needs the shim above; the package imports it from here)

#: Cross-correlation, as Caffe, torch and TF weights expect. Theano's default
#: ``filter_flip=True`` would also flip every kernel inside the graph on every
#: call (measured +0.16 s per VGG-16 step).
def correlate(input, filters, image_shape=None, **kwargs):
    """``T.nnet.conv2d`` with ``filter_flip=False``; accepts Lasagne 0.1's
    ``image_shape`` keyword under Theano 1.0's name ``input_shape``."""
    kwargs.setdefault('input_shape', image_shape)
    return T.nnet.conv2d(input, filters, filter_flip=False, **kwargs)
