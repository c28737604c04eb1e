"""The batch engine on a real LocalCluster: results stream back, each
worker process builds its state once, BLAS runs one thread in each."""
import os

import pytest

from inception_art import engine

BUILT = []


def _build():
    BUILT.append(os.getpid())
    return object()


def work(task):
    """A task: which process ran it, how often that process built its
    state, its BLAS threads; task 'bad' raises."""
    if task == 'bad':
        raise ValueError('task bad failed')
    with engine.worker_lock():
        state = engine.worker_state('test', 'key', _build)
    return dict(task=task, pid=os.getpid(), builds=BUILT.count(os.getpid()),
                state=id(state), blas=os.environ.get('OPENBLAS_NUM_THREADS'),
                worker=engine.worker_name())


@pytest.fixture(scope='module')
def cluster():
    with engine.start(workers=2) as pool:
        yield pool


def test_each_worker_builds_once_and_results_stream_back(cluster):
    assert cluster.workers == 2
    got = list(cluster.map(work, list(range(12)), progress=False))
    assert sorted(task for task, _ in got) == list(range(12))
    assert all(task == result['task'] for task, result in got)
    results = [r for _, r in got]
    assert {r['pid'] for r in results} != {os.getpid()}
    for pid in {r['pid'] for r in results}:
        mine = [r for r in results if r['pid'] == pid]
        assert {r['builds'] for r in mine} == {1} and len({r['state'] for r in mine}) == 1
    assert {r['blas'] for r in results} == {'1'}
    assert all(r['worker'].startswith('tcp://127.0.0.1:') for r in results)


def test_errors_raised_or_returned(cluster):
    got = dict(cluster.map(work, [1, 'bad', 2], progress=False, errors='return'))
    assert isinstance(got['bad'], ValueError) and got[1]['task'] == 1
    with pytest.raises(ValueError, match='task bad failed'):
        list(cluster.map(work, ['bad', 1], progress=False))


def test_in_process_is_the_same_interface():
    saved = os.environ.get('OPENBLAS_NUM_THREADS')
    with engine.start(workers=0) as pool:
        got = list(pool.map(work, [1, 2], progress=False))
    assert [t for t, _ in got] == [1, 2]
    assert {r['pid'] for _, r in got} == {os.getpid()}
    assert {r['worker'] for _, r in got} == {'local'}
    assert os.environ.get('OPENBLAS_NUM_THREADS') == saved
    # A new key builds anew; the old state is let go.
    first = engine.worker_state('test', 'key', _build)
    assert engine.worker_state('test', 'key', _build) is first
    assert engine.worker_state('test', 'other', _build) is not first


def test_unreachable_scheduler_is_one_line():
    from live_support import free_port
    with pytest.raises(OSError, match=r'^cannot reach the Dask scheduler at tcp://127'):
        with engine.start(scheduler='tcp://127.0.0.1:%d' % free_port(), connect_timeout=1):
            pass
