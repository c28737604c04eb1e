"""The real EfficientNet-Lite0, end to end through Theano."""
import numpy as np
import pytest

from inception_art import nets
from inception_art.nets.efficientnet_lite import block_specs, same_padding, weights_path
from inception_art.objectives import ClassObjective
from inception_art.theano_env import theano, T
from inception_art.weights import read_torch_legacy


def test_same_padding_matches_tensorflow():
    # TF: out = ceil(n / s); the odd pixel of padding goes after.
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(225, 3, 2) == (1, 1)
    assert same_padding(14, 5, 1) == (2, 2)
    assert same_padding(7, 5, 2) == (2, 2)


def test_architecture_read_off_the_weights():
    specs = block_specs(read_torch_legacy(weights_path(0)))
    assert len(specs) == 16
    assert [s['stride'] for s in specs if s['stride'] == 2] == [2] * 4
    assert [s['out_ch'] for s in specs][-1] == 320
    assert sum(s['skip'] for s in specs) == 9
    assert {s['kernel'] for s in specs} == {3, 5}


@pytest.mark.full_network
def test_lite0_gradient_matches_finite_differences():
    net = nets.build('efficientnet-lite0', (64, 96))
    image = T.tensor4('image')
    logit_map = net.logit_map(image)
    assert net.logits.output_shape == (None, 1000, 2, 3)
    loss, _ = ClassObjective('logit', classes=(980, 107)).loss(logit_map)
    f = theano.function([image], [loss, T.grad(loss, image)])
    rng = np.random.RandomState(0)
    x = rng.uniform(30, 225, (1, 3, 64, 96)).astype('float32')
    _, g = f(x)
    for _ in range(3):
        d = rng.normal(size=x.shape).astype('float32')
        d /= np.linalg.norm(d)
        eps = 0.05
        numeric = (f(x + eps * d)[0] - f(x - eps * d)[0]) / (2 * eps)
        assert float((g * d).sum()) == pytest.approx(float(numeric), rel=5e-2, abs=1e-4)


@pytest.mark.full_network
def test_lite0_logits_match_an_independent_torch_reference():
    """Logits recorded from a PyTorch network written from the definition
    (tests/data/lite0_torch_logits.json, made by
    ``python -m bench.studies.record_reference_logits``) on two photographs: ours
    agree to 1e-3."""
    import json
    from pathlib import Path
    skimage_data = pytest.importorskip('skimage.data')
    from inception_art.nets.classifier import Classifier
    record = json.loads((Path(__file__).parent / 'data' / 'lite0_torch_logits.json').read_text())
    classifier = Classifier('efficientnet-lite0')
    for name, want in record['logits'].items():
        # The classifier crops as the recording did (center_crop to 224x224).
        got = classifier.logits([getattr(skimage_data, name)()])[0]
        np.testing.assert_allclose(got, np.array(want), atol=1e-3)
    assert int(np.argmax(record['logits']['coffee'])) == 967        # espresso
