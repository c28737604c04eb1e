"""What the C ops of :mod:`inception_art.nets.depthwise` and
:mod:`inception_art.nets.pointwise` share.

Their C is in ``depthwise.c`` and ``pointwise.c`` next to this file, the C
both use (the output array) in ``c_op.c``, each read section by section by
:func:`c_sections`. Here too: the argument checks, the numpy helpers of
the reference ``perform`` methods, the activation's gradient mask
(:func:`relu6_mask`), the base classes ``_CodeOp`` (a C op's code from a
template, its cache version) and ``_ForwardOp`` (what the two forward ops
share), and the one cache version of all that C.
"""
import functools
import zlib
from pathlib import Path

import numpy as np

from ..c_source import sections
from ..theano_env import theano, T

__all__ = ['ACTIVATIONS', 'c_sections', 'relu6_mask']

#: The activations the ops can apply to their output.
ACTIVATIONS = ('linear', 'relu6')

@functools.cache
def c_sections(name):
    """The sections of the C file ``name`` in this folder.

    Parameters
    ----------
    name : str
        The file's name, e.g. ``'depthwise.c'``.

    Returns
    -------
    dict
        Section name -> text (:func:`inception_art.c_source.sections`).
    """
    return sections(Path(__file__).with_name(name))


_C_OUTPUT = c_sections('c_op.c')['output']

# An optional input (a bias, a ReLU6 output) as a contiguous array or NULL.
_C_OPTIONAL = 'PyArray_GETCONTIGUOUS(%s)'

# Theano keys its on-disk cache on c_code_cache_version alone, not on the
# source: derive the version from the C text so an edit can never pick up a
# stale compiled module. One version for every section of the three files,
# in the order the text had as strings of one module, so that moving it into
# files kept the number (and the compiled modules in Theano's cache).
_C_VERSIONED = (
    ('depthwise.c', 'support'), ('pointwise.c', 'support'),
    ('c_op.c', 'output'), ('depthwise.c', 'params'),
    ('depthwise.c', 'forward'), ('depthwise.c', 'grad_input'),
    ('depthwise.c', 'grad_weights'), ('pointwise.c', 'forward'),
    ('pointwise.c', 'grad_input'))
_C_VERSION = (2, zlib.crc32(''.join(
    c_sections(f)[s] for f, s in _C_VERSIONED).encode()))

_FLOAT_DTYPES = ('float32', 'float64')


def _check_act(act):
    act = 'linear' if act is None else act
    if act not in ACTIVATIONS:
        raise ValueError('activation must be one of %s, got %r'
                         % (', '.join(ACTIVATIONS), act))
    return act


def _as_float(var, name, ndim):
    var = T.as_tensor_variable(var)
    if var.ndim != ndim:
        raise TypeError('%s must be %d-d, got %d-d' % (name, ndim, var.ndim))
    if var.dtype not in _FLOAT_DTYPES:
        raise TypeError('%s must be float32 or float64, got %s'
                        % (name, var.dtype))
    return var


def _as_4d_float(var, name):
    return _as_float(var, name, 4)


def _same_dtype(ref, var, names):
    if var.dtype != ref.dtype:
        raise TypeError('%s must have the same dtype, got %s and %s'
                        % (names, ref.dtype, var.dtype))


def _as_weights(w, like):
    if isinstance(w, np.ndarray):
        w = w.astype(like.dtype, copy=False)
    return w


def relu6_mask(y):
    """Where ReLU6 passes its gradient, read off its output ``y``:
    ``0 < y < 6`` (PyTorch's ``hardtanh_backward`` likewise)."""
    return T.and_(T.gt(y, 0), T.lt(y, 6))


def _np_act(z, act):
    # as Theano's clip: a NaN stays a NaN
    return np.where(z < 0, 0, np.where(z > 6, 6, z)).astype(z.dtype) \
        if act == 'relu6' else z


def _np_mask(y):
    return (y > 0) & (y < 6)


def _optional(names, key, flag):
    """Put an optional input's C expression and its presence flag into
    ``names``."""
    present = key in names
    names[key] = _C_OPTIONAL % names[key] if present else 'NULL'
    names[flag] = int(present)


class _CodeOp(theano.gof.Op):
    """What the C ops share: the C code from the op's template, the cache
    version. A subclass gives ``c_support_code``."""

    _c_template = None
    _c_locals = ()

    def c_code_cache_version(self):
        return _C_VERSION

    def _c(self, sub, names, out, ref):
        names = dict(names, fail=sub['fail'], params=sub['params'])
        cleanup = ' '.join('Py_XDECREF(%s);' % v for v in self._c_locals)
        names['cleanup'] = cleanup
        names['output'] = _C_OUTPUT % dict(out=names[out], ref=names[ref],
                                           fail=sub['fail'], cleanup=cleanup)
        return self._c_template % names


class _ForwardOp:
    """What the two forward ops share: inputs ``x``, ``w`` and an optional
    bias ``b``, output ``y = act(conv(x, w) + b)``. A subclass's ``_grads``
    gives the input and weight gradients; ``y`` is passed when the
    activation is ReLU6, whose gradient the backward ops apply themselves."""

    def _grads(self, x, w, y, gy, gz):
        raise NotImplementedError

    @staticmethod
    def _inputs(x, w, b):
        """The checked inputs ``[x, w]`` or ``[x, w, b]`` of ``make_node``:
        4-d float ``x`` and ``w``, a 1-d ``b``, all of one dtype."""
        x = _as_4d_float(x, 'x')
        w = _as_4d_float(w, 'w')
        _same_dtype(x, w, 'x and w')
        inputs = [x, w]
        if b is not None:
            b = _as_float(b, 'b', 1)
            _same_dtype(x, b, 'x and b')
            inputs.append(b)
        return inputs

    def L_op(self, inputs, outputs, output_grads):
        x, w = inputs[:2]
        y, = outputs
        gy, = output_grads
        relu6 = self.act == 'relu6'
        gz = gy * relu6_mask(y) if relu6 else gy  # the pre-activation's
        gx, gw = self._grads(x, w, y if relu6 else None, gy, gz)
        grads = [T.patternbroadcast(gx, x.broadcastable),
                 T.patternbroadcast(gw, w.broadcastable)]
        if len(inputs) > 2:
            grads.append(gz.sum(axis=(0, 2, 3)))
        return grads

    def c_code(self, node, name, inp, out, sub):
        names = dict(x=inp[0], w=inp[1], y=out[0])
        if len(inp) > 2:
            names['b'] = inp[2]
        _optional(names, 'b', 'has_b')
        return self._c(sub, names, 'y', 'x')
