"""The natural-image patch prior: the committed fits, the Theano term
(:mod:`inception_art.prior`), the fitting command
(:mod:`inception_art.prior_fit`).

Held-out photographs are scikit-image's bundled ones named in the committed
files' provenance. Each Theano function is compiled once per module."""
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inception_art import prior as P
from inception_art import prior_fit as F
from inception_art.cli import run_main
from inception_art.theano_env import PROJECT_ROOT, theano, T



def skimage_data():
    """scikit-image's data module; only the tests that use its photographs
    need it (the rest of this file needs nothing beyond the package)."""
    return pytest.importorskip('skimage.data')

SMALL = (20, 24)          # (h, w) of the image the term is checked on
SMALL_SCALES = (1, 2, 3)  # 3 pools 20x24 to 6x8: skipped


@pytest.fixture(scope='module')
def priors():
    return {k: P.PatchPrior.load(P.default_path(k)) for k in P.KINDS}


def _skimage_photo(entry):
    path = Path(skimage_data().__file__).parent / Path(entry['name']).name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry['sha256'], \
        'scikit-image photo %s differs from the one the prior was fitted on' % path.name
    return np.asarray(Image.open(path).convert('RGB'))


@pytest.fixture(scope='module')
def heldout(priors):
    """20000 random patches of the held-out photographs."""
    images = [_skimage_photo(e) for e in priors['gaussian'].provenance['heldout_images']]
    sources = [F.ImageSource(array=im) for im in images]
    return F.sample_sources(sources, 20000, np.random.RandomState(123))


# ------------------------------------------------------------ committed fits --

def test_committed_files_carry_provenance(priors):
    g, s = priors['gaussian'], priors['student']
    assert (g.kind, s.kind) == ('gaussian', 'student')
    assert np.array_equal(g.mean, s.mean) and np.array_equal(g.whiten, s.whiten)
    for model in (g, s):
        info = model.provenance
        train = {e['name'] for e in info['train_images']}
        held = {e['name'] for e in info['heldout_images']}
        assert train and held and not train & held
        assert info['patch_count'] >= 100000
        assert info['heldout_patch_count'] >= 10000
        assert set(info['heldout_loglik_per_patch']) == set(P.KINDS)
        assert info['heldout_loglik'] == info['heldout_loglik_per_patch'][model.kind]
        assert 'scikit-image' in info['source']
        assert 'gnome_backgrounds' in info


def test_recorded_heldout_loglik_is_reproducible(priors):
    """The held-out score in the files is what the held-out photographs give."""
    info = priors['gaussian'].provenance
    sources = [F.ImageSource(array=_skimage_photo(e)) for e in info['heldout_images']]
    x = F.sample_sources(sources, info['heldout_patch_count'],
                         np.random.RandomState(info['seed'] + 1))
    for kind, model in priors.items():
        assert model.log_density(x).mean() == pytest.approx(
            info['heldout_loglik_per_patch'][kind], abs=1e-2)


def test_whitened_heldout_patches_have_near_identity_covariance(priors, heldout):
    raw = np.linalg.eigvalsh(np.cov(heldout.T))
    cov = np.cov(priors['gaussian'].whitened(heldout).T)
    eig = np.linalg.eigvalsh(cov)
    # Raw patches: variances spread over more than five orders of magnitude.
    assert raw.max() / raw.min() > 1e5
    # Whitened: unit variances on average, every direction within a small
    # factor of 1 (held-out photographs are not the training ones).
    assert 0.5 < np.diag(cov).mean() < 1.5
    assert 0.3 < np.median(eig) < 2
    assert eig.min() > 0.03 and eig.max() < 15
    assert np.abs(cov - np.eye(P.DIM)).mean() < 0.05


def _shuffled(patches, rng):
    """The same pixels (RGB triplets kept) at random places in the patch."""
    perm = np.array([rng.permutation(64) for _ in range(len(patches))])
    pixels = patches.reshape(-1, 3, 64)
    return np.take_along_axis(pixels, perm[:, None, :], axis=2).reshape(-1, P.DIM)


@pytest.mark.parametrize('kind', P.KINDS)
def test_natural_patches_score_above_noise_and_shuffled(priors, heldout, kind):
    rng = np.random.RandomState(1)
    model = priors[kind]
    natural = model.log_density(heldout)
    noise = model.log_density(rng.uniform(0, 255, heldout.shape))
    shuffled = model.log_density(_shuffled(heldout, rng))
    assert natural.mean() > shuffled.mean() + 50
    assert natural.mean() > noise.mean() + 500
    assert (natural > shuffled).mean() > 0.9
    # and the term's penalty ranks them the other way round
    assert model.penalty(heldout).mean() < model.penalty(_shuffled(heldout, rng)).mean()


def test_student_beats_gaussian_on_heldout_patches(priors, heldout):
    g = priors['gaussian'].log_density(heldout).mean()
    s = priors['student'].log_density(heldout).mean()
    assert s > g + 20


def test_student_prefers_structure_to_noise_of_equal_energy(priors, heldout):
    """Why a per-coordinate t: at the same whitened energy the Gaussian (like
    any elliptical model) cannot tell a natural patch from noise; the
    per-coordinate Student-t can."""
    g, s = priors['gaussian'], priors['student']
    z = g.whitened(heldout)
    noise = np.random.RandomState(2).randn(*z.shape)
    noise *= (np.linalg.norm(z, axis=1) / np.linalg.norm(noise, axis=1))[:, None]
    fake = noise @ np.linalg.inv(g.whiten).T + g.mean
    assert g.log_density(fake) == pytest.approx(g.log_density(heldout), rel=1e-6)
    assert (s.log_density(heldout) > s.log_density(fake)).mean() > 0.9


def test_default_paths_and_scales():
    assert P.default_path('gaussian') == (PROJECT_ROOT / 'inception_art' / 'data' / 'prior'
                                         / 'patch8_gaussian.npz')
    assert P.default_path('student').name == 'patch8_student.npz'
    with pytest.raises(ValueError):
        P.default_path('laplace')
    assert P.VIDEO_SCALES == (1, 4, 8, 16, 32)
    assert P.STILL_SCALES == (1, 2, 5, 11, 23, 47, 95)
    model = P.PatchPrior.load(P.default_path('gaussian'))
    assert model.scales == P.STILL_SCALES
    assert model.usable_scales((224, 224)) == (1, 2, 5, 11, 23)
    assert model.with_scales(P.VIDEO_SCALES).usable_scales((252, 448)) == (1, 4, 8, 16)


# --------------------------------------------------------------- the term --

def _direct_term(model, image, scales, stride=1, offsets=None):
    """The multi-scale term computed directly: pool with loops, cut out
    every 8x8 patch (with ``stride``: those on the grid of spacing
    ``stride / s`` rounded at scale s, inside a window ``spacing - 1`` pixels smaller,
    moved by ``offsets[s]``), flatten it (c, y, x), whiten with the matrix."""
    h, w, _ = image.shape
    per_scale = []
    for s in scales:
        ph, pw = h // s, w // s
        if ph < 8 or pw < 8:
            continue
        pooled = np.zeros((ph, pw, 3))
        for i in range(ph):
            for j in range(pw):
                pooled[i, j] = image[i * s:(i + 1) * s, j * s:(j + 1) * s].mean(axis=(0, 1))
        values = []
        step = max(1, int(round(stride / s)))
        dy, dx = (offsets or {}).get(s, (0, 0)) if step > 1 else (0, 0)
        for i in range(dy, dy + ph - step + 1 - 7, step):
            for j in range(dx, dx + pw - step + 1 - 7, step):
                x = pooled[i:i + 8, j:j + 8].transpose(2, 0, 1).ravel() - 128
                z = model.whiten @ x - model.whiten @ (model.mean - 128)
                if model.kind == 'gaussian':
                    values.append(z ** 2)
                else:
                    nu, sc = model.nu, model.scale
                    values.append((nu + 1) / 2 * np.log(1 + z ** 2 / (nu * sc ** 2)))
        per_scale.append(np.mean(values))
    return np.mean(per_scale)


@pytest.fixture(scope='module')
def small_fns(priors):
    """Float64 value-and-gradient functions of the term on a 20x24 image."""
    fns = {}
    for kind, model in priors.items():
        for stride in (1, 2, 4):
            x = T.tensor4('x', dtype='float64')
            strided = model.with_scales(SMALL_SCALES, stride)
            term = strided.term(x, size=SMALL)
            fns[kind, stride] = theano.function([x], [term, T.grad(term, x)])
            fns[kind, stride].prior = strided
    return fns


def _small_image(seed=0):
    rng = np.random.RandomState(seed)
    photo = np.asarray(skimage_data().astronaut(), dtype=np.float64)
    image = photo[100:100 + SMALL[0], 200:200 + SMALL[1]]
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255)


@pytest.mark.parametrize('stride', [1, 2, 4])
@pytest.mark.parametrize('kind', P.KINDS)
def test_multiscale_term_equals_direct_numpy(priors, small_fns, kind, stride):
    image = _small_image()
    fn = small_fns[kind, stride]
    value, _ = fn(image.transpose(2, 0, 1)[None])
    expected = _direct_term(priors[kind], image, SMALL_SCALES, stride)
    assert value == pytest.approx(expected, rel=1e-9)
    if stride > 1:   # the grid moved to a drawn offset
        fn.prior.randomise(np.random.RandomState(5))
        offsets = {s: tuple(v.get_value()) for s, v in fn.prior.offsets.items()}
        assert set(offsets) == {s for s in SMALL_SCALES if round(stride / s) > 1}
        moved, _ = fn(image.transpose(2, 0, 1)[None])
        assert moved == pytest.approx(_direct_term(priors[kind], image, SMALL_SCALES, stride,
                                                   offsets), rel=1e-9)
        for v in fn.prior.offsets.values():
            v.set_value(np.zeros(2, 'int32'))
    if stride == 1:  # the library's own numpy path agrees too
        pooled = [P.mean_pool(image, s) for s in (1, 2)]
        assert value == pytest.approx(np.mean(
            [priors[kind].penalty(P.all_patches(p)).mean() for p in pooled]), rel=1e-9)


@pytest.mark.parametrize('stride', [1, 2, 4])
@pytest.mark.parametrize('kind', P.KINDS)
def test_term_gradient_matches_finite_differences(small_fns, kind, stride):
    image = _small_image(1).transpose(2, 0, 1)[None]
    fn = small_fns[kind, stride]
    _, grad = fn(image)
    rng = np.random.RandomState(3)
    eps = 1e-3
    for _ in range(12):
        idx = (0, rng.randint(3), rng.randint(SMALL[0]), rng.randint(SMALL[1]))
        up, down = image.copy(), image.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric = (fn(up)[0] - fn(down)[0]) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    # and along a random direction, through every pixel at once
    direction = rng.normal(size=image.shape)
    numeric = (fn(image + eps * direction)[0] - fn(image - eps * direction)[0]) / (2 * eps)
    assert (grad * direction).sum() == pytest.approx(numeric, rel=1e-6)


def test_strided_term_averages_to_the_full_term(priors):
    """Over all grid offsets, the strided term's mean is the full term's
    (but for the few patch positions of the bottom and right edges that no
    offset reaches), so random offsets give an unbiased estimate."""
    size = (64, 72)
    image = np.asarray(skimage_data().astronaut(), dtype='float32')[100:164, 200:272]
    x = T.tensor4('x')
    batch = image.transpose(2, 0, 1)[None]
    full = priors['student'].with_scales((1,), 1)
    want = theano.function([x], full.term(x, size=size))(batch)
    strided = priors['student'].with_scales((1,), 4)
    fn = theano.function([x], strided.term(x, size=size))
    values = []
    for dy in range(4):
        for dx in range(4):
            strided.offsets[1].set_value(np.array([dy, dx], 'int32'))
            values.append(fn(batch))
    assert np.std(values) > 0.01 * np.mean(values)    # the offsets do move the grid
    assert np.mean(values) == pytest.approx(want, rel=0.01)


def test_python_fallback_matches_c_ops(priors):
    """The penalty ops' numpy ``perform`` (used without a C compiler)
    agrees with their C code."""
    z = np.random.RandomState(2).normal(0, 3, (2, P.DIM, 5, 6))
    for kind, model in priors.items():
        zv = T.tensor4('z', dtype='float64')
        params = T.constant(model._penalty_params())
        total = P._Penalty(kind == 'student')(zv, params)
        outs = [total, T.grad(3 * total, zv)]
        py = theano.function([zv], outs, mode=theano.Mode(linker='py', optimizer=None))
        c = theano.function([zv], outs, mode=theano.Mode(linker='c', optimizer=None))
        for a, b in zip(py(z), c(z)):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        d = z - model.mu[None, :, None, None]
        if kind == 'gaussian':
            assert py(z)[0] == pytest.approx((d ** 2).sum(), rel=1e-12)


def test_float32_term_at_224_with_still_scales(priors):
    """The size the renderer uses: scales 47 and 95 (4x4, 2x2) are skipped,
    the compiled graph stays float32 and matches numpy."""
    model = priors['student']
    image = np.asarray(skimage_data().chelsea(), float)[30:254, 100:324]
    shared = theano.shared(image.transpose(2, 0, 1)[None].astype('float32'))
    strength = theano.shared(np.float32(2.0))
    term = model.term(shared, strength=strength)
    fn = theano.function([], [term, T.grad(term, shared)])
    value, grad = fn()
    assert value.dtype == np.float32 and grad.dtype == np.float32
    assert not [v for v in fn.maker.fgraph.variables
                if getattr(v.type, 'dtype', None) == 'float64']
    used = model.usable_scales((224, 224))
    assert used == (1, 2, 5, 11, 23)
    expected = np.mean([model.penalty(P.all_patches(P.mean_pool(image, s))).mean()
                        for s in used])
    assert value == pytest.approx(2 * expected, rel=1e-4)
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


def test_term_errors(priors):
    model = priors['gaussian']
    with pytest.raises(ValueError, match='size'):
        model.term(T.tensor4('x'))
    with pytest.raises(ValueError, match='too small'):
        model.term(T.tensor4('x'), size=(7, 40))
    with pytest.raises(ValueError):
        P.PatchPrior('gaussian', model.mean, model.whiten, scales=(0, 2))
    with pytest.raises(ValueError):
        model.with_scales(stride=0)


# ------------------------------------------------------------------- files --

def test_save_load_roundtrip(priors, tmp_path):
    model = priors['student']
    path = model.save(tmp_path / 'p.npz')
    again = P.PatchPrior.load(path, scales=P.VIDEO_SCALES)
    assert again.kind == 'student' and again.scales == P.VIDEO_SCALES
    for name in ('mean', 'whiten', 'nu', 'scale', 'mu'):
        np.testing.assert_array_equal(getattr(again, name), getattr(model, name))
    assert again.provenance == model.provenance
    assert [p.name for p in tmp_path.iterdir()] == ['p.npz']  # no temporary left


def test_load_errors_are_one_line(priors, tmp_path):
    def error(path):
        with pytest.raises(P.PriorFileError) as e:
            P.PatchPrior.load(path)
        assert isinstance(e.value, ValueError)
        assert '\n' not in str(e.value) and str(path) in str(e.value)
        return str(e.value)

    missing = error(tmp_path / 'missing.npz')
    assert 'make prior' in missing and 'python -m inception_art.prior_fit fit' in missing
    (tmp_path / 'junk.npz').write_bytes(b'not a zip file at all')
    assert 'not a prior file' in error(tmp_path / 'junk.npz')
    np.savez(tmp_path / 'other.npz', weights=np.zeros(3))
    error(tmp_path / 'other.npz')
    model = priors['gaussian']
    np.savez(tmp_path / 'shape.npz', format_version=1, kind='gaussian',
             mean=model.mean[:10], whiten=model.whiten, provenance='{}')
    assert 'mean' in error(tmp_path / 'shape.npz')
    np.savez(tmp_path / 'nan.npz', format_version=1, kind='student', mean=model.mean,
             whiten=model.whiten, nu=np.full(192, np.nan), scale=np.ones(192),
             provenance='{}')
    assert 'nu' in error(tmp_path / 'nan.npz')
    (tmp_path / 'folder.npz').mkdir()
    error(tmp_path / 'folder.npz')


# --------------------------------------------------------------------- CLI --

def _cli(argv, capsys):
    code = run_main(F.main, argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope='module')
def photo_folder(tmp_path_factory):
    """A small folder of real photographs (crops), plus files that are not
    images."""
    folder = tmp_path_factory.mktemp('photos')
    astronaut, coffee = skimage_data().astronaut(), skimage_data().coffee()
    Image.fromarray(astronaut[:160, :160]).save(folder / 'a.png')
    Image.fromarray(astronaut[300:460, 300:460]).save(folder / 'b.jpg')
    Image.fromarray(coffee[100:260, 200:360]).save(folder / 'c.webp')
    (folder / 'sub').mkdir()
    Image.fromarray(coffee[:120, :200]).save(folder / 'sub' / 'd.png')
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    return folder


def test_fit_command_writes_both_models(photo_folder, tmp_path, capsys):
    code, out, err = _cli(['fit', str(photo_folder), '--out', str(tmp_path / 'mine.npz'),
                           '--patches', '3000', '--seed', '1'], capsys)
    assert code == 0, err
    assert 'warning: skipping' in err and 'notes.txt' in err and 'broken.png' in err
    assert 'fitting Student-t' in err  # the progress bar
    models = {k: P.PatchPrior.load(tmp_path / ('mine_%s.npz' % k)) for k in P.KINDS}
    info = models['student'].provenance
    assert info['patch_count'] == 3000 and info['seed'] == 1
    assert len(info['train_images']) == 3 and len(info['heldout_images']) == 1
    names = {e['name'] for e in info['train_images'] + info['heldout_images']}
    assert names == {'a.png', 'b.jpg', 'c.webp', str(Path('sub') / 'd.png')}
    assert info['skipped_files'] == 2
    ll = info['heldout_loglik_per_patch']
    assert ll['student'] > ll['gaussian']
    assert 'held-out log-likelihood' in out


def test_fit_command_one_kind_and_one_image(photo_folder, tmp_path, capsys):
    single = tmp_path / 'one'
    single.mkdir()
    (single / 'a.png').write_bytes((photo_folder / 'a.png').read_bytes())
    out = tmp_path / 'g.npz'
    code, _, err = _cli(['fit', str(single), '--out', str(out), '--kind', 'gaussian',
                         '--patches', '2000'], capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['g.npz', 'one']
    info = P.PatchPrior.load(out).provenance
    assert 'right-most' in info['heldout_note']
    assert info['heldout_images'][0]['columns'] == [128, 160]


@pytest.mark.parametrize('setup, argv, message', [
    ('empty', [], 'folder is empty'),
    ('junk', [], 'none of its 2 files is a readable image'),
    ('tiny', [], 'need at least 2000'),
    ('missing', [], 'no such folder'),
    ('photos', ['--patches', '500'], 'too few'),
    ('photos', ['--holdout', '4'], '--holdout 4'),
])
def test_fit_command_errors(setup, argv, message, photo_folder, tmp_path, capsys):
    folder = tmp_path / setup
    if setup == 'photos':
        folder = photo_folder
    elif setup != 'missing':
        folder.mkdir()
    if setup == 'junk':
        (folder / 'a.jpg').write_bytes(b'garbage')
        (folder / 'b.txt').write_text('text')
    if setup == 'tiny':
        Image.fromarray(np.zeros((20, 30, 3), 'uint8')).save(folder / 'a.png')
    code, _, err = _cli(['fit', str(folder), '--out', str(tmp_path / 'p.npz')] + argv, capsys)
    assert code == 2
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1 and message in lines[0]
    assert 'Traceback' not in err
    assert not list(tmp_path.glob('p*.npz'))


def test_fit_command_as_a_process(tmp_path):
    """The real entry point: exit status 2, one error line, no traceback."""
    (tmp_path / 'empty').mkdir()
    r = subprocess.run([sys.executable, '-m', 'inception_art.prior_fit', 'fit',
                        str(tmp_path / 'empty'), '--out', str(tmp_path / 'p.npz')],
                       capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith('error: ')
    assert 'Traceback' not in r.stderr


def test_runtime_prior_does_not_import_the_fit():
    """What renders imports :mod:`inception_art.prior` alone: the fit's
    module stays out of the process."""
    r = subprocess.run([sys.executable, '-c', 'import sys, inception_art.prior; '
                        "print('inception_art.prior_fit' in sys.modules)"],
                       capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-1] == 'False'


def test_fit_default_without_scikit_image_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, 'skimage', None)
    monkeypatch.setitem(sys.modules, 'skimage.data', None)
    code, _, err = _cli(['fit-default', '--out-dir', str(tmp_path)], capsys)
    assert code == 2 and 'pip install scikit-image' in err
    assert not list(tmp_path.iterdir())
