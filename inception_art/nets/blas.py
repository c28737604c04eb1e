"""What a C op that calls the BLAS needs from Theano: the headers, the
libraries and the flags of the BLAS Theano links (``blas.ldflags``, Debian's
OpenBLAS here), so that its GEMMs are the same ones Theano's own ops use."""
from ..theano_env import theano  # noqa: F401  (configures Theano first)
from theano.tensor import blas_headers
from theano.tensor.blas import ldflags


class UsesBlas:
    """Mixin for a ``theano.gof.Op`` with C code that calls ``sgemm_`` /
    ``dgemm_`` (declared by :func:`blas_support_code`)."""

    def c_headers(self):
        return ['<limits.h>']

    def c_libraries(self):
        return ldflags()

    def c_compile_args(self):
        return ldflags(libs=False, flags=True)

    def c_lib_dirs(self):
        return ldflags(libs=False, libs_dir=True)

    def c_header_dirs(self):
        return ldflags(libs=False, include_dir=True)


def blas_support_code():
    """Theano's declarations of the Fortran BLAS routines."""
    return blas_headers.blas_header_text()


def blas_version():
    """Part of a ``c_code_cache_version``: changes with the BLAS header."""
    return blas_headers.blas_header_version()
