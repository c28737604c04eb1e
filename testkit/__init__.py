"""What the tests and the soak share (not part of the installed package).

:mod:`testkit.loopback` (nginx-rtmp and ngircd on loopback ports),
:mod:`testkit.hostile` (hostile chat), :mod:`testkit.procs` (a process's
memory, threads and descriptors, read from ``/proc``) and
:mod:`testkit.vgg16` (random VGG-16 weights of the real shapes). It imports
nothing from ``bench`` or ``soak``: they build on it, never the reverse.
"""
