"""Record the torch reference's Lite0 logits on two photographs.

``python -m bench.studies.record_reference_logits`` writes
``tests/data/lite0_torch_logits.json``: the logits (averaged over the logit
map) of :class:`bench.torch_reference.EfficientNetLite0` with its
batch-norm as modules (not folded), written from the network's definition
and loaded with ``torch.load`` / ``load_state_dict(strict=True)``, on
scikit-image's ``chelsea`` and ``coffee`` photographs centre-cropped to
224x224 (``inception_art.images.center_crop``). The test
``tests/test_lite0.py`` holds this project's Theano network to them.
"""
import sys

import numpy as np


def main():
    import skimage
    import torch
    from bench.harness import write_json
    from bench.torch_reference import EfficientNetLite0
    from inception_art.images import center_crop
    net = EfficientNetLite0.pretrained()
    record = dict(made_by='python -m bench.studies.record_reference_logits',
                  torch=torch.__version__, skimage=skimage.__version__,
                  network='bench.torch_reference.EfficientNetLite0, batch-norm as modules',
                  crop='inception_art.images.center_crop to 224x224', logits={})
    for name in ('chelsea', 'coffee'):
        image = center_crop(getattr(__import__('skimage.data').data, name)(), (224, 224))
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None],
                                                  dtype=np.float32))
        with torch.inference_mode():
            logits = net(x).mean(dim=(2, 3))[0].numpy()
        record['logits'][name] = [round(float(v), 5) for v in logits]
    # One line: 2,000 logits.
    write_json('tests/data/lite0_torch_logits.json', record, indent=None)
    return 0


if __name__ == '__main__':
    sys.exit(main())
