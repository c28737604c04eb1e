"""Fitting the natural-image patch prior offline: from photographs to the
``inception_art/data/prior/patch8_*.npz`` files that :mod:`inception_art.prior` reads.

:mod:`inception_art.prior` holds the models, the file format and the Theano
term used at run time; this module holds what only the fit needs: the
image sources (a folder of photographs, or scikit-image's bundled ones),
the patch sampling, the two fits, their held-out scores and the command
line. Nothing at run time imports it.

The fit
-------
Training patches are drawn with every (image, pooling factor, position)
equally likely; the images are also used mean-pooled by ``TRAIN_POOL``
(the term sees pooled images too), and each patch is mirrored left-right
with probability 1/2.

``W`` is the PCA whitening ``diag(lambda)^-1/2 U^T`` of the covariance
``C + ridge I`` (eigen-decomposition ``C = U diag(lambda) U^T``). The ridge
is 1/12, the variance of 8-bit quantisation noise: it caps the gain of the
weakest directions (the smallest eigenvalue of natural 8x8x3 patches is
about 1, so it costs a fraction of a nat of held-out likelihood).

*Why PCA and not ZCA whitening.* Both whiten; the Gaussian log-density and
term are the same for either (they only see ``|z|``). The Student-t is a
product of independent univariate densities on the coordinates of ``z``, so
the choice of rotation matters, and on held-out photographs PCA coordinates
scored about 20 nats per patch higher than ZCA's (see ``inception_art/data/prior/README.md``).

The Student-t's degrees of freedom ``nu_k`` and scale ``s_k`` of each
whitened coordinate are fitted by maximum likelihood (L-BFGS-B on
``log nu, log s``; nu bounded to 0.05..1e4).

*Why per-coordinate and not a multivariate t by EM.* A multivariate t is
elliptical: it sees only the whitened energy ``|z|^2`` of a patch, so it
cannot tell white noise from an edge of the same energy, and its fitted
degrees of freedom go to the lower bound (the penalty becomes about
``96 log |z|^2``, which grows only logarithmically with noise). It scores
higher held-out likelihood, but it is the wrong prior for steering an
image: the per-coordinate t rewards *sparse* whitened coefficients, which
is what distinguishes natural structure from noise, and it is the form the
2015 system used.

Command line
------------
``python -m inception_art.prior_fit fit DIR --out FILE`` fits from a folder
of images; ``python -m inception_art.prior_fit fit-default`` remakes the
committed ``inception_art/data/prior/patch8_*.npz`` from scikit-image's bundled photographs
(``make prior``).
"""
import hashlib
import math
import sys
from pathlib import Path

import numpy as np
from scipy import optimize, special
from tqdm import tqdm

from .cli import ArgumentParser, run_main
from .images import check_writable
# Theano (through .prior) is imported where a fit needs it, so that --help
# and argument errors compile nothing.
from .prior_file import (CHANNELS, DEFAULT_HELDOUT, DEFAULT_TRAIN, DIM, FORMAT_VERSION,
                         FOLDER as PRIOR_FOLDER, KINDS, PATCH)

#: Covariance ridge: the variance of uniform 8-bit quantisation noise.
RIDGE = 1.0 / 12
#: Fewer training patch positions than this is refused (a 192x192
#: covariance needs many more samples than dimensions).
MIN_PATCHES = 2000
DEFAULT_PATCHES = 200000
HELDOUT_PATCHES = 50000
#: Training images are also used mean-pooled by these factors (the term
#: sees pooled images too) and mirrored left-right at random.
TRAIN_POOL = (1, 2, 4)
NU_BOUNDS = (0.05, 1e4)
GNOME_BACKGROUNDS = Path('/usr/share/backgrounds/gnome')


class FitError(ValueError):
    """Fitting cannot proceed: no images, too few patches (one line)."""


# ------------------------------------------------------------------ fitting --

def fit_gaussian(patches, ridge=RIDGE):
    """Mean and PCA whitening matrix of (N, 192) patches; returns
    ``(mean, W, eigenvalues)`` with eigenvalues in decreasing order."""
    mean = patches.mean(0)
    cov = np.zeros((DIM, DIM))
    for lo in range(0, len(patches), 65536):
        c = patches[lo:lo + 65536] - mean
        cov += c.T @ c
    cov = cov / (len(patches) - 1) + ridge * np.eye(DIM)
    lam, vec = np.linalg.eigh(cov)
    lam, vec = lam[::-1], vec[:, ::-1]
    # Deterministic signs: each eigenvector's largest entry is positive.
    vec = vec * np.sign(vec[np.abs(vec).argmax(0), np.arange(DIM)])
    return mean, vec.T / np.sqrt(lam)[:, None], lam


def fit_student(z, progress=True, max_iter=300):
    """Per-coordinate maximum-likelihood (nu, scale) of zero-location
    Student-t densities on (N, 192) whitened coefficients (L-BFGS-B on
    ``log nu`` and ``log scale``, all coordinates at once: their
    likelihoods are independent, so the joint optimum is each one's)."""
    z2 = z * z
    n = len(z)
    chunk = max(1, 2 ** 21 // z.shape[1])

    def objective(p):
        nu, s = np.exp(p[:DIM]), np.exp(p[DIM:])
        const = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) \
            - 0.5 * np.log(nu * np.pi) - np.log(s)
        ll, g_log1p, g_ratio = 0.0, np.zeros(DIM), np.zeros(DIM)
        for lo in range(0, n, chunk):
            u = z2[lo:lo + chunk] / (nu * s * s)
            l1 = np.log1p(u)
            r = u / (1 + u)
            ll += ((nu + 1) / 2 * l1).sum()
            g_log1p += l1.sum(0)
            g_ratio += r.sum(0)
        loglik = n * const.sum() - ll
        d_nu = n * (0.5 * special.digamma((nu + 1) / 2) - 0.5 * special.digamma(nu / 2)
                    - 0.5 / nu) - 0.5 * g_log1p + (nu + 1) / 2 * g_ratio / nu
        d_s = -n / s + (nu + 1) * g_ratio / s
        grad = np.concatenate([d_nu * nu, d_s * s])
        return -loglik / n, -grad / n

    bar = tqdm(desc='fitting Student-t (L-BFGS)', unit=' iterations', file=sys.stderr,
               disable=not progress)
    start = np.concatenate([np.full(DIM, math.log(5.0)), np.log(np.sqrt(z2.mean(0)))])
    bounds = [tuple(np.log(NU_BOUNDS))] * DIM + [(None, None)] * DIM
    result = optimize.minimize(objective, start, jac=True, method='L-BFGS-B',
                               bounds=bounds, callback=lambda p: bar.update(),
                               options=dict(maxiter=max_iter))
    bar.close()
    return np.exp(result.x[:DIM]), np.exp(result.x[DIM:])


class ImageSource:
    """One image to take patches from: a file (read when its patches are
    taken, so a large folder is never held in memory at once) or an array,
    optionally restricted to the columns ``cols = (first, stop)``."""

    def __init__(self, path=None, size=None, array=None, cols=None, name=None):
        self.path, self.array, self.cols = path, array, cols
        self.name = name or (Path(path).name if path is not None else 'array')
        h, w = array.shape[:2] if array is not None else size
        self.height = int(h)
        self.width = int(w) if cols is None else int(cols[1] - cols[0])

    def load(self):
        """The (h, w, 3) uint8 pixels; raises FitError if unreadable."""
        image = self.array if self.array is not None else _decode(self.path)
        if self.cols is not None:
            image = image[:, self.cols[0]:self.cols[1]]
        return image

    def positions(self, factor=1):
        h, w = self.height // factor, self.width // factor
        return max(0, h - PATCH + 1) * max(0, w - PATCH + 1)

    def describe(self):
        info = dict(name=self.name, width=self.width, height=self.height)
        if self.cols is not None:
            info['columns'] = [int(c) for c in self.cols]
        if self.path is not None:
            info['sha256'] = hashlib.sha256(Path(self.path).read_bytes()).hexdigest()
        return info


def sample_sources(sources, n, rng, factors=(1,), flips=False, progress=False,
                   desc='sampling patches'):
    """``n`` patch vectors from ``sources``, every (source, pooling factor,
    position) equally likely; each source is read once. A source that
    turns out unreadable is skipped with a warning (fewer patches then)."""
    entries = [(i, f) for i, src in enumerate(sources) for f in factors
               if src.positions(f)]
    weights = np.array([sources[i].positions(f) for i, f in entries], dtype=np.float64)
    if not len(entries):
        raise FitError('no image is at least 8x8 pixels')
    counts = rng.multinomial(n, weights / weights.sum())
    from .prior import mean_pool, patches_at
    parts = []
    for i, src in enumerate(tqdm(sources, desc=desc, unit=' images', file=sys.stderr,
                                 disable=not progress, leave=False)):
        wanted = [(f, c) for (j, f), c in zip(entries, counts) if j == i and c]
        if not wanted:
            continue
        try:
            image = src.load()
        except FitError as e:
            tqdm.write('warning: skipping %s' % e, file=sys.stderr)
            continue
        for f, c in wanted:
            pooled = mean_pool(image, f)
            ys = rng.randint(0, pooled.shape[0] - PATCH + 1, c)
            xs = rng.randint(0, pooled.shape[1] - PATCH + 1, c)
            parts.append(patches_at(pooled, ys, xs))
    out = np.concatenate(parts) if parts else np.empty((0, DIM))
    if flips:
        flip = rng.rand(len(out)) < 0.5
        out[flip] = out[flip].reshape(-1, CHANNELS, PATCH, PATCH)[..., ::-1].reshape(-1, DIM)
    return out


def fit_priors(train, heldout, n_patches=DEFAULT_PATCHES, seed=0, progress=True,
               provenance=None):
    """Fit both models. ``train`` and ``heldout`` are lists of
    :class:`ImageSource` or (h, w, 3) uint8 arrays. Returns
    ``{'gaussian': PatchPrior, 'student': PatchPrior}``, each with its
    provenance (images, patch counts, held-out log-likelihoods)."""
    from .prior import PatchPrior
    train = [s if isinstance(s, ImageSource) else ImageSource(array=np.asarray(s))
             for s in train]
    heldout = [s if isinstance(s, ImageSource) else ImageSource(array=np.asarray(s))
               for s in heldout]
    if n_patches < MIN_PATCHES:
        raise FitError('--patches %d is too few; use at least %d' % (n_patches, MIN_PATCHES))
    available = sum(s.positions() for s in train)
    if available < MIN_PATCHES:
        raise FitError('only %d 8x8 patch positions in the %d training image(s); need at '
                       'least %d: add more or larger images'
                       % (available, len(train), MIN_PATCHES))
    rng = np.random.RandomState(seed)
    x = sample_sources(train, n_patches, rng, TRAIN_POOL, flips=True, progress=progress,
                       desc='sampling training patches')
    if len(x) < MIN_PATCHES:
        raise FitError('only %d training patches could be read; need at least %d'
                       % (len(x), MIN_PATCHES))
    mean, whiten, lam = fit_gaussian(x)
    gaussian = PatchPrior('gaussian', mean, whiten)
    nu, scale = fit_student(gaussian.whitened(x), progress=progress)
    student = PatchPrior('student', mean, whiten, nu, scale)

    n_held = min(HELDOUT_PATCHES, sum(s.positions() for s in heldout))
    xh = sample_sources(heldout, n_held, np.random.RandomState(seed + 1),
                        progress=progress, desc='sampling held-out patches') \
        if n_held else np.empty((0, DIM))
    scores = {}
    for name, model in (('gaussian', gaussian), ('student', student)):
        scores[name] = dict(
            train=round(float(model.log_density(x).mean()), 3),
            heldout=round(float(model.log_density(xh).mean()), 3) if len(xh) else None)
    info = dict(provenance or {})
    info.update(
        format_version=FORMAT_VERSION,
        train_images=[s.describe() for s in train],
        heldout_images=[s.describe() for s in heldout],
        patch_layout='8x8x3 RGB on the 0..255 scale, flattened channel-major: '
                     'index c*64 + y*8 + x',
        patch_count=int(len(x)), heldout_patch_count=int(len(xh)), seed=int(seed),
        train_pool_factors=list(TRAIN_POOL), train_flips='left-right, probability 1/2',
        ridge=RIDGE, whitening='PCA: W = diag(lambda)^-1/2 U^T of cov + ridge*I',
        eigenvalues_min_max=[round(float(lam[-1]), 4), round(float(lam[0]), 1)],
        loglik_units='nats per 8x8x3 patch on the 0..255 pixel scale',
        heldout_loglik_per_patch={k: v['heldout'] for k, v in scores.items()},
        train_loglik_per_patch={k: v['train'] for k, v in scores.items()},
        student_fit='independent Student-t per whitened coordinate (location 0), '
                    'nu and scale by maximum likelihood (L-BFGS-B), nu in %g..%g'
                    % NU_BOUNDS,
        nu_min_median_max=[round(float(v), 3) for v in
                           (nu.min(), np.median(nu), nu.max())],
        versions=dict(numpy=np.__version__, scipy=_version('scipy'),
                      pillow=_version('PIL')))
    for model in (gaussian, student):
        model.provenance = dict(info, kind=model.kind,
                                heldout_loglik=scores[model.kind]['heldout'])
    return dict(gaussian=gaussian, student=student)


def _version(module):
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return None


# ----------------------------------------------------------------- images --

def _decode(path):
    from PIL import Image
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert('RGB'))
    except Exception as e:  # noqa: BLE001 - any decoder failure means: not an image
        raise FitError('%s: not a readable image (%s)' % (
            path, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None


def scan_images(paths, progress=True):
    """:class:`ImageSource` for each file that Pillow recognises as an
    image of at least 8x8 pixels (reading only its header); the others are
    skipped with a warning."""
    from PIL import Image
    out = []
    for path in tqdm(paths, desc='scanning images', unit=' files', file=sys.stderr,
                     disable=not progress, leave=False):
        try:
            with Image.open(path) as im:
                w, h = im.size
        except Exception as e:  # noqa: BLE001 - any decoder failure means: not an image
            tqdm.write('warning: skipping %s: not a readable image (%s)'
                       % (path, str(e).splitlines()[0] if str(e) else type(e).__name__),
                       file=sys.stderr)
            continue
        if min(w, h) < PATCH:
            tqdm.write('warning: skipping %s: smaller than 8x8 pixels' % path,
                       file=sys.stderr)
            continue
        out.append(ImageSource(path, (h, w)))
    return out


def folder_sources(folder, holdout=None, seed=0, progress=True):
    """The images of ``folder`` (recursively, hidden files ignored) split
    into training and held-out :class:`ImageSource` lists.

    ``holdout`` images (default: a fifth, at least one when there are two
    or more) are held out, chosen at random with ``seed``. A folder of one
    image holds out its right-most fifth of columns instead."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FitError('%s: no such folder' % folder)
    files = sorted(p for p in folder.rglob('*')
                   if p.is_file() and not any(part.startswith('.')
                                              for part in p.relative_to(folder).parts))
    if not files:
        raise FitError('%s: the folder is empty; put photographs (PNG, JPEG, WebP) in it'
                       % folder)
    sources = scan_images(files, progress)
    if not sources:
        raise FitError('%s: none of its %d files is a readable image of at least 8x8 '
                       'pixels (PNG, JPEG, WebP, ...)' % (folder, len(files)))
    for src in sources:
        src.name = str(Path(src.path).relative_to(folder))
    n = len(sources)
    if holdout is None:
        holdout = max(1, n // 5) if n >= 2 else 0
    if not 0 <= holdout < n:
        raise FitError('--holdout %d: must be at least 0 and less than the %d readable '
                       'images' % (holdout, n))
    held_idx = set(np.random.RandomState(seed).permutation(n)[:holdout].tolist())
    train = [s for i, s in enumerate(sources) if i not in held_idx]
    held = [s for i, s in enumerate(sources) if i in held_idx]
    note = ('%d of %d images held out at random (seed %d)' % (holdout, n, seed)
            if held else 'no held-out images (--holdout 0): no held-out score')
    if n == 1 and holdout == 0 and sources[0].width >= 2 * PATCH:
        src = sources[0]
        cut = src.width - max(PATCH, src.width // 5)
        train = [ImageSource(src.path, (src.height, src.width), cols=(0, cut), name=src.name)]
        held = [ImageSource(src.path, (src.height, src.width), cols=(cut, src.width),
                            name=src.name)]
        note = 'one image: its right-most %d columns held out' % (src.width - cut)
    provenance = dict(source='folder %s' % folder, heldout_note=note,
                      skipped_files=len(files) - n)
    return train, held, provenance


def default_sources():
    """scikit-image's bundled photographs for ``fit-default``:
    ``(train, heldout, provenance)``."""
    try:
        import skimage
        import skimage.data
    except ImportError:
        raise FitError('fit-default needs scikit-image (its bundled photographs): '
                       'pip install scikit-image==0.21.0, or make install-dev') from None
    folder = Path(skimage.data.__file__).parent
    missing = [n for n in DEFAULT_TRAIN + DEFAULT_HELDOUT if not (folder / n).is_file()]
    if missing:
        raise FitError('scikit-image %s lacks the bundled photographs %s; install '
                       'scikit-image==0.21.0' % (skimage.__version__, ', '.join(missing)))
    train, held = (scan_images([folder / n for n in names], progress=False)
                   for names in (DEFAULT_TRAIN, DEFAULT_HELDOUT))
    if len(train) + len(held) != len(DEFAULT_TRAIN) + len(DEFAULT_HELDOUT):
        raise FitError('scikit-image %s: a bundled photograph could not be read'
                       % skimage.__version__)
    provenance = dict(
        source='scikit-image %s bundled photographs (skimage.data)' % skimage.__version__,
        heldout_note='fixed: chelsea and coffee held out; the motorcycle stereo pair '
                     'stays together in training',
        gnome_backgrounds=_gnome_note())
    return train, held, provenance


def _gnome_note():
    if not GNOME_BACKGROUNDS.is_dir():
        return ('not installed, and not needed: fit-default uses scikit-image only '
                '(Debian 12 gnome-backgrounds 43.1 has no photographs)')
    return ('installed but not used: Debian 12 gnome-backgrounds 43.1 holds only '
            'computer-rendered wallpapers (WebP renders and SVG drawings), no '
            'photographs')


# --------------------------------------------------------------------- CLI --

def _outputs(out, kind):
    """Output path per kind: ``--kind both`` inserts ``_gaussian`` and
    ``_student`` before the suffix, or uses the default names in a folder."""
    out = Path(out)
    kinds = KINDS if kind == 'both' else (kind,)
    if out.is_dir():
        return {k: out / ('patch8_%s.npz' % k) for k in kinds}
    if kind != 'both':
        return {kind: out}
    suffix = out.suffix or '.npz'
    return {k: out.with_name('%s_%s%s' % (out.stem, k, suffix)) for k in kinds}


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art prior fit-default',
    'inception-art prior fit my_photos/ --out my_prior.npz',
)


def parse_args(argv=None):
    p = ArgumentParser(
        prog='inception-art prior', examples=EXAMPLES,
        description='Fit the 8x8x3 natural-image patch prior (Gaussian and Student-t).')
    sub = p.add_subparsers(dest='command', required=True, metavar='{fit,fit-default}')
    f = sub.add_parser('fit', help='fit from a folder of photographs')
    f.add_argument('folder', metavar='DIR', help='folder of images (searched recursively)')
    f.add_argument('--out', metavar='FILE', required=True,
                   help='.npz to write; with --kind both, FILE_gaussian.npz and '
                        'FILE_student.npz (patch8_*.npz if FILE is a folder)')
    f.add_argument('--kind', choices=('both',) + KINDS, default='both',
                   help='(default: %(default)s)')
    f.add_argument('--holdout', type=int, metavar='N',
                   help='images held out for scoring (default: a fifth, at least 1)')
    d = sub.add_parser('fit-default',
                       help="remake the package's data/prior/patch8_*.npz from scikit-image's "
                            "photographs")
    d.add_argument('--out-dir', metavar='DIR', default=str(PRIOR_FOLDER),
                   help="(default: the package's data/prior/)")
    for q in (f, d):
        q.add_argument('--patches', type=int, default=DEFAULT_PATCHES, metavar='N',
                       help='training patches (default: %(default)s)')
        q.add_argument('--seed', type=int, default=0, help='(default: %(default)s)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.patches < MIN_PATCHES:
        raise FitError('--patches %d is too few; use at least %d'
                       % (args.patches, MIN_PATCHES))
    if args.command == 'fit':
        outputs = _outputs(args.out, args.kind)
        for path in outputs.values():
            check_writable(path)
        train, held, provenance = folder_sources(args.folder, args.holdout, args.seed)
    else:
        outputs = {k: Path(args.out_dir) / ('patch8_%s.npz' % k) for k in KINDS}
        for path in outputs.values():
            check_writable(path)
        train, held, provenance = default_sources()
    models = fit_priors(train, held, args.patches, args.seed, provenance=provenance)
    for kind, path in outputs.items():
        model = models[kind]
        model.save(path)
        ll = model.provenance['heldout_loglik']
        print('%s: %s prior from %d patches; %s'
              % (path, kind, model.provenance['patch_count'],
                 'no held-out images' if ll is None else
                 'held-out log-likelihood %.1f nats/patch' % ll))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
