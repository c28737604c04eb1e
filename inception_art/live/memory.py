"""The main process's memory allocator, set for a server that runs for days.

glibc's malloc gives threads that allocate at once arenas of their own, up
to 8 per core, and memory freed into an arena stays with it. The live
mode's main process has a thread per connection (20 page viewers coming
and going make 50-90 of them) and makes a 1.7 MB frame 25 times a second,
encoded by whichever viewer's thread asks first: freed blocks end up
scattered over 16 arenas, few of them ever returned. Measured with the
stand-in, two commands side by side under the same load (20 page viewers
arriving and leaving, 40 chatters: ``soak/load.py``), 6 minutes:
with glibc's defaults the main process held 113 MB after a minute and 137
MB at the end, still rising; capped at 2 arenas, 90-94 MB from the first
minute on, for the same CPU time (82 s each). A fixed mmap threshold of
512 KB kept it flat as well, for 17% more CPU (every frame mapped and
unmapped).

Only the command (``python -m inception_art.live``) calls :func:`tune`, before
it starts a thread; the optimiser's process sets its own allocator
(:mod:`inception_art.theano_env`).
"""
import ctypes

#: mallopt's parameter number for the most arenas (glibc's malloc.h).
M_ARENA_MAX = -8
#: Arenas for the main process: its own and one for every other thread.
ARENAS = 2


def tune(arenas=ARENAS):
    """Cap glibc's malloc arenas at ``arenas``; returns whether it took
    (False where the C library is not glibc)."""
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:            # not glibc: nothing to tune
        return False
    return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
