"""Benchmarks of the compiled image step (not part of the installed package).

``make bench`` (``python -m bench.run``) times :class:`inception_art.step.
ImageOptimizer` for EfficientNet-Lite0 and VGG-16 at three image sizes,
against the same step written in PyTorch (:mod:`bench.torch_reference`),
and writes ``bench/results.json``. Each measurement runs in its own
subprocess (:mod:`bench.theano_worker`, :mod:`bench.torch_reference`), so
compile caches, thread pools and peak memory do not leak between them.
:mod:`bench.common` is numpy-only and shared by both sides;
:mod:`bench.flops` counts a network's multiply-adds from its Lasagne layers.

:mod:`bench.soak` (``make soak``) runs the live mode for an hour with faults,
page viewers and chat; :mod:`bench.loopback` (nginx-rtmp and ngircd on
loopback ports), :mod:`bench.hostile` (hostile chat) and :mod:`bench.procs`
(a process's memory, threads and descriptors) serve it and the tests.
"""
