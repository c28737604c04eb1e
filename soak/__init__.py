"""The live mode for an hour with faults, viewers and chat (``make soak``;
not part of the installed package).

:mod:`soak.run` (``python -m soak``) runs the live command against real
nginx-rtmp and ngircd on loopback ports (:mod:`testkit.loopback`), with
its audience (:mod:`soak.load`), and writes what it found
(:mod:`soak.report`) to ``soak/soak.json``, the command's log beside it.
``tests/test_soak.py`` runs a short one.
"""
