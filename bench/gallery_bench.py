"""Gallery throughput on Dask against one serial process: ``bench/gallery.json``.

``python -m bench.gallery_bench [--classes 8] [--quick] [--out bench/gallery.json]``
renders the same classes (an even spread over the 1000) with the default
recipe twice, warm (every process has compiled its step first, so compile
time is left out of both):

* **serial**: one process, :class:`inception_art.engine.InProcess`, its
  BLAS on every core (as ``make render`` runs);
* **dask**: ``make_gallery`` (the command's own path: tasks, results
  streamed back, PNG, thumbnail, manifest and page written per picture) on
  a LocalCluster of one single-threaded worker per core, BLAS 1 thread each.

Reported: pictures per minute of each; the engine's overhead per picture,
measured two ways: the worker-seconds of the Dask run that were not spent
rendering (wall x workers - the renders' own seconds, per picture: task
hand-out, the result's trip back, the tail where a worker waits for the
last picture), and the round trip of a task that only returns a picture's
worth of bytes; the cluster's start-up. The CPU model is recorded beside
them.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from bench import harness


def _noop_picture(size):
    # A task that renders nothing and returns what a render returns.
    return np.zeros(tuple(size) + (3,), dtype='uint8')


def serial(classes, s):
    """Pictures per minute of one warm process rendering in turn."""
    from inception_art import engine
    from inception_art.gallery.task import render_class
    with engine.start(workers=0) as pool:
        # Compile first (the step does not depend on the step count).
        list(pool.map(render_class, [dict(index=classes[0], settings=dict(s, steps=1))],
                      progress=False))
        started = time.perf_counter()
        seconds = [got['seconds'] for _, got in pool.map(
            render_class, [dict(index=c, settings=s) for c in classes], unit='class',
            describe=lambda got: '%.0f s' % got['seconds'])]
        wall = time.perf_counter() - started
    return dict(wall_seconds=round(wall, 1), pictures=len(classes),
                pictures_per_minute=round(60 * len(classes) / wall, 3),
                render_seconds_median=round(statistics.median(seconds), 2))


def dask(classes, s, workers):
    """Pictures per minute of the gallery on a warm LocalCluster."""
    from inception_art import engine
    from inception_art.gallery import make_gallery
    from inception_art.gallery.task import render_class
    started = time.perf_counter()
    with engine.start(workers=workers) as pool:
        start_seconds = time.perf_counter() - started
        client, address = pool.client, pool.cluster.scheduler_address
        # Each worker compiles its step.
        warm = [client.submit(render_class, dict(index=classes[0], settings=dict(s, steps=1)),
                              workers=[w], pure=False)
                for w in client.scheduler_info()['workers']]
        client.gather(warm)
        # The round trip of a task that does nothing but return a picture.
        trips = []
        for _ in range(20):
            t = time.perf_counter()
            client.submit(_noop_picture, s['canvas'], pure=False).result()
            trips.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            done = make_gallery(classes, s, out, scheduler=address)
            wall = time.perf_counter() - t
    idle = wall * pool.workers - done['render_seconds']
    return dict(workers=pool.workers, wall_seconds=round(wall, 1), pictures=len(classes),
                pictures_per_minute=round(60 * len(classes) / wall, 3),
                render_seconds_median=round(done['render_seconds'] / len(classes), 2),
                worker_seconds_not_rendering_per_picture=round(idle / len(classes), 2),
                task_round_trip_seconds=round(statistics.median(trips), 4),
                cluster_start_seconds=round(start_seconds, 1))


def run(quick=False, classes=8, workers=None):
    """The figures of ``bench/gallery.json``: ``classes`` pictures per run,
    ``workers`` LocalCluster workers (default one per core); ``quick``:
    64x64, 20 steps."""
    from inception_art import recipes, wordnet
    s = recipes.settings('default', **(dict(canvas=(64, 64), steps=20, views=(1,))
                                       if quick else {}))
    classes = wordnet.class_set('all', classes)
    load_before = round(os.getloadavg()[0], 2)
    one = serial(classes, s)
    print('serial: %.2f pictures/min (%.1f s each)'
          % (one['pictures_per_minute'], one['render_seconds_median']), flush=True)
    many = dask(classes, s, workers)
    print('dask, %d workers: %.2f pictures/min (%.1f s each); %.2f worker-s per picture '
          'not rendering; task round trip %.3f s'
          % (many['workers'], many['pictures_per_minute'], many['render_seconds_median'],
             many['worker_seconds_not_rendering_per_picture'],
             many['task_round_trip_seconds']))
    return dict(
        # Other work on the machine slows both runs: the load before and after.
        load_average_1min=dict(before=load_before, after=round(os.getloadavg()[0], 2)),
        settings={k: list(v) if isinstance(v, tuple) else v for k, v in s.items()},
        classes=classes, serial=one, dask=many,
        speedup=round(many['pictures_per_minute'] / one['pictures_per_minute'], 3))


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.gallery_bench',
                                description=__doc__.splitlines()[0])
    p.add_argument('--class-count', type=int, default=8,
                   help='pictures per run (default: %(default)s)')
    p.add_argument('--workers', type=int, default=None,
                   help='LocalCluster workers (default: one per core)')
    p.add_argument('--quick', action='store_true', help='64x64, 20 steps: a smoke run')
    p.add_argument('--out', default='bench/gallery.json')
    args = p.parse_args(argv)
    print(harness.save(args.out, run(quick=args.quick, classes=args.class_count,
                                     workers=args.workers)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
