"""Batch work on Dask distributed: many renders, one result at a time.

The gallery (:mod:`inception_art.gallery`) and the research comparison
(:mod:`inception_art.research.compare`) hand their renders to an engine
and take the results as they finish::

    with start(workers=2) as engine:
        for task, result in engine.map(render_one, tasks, describe=str):
            ...

:func:`start` gives

* :class:`DaskEngine` on a ``distributed.LocalCluster`` (by default one
  single-threaded worker process per core, BLAS threads 1 in each: a render
  keeps one core busy, so processes, not threads, share the machine), which
  it starts and stops; or on an existing cluster, ``scheduler=
  'tcp://HOST:PORT'`` (started with Dask's own CLI: ``dask scheduler``,
  ``dask worker tcp://HOST:PORT``; a worker needs only this package
  installed). A worker that dies loses only the task it was running, which
  Dask runs again on another worker (up to its ``allowed-failures``).
* :class:`InProcess`, with ``workers=0``: the same interface, run serially
  in this process (a network built in this process cannot travel; a
  serial baseline for the benchmark).

A worker keeps what is expensive to build (a network, compiled Theano
steps) between tasks in :func:`worker_state`: module-level state of the
worker process, so each worker compiles once for all its tasks.
"""
import contextlib
import logging
import os
import threading
import time

from tqdm import tqdm

#: How long to wait for an existing scheduler to answer, seconds.
CONNECT_TIMEOUT = 10.0
#: The variables that set a BLAS or OpenMP library's threads.
BLAS_VARIABLES = ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')

# What this process keeps for its tasks: {name: (key, value)}; a lock,
# since a worker started with several threads would run tasks at once
# and a compiled step is not thread-safe.
_STATE = {}
_STATE_LOCK = threading.RLock()


def worker_state(name, key, build):
    """What this process keeps under ``name``: built by ``build()`` the first
    time, and again when ``key`` changes (so a long-lived worker that serves
    several runs keeps one of each, not every one it has built).

    Use it inside a task, under :func:`worker_lock`.
    """
    with _STATE_LOCK:
        if name not in _STATE or _STATE[name][0] != key:
            _STATE.pop(name, None)      # free the old one before building
            _STATE[name] = (key, build())
        return _STATE[name][1]


def worker_lock():
    """The lock that makes a process run its tasks one at a time, whatever
    a worker's thread count: the state they share is not thread-safe."""
    return _STATE_LOCK


def worker_name():
    """The Dask worker running this task (its address), or ``'local'``."""
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return 'local'


def _bar(total, unit, progress):
    # The ETA comes from the recent rate (smoothing): the first results
    # include each worker's compilation.
    plural = unit + ('es' if unit.endswith('s') else 's')
    return tqdm(total=total, unit=unit, disable=not progress, smoothing=0.1,
                bar_format='%s {n_fmt}/{total_fmt} |{bar:20}| {desc} '
                           '[{elapsed}<{remaining}, {rate_fmt}]' % plural)


class InProcess:
    """Tasks run one after another in this process (``workers=0``)."""

    workers = 1

    def map(self, fn, tasks, describe=None, unit='task', progress=True, errors='raise'):
        """See :meth:`DaskEngine.map`."""
        with _bar(len(tasks), unit, progress) as bar:
            for task in tasks:
                try:
                    result = fn(task)
                except Exception as e:      # handed to the caller
                    if errors == 'raise':
                        raise
                    result = e
                _advance(bar, describe, task, result)
                yield task, result

    def close(self):
        pass


def _advance(bar, describe, task, result):
    if describe is not None and not isinstance(result, Exception):
        bar.set_description_str(describe(result), refresh=False)
    bar.update()


class DaskEngine:
    """Tasks on a Dask cluster: a LocalCluster started here, or an existing
    scheduler's.

    Parameters
    ----------
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running scheduler; None: start a
        LocalCluster (and stop it on :meth:`close`).
    workers : int, optional
        The LocalCluster's worker processes (default: one per core).
    blas_threads : int
        BLAS threads in each of the LocalCluster's workers (an existing
        cluster's workers have Dask's default, 1).
    connect_timeout : float
        Seconds to wait for ``scheduler``.
    """

    def __init__(self, scheduler=None, workers=None, blas_threads=1,
                 connect_timeout=CONNECT_TIMEOUT):
        from distributed import Client, LocalCluster
        import dask
        self.cluster = None
        # The Nanny sets the workers' BLAS variables in this process before it
        # spawns them (BLAS reads them once, when loaded); put ours back after.
        self._saved = {n: os.environ.get(n) for n in BLAS_VARIABLES}
        if scheduler is None:
            workers = workers or os.cpu_count() or 1
            config = {'distributed.nanny.pre-spawn-environ.' + n: str(blas_threads)
                      for n in BLAS_VARIABLES}
            # A worker is sent one task at a time (Dask's default, 1.1, sends a
            # single-threaded worker two): the rest wait at the scheduler for
            # whichever worker is free first, and a worker that dies held one.
            config['distributed.scheduler.worker-saturation'] = 1.0
            with dask.config.set(config):
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError, ValueError) as e:
                raise OSError('cannot reach the Dask scheduler at %s: %s'
                              % (scheduler, str(e).splitlines()[0] or type(e).__name__)) \
                    from None
        self.workers = max(1, len(self.client.scheduler_info()['workers']))

    def map(self, fn, tasks, describe=None, unit='task', progress=True, errors='raise'):
        """Run ``fn(task)`` for every task on the cluster; yield ``(task,
        result)`` as each finishes, with a progress bar (and its ETA) on
        stderr.

        Tasks are submitted in order, and Dask starts them roughly in that
        order; the scheduler queues them and a worker holds only the task it
        runs (and, on a cluster with Dask's default ``worker-saturation``,
        the next one), so a worker that dies costs the task it was running;
        what it held is run again elsewhere.

        Parameters
        ----------
        fn : callable
            A module-level function (workers import it by name).
        tasks : sequence
            Picklable arguments, one per call.
        describe : callable, optional
            ``describe(result)`` -> the bar's text after a result.
        unit : str
            What the bar counts.
        errors : ``'raise'`` or ``'return'``
            A task that raised: raise its exception here (and cancel the
            rest), or yield the exception as its result.
        """
        from distributed import as_completed
        futures = {}
        for task in tasks:
            futures[self.client.submit(fn, task, pure=False)] = task
        with _bar(len(tasks), unit, progress) as bar:
            try:
                for future in as_completed(futures):
                    task = futures.pop(future)
                    if future.status == 'error':
                        result = future.exception()
                        if errors == 'raise':
                            raise result
                    else:
                        result = future.result()
                    future.release()        # the worker may drop it now
                    _advance(bar, describe, task, result)
                    yield task, result
            finally:
                if futures:
                    self.client.cancel(list(futures))

    def close(self):
        """Disconnect; stop the LocalCluster if this engine started it."""
        try:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            for n, v in self._saved.items():
                if v is None:
                    os.environ.pop(n, None)
                else:
                    os.environ[n] = v


@contextlib.contextmanager
def start(scheduler=None, workers=None, blas_threads=1, connect_timeout=CONNECT_TIMEOUT):
    """An engine, closed on exit: :class:`InProcess` for ``workers=0``, else
    :class:`DaskEngine` (see its parameters)."""
    if workers == 0 and scheduler is None:
        engine = InProcess()
    else:
        started = time.perf_counter()
        engine = DaskEngine(scheduler, workers, blas_threads, connect_timeout)
        engine.start_seconds = time.perf_counter() - started
    try:
        yield engine
    finally:
        engine.close()
