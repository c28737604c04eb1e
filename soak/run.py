"""The live mode for hours, with faults: memory flat, nothing lost.

    python -m soak [--minutes 60] [--short] [--out soak/soak.json]
                         [--stall-timeout 15] [--source dream|stand-in]

Runs ``python -m inception_art.live`` as a user does (the embedded Lite0,
default settings), streaming to a real nginx-rtmp and reading a real
ngircd on loopback ports (:mod:`testkit.loopback`), for ``--minutes``.
Meanwhile (:mod:`soak.load`):

* 20 page viewers arrive and leave at random; some reset their
  connections, some stop reading and hold their sockets open;
* 50 chatters (40 on the page, each from an address of its own, and 10 on
  IRC) ask for classes, misspell them and chat, and bursts of hostile
  messages (:mod:`testkit.hostile`) come at random times;
* one viewer stays all along and times every freeze of the video;
* faults: the optimiser process is killed (SIGKILL) every 5 minutes and
  once stopped (SIGSTOP) until the watchdog replaces it; nginx is
  restarted every 10 minutes and ngircd every 15.

``--short`` runs 5 minutes with the faults every 1.5, 2 and 2.5 minutes
(the SIGSTOP once) for a quick check. The stall timeout is 15 s here, not
the command's 60: the SIGSTOP is detected four times sooner, and the
video's pause while the optimiser is replaced is that much shorter.

Every 10 s it records the resident memory, file descriptors and threads of
each process (the main process, the optimiser, ffmpeg), the frame rate,
deadline misses, underflows, keyframe period, watchdog restarts, RTMP and
IRC reconnects and the chat counts; at the end it stops the command with
SIGTERM and writes ``--out`` with every sample, each fault and how long
the stream took to recover from it, every freeze, and the targets
(:mod:`soak.report`), each passed or failed. The command's log goes
beside it (``.log``).
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from soak.load import FreezeWatcher, IRCChatter, PageViewers, WebChat
from soak.report import report, write_report
from testkit import procs
from testkit.loopback import NgIRCd, Nginx, free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = 'live_000000_SoakTestStreamKey'
TOKEN = 'oauth:soak-test-token'
CHANNEL = 'soakchannel'
BOT = 'dreambot'
#: Fault intervals and offsets (seconds), and the last stretch of the run
#: left without new faults so that the last one's recovery is seen.
SCHEDULES = {
    'full': {'kill': (300, 0), 'rtmp': (600, 60), 'irc': (900, 120), 'tail': 120},
    'short': {'kill': (90, 0), 'rtmp': (120, 30), 'irc': (150, 45), 'tail': 45},
}
#: Seconds a fault's recovery may take before it counts as not recovered
#: (the optimiser's faults: plus the stall timeout).
RECOVERY_LIMIT_S = 180.0


def fault_schedule(seconds, kill, rtmp, irc, tail):
    """``[(t, kind)]``: kills, nginx and ngircd restarts every so often
    (``(interval, offset)`` each), and one SIGSTOP half-way between two
    kills near the middle of the run; none in the last ``tail`` seconds."""
    faults = []
    for kind, (every, offset) in (('kill', kill), ('rtmp', rtmp), ('irc', irc)):
        t = every + offset
        while t <= seconds - tail:
            faults.append((float(t), kind))
            t += every
    stop_at = kill[0] * (max(0, round(0.45 * seconds / kill[0] - 0.5)) + 0.5)
    if stop_at <= seconds - tail:
        faults.append((float(stop_at), 'stop'))
    return sorted(faults)


class Live:
    """``python -m inception_art.live`` with Twitch pointed at the local
    servers, its output in ``log``."""

    def __init__(self, port, nginx, ircd, log, stall_timeout, source):
        self.port = port
        self.args = [sys.executable, '-m', 'inception_art.live', '--port', str(port),
                     '--twitch', '--rtmp-url', 'rtmp://127.0.0.1:%d/app' % nginx.rtmp_port,
                     '--irc-server', 'irc://127.0.0.1:%d' % ircd.port,
                     '--stall-timeout', '%g' % stall_timeout]
        if source != 'dream':
            self.args += ['--source', source]
        env = dict(os.environ, TWITCH_STREAM_KEY=KEY, TWITCH_CHANNEL=CHANNEL,
                   TWITCH_OAUTH=TOKEN, TWITCH_NICK=BOT)
        self.log = log
        with open(log, 'wb') as f:
            self.process = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=f,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.status_errors = []         # (wall time, why) of each /status unanswered

    def status(self):
        """``/status`` as a dict, or None (counted) when it does not answer."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=5)
        try:
            conn.request('GET', '/status')
            return json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError) as e:
            if self.process.poll() is None:
                self.status_errors.append((round(time.time(), 2), type(e).__name__))
            return None
        finally:
            conn.close()

    def log_tail(self, n=2000):
        return Path(self.log).read_bytes()[-n:].decode('utf-8', 'replace')

    def processes(self, status):
        """``{role: pid}`` of the command's processes: ``main``,
        ``optimiser``, ``ffmpeg`` and any other (``resource_tracker``,
        multiprocessing's helper)."""
        out = {'main': self.process.pid}
        optimiser = ((status or {}).get('worker') or {}).get('pid')
        for pid in procs.descendants(self.process.pid):
            args = procs.command_line(pid)
            if pid == optimiser:
                out['optimiser'] = pid
            elif args and os.path.basename(args[0]).startswith('ffmpeg'):
                out['ffmpeg'] = pid
            elif any('resource_tracker' in a for a in args):
                out['resource_tracker'] = pid
            else:
                out['other_%d' % pid] = pid
        return out

    def stop(self, timeout=10.0):
        """SIGTERM, as a supervisor stops it; returns ``(seconds until the
        command and all its processes ended, exit status, processes left)``."""
        children = procs.descendants(self.process.pid)
        t0 = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        while any(procs.alive(p) for p in children) and time.monotonic() - t0 < timeout:
            time.sleep(0.02)
        seconds = time.monotonic() - t0
        left = [p for p in children if procs.alive(p)]
        for pid in left + ([self.process.pid] if code is None else []):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if code is None:
            self.process.wait(10)
        return round(seconds, 2), code, [' '.join(procs.command_line(p))[:120] or str(p)
                                         for p in left]


class Fault:
    """One fault: what, when (seconds into the run, and wall time), the
    state before it, and how long until the stream had recovered."""

    def __init__(self, kind, t, before):
        self.kind, self.t, self.wall = kind, t, time.time()
        self.before = before
        self.detail = {}
        self.recovered_s = None
        self.done = False

    def to_json(self):
        return {'kind': self.kind, 't_s': round(self.t, 1), 'wall': round(self.wall, 2),
                'recovered_s': self.recovered_s, **self.detail}


class Soak:
    """One soak run; :meth:`run` returns the report (see the module
    docstring and :mod:`soak.report`)."""

    def __init__(self, seconds, faults, folder, stall_timeout=15.0, source='dream',
                 sample_every=10.0, seed=0, viewers=20, chatters=50, irc_share=5,
                 present=(10.0, 90.0), away=(2.0, 40.0), chat_every=(10.0, 60.0),
                 burst_every=300.0, warmup_s=300.0, log=None):
        self.seconds, self.faults = float(seconds), list(faults)
        self.folder = Path(folder)
        self.stall_timeout, self.source = float(stall_timeout), source
        self.sample_every, self.seed = float(sample_every), seed
        self.viewers, self.chatters, self.irc_share = viewers, chatters, irc_share
        self.present, self.away, self.chat_every = present, away, chat_every
        self.burst_every, self.warmup_s = burst_every, warmup_s
        self.log = Path(log) if log else self.folder / 'live.log'
        self.samples, self.done_faults = [], []
        self.last_status = None
        self.stop_load = threading.Event()

    # -- the run -----------------------------------------------------------

    def run(self):
        for name in ('nginx', 'ngircd'):
            (self.folder / name).mkdir()
        nginx = Nginx(self.folder / 'nginx', record=False)
        ircd = NgIRCd(self.folder / 'ngircd', free_port(), TOKEN)
        live = None
        try:
            nginx.start()
            ircd.start()
            live = Live(free_port(), nginx, ircd, self.log, self.stall_timeout, self.source)
            startup = self._wait_ready(live)
            live.status_errors.clear()    # refused before the server listened
            baseline = self._sample(live, live.status(), 0.0)
            load = self._start_load(live.port, ircd.port)
            cpu0 = procs.own_cpu_seconds()
            t0 = time.monotonic()
            ended_early = self._loop(live, nginx, ircd, t0)
            duration = time.monotonic() - t0
            soak_cpu = (procs.own_cpu_seconds() - cpu0) / duration
            self.stop_load.set()
            load['web'].join()
            for chatter in load['irc']:
                chatter.join(5.0)
            settled = self._settle(live)
            final = live.status() or self.last_status   # the latter if it ended
            stop = live.stop() if not ended_early else (None, live.process.returncode, [])
            return report(self, live, baseline=baseline, settled=settled, final=final,
                          startup_s=startup, duration_s=duration, load=load,
                          ended_early=ended_early, stop=stop, soak_cpu_cores=soak_cpu)
        finally:
            self.stop_load.set()
            if live is not None and live.process.poll() is None:
                live.stop()
            for server in (nginx, ircd):
                if server.running():
                    server.stop()

    def _wait_ready(self, live, timeout=900.0):
        """Seconds until the video shows keyframes and both Twitch parts are
        connected (the first start compiles the network when the cache is
        cold)."""
        t0 = time.monotonic()
        while True:
            if live.process.poll() is not None:
                last = (live.log_tail().strip().splitlines() or ['no output'])[-1]
                raise RuntimeError('the live command ended at start-up (its log: %s): %s'
                                   % (live.log, last))
            s = live.status()
            if s and s['keyframes'] >= 3 and s['twitch']['rtmp']['state'] == 'streaming' \
                    and s['twitch']['irc']['state'] == 'connected':
                return round(time.monotonic() - t0, 1)
            if time.monotonic() - t0 > timeout:
                raise RuntimeError('the live command was not ready after %.0f s' % timeout)
            time.sleep(0.5)

    def _start_load(self, port, irc_port):
        stop, seed = self.stop_load, self.seed
        watcher = FreezeWatcher(port, stop).start()
        viewers = PageViewers(port, stop, self.viewers, self.present, self.away,
                              seed=seed).start()
        irc_ids = [i for i in range(self.chatters) if i % self.irc_share == 0]
        web = WebChat(port, stop, ['127.0.2.%d' % (i + 1) for i in range(self.chatters)
                                   if i not in irc_ids],
                      every=self.chat_every, burst_every=self.burst_every,
                      seed=seed).start()
        irc = [IRCChatter(irc_port, TOKEN, CHANNEL, 'chatter%d' % i, stop,
                          every=self.chat_every, seed=seed + i, bot=BOT) for i in irc_ids]
        for chatter in irc:
            chatter.start()
        return {'watcher': watcher, 'viewers': viewers, 'web': web, 'irc': irc}

    def _loop(self, live, nginx, ircd, t0):
        """Faults on schedule, recovery checks every second, a sample every
        ``sample_every`` s; returns True if the command ended by itself."""
        todo = list(self.faults)
        pending = []
        next_sample = 0.0
        while True:
            t = time.monotonic() - t0
            if t >= self.seconds:
                return False
            if live.process.poll() is not None:
                return True
            status = live.status()
            if status is not None:
                self.last_status = status
                for fault in pending:
                    self._check(fault, status, nginx, t)
                pending = [f for f in pending if not f.done]
                while todo and todo[0][0] <= t:
                    kind = todo.pop(0)[1]
                    fault = self._inject(kind, status, nginx, ircd, t)
                    if fault is None:
                        # The optimiser is still being replaced after the last
                        # fault: this one a moment later.
                        todo = sorted(todo + [(t + 5.0, kind)])
                        break
                    self.done_faults.append(fault)
                    pending.append(fault)
            if t >= next_sample:
                self._sample(live, status, t, record=True)
                next_sample += self.sample_every
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - t)))

    # -- faults ------------------------------------------------------------

    def _inject(self, kind, status, nginx, ircd, t):
        worker, twitch = status['worker'], status['twitch']
        before = {'keyframes': status['keyframes'], 'pid': worker['pid'],
                  'rtmp_connects': twitch['rtmp']['connects'],
                  'irc_connects': twitch['irc']['connects'],
                  'irc_received': twitch['irc']['received']}
        if kind in ('kill', 'stop'):
            if not worker['pid'] or not worker['ready']:
                return None
            os.kill(worker['pid'], signal.SIGKILL if kind == 'kill' else signal.SIGSTOP)
        fault = Fault(kind, t, before)
        if kind == 'rtmp':
            nginx.restart()
        elif kind == 'irc':
            ircd.restart()
        return fault

    def _check(self, fault, status, nginx, t):
        """Whether the stream has recovered from ``fault`` (sets
        ``recovered_s``); gives up after :data:`RECOVERY_LIMIT_S`."""
        b, worker, twitch = fault.before, status['worker'], status['twitch']
        if fault.kind in ('kill', 'stop'):
            replaced = worker['pid'] not in (None, b['pid'])
            if replaced and 'replaced_s' not in fault.detail:
                fault.detail['replaced_s'] = round(t - fault.t, 1)
            ok = replaced and worker['ready'] and status['keyframes'] >= b['keyframes'] + 2
        elif fault.kind == 'rtmp':
            rtmp = twitch['rtmp']
            ok = (rtmp['state'] == 'streaming' and rtmp['connects'] > b['rtmp_connects']
                  and _publishing(nginx))
        else:
            irc = twitch['irc']
            ok = (irc['state'] == 'connected' and irc['connects'] > b['irc_connects']
                  and irc['received'] > b['irc_received'])
        limit = RECOVERY_LIMIT_S + (self.stall_timeout if fault.kind == 'stop' else 0)
        if ok:
            fault.recovered_s = round(t - fault.t, 1)
        if ok or t - fault.t > limit:
            fault.done = True
            if fault.kind == 'stop':
                try:
                    os.kill(b['pid'], signal.SIGCONT)    # if it still lives, let it go
                except ProcessLookupError:
                    pass

    # -- measuring ---------------------------------------------------------

    def _sample(self, live, status, t, record=False):
        roles = live.processes(status)
        usage = {role: procs.usage(pid) for role, pid in roles.items()}
        sample = {'t_s': round(t, 1), 'wall': round(time.time(), 2),
                  'load_average': round(os.getloadavg()[0], 2),
                  'processes': {r: dict(u, pid=roles[r]) for r, u in usage.items()
                                if u is not None}}
        if status is not None:
            rtmp, irc = status['twitch']['rtmp'], status['twitch']['irc']
            sample.update({k: status[k] for k in (
                'fps', 'frames', 'deadline_misses', 'underflows', 'coasts',
                'longest_coast_s', 'keyframes',
                'keyframe_period_s', 'keyframe_period_max_s', 'steps_per_keyframe',
                'watchdog_restarts', 'viewers', 'pages', 'chat')})
            sample['worker'] = {k: status['worker'][k] for k in ('pid', 'ready', 'restarts',
                                                                  'last_error')}
            sample['rtmp'] = {k: rtmp[k] for k in ('state', 'connects', 'failures',
                                                    'frames_sent', 'frames_dropped')}
            sample['irc'] = {k: irc[k] for k in ('state', 'connects', 'received',
                                                  'replies_sent', 'replies_dropped')}
        if record:
            self.samples.append(sample)
        return sample

    def _settle(self, live, timeout=60.0):
        """After the audience has left: wait until the server has noticed
        every connection close, then sample (the threads and descriptors
        of the main process must be back where they started)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout and live.process.poll() is None:
            s = live.status()
            if s is not None and s['viewers'] == 0 and s['pages'] == 0:
                break
            time.sleep(0.5)
        time.sleep(2.0)           # handler threads end just after they leave
        return self._sample(live, live.status(), -1.0)


def _publishing(nginx):
    """Whether nginx has a stream coming in under the soak's key."""
    try:
        return '<name>%s</name>' % KEY in nginx.stat()
    except OSError:
        return False


def build_parser():
    p = argparse.ArgumentParser(prog='python -m soak',
                                description=__doc__.splitlines()[0])
    p.add_argument('--minutes', type=float, help='length of the run (default 60; --short: 5)')
    p.add_argument('--short', action='store_true',
                   help='faults every 1.5, 2 and 2.5 minutes instead of 5, 10 and 15')
    p.add_argument('--out', default='soak/soak.json')
    p.add_argument('--stall-timeout', type=float, default=15.0,
                   help='the command\'s --stall-timeout (its own default, 60, would make '
                        'the SIGSTOP a minute\'s pause)')
    p.add_argument('--source', default='dream', choices=('dream', 'stand-in'),
                   help='stand-in: no network, to try the soak itself in a minute')
    p.add_argument('--sample-every', type=float, default=10.0)
    p.add_argument('--seed', type=int, default=0)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    minutes = args.minutes or (5.0 if args.short else 60.0)
    seconds = 60.0 * minutes
    schedule = SCHEDULES['short' if args.short else 'full']
    faults = fault_schedule(seconds, **schedule)
    out = Path(args.out)
    short = args.short
    with tempfile.TemporaryDirectory(prefix='soak-') as folder:
        soak = Soak(seconds, faults, folder, stall_timeout=args.stall_timeout,
                    source=args.source, sample_every=args.sample_every, seed=args.seed,
                    present=(5.0, 45.0) if short else (10.0, 90.0),
                    away=(2.0, 20.0) if short else (2.0, 40.0),
                    chat_every=(5.0, 30.0) if short else (10.0, 60.0),
                    burst_every=60.0 if short else 300.0,
                    warmup_s=min(300.0, seconds / 4), log=out.with_suffix('.log'))
        try:
            result = soak.run()
        except RuntimeError as e:         # a server missing, the command not starting
            print('error: %s' % str(e).splitlines()[0], file=sys.stderr)
            return 2
    result['config'].update(mode='short' if short else 'full', command_line=sys.argv[1:])
    write_report(out, result)
    print(json.dumps({'summary': result['summary'], 'targets': result['targets']},
                     indent=1))
    return 0 if result['passed'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
