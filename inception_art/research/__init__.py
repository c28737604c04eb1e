"""The research comparison against the 2015 post, and the measurements it
rests on.

==================  =========================================================
``evaluate``        renders classes under named settings; *other* networks
                    judge them at full size and in the thumbnail test
``compare``         the 2015 post's claims, measured on a grid of settings:
                    ``python -m inception_art.research.compare``
``grid``            its cells, ``(name, recipe, overrides)`` in the settings'
                    own names, and the bases the claims vary from
``tasks``           a render and its measurements per task, on Dask, through
                    each worker's ``Renderer``; the channels
``metrics``         what is measured of a picture; the reference photographs
``compare_report``  the report of a comparison: tables, verdicts, figures
                    (its Markdown template: ``compare_report.md``)
==================  =========================================================

How a picture looks (:mod:`inception_art.look`) and its power spectrum
(:mod:`inception_art.spectrum`) stay in the core: the Fourier
parameterisation reads the photographs' measurements.
"""
