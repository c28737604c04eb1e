"""What a process uses, read from Linux's ``/proc``: resident memory, open
file descriptors, threads, CPU time, and its descendants.

For the soak (:mod:`soak.run`), the benchmarks that measure CPU use, and
the tests that check a command leaves no process behind.
"""
import os
import resource
from pathlib import Path

_PAGE_MB = os.sysconf('SC_PAGE_SIZE') / 2.0 ** 20
_TICKS = os.sysconf('SC_CLK_TCK')


def _stat_fields(pid):
    """The fields of ``/proc/PID/stat`` after the command name, or None."""
    try:
        text = Path('/proc/%d/stat' % pid).read_text()
    except OSError:
        return None
    return text.rsplit(')', 1)[1].split()


def parent_of(pid):
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def alive(pid):
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ('Z', 'X')


def descendants(pid):
    """Process ids of every living descendant of ``pid`` (children first)."""
    children = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in sorted(children.get(todo.pop(0), [])):
            if alive(child):
                out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid``, or None once it has gone."""
    fields = _stat_fields(pid)
    return None if fields is None else _cpu_s(fields)


def _cpu_s(fields):
    return (int(fields[11]) + int(fields[12])) / _TICKS


def own_cpu_seconds(who=resource.RUSAGE_SELF):
    """User + system CPU seconds of this process (or, with
    ``resource.RUSAGE_CHILDREN``, of its children that have been waited for)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def command_line(pid):
    try:
        raw = Path('/proc/%d/cmdline' % pid).read_bytes()
    except OSError:
        return []
    return [a.decode('utf-8', 'replace') for a in raw.split(b'\0') if a]


def usage(pid):
    """``{'rss_mb', 'fds', 'threads', 'cpu_s'}`` of ``pid``, or None once it
    has gone (resident memory from ``statm``, CPU user + system)."""
    fields = _stat_fields(pid)
    try:
        rss_pages = int(Path('/proc/%d/statm' % pid).read_text().split()[1])
        fds = len(os.listdir('/proc/%d/fd' % pid))
    except (OSError, IndexError, ValueError):
        return None
    if fields is None:
        return None
    return {'rss_mb': round(rss_pages * _PAGE_MB, 2), 'fds': fds,
            'threads': int(fields[17]), 'cpu_s': _cpu_s(fields)}
