"""What a worker does for the gallery: render one class.

:func:`render_class` runs on a Dask worker (or in this process). The
worker keeps one :class:`~inception_art.loop.Renderer` in its process
state, so it compiles each step once for every class it renders; the
picture goes back to the command, which writes every file (the workers
of a remote cluster need not share a disk with it).
"""
import os
import socket
import time

from ..engine import worker_lock, worker_name, worker_state
from ..loop import Renderer, render


def render_class(task):
    """Render ``task['index']`` with the full settings ``task['settings']``.

    Returns
    -------
    dict
        ``index``, ``picture`` ((h, w, 3) uint8), ``logit`` (the final
        target logit), ``seconds`` (the render alone), ``worker`` (its Dask
        address, or ``'local'``), ``host`` and ``pid``.
    """
    with worker_lock():
        renderer = worker_state('gallery', None, Renderer)
        started = time.perf_counter()
        picture, logit = render((task['index'],), task['settings'], renderer=renderer,
                                progress=False)
        seconds = time.perf_counter() - started
    return dict(index=task['index'], picture=picture, logit=float(logit), seconds=seconds,
                worker=worker_name(), host=socket.gethostname(), pid=os.getpid())
