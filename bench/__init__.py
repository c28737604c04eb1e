"""The benchmark suite (not part of the installed package).

``make bench`` (``python -m bench``, :mod:`bench.__main__`) runs each
benchmark in a fresh process and writes ``bench/NAME.json`` with the
machine and the date: ``results`` (:mod:`bench.run`: the compiled image
step, Theano against PyTorch, three sizes), ``prior``
(:mod:`bench.prior_bench`), ``video`` (:mod:`bench.video_bench`), ``live``
(:mod:`bench.live_bench`), ``render`` (:mod:`bench.render_bench`),
``winograd`` (:mod:`bench.winograd_bench`) and ``gallery``
(:mod:`bench.gallery_bench`). Each module is a ``run(quick=False, ...)``
that returns its dict, and runs alone too (``python -m bench.render_bench``).

:mod:`bench.harness` is what they share: the machine (CPU and BLAS
kernels), timing, the one JSON writer and the worker protocol (a
measurement in its own process: :mod:`bench.theano_worker`,
:mod:`bench.torch_reference`). :mod:`bench.common` holds the step
benchmarks' constants; :mod:`bench.flops` counts a network's multiply-adds
from its Lasagne layers. ``bench/studies/`` holds the one-off studies, each
beside its JSON. What the tests share with the soak is in ``testkit``, and
the soak in ``soak``: nothing here serves the tests.
"""
