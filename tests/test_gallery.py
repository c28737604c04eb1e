"""The gallery on a real Dask cluster: a ``dask scheduler`` and two ``dask
worker`` processes on loopback, started here with Dask's own CLI; the
command run as a user runs it; its page opened in Debian's Chromium.

The cluster is shared by the module's tests (its workers keep their
compiled steps between galleries, as they would between a user's runs).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inception_art import imagenet
from inception_art.cli import run_main
from inception_art.gallery import __main__ as gallery
from inception_art.gallery.manifest import Manifest, settings_key
from inception_art.recipes import settings
from live_support import chromium, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / 'dask'
CLASSES = ('volcano', 'tabby', 'jellyfish', 'goldfish')
INDICES = sorted(imagenet.resolve(c) for c in CLASSES)
#: Tiny renders: the pictures are not the point here.
TINY = ['--canvas', '64x64', '--steps', '3', '--views', '1', '--no-progress']


def _env():
    # The workers import this checkout's package (not another install's).
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')]))
    return env


@pytest.fixture(scope='module')
def cluster():
    from distributed import Client
    port = free_port()
    address = 'tcp://127.0.0.1:%d' % port
    procs = [subprocess.Popen([str(DASK), 'scheduler', '--host', '127.0.0.1', '--port',
                               str(port), '--no-dashboard'],
                              cwd=ROOT, env=_env(), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for name in ('w1', 'w2'):
            procs.append(subprocess.Popen(
                [str(DASK), 'worker', address, '--nthreads', '1', '--name', name,
                 '--no-dashboard', '--host', '127.0.0.1'],
                cwd=ROOT, env=_env(), start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = Client(address, timeout=30)
        client.wait_for_workers(2, timeout=60)
        yield address, client
        client.close()
    finally:
        # Each process was started in a session of its own: its group is
        # the worker's nanny and the worker process it runs.
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def run_gallery(args, **kwargs):
    return subprocess.run([sys.executable, '-m', 'inception_art.gallery'] + args,
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=240,
                          **kwargs)


@pytest.fixture(scope='module')
def built(cluster, tmp_path_factory):
    """A gallery of four classes made on the cluster by the command."""
    out = tmp_path_factory.mktemp('gallery')
    done = run_gallery(['--classes', ','.join(CLASSES), '--out', str(out),
                        '--scheduler', cluster[0]]
                       + TINY)
    assert done.returncode == 0, done.stderr
    assert '4 rendered now on 2 workers, 0 already done' in done.stdout
    return out


def test_page_shows_the_pictures_and_filters(built):
    entries = json.loads((built / 'manifest.json').read_text())['classes']
    assert sorted(e['index'] for e in entries.values()) == INDICES
    # Both workers of the cluster took a share.
    assert len({e['worker'] for e in entries.values()}) == 2
    with chromium() as browser:
        page = browser.new_page()
        page.goto((built / 'index.html').as_uri())
        figures = page.locator('figure.item')
        assert figures.count() == 4
        assert page.eval_on_selector_all('figure.item .label', 'l => l.map(e => e.textContent)') \
            == [imagenet.LABELS[i] for i in INDICES]
        assert page.eval_on_selector_all('figure.item .meta', 'l => l.map(e => e.textContent)') \
            == ['%d \xb7 %s' % (i, imagenet.WNIDS[i]) for i in INDICES]
        # Every thumbnail loaded (from file://, no other asset).
        wait_for(lambda: page.evaluate(
            '[...document.images].filter(i => i.closest("figure")).every('
            'i => i.complete && i.naturalWidth > 0)'), 10, message='the thumbnails')

        def shown():
            return page.eval_on_selector_all(
                'figure.item:not([hidden]) .label', 'l => l.map(e => e.textContent)')
        page.fill('#filter', 'tabby')
        assert shown() == ['tabby, tabby cat']
        page.fill('#filter', 'FISH')
        assert shown() == ['goldfish, Carassius auratus', 'jellyfish']
        # The WordNet categories above a class: a tabby is a feline.
        page.fill('#filter', 'feline')
        assert shown() == ['tabby, tabby cat']
        page.fill('#filter', '980')
        assert shown() == ['volcano']
        assert page.text_content('#count') == '1 of 4 shown'
        page.fill('#filter', 'no such thing')
        assert shown() == []
        page.fill('#filter', '')
        assert len(shown()) == 4

        # A click shows the full picture; Escape closes it.
        page.click('figure.item:has-text("volcano") img')
        assert page.is_visible('#viewer')
        wait_for(lambda: page.evaluate('document.getElementById("full").naturalWidth') == 64,
                 10, message='the full picture')
        assert page.get_attribute('#full', 'src') == imagenet.WNIDS[980] + '.png'
        page.keyboard.press('Escape')
        assert not page.is_visible('#viewer')
        # The settings and the date are on the page.
        text = page.text_content('body')
        assert '--steps' in text and time.strftime('%Y-%m-%d', time.gmtime()) in text


def test_rerun_renders_nothing_new_and_only_what_is_missing(built, cluster):
    before = {p: p.stat().st_mtime_ns for p in built.rglob('*.*g')}
    manifest = (built / 'manifest.json').read_text()
    again = run_gallery(['--classes', ','.join(CLASSES), '--out', str(built),
                        '--scheduler', cluster[0]]
                        + TINY)
    assert again.returncode == 0, again.stderr
    assert '0 rendered now, 4 already done' in again.stdout
    assert {p: p.stat().st_mtime_ns for p in built.rglob('*.*g')} == before
    assert (built / 'manifest.json').read_text() == manifest
    # A picture gone: that class alone is rendered again.
    (built / (imagenet.WNIDS[980] + '.png')).unlink()
    again = run_gallery(['--classes', ','.join(CLASSES), '--out', str(built),
                        '--scheduler', cluster[0]]
                        + TINY)
    assert again.returncode == 0, again.stderr
    assert '1 rendered now on 2 workers, 3 already done' in again.stdout
    assert (built / (imagenet.WNIDS[980] + '.png')).is_file()


def test_a_worker_killed_mid_run_loses_only_its_class(cluster, tmp_path):
    address, client = cluster
    out = tmp_path / 'gallery'
    # Longer renders, so that a worker is surely in the middle of one.
    proc = subprocess.Popen(
        [sys.executable, '-m', 'inception_art.gallery', '--classes', ','.join(CLASSES),
         '--out', str(out),
         '--scheduler', address, '--canvas', '64x64', '--steps', '300', '--views', '1',
         '--format', 'jpg', '--picture-size', '48', '--no-progress'],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def busy():
            # A worker well into a render (its task started a moment ago).
            for worker, keys in client.processing().items():
                if any(k.startswith('render_class') for k in keys):
                    return worker
            return None
        victim = wait_for(busy, 120, interval=0.2, message='a worker rendering')
        # The page is whole while the run goes on, and says so.
        page = (out / 'index.html').read_text()
        assert page.endswith('</html>\n') and 'data-running="yes"' in page
        assert 'rendering: ' in page and ' of 4 pictures so far' in page
        time.sleep(1.0)
        pid = client.run(os.getpid, workers=[victim])[victim]
        assert busy() == victim
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert '4 rendered now' in stdout
    entries = json.loads((out / 'manifest.json').read_text())['classes']
    assert sorted(e['index'] for e in entries.values()) == INDICES
    # Whatever the killed worker was rendering was finished by another one.
    assert victim not in {e['worker'] for e in entries.values()}
    assert 'data-running="no"' in (out / 'index.html').read_text()
    # The full pictures as asked: JPEG, shrunk.
    from PIL import Image
    with Image.open(out / (imagenet.WNIDS[980] + '.jpg')) as picture:
        assert picture.format == 'JPEG' and picture.size == (48, 48)
    # Its nanny starts it again: the cluster is whole for the next test.
    client.wait_for_workers(2, timeout=60)


@pytest.mark.parametrize('args, message', [
    (['--classes', 'vulcano'], "unknown ImageNet class 'vulcano'; closest: 980 volcano"),
    (['--classes', 'volcano,dogz'], "unknown ImageNet class 'dogz'"),
    (['--classes', 'crane'], "'crane' names 2 WordNet synsets: n02012849 crane (a kind of wading"),
    (['--class-count', '1001'], 'a count of classes must be 1..1000'),
    (['--classes', 'dog', '--steps', '0'], '--steps must be'),
    (['--classes', 'dog', '--workers', '0'], '--workers must be >= 1'),
    (['dog'], 'unrecognized arguments: dog'),
])
def test_bad_input_is_one_line(args, message, tmp_path, capsys):
    assert run_main(gallery.main, args + ['--out', str(tmp_path / 'g')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ') and message in err
    assert not (tmp_path / 'g').exists()


def test_unreachable_scheduler_and_unwritable_folder(tmp_path):
    port = free_port()      # nothing listens there
    done = run_gallery(['--classes', 'volcano', '--out', str(tmp_path / 'g'), '--scheduler',
                        'tcp://127.0.0.1:%d' % port, '--connect-timeout', '2'] + TINY)
    assert done.returncode == 2
    assert done.stderr.startswith('error: cannot reach the Dask scheduler at tcp://127.0.0.1:')
    assert done.stderr.count('\n') == 1 and not (tmp_path / 'g' / 'index.html').exists()
    # A folder that cannot be made: its parent is a file.
    (tmp_path / 'file').write_text('x')
    done = run_gallery(['--classes', 'volcano', '--out', str(tmp_path / 'file' / 'g')] + TINY)
    assert done.returncode == 2
    assert done.stderr.startswith('error: cannot make the gallery folder %s'
                                  % (tmp_path / 'file' / 'g'))
    assert done.stderr.count('\n') == 1


def test_manifest_keys_classes_by_settings(tmp_path):
    """Another setting makes a class stale; its files gone, too."""
    s = settings(canvas=(64, 64), steps=3)
    m = Manifest(tmp_path)
    for name in ('a.png', 'a.jpg'):
        (tmp_path / name).write_bytes(b'x')
    m.add('n09472597', s, dict(index=980, picture='a.png', thumbnail='a.jpg', seconds=1.0))
    again = Manifest(tmp_path)
    assert again.done('n09472597', settings_key(s))
    assert settings_key(dict(s, canvas=[64, 64])) == settings_key(s)   # as JSON reads it back
    assert not again.done('n09472597', settings_key(dict(s, steps=4)))
    assert not again.done('n01910747', settings_key(s))
    (tmp_path / 'a.jpg').unlink()
    assert not again.done('n09472597', settings_key(s))
    (tmp_path / 'manifest.json').write_text('{"format": 99}')
    with pytest.raises(ValueError, match='not a gallery manifest'):
        Manifest(tmp_path)
