"""A browsable gallery of ImageNet classes, rendered on Dask.

:func:`make_gallery` renders a set of classes (:func:`inception_art.wordnet.class_set`)
with one set of render settings into a folder: one picture per class
(``WNID.png``), a JPEG thumbnail (``thumbs/WNID.jpg``), the manifest
(:mod:`.manifest`) and ``index.html`` (:mod:`.page`). The renders run on
:mod:`inception_art.engine` (a LocalCluster, or an existing Dask cluster)
through :func:`.task.render_class`; the pictures stream back as they
finish and this process writes every file, atomically, so the page is
whole at every moment. Classes already rendered with the same settings are
skipped: a rerun does only what is missing or stale.

Modules: ``manifest.py`` (what is done), ``task.py`` (the worker's
render), ``page.py`` (``index.html``), ``__main__.py`` (``python -m
inception_art.gallery``).
"""
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .. import engine, imagenet
from ..images import atomic_path, check_writable
from .manifest import Manifest, settings_key
from .page import write_page
from .task import render_class

#: What a full picture may be written as.
FORMATS = ('png', 'jpg')
THUMBS = 'thumbs'


def _shrunk(picture, size):
    """``picture`` as a PIL image, its longer side at most ``size``."""
    image = Image.fromarray(np.asarray(picture, dtype='uint8'))
    if size is not None:
        image.thumbnail((size, size), Image.LANCZOS)
    return image


def _save(image, path, fmt, quality=90):
    with atomic_path(path) as tmp:
        if fmt == 'png':
            image.save(tmp, format='PNG')
        else:
            image.save(tmp, format='JPEG', quality=quality, optimize=True)


def prepare(out):
    """Create the gallery folder ``out`` (and its thumbnail folder), or
    raise a one-line error; return it as a Path."""
    out = Path(out)
    try:
        (out / THUMBS).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError('cannot make the gallery folder %s (%s); choose another --out'
                      % (out, e.strerror or e)) from None
    check_writable(out / 'index.html')
    check_writable(out / THUMBS / 'x.jpg')
    return out


def make_gallery(classes, s, out, scheduler=None, workers=None, thumb=192, fmt='png',
                 picture_size=None, progress=True, connect_timeout=engine.CONNECT_TIMEOUT):
    """Render the classes not yet done with settings ``s`` into ``out``.

    Parameters
    ----------
    classes : sequence of int
        Class indices.
    s : RenderSettings
        The render settings (:func:`inception_art.recipes.settings`),
        checked.
    out : path
        The gallery folder (created; see :func:`prepare`).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask cluster; None: a LocalCluster
        of ``workers`` processes (default one per core), started and stopped
        here.
    thumb : int
        The thumbnails' longer side, pixels.
    fmt : ``'png'`` or ``'jpg'``
        The full pictures' format.
    picture_size : int, optional
        Shrink the full pictures to this longer side, pixels (None: as
        rendered).

    Returns
    -------
    dict
        ``rendered`` (class indices rendered now, in order of arrival),
        ``done`` (already done before), ``failed`` (``[(index, error)]``),
        ``workers``, ``seconds`` (wall clock), ``render_seconds`` (the
        renders' own seconds, summed), ``page`` (its path).
    """
    started = time.perf_counter()
    out = prepare(out)
    manifest = Manifest(out)
    key = settings_key(s)
    todo = [c for c in classes if not manifest.done(imagenet.WNIDS[c], key)]
    result = dict(rendered=[], done=len(classes) - len(todo), failed=[], workers=0,
                  render_seconds=0.0)
    if not todo:
        page = write_page(out, manifest.entries(key), s, cell=thumb)
    else:
        tasks = [dict(index=c, settings=s) for c in todo]
        # Connected (or started) before the first page is written: a
        # cluster that cannot be reached leaves no page behind.
        with engine.start(scheduler, workers, blas_threads=1,
                          connect_timeout=connect_timeout) as pool:
            result['workers'] = pool.workers
            page = write_page(out, manifest.entries(key), s, pending=len(todo), cell=thumb)
            for task, got in pool.map(render_class, tasks, unit='class', progress=progress,
                                      describe=_describe, errors='return'):
                if isinstance(got, Exception):
                    result['failed'].append((task['index'], got))
                else:
                    _store(out, manifest, s, got, thumb, fmt, picture_size)
                    result['rendered'].append(got['index'])
                    result['render_seconds'] += got['seconds']
                pending = len(todo) - len(result['rendered']) - len(result['failed'])
                write_page(out, manifest.entries(key), s, pending=pending, cell=thumb)
    result.update(seconds=time.perf_counter() - started, page=page)
    return result


def _describe(got):
    return '%s (%.0f s)' % (imagenet.short_name(got['index']), got['seconds'])


def _store(out, manifest, s, got, thumb, fmt, picture_size):
    """Write a finished class's picture and thumbnail, then its entry."""
    index = got['index']
    wnid = imagenet.WNIDS[index]
    picture = '%s.%s' % (wnid, fmt)
    thumbnail = '%s/%s.jpg' % (THUMBS, wnid)
    _save(_shrunk(got['picture'], picture_size), out / picture, fmt)
    _save(_shrunk(got['picture'], thumb), out / thumbnail, 'jpg', quality=85)
    manifest.add(wnid, s, dict(
        index=index, label=imagenet.LABELS[index], picture=picture, thumbnail=thumbnail,
        logit=round(got['logit'], 3), seconds=round(got['seconds'], 2), worker=got['worker'],
        host=got['host'], rendered=time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())))
