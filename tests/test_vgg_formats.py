"""VGG as published: one set of Caffe weights, written as the Lasagne model
zoo's ``vgg16.pkl`` and as MatConvNet's ``imagenet-vgg-verydeep-16.mat`` the
way each converter wrote it, must load to the same weights and give Caffe's
logits.

The two writers below follow the converters, not this project's reader, and
share no code with it or with the writer in ``test_weights.py``:

* the model zoo's pickles (Python 2's, here in its default text protocol)
  keep Caffe's kernels unflipped (its ``vgg16.py`` applies them with
  ``flip_filters=False``) for BGR input, and store a ``DenseLayer`` W, i.e.
  Caffe's inner-product matrix transposed;
* MatConvNet's ``utils/import-caffe.py`` reverses every blob's axes, swaps
  the first two (``--transpose``, its default), reverses conv1's input
  channels to RGB, reshapes an inner product over its input in Fortran order,
  writes biases as rows (the files re-exported for beta17+ hold columns) and
  the mean pixel as a whole ``imageSize`` image.

The kernels are random, so no 3x3 kernel equals any of its flips or
transposes and conv1's colour channels differ: a loader that flips,
transposes or keeps BGR fails here. A narrow VGG-16 keeps it fast.
"""
import pickle

import numpy as np
import pytest
import scipy.io
from scipy.signal import correlate

from inception_art.nets import vgg
from inception_art.theano_env import T, theano
from inception_art.weights import VGG_CONVS_PER_BLOCK, vgg_params

pytestmark = pytest.mark.filterwarnings('ignore::inception_art.weights.WeightFileWarning')

WIDTHS = (3, 4, 4, 5, 5)
FCS = (6, 6, 10)
SIZE = 224                   # the smallest input VGG is built for
POOL5 = SIZE // 32           # pool5's side, hence fc6's kernel
MEAN_BGR = (103.939, 116.779, 123.68)


# --- the published weights, as Caffe holds them -------------------------------


def caffe_model(seed=0):
    """Random VGG-16 weights in Caffe's layout: conv W (K, C, 3, 3) for BGR
    input, applied as a cross-correlation; inner products W (out, in) over the
    input flattened as (c, h, w)."""
    rng = np.random.RandomState(seed)
    convs, cin = [], 3
    for block, (n, width) in enumerate(zip(VGG_CONVS_PER_BLOCK[16], WIDTHS), 1):
        for i in range(1, n + 1):
            W = rng.normal(0, np.sqrt(2 / (9 * cin)), (width, cin, 3, 3)).astype('float32')
            b = rng.normal(0, 0.1, width).astype('float32')
            convs.append(('conv%d_%d' % (block, i), W, b))
            cin = width
    fcs, cin = [], cin * POOL5 * POOL5
    for name, width in zip(('fc6', 'fc7', 'fc8'), FCS):
        W = rng.normal(0, np.sqrt(2 / cin), (width, cin)).astype('float32')
        fcs.append((name, W, rng.normal(0, 0.1, width).astype('float32')))
        cin = width
    return {'convs': convs, 'fcs': fcs,
            'wnids': ['n%08d' % (1000 + i) for i in range(FCS[-1])],
            'descriptions': ['thing %d, kind %d' % (i, i) for i in range(FCS[-1])]}


def test_kernels_are_asymmetric():
    """The premise of the orientation checks below."""
    model = caffe_model()
    for _, W, _ in model['convs']:
        for k in W.reshape(-1, 3, 3):
            for other in (k[::-1], k[:, ::-1], k[::-1, ::-1], k.T, k[::-1, ::-1].T):
                assert not np.allclose(k, other)
    W1 = model['convs'][0][1]
    assert not np.allclose(W1[:, 0], W1[:, 2])  # Blue and Red weights differ


def caffe_forward(image_rgb, model):
    """Caffe's forward pass, in float64: BGR input minus the mean pixel, each
    conv a padded cross-correlation, 2x2 max pooling, the inner products on
    pool5 flattened as (c, h, w)."""
    x = (image_rgb[..., ::-1].astype('float64') - MEAN_BGR).transpose(2, 0, 1)
    convs = iter(model['convs'])
    for n in VGG_CONVS_PER_BLOCK[16]:
        for _ in range(n):
            _, W, b = next(convs)
            p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
            x = np.stack([sum(correlate(p[c], W[k, c], mode='valid') for c in range(W.shape[1]))
                          + b[k] for k in range(W.shape[0])])
            x = np.maximum(x, 0)
        c, h, w = x.shape
        x = x.reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    x = x.reshape(-1)
    for i, (_, W, b) in enumerate(model['fcs']):
        x = W.astype('float64') @ x + b
        if i < 2:
            x = np.maximum(x, 0)
    return x


# --- the Lasagne model zoo's converter ----------------------------------------


class Python2TextPickler(pickle._Pickler):
    """Protocol 0 as Python 2 wrote it by default: every str and byte string
    (array data included) as a quoted, escaped ``S'...'`` line. The Git LFS
    copies of vgg16.pkl / vgg19.pkl in the Lasagne Recipes repository are
    about 2.83 times their float32 data, the size of such a text pickle."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode('latin-1') if isinstance(obj, str) else obj
        escapes = {0x5C: b'\\\\', 0x27: b"\\'", 0x09: b'\\t', 0x0A: b'\\n', 0x0D: b'\\r'}
        text = b''.join(escapes.get(c) or (bytes([c]) if 0x20 <= c < 0x7F else b'\\x%02x' % c)
                        for c in data)
        self.write(pickle.STRING + b"'" + text + b"'\n")
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def write_model_zoo_pickle(path, model):
    """``vgg16.pkl``: ``'param values'`` in Lasagne's layer order -- conv W as
    Caffe has it (the zoo's ConvLayers use ``flip_filters=False``), then b;
    DenseLayer W ``(in, out)``, Caffe's matrix transposed -- with the Caffe
    model's BGR mean pixel and class descriptions."""
    params = []
    for _, W, b in model['convs']:
        params += [W.copy(), b.copy()]
    for _, W, b in model['fcs']:
        params += [np.ascontiguousarray(W.T), b.copy()]
    with open(path, 'wb') as f:
        Python2TextPickler(f, protocol=0).dump({
            'param values': params, 'synset words': list(model['descriptions']),
            'mean value': np.array(MEAN_BGR)})


# --- MatConvNet's converter (utils/import-caffe.py), step by step -------------


def blob_to_array(blob):
    """The importer's ``blobproto_to_array``: the blob read as
    (num, channels, height, width), then all axes reversed."""
    return np.asarray(blob, dtype='float32').transpose()


def _cell(items):
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _row(*values):
    return np.array(values, dtype=float).reshape(1, -1)


def write_matconvnet_import(path, model, bias='column', layout='meta'):
    """``imagenet-vgg-verydeep-16.mat`` as the importer builds it (VGG-VD
    models: ``--caffe-variant=caffe --preproc=vgg-caffe``, mean given as an
    RGB value). ``bias='row'`` and ``layout='top'`` write what the importer
    itself saves; ``'column'`` and ``'meta'`` what the files re-exported for
    MatConvNet beta17+ hold."""
    layers = []
    size = [SIZE, SIZE, 3]  # the importer's layer_input_size: height, width, channels
    last_conv = {'conv%d_%d' % (block, n) for block, n in enumerate(VGG_CONVS_PER_BLOCK[16], 1)}
    for name, W, b in model['convs']:
        layers.append({'name': name, 'type': 'conv',
                       'weights': [blob_to_array(W), blob_to_array(b.reshape(1, 1, 1, -1))],
                       'pad': [1, 1, 1, 1], 'stride': [1, 1]})
        layers.append({'name': name.replace('conv', 'relu'), 'type': 'relu'})
        size[2] = W.shape[0]
        if name in last_conv:
            layers.append({'name': 'pool' + name[4], 'type': 'pool', 'method': 'max',
                           'pool': [2, 2], 'pad': [0, 0, 0, 0], 'stride': [2, 2]})
            size[:2] = [size[0] // 2, size[1] // 2]
    for name, W, b in model['fcs']:
        out, n_in = W.shape
        assert n_in == size[0] * size[1] * size[2]
        # Old Caffe stores an inner product as a (1, 1, out, in) blob; the
        # importer reshapes it over its input's (height, width, channels).
        kernel = blob_to_array(W.reshape(1, 1, out, n_in)).reshape(
            size[0], size[1], size[2], out, order='F')
        layers.append({'name': name, 'type': 'conv',
                       'weights': [kernel, blob_to_array(b.reshape(1, 1, 1, -1))],
                       'pad': [0, 0, 0, 0], 'stride': [1, 1]})
        if name != 'fc8':  # the dropout layers after relu6/relu7 are removed
            layers.append({'name': 'relu' + name[2:], 'type': 'relu'})
        size = [1, 1, out]
    layers.append({'name': 'prob', 'type': 'softmax'})

    # "Reshape and transpose": every conv-type layer (fc ones included).
    first = True
    for layer in layers:
        for key in ('pad', 'stride', 'pool'):
            if key in layer:
                layer[key] = _row(*layer[key])
        if layer['type'] != 'conv':
            continue
        W, b = layer['weights']
        b = b.squeeze((2, 3))  # (K, 1, 1, 1) -> (K, 1)
        b = b.reshape(1, -1) if bias == 'row' else b
        W = W.transpose(1, 0, 2, 3)  # (w, h, in, out) -> (h, w, in, out)
        if first:
            W, first = W[:, :, ::-1, :], False  # Caffe's BGR input -> RGB
        weights = np.empty((1, 2), dtype=object)
        weights[0, 0], weights[0, 1] = np.ascontiguousarray(W), b
        layer['weights'] = weights

    # The mean value, reshaped (1, 1, 3) in Fortran order, interpolated over
    # the whole input: a constant imageSize image.
    average = np.array(MEAN_BGR[::-1], dtype=float).reshape(1, 1, 3, order='F')
    normalization = {'imageSize': _row(SIZE, SIZE, 3),
                     'averageImage': np.broadcast_to(average, (SIZE, SIZE, 3)).copy(),
                     'interpolation': 'bilinear', 'keepAspect': True, 'border': _row(0, 0)}
    classes = {'name': _cell(model['wnids']), 'description': _cell(model['descriptions'])}
    content = {'layers': _cell(layers)}
    if layout == 'meta':
        content['meta'] = {'inputs': {'name': 'data', 'size': _row(SIZE, SIZE, 3, 10)},
                           'normalization': normalization, 'classes': classes}
    else:
        content.update(normalization=normalization, classes=classes)
    scipy.io.savemat(str(path), content, oned_as='row')


# --- the checks ---------------------------------------------------------------


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    """The model and both files, (model, pkl path, {variant: mat path})."""
    folder = tmp_path_factory.mktemp('published')
    model = caffe_model()
    pkl = folder / 'vgg16.pkl'
    write_model_zoo_pickle(pkl, model)
    mats = {}
    for bias, layout in (('column', 'meta'), ('row', 'top')):
        sub = folder / bias
        sub.mkdir()
        mats[bias] = sub / 'imagenet-vgg-verydeep-16.mat'
        write_matconvnet_import(mats[bias], model, bias=bias, layout=layout)
    return model, pkl, mats


def _load(path):
    return vgg_params(path, 16, block_widths=WIDTHS, fc_widths=FCS)


def test_files_are_as_published(published):
    """The pickle is Python 2's text format; the .mat has the SimpleNN layout
    and the shapes the real file has."""
    model, pkl, mats = published
    data = pkl.read_bytes()
    assert data.startswith(b'(dp0\n') and b"S'param values'\n" in data
    assert b'_codecs' not in data and b'\x80' not in data  # no Python 3 bytes, no opcode >= 2
    mat = scipy.io.loadmat(str(mats['column']), squeeze_me=False, struct_as_record=False)
    layers = [ly[0, 0] for ly in mat['layers'][0]]
    assert [ly.type[0] for ly in layers].count('conv') == 16
    fc6 = next(ly for ly in layers if ly.name[0] == 'fc6')
    W, b = fc6.weights[0, 0], fc6.weights[0, 1]
    assert W.shape == (POOL5, POOL5, WIDTHS[-1], FCS[0]) and b.shape == (FCS[0], 1)
    conv1 = layers[0].weights[0, 0]
    assert conv1.shape == (3, 3, 3, WIDTHS[0])  # h, w, in (RGB), out
    norm = mat['meta'][0, 0].normalization[0, 0]
    assert norm.averageImage.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(norm.imageSize, [[SIZE, SIZE, 3]])
    row = scipy.io.loadmat(str(mats['row']), squeeze_me=False, struct_as_record=False)
    assert row['layers'][0, 0][0, 0].weights[0, 1].shape == (1, WIDTHS[0])
    assert 'normalization' in row and 'meta' not in row


@pytest.mark.parametrize('variant', ['column', 'row'])
def test_both_formats_load_to_the_same_weights(published, variant):
    model, pkl, mats = published
    a, m = _load(pkl), _load(mats[variant])
    for (wa, ba), (wm, bm) in zip(a.convs + a.fcs, m.convs + m.fcs):
        np.testing.assert_array_equal(wa, wm)
        np.testing.assert_array_equal(ba, bm)
    np.testing.assert_allclose(a.mean_rgb, m.mean_rgb, rtol=1e-6)
    np.testing.assert_allclose(m.mean_rgb, MEAN_BGR[::-1], rtol=1e-6)
    assert a.labels == m.labels == model['descriptions']
    # ... and they are Caffe's: cross-correlation, conv1 reading RGB, fc6 a
    # kernel over pool5 in (c, h, w) order.
    caffe = model['convs'] + model['fcs']
    np.testing.assert_array_equal(m.convs[0][0], caffe[0][1][:, ::-1])
    for (w, b), (name, cw, cb) in zip(m.convs[1:], caffe[1:13]):
        np.testing.assert_array_equal(w, cw, err_msg=name)
        np.testing.assert_array_equal(b, cb, err_msg=name)
    fc6 = model['fcs'][0][1]
    np.testing.assert_array_equal(m.fcs[0][0], fc6.reshape(FCS[0], WIDTHS[-1], POOL5, POOL5))
    np.testing.assert_array_equal(m.fcs[2][0][:, :, 0, 0], model['fcs'][2][1])


def test_both_formats_give_caffes_logits(published):
    model, pkl, mats = published
    rgb = np.random.RandomState(1).uniform(0, 255, (SIZE, SIZE, 3)).astype('float32')
    want = caffe_forward(rgb, model)
    image = T.tensor4('image')
    got = {}
    for fmt, path in (('pkl', pkl), ('mat', mats['column'])):
        net = vgg.build(16, (SIZE, SIZE), weights=_load(path))
        f = theano.function([image], net.logit_map(image))
        out = f(rgb.transpose(2, 0, 1)[None])
        assert out.shape == (1, FCS[-1], 1, 1)
        got[fmt] = out[0, :, 0, 0]
        np.testing.assert_allclose(got[fmt], want, rtol=1e-3, atol=1e-3 * np.abs(want).max(),
                                   err_msg=fmt)
    np.testing.assert_allclose(got['pkl'], got['mat'], rtol=1e-5, atol=1e-6)
