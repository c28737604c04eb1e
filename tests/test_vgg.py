"""VGG built from a Lasagne model-zoo pickle, checked end to end against a
direct numpy forward pass of the *raw* pickle (BGR input, fc6 as a dense
layer on the flattened pool5): this checks the channel swap, the kernel
orientation and fc6's reshape together. A narrow VGG-16 keeps it fast."""
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from inception_art.nets import vgg
from inception_art.nets.network import InputSizeError
from inception_art.theano_env import theano, T
from inception_art.weights import VGG_CONVS_PER_BLOCK, WeightFileError, vgg_params

WIDTHS = (3, 4, 4, 5, 5)
FCS = (6, 6, 10)
MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype='float32')


def raw_params(rng):
    """Parameters as the model zoo stores them: conv W (out, in, 3, 3) for
    BGR input, dense W (in, out) with fc6's rows in (c, h, w) order."""
    params, cin = [], 3
    for n, width in zip(VGG_CONVS_PER_BLOCK[16], WIDTHS):
        for _ in range(n):
            params += [rng.normal(0, np.sqrt(2 / (9 * cin)), (width, cin, 3, 3)),
                       rng.normal(0, 0.1, width)]
            cin = width
    cin *= 49
    for width in FCS:
        params += [rng.normal(0, np.sqrt(2 / cin), (cin, width)), rng.normal(0, 0.1, width)]
        cin = width
    return [p.astype('float32') for p in params]


def numpy_vgg(image_rgb, params):
    """Forward pass of the raw parameters, the way Caffe computes it."""
    x = (image_rgb[..., ::-1] - MEAN_BGR).transpose(2, 0, 1).astype('float64')
    it = iter(params)
    for n in VGG_CONVS_PER_BLOCK[16]:
        for _ in range(n):
            W, b = next(it), next(it)
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
            x = np.stack([sum(correlate(padded[i], W[o, i], mode='valid')
                              for i in range(W.shape[1])) + b[o] for o in range(W.shape[0])])
            x = np.maximum(x, 0)
        c, h, w = x.shape
        x = x[:, :h // 2 * 2, :w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    x = x.reshape(-1)
    for k in range(3):
        W, b = next(it), next(it)
        x = x @ W + b
        if k < 2:
            x = np.maximum(x, 0)
    return x


@pytest.fixture(scope='module')
def narrow_vgg(tmp_path_factory):
    rng = np.random.RandomState(0)
    params = raw_params(rng)
    # Not named vgg16.pkl: that name is checked against the published MD5.
    path = tmp_path_factory.mktemp('models') / 'narrow_vgg16.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'param values': params, 'mean value': MEAN_BGR,
                     'synset words': ['class %d' % i for i in range(FCS[-1])]}, f, protocol=2)
    weights = vgg_params(path, 16, block_widths=WIDTHS, fc_widths=FCS)
    return params, weights


def test_vgg_matches_numpy_forward(narrow_vgg):
    params, weights = narrow_vgg
    net = vgg.build(16, (224, 224), weights=weights)
    image = T.tensor4('image')
    f = theano.function([image], net.logit_map(image))
    rgb = np.random.RandomState(1).uniform(0, 255, (224, 224, 3)).astype('float32')
    got = f(rgb.transpose(2, 0, 1)[None])
    assert got.shape == (1, FCS[-1], 1, 1)
    want = numpy_vgg(rgb, params)
    np.testing.assert_allclose(got[0, :, 0, 0], want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_vgg_is_fully_convolutional(narrow_vgg):
    """A larger image gives a map: one position per 32 pixels past 224."""
    _, weights = narrow_vgg
    net = vgg.build(16, (256, 288), weights=weights)
    assert net.logits.output_shape == (None, FCS[-1], 2, 3)


def test_vgg_refuses_small_images(narrow_vgg):
    _, weights = narrow_vgg
    with pytest.raises(InputSizeError, match='at least 224x224.*got 320x180'):
        vgg.build(16, (180, 320), weights=weights)


def test_default_path_prefers_existing_file(tmp_path):
    (tmp_path / 'imagenet-vgg-verydeep-19.mat').write_bytes(b'')
    assert vgg.default_path(19, tmp_path).name == 'imagenet-vgg-verydeep-19.mat'
    (tmp_path / 'vgg19.pkl').write_bytes(b'')
    assert vgg.default_path(19, tmp_path).name == 'vgg19.pkl'


def test_models_are_looked_for_in_three_folders_in_order(tmp_path, monkeypatch):
    env, data, cwd = (tmp_path / d for d in ('env', 'data', 'cwd'))
    for d in (env, data / 'inception_art' / 'models', cwd / 'models'):
        d.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv('XDG_DATA_HOME', str(data))
    monkeypatch.setenv('INCEPTION_ART_MODELS', str(env))
    with pytest.raises(WeightFileError) as e:
        vgg.default_path(16)
    message = str(e.value)
    assert '\n' not in message and 'INCEPTION_ART_MODELS' in message
    assert message.index(str(env)) < message.index(str(data)) < message.index('models;')
    (cwd / 'models' / 'vgg16.pkl').write_bytes(b'')
    assert vgg.default_path(16) == Path('models') / 'vgg16.pkl'
    (data / 'inception_art' / 'models' / 'vgg16.pkl').write_bytes(b'')
    assert vgg.default_path(16) == data / 'inception_art' / 'models' / 'vgg16.pkl'
    (env / 'imagenet-vgg-verydeep-16.mat').write_bytes(b'')
    assert vgg.default_path(16) == env / 'imagenet-vgg-verydeep-16.mat'
