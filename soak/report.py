"""The soak's findings (:mod:`soak.run`): a summary, and each target
passed or failed.

Targets (over 60 minutes on a 2-core machine):

* the main process's resident memory grows by at most 20 MB an hour,
  fitted after the first 5 minutes;
* no crash (the command ending by itself, the optimiser failing, or a
  watchdog restart that no fault asked for) and no traceback in the log;
* 24.9 frames a second on average;
* the video never frozen longer than one keyframe period, except while
  the optimiser is being replaced; those freezes are measured, and must
  end (each within :data:`RESTART_FREEZE_LIMIT_S` plus the stall timeout);
* the stream recovers from every fault by itself;
* no chat message lost between acceptance and the request queue;
* the main process's threads and file descriptors back where they started
  once the audience has left;
* SIGTERM stops the command and all its processes within 5 s.
"""
import os
import time
from pathlib import Path

import numpy as np

from bench.harness import machine_info, write_json

MAIN_RSS_MB_PER_H = 20.0
FPS = 24.9
#: Seconds a replacement optimiser may take to put a keyframe on screen:
#: a new process imports Theano, builds Lite0 from the compile cache and
#: makes a keyframe, on a 2-core machine also making the video.
RESTART_FREEZE_LIMIT_S = 45.0
STOP_S = 5.0
#: Threads and descriptors the main process may hold beyond its start:
#: the connection that asks for the status, and its thread.
SETTLE_MARGIN = 3
ROLES = ('main', 'optimiser', 'ffmpeg')


def _slope_mb_per_h(points):
    """Least-squares slope of ``[(seconds, MB)]`` in MB an hour (None
    with fewer than 3 points)."""
    if len(points) < 3:
        return None
    t, mb = np.array(points, dtype=float).T
    return round(float(np.polyfit(t / 3600.0, mb, 1)[0]), 2)


def memory(samples, warmup_s):
    """Per process role: resident memory first and last after the warm-up,
    peak, and the slope fitted after the warm-up; for the optimiser and
    ffmpeg (replaced by the faults) also per process life."""
    out = {}
    for role in ROLES:
        points = [(s['t_s'], s['processes'][role]['rss_mb'], s['processes'][role]['pid'])
                  for s in samples if role in s['processes']]
        after = [(t, mb) for t, mb, _ in points if t >= warmup_s]
        lives = {}
        for t, mb, pid in points:
            lives.setdefault(pid, []).append((t, mb))
        out[role] = {
            'first_mb': after[0][1] if after else None,
            'last_mb': after[-1][1] if after else None,
            'peak_mb': max((mb for _, mb, _ in points), default=None),
            'slope_mb_per_h': _slope_mb_per_h(after),
            'processes': len(lives),
        }
        if role != 'main' and lives:
            longest = max(lives.values(), key=len)
            out[role]['longest_life_s'] = round(longest[-1][0] - longest[0][0], 1)
            out[role]['longest_life_slope_mb_per_h'] = _slope_mb_per_h(
                [p for p in longest if p[0] >= warmup_s] or longest)
    return out


def counts(samples, baseline, settled):
    """Threads and file descriptors per role: at the start (before the
    audience came), the most during the run, and after it left."""
    out = {}
    for key in ('threads', 'fds'):
        out[key] = {}
        for role in ROLES:
            during = [s['processes'][role][key] for s in samples if role in s['processes']]
            out[key][role] = {
                'start': baseline['processes'].get(role, {}).get(key),
                'max': max(during, default=None),
                'settled': settled['processes'].get(role, {}).get(key),
            }
    return out


def freezes(watcher, faults, keyframe_seconds, stall_timeout):
    """The freezes the watching viewer saw, split into those while the
    optimiser was being replaced (a kill or a stop, until it recovered)
    and the rest."""
    windows = []
    for f in faults:
        if f['kind'] in ('kill', 'stop'):
            length = f['recovered_s'] if f['recovered_s'] is not None else (
                RESTART_FREEZE_LIMIT_S + stall_timeout)
            # The fade into the new keyframe ends the freeze a little after
            # the recovery was seen (status is polled once a second).
            windows.append((f['wall'], f['wall'] + length + 2 * keyframe_seconds, f))
    restart, other = [], []
    for start, seconds in list(watcher.freezes) + list(watcher.gaps):
        fault = next((w[2] for w in windows if start <= w[1] and start + seconds >= w[0]),
                     None)
        item = {'wall': start, 'seconds': seconds}
        if fault is not None:
            item['fault'] = '%s at %.0f s' % (fault['kind'], fault['t_s'])
            restart.append(item)
        else:
            other.append(item)
    return {'frames_watched': watcher.frames, 'watcher_reconnects': watcher.reconnects,
            'during_restarts': restart, 'other': other,
            'longest_during_restart_s': max((f['seconds'] for f in restart), default=0.0),
            'longest_other_s': max((f['seconds'] for f in other), default=0.0)}


def chat(load, final):
    """What the chatters sent and the server accepted, against the app's
    own accounts; ``checks`` are the equalities that say nothing was lost."""
    web = dict(load['web'].counts)
    irc = load['irc']
    irc_sent = sum(c.sent for c in irc)
    accounts = final['chat']
    bot = final['twitch']['irc']
    checks = {
        'web: accepted (200) = taken by the app': web.get('accepted', 0)
        == accounts['messages']['web'],
        'web: answered = answered by the app': web.get('answered', 0)
        == accounts['answered']['web'],
        'irc: received by the bot = taken by the app': bot['received']
        == accounts['messages']['irc'],
        'answered = queued + unknown': accounts['answered']['web'] + accounts['answered']['irc']
        == accounts['queued'] + accounts['unknown'],
        'queued = picked + replaced + evicted + waiting': accounts['queued']
        == accounts['picked'] + accounts['replaced'] + accounts['evicted']
        + accounts['waiting'],
    }
    return {'web': web, 'bursts': load['web'].bursts,
            'irc': {'sent_while_joined': irc_sent, 'received_by_bot': bot['received'],
                    'acks_seen': sum(c.acks for c in irc),
                    'sessions': sum(c.sessions for c in irc),
                    'bot_replies_sent': bot['replies_sent'],
                    'bot_replies_dropped': bot['replies_dropped']},
            'app': accounts, 'checks': checks}


def log_findings(path):
    """Lines of the command's log: how many, warnings, errors, and every
    traceback (with the lines that follow it)."""
    lines = Path(path).read_text(errors='replace').splitlines()
    tracebacks = [i for i, line in enumerate(lines)
                  if 'Traceback' in line or 'Exception ignored' in line]
    return {'lines': len(lines),
            'warnings': sum(' WARNING ' in line for line in lines),
            'errors': sum(' ERROR ' in line for line in lines),
            'optimiser_failures': sum('optimiser failed' in line for line in lines),
            'tracebacks': len(tracebacks),
            'traceback_excerpts': ['\n'.join(lines[max(0, i - 1):i + 12])
                                   for i in tracebacks[:5]]}


def _target(value, limit, ok):
    return {'value': value, 'limit': limit, 'pass': bool(ok)}


def report(soak, live, baseline, settled, final, startup_s, duration_s, load, ended_early,
           stop, soak_cpu_cores):
    """The whole report of one :class:`soak.run.Soak` run (a JSON-able dict)."""
    samples = soak.samples
    faults = [f.to_json() for f in soak.done_faults]
    with_frames = [s for s in samples if 'frames' in s]
    for a, b in zip(with_frames, with_frames[1:]):
        b['fps_window'] = round((b['frames'] - a['frames']) / max(1e-9, b['t_s'] - a['t_s']), 2)
    first, last = with_frames[0], with_frames[-1]
    span = max(1e-9, last['t_s'] - first['t_s'])
    keyframe_seconds = (final or {}).get('keyframe_seconds') or 2.5
    mem = memory(samples, soak.warmup_s)
    fds_threads = counts(samples, baseline, settled)
    frozen = freezes(load['watcher'], faults, keyframe_seconds, soak.stall_timeout)
    talk = chat(load, final)
    log = log_findings(live.log)
    induced = sum(f['kind'] in ('kill', 'stop') for f in faults)
    restarts = final['watchdog_restarts']
    crashes = {'command_ended': int(bool(ended_early)),
               'optimiser_failures': log['optimiser_failures'],
               'restarts_without_a_fault': max(0, restarts - induced)}
    main_cpu = [s['processes']['main']['cpu_s'] for s in samples if 'main' in s['processes']]
    summary = {
        'startup_s': startup_s,
        'duration_s': round(duration_s, 1),
        'average_fps': round((last['frames'] - first['frames']) / span, 3),
        'lowest_fps_10s': min((s['fps_window'] for s in with_frames[1:]), default=None),
        'deadline_misses': last['deadline_misses'] - first['deadline_misses'],
        'deadline_misses_per_minute': round(
            60 * (last['deadline_misses'] - first['deadline_misses']) / span, 2),
        'underflows': last['underflows'] - first['underflows'],
        # A late keyframe (a restart's) shows as a slowing zoom, not a
        # freeze: how many, and the longest.
        'coasts': last['coasts'] - first['coasts'],
        'longest_coast_s': (final or last)['longest_coast_s'],
        'keyframe_period_median_s': float(np.median([s['keyframe_period_s'] for s in with_frames
                                                     if s['keyframe_period_s']] or [0])),
        'steps_per_keyframe_median': float(np.median(
            [s['steps_per_keyframe'] for s in with_frames if s['steps_per_keyframe']] or [0])),
        'watchdog_restarts': restarts, 'faults_causing_restarts': induced,
        'rtmp_connects': final['twitch']['rtmp']['connects'],
        'rtmp_failures': final['twitch']['rtmp']['failures'],
        'irc_connects': final['twitch']['irc']['connects'],
        'status_unanswered': live.status_errors,
        'memory': mem, 'threads_fds': fds_threads,
        'cpu_cores': {'main': round((main_cpu[-1] - main_cpu[0]) / span, 2) if main_cpu
                      else None, 'soak_load': round(soak_cpu_cores, 2)},
        'load_average_median': float(np.median([s['load_average'] for s in samples])),
        'viewers': dict(load['viewers'].counts), 'freezes': frozen, 'chat': talk,
        'crashes': crashes, 'log': log,
        'stop': {'seconds': stop[0], 'exit_status': stop[1], 'left_running': stop[2]},
    }
    main_counts = {key: fds_threads[key]['main'] for key in ('threads', 'fds')}
    recovered = sum(f['recovered_s'] is not None for f in faults)
    targets = {
        'main_rss_growth_mb_per_h': _target(
            mem['main']['slope_mb_per_h'], MAIN_RSS_MB_PER_H,
            mem['main']['slope_mb_per_h'] is not None
            and mem['main']['slope_mb_per_h'] <= MAIN_RSS_MB_PER_H),
        'crashes': _target(sum(crashes.values()), 0, sum(crashes.values()) == 0),
        'tracebacks_in_log': _target(log['tracebacks'], 0, log['tracebacks'] == 0),
        'average_fps': _target(summary['average_fps'], FPS, summary['average_fps'] >= FPS),
        'longest_freeze_outside_restarts_s': _target(
            frozen['longest_other_s'], keyframe_seconds,
            frozen['longest_other_s'] <= keyframe_seconds),
        'longest_freeze_in_an_optimiser_restart_s': _target(
            frozen['longest_during_restart_s'], RESTART_FREEZE_LIMIT_S + soak.stall_timeout,
            frozen['longest_during_restart_s'] <= RESTART_FREEZE_LIMIT_S + soak.stall_timeout),
        'faults_recovered': _target('%d of %d' % (recovered, len(faults)), 'all',
                                    recovered == len(faults) and faults),
        'chat_nothing_lost': _target(all(talk['checks'].values()), True,
                                     all(talk['checks'].values())),
        'main_threads_fds_back_to_start': _target(
            main_counts, '+%d' % SETTLE_MARGIN,
            all(c['settled'] is not None and c['start'] is not None
                and c['settled'] <= c['start'] + SETTLE_MARGIN for c in main_counts.values())),
        'clean_stop_s': _target(stop[0], STOP_S, stop[0] is not None and stop[0] <= STOP_S
                                and stop[1] == 0 and not stop[2]),
    }
    return {
        'machine': machine_info(), 'date': time.strftime('%Y-%m-%d %H:%M'),
        'config': {'minutes': round(soak.seconds / 60, 2), 'source': soak.source,
                   'stall_timeout_s': soak.stall_timeout, 'sample_every_s': soak.sample_every,
                   'warmup_s': soak.warmup_s, 'seed': soak.seed, 'page_viewers': soak.viewers,
                   'chatters': soak.chatters, 'irc_chatters': len(load['irc']),
                   'viewer_present_s': soak.present, 'viewer_away_s': soak.away,
                   'chat_every_s': soak.chat_every, 'hostile_burst_every_s': soak.burst_every,
                   'faults': [[t, kind] for t, kind in soak.faults],
                   'command': live.args[1:], 'log': os.path.basename(str(live.log))},
        'summary': summary, 'targets': targets,
        'passed': all(t['pass'] for t in targets.values()),
        'faults': faults, 'samples': samples,
    }


def write_report(path, result):
    """Write ``result`` as JSON, one sample a line (an hour is 360 samples),
    atomically."""
    write_json(path, result, one_line=('samples',))
