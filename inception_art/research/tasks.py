"""The research comparison's work: one render and its measurements a task,
dispatched on Dask (:mod:`inception_art.engine`).

A task is a class in a grid cell, or a channel of a feature layer, with its
settings resolved once (:class:`~inception_art.recipes.RenderSettings`).
Every task renders through the worker's
:class:`~inception_art.loop.Renderer` (:func:`inception_art.loop.render`),
so a compiled step is built once per worker process for each graph it
needs (Theano's compile cache is shared on disk) and kept for the next
render. The renders run on ``jobs`` worker processes of a LocalCluster, or
on the workers of an existing cluster (``scheduler``); each local worker's
BLAS gets ``cores / jobs`` threads, so the workers do not fight over the
cores.

Top-level features: a channel of each of the network's last layers (the
two feature layers before the logits) is rendered with
:class:`~inception_art.objectives.ChannelObjective` under the default
recipe (:func:`channel_settings`: the same core as ``render``'s default
pictures); for the layer that feeds the classifier, the channels are those
with the largest classifier weight into some of the compared classes
(:func:`choose_channels`).
"""
import os
import time

import numpy as np

from .. import engine, imagenet, nets, recipes
from ..engine import worker_lock, worker_state
from ..loop import Renderer, canvas_size, initial_image, render
from .metrics import load_priors, logit_metrics, picture_metrics


def build_network(model, canvas):
    """The optimised network at ``canvas``: ``model`` is a registry name or
    a picklable factory ``f(canvas)``."""
    if isinstance(model, str):
        return nets.build(model, canvas)
    return model(canvas)


def channel_settings(run):
    """The channels' settings: the default recipe with the grid's model,
    steps and seed (its own canvas)."""
    return recipes.settings('default', model=run['model'], steps=run['steps'],
                            seed=run['seed'])


def cell_tasks(cells, classes):
    """A task per class and cell: ``cells`` is ``[(name, RenderSettings)]``."""
    return [dict(cell=name, settings=s, target=c) for c in classes for name, s in cells]


def channel_tasks(specs, s):
    """A task per channel of ``specs`` (:func:`choose_channels`), with settings ``s``."""
    return [dict(cell='channel', settings=s, target=spec['channel'], layer=spec['layer'],
                 index=i) for i, spec in enumerate(specs)]


# ---------------------------------------------------------------- worker --
#
# Each worker process keeps its network's forward pass, the priors that
# measure the pictures and a Renderer with every compiled step it has built
# (inception_art.engine.worker_state), for one set of run-wide values.

def _start_worker(run):
    """What a worker builds once for the run-wide values ``run``: the
    network's forward pass, the priors that measure the pictures, and the
    Renderer that keeps the compiled steps."""
    from ..theano_env import theano, T
    network = build_network(run['model'], run['canvas'])
    images = T.tensor4('images')
    forward = theano.function([images], network.logit_map(images).mean(axis=(2, 3)),
                              name='compare_forward')
    return dict(run=run, forward=forward, priors=load_priors(), renderer=Renderer())


def _worker(run):
    """The state of this process for ``run`` (built on its first task)."""
    return worker_state('compare', tuple(sorted(run.items())), lambda: _start_worker(run))


def _logits(worker, picture):
    batch = np.asarray(picture, dtype='float32').transpose(2, 0, 1)[None]
    return worker['forward'](np.ascontiguousarray(batch))[0]


def work(task):
    """Render one task (a class in a cell, or a channel) and measure it."""
    with worker_lock():
        return render_task(_worker(task['run']), task)


def render_task(worker, task):
    """:func:`work` with the process's ``worker`` state: the picture, its
    per-step history, seconds and measurements."""
    s, layer = task['settings'], task.get('layer')
    history = np.zeros(s['steps'], dtype='float32')

    def record(i, loss, value):
        history[i] = value

    started = time.perf_counter()
    picture, _ = render((task['target'],), s, renderer=worker['renderer'], layer=layer,
                        progress=False, callback=record)
    seconds = time.perf_counter() - started
    result = {k: v for k, v in task.items() if k != 'run'}
    result.update(picture=picture, history=history, seconds=seconds, steps=s['steps'])
    result.update(picture_metrics(picture, worker['priors']))
    if layer is None:
        start = _logits(worker, initial_image(s['init'], canvas_size(s), s['seed']))
        result.update(logit_metrics(_logits(worker, picture), task['target'], start))
    else:
        result['value'] = float(history[-1])
    return result


def run_tasks(tasks, run, jobs, progress, scheduler=None):
    """Yield each task's result as it finishes: on ``jobs`` Dask worker
    processes here (each with ``cores / jobs`` BLAS threads, so that they do
    not fight over the cores), in this process for ``jobs=1``, or on the
    cluster at ``scheduler``. ``run`` is the grid's run-wide values (the
    workers' forward pass is built at its model and canvas)."""
    tasks = [dict(task, run=run) for task in tasks]
    with engine.start(scheduler=scheduler, workers=0 if jobs == 1 else jobs,
                      blas_threads=max(1, (os.cpu_count() or 1) // jobs)) as pool:
        for _, result in pool.map(work, tasks, describe=_describe, unit='render',
                                  progress=progress):
            yield result


def _describe(result):
    if result.get('layer'):
        return '%s channel %d' % (result['layer'], result['target'])
    return '%s: %s' % (result['cell'], imagenet.short_name(result['target']))


# ------------------------------------------------------------ channels --

def choose_channels(network, classes, per_layer=6, layers=None):
    """Channels of the network's last layers to render as pictures.

    Parameters
    ----------
    network : Network
    classes : sequence of int
        For the layer that feeds the classifier (a 1x1 convolution), the
        channel with the largest classifier weight into each of the first
        of these classes is taken (duplicates skipped), so the picture is
        a feature that class relies on.
    per_layer : int
        Channels per layer.
    layers : sequence of str, optional
        Feature layers; default the two before the layer that feeds the
        classifier. That layer is skipped by default because in
        EfficientNet-Lite it ends in ReLU6: at the grey start most of its
        channels are 0 everywhere, so their gradient is 0 and the picture
        stays grey, and the others saturate at 6 (measured: head channels
        314 and 1202 stayed at 0.0 for 30 steps from grey; from noise 1202
        rose to 5.94 and stopped). The two before it (``block14`` and
        ``block15``, the last MBConv blocks) end in linear projections.

    Returns
    -------
    list of dict
        ``{'layer', 'channel', 'caption'}``.
    """
    feeding = getattr(network.logits, 'input_layer', None)
    names = [n for n, layer in network.features.items()
             if layer is not network.logits and layer is not feeding]
    layers = list(layers or names[-2:])
    weights = getattr(network.logits, 'W', None)
    chosen = []
    for name in layers:
        layer = network.features[name]
        channels = layer.output_shape[1]
        picked = []
        if layer is feeding and weights is not None:
            W = weights.get_value()
            W = W.reshape(W.shape[0], -1) if W.shape[1] == channels else None
            for c in classes if W is not None else ():
                best = int(np.argmax(W[c]))
                if best not in (p for p, _ in picked):
                    picked.append((best, 'top weight of %s' % imagenet.short_name(c)))
                if len(picked) == per_layer:
                    break
        for i in range(per_layer - len(picked)):
            # Evenly spaced, offset so that channel 0 is not always taken.
            picked.append(((2 * i + 1) * channels // (2 * per_layer), 'evenly spaced'))
        chosen += [dict(layer=name, channel=c, caption=why) for c, why in picked]
    return chosen
