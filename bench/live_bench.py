"""The live mode under its real load: 60 s at 1024x576 with the embedded
network optimising.

    python -m bench.live_bench [--seconds 60] [--out bench/live.json] [--quick]
                               [--canvas WxH] [--steps N] [--keyframe-seconds S]

Runs :class:`inception_art.live.LiveApp` with the live defaults (the real
Lite0 optimiser in its own process, the 25 fps frame clock, the web
server) and one page viewer reading the MJPEG stream, so the JPEG encoding
is part of the load. After the network is compiled and the first keyframes
are on screen, it records over ``--seconds``:

* the sustained output rate (frames published / seconds);
* frame-deadline misses (a frame published after its 40 ms slot ended),
  and underflows (a frame repeated because no keyframe was ready);
* the keyframe period on screen (mean and longest gap between two new
  keyframes) and the optimiser's seconds per keyframe;
* CPU use of the main process and of the optimiser process, in cores,
  and the machine's load average (other work on the machine shows there).

Targets: 25.0 fps, fewer than 1 missed deadline a minute, a new
keyframe at least every 3 s. ``--quick``, a smoke run: 10 s.
"""
import argparse
import json
import os
import threading
import time

import numpy as np

from bench import harness
from inception_art.live.app import DEFAULTS, LiveApp
from inception_art.cli import parse_size
from inception_art.video.dream import keyframe_settings
from testkit.procs import cpu_seconds, own_cpu_seconds

TARGETS = {'fps': 25.0, 'deadline_misses_per_minute': 1.0, 'keyframe_period_max_s': 3.0}


def viewer(app, stop, counter):
    """A page viewer: reads the MJPEG stream as fast as it comes."""
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', app.server.server_address[1], timeout=30)
    conn.request('GET', '/video.mjpg')
    response = conn.getresponse()      # kept: it closes its stream when collected
    stream = response.fp
    while not stop.is_set():
        line = stream.readline()
        if line.lower().startswith(b'content-length:'):
            stream.readline()
            stream.read(int(line.split(b':')[1]))
            counter[0] += 1
    conn.close()


SUBJECT = 980     # volcano


def judge_keyframes(keyframes, cls):
    """The look of the keyframes the optimiser made in the window:
    contrast, colourfulness, Lite0 top-1 and Lite2's top-5 at full size and
    in the thumbnail test (:mod:`inception_art.research.evaluate`)."""
    from inception_art import look
    from inception_art.nets.classifier import Classifier
    from inception_art.research.evaluate import ranks
    if not keyframes:
        return {}
    thumbs = [look.thumbnail(k) for k in keyframes]
    wanted = [cls] * len(keyframes)
    lite0 = ranks(Classifier('efficientnet-lite0').logits(keyframes), wanted)
    lite2 = Classifier('efficientnet-lite2')
    full, thumb = ranks(lite2.logits(keyframes), wanted), ranks(lite2.logits(thumbs), wanted)
    return {'keyframes_judged': len(keyframes),
            'keyframe_size': '%dx%d' % keyframes[0].shape[1::-1],
            'keyframe_contrast': round(float(np.mean([look.contrast(k) for k in keyframes])), 1),
            'keyframe_colourfulness': round(float(np.mean(
                [look.colourfulness(k) for k in keyframes])), 1),
            'keyframe_lite0_top1': round(float(np.mean([r == 1 for r in lite0])), 3),
            'keyframe_lite2_top5': round(float(np.mean([r <= 5 for r in full])), 3),
            'keyframe_lite2_thumb_top5': round(float(np.mean([r <= 5 for r in thumb])), 3)}


def measure(seconds, **config):
    app = LiveApp(port=0, **config).start()
    stop, frames_seen = threading.Event(), [0]
    try:
        reader = threading.Thread(target=viewer, args=(app, stop, frames_seen), daemon=True)
        reader.start()
        t_start = time.monotonic()
        while app.clock.keyframes_shown < 3:
            if app.fatal_reason or time.monotonic() - t_start > 900:
                raise RuntimeError('the live mode did not start: %s' % app.fatal_reason)
            time.sleep(0.2)
        startup = time.monotonic() - t_start
        clock, worker = app.clock, app.worker
        pid = worker.process.pid
        before = dict(frames=clock.frames, misses=clock.deadline_misses,
                      underflows=clock.underflows, seen=frames_seen[0],
                      keys=clock.keyframes_shown, resyncs=clock.resyncs,
                      cpu_main=own_cpu_seconds(), cpu_worker=cpu_seconds(pid),
                      starts=len(clock.segment_starts))
        load_before = os.getloadavg()
        clock.worst_lateness = 0.0        # count only the measured window
        t0 = time.monotonic()
        starts, keyframes = [], []
        seen_starts = set(clock.segment_starts)
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            for s in list(clock.segment_starts):
                if s not in seen_starts and s >= t0:
                    seen_starts.add(s)
                    starts.append(s)
            image = worker.last_image
            if image is not None and (not keyframes or image is not keyframes[-1]):
                keyframes.append(image)
        elapsed = time.monotonic() - t0
        frames = clock.frames - before['frames']
        misses = clock.deadline_misses - before['misses']
        cpu_worker = cpu_seconds(pid)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        result = {
            'seconds': round(elapsed, 1),
            'startup_s': round(startup, 1),
            'fps': round(frames / elapsed, 3),
            'frames': frames,
            'deadline_misses': misses,
            'deadline_misses_per_minute': round(misses * 60 / elapsed, 2),
            'worst_lateness_ms': app.clock.status()['worst_lateness_ms'],
            'underflows': clock.underflows - before['underflows'],
            'resyncs': clock.resyncs - before['resyncs'],
            'keyframes': clock.keyframes_shown - before['keys'],
            'keyframe_period_mean_s': round(sum(gaps) / len(gaps), 3) if gaps else None,
            'keyframe_period_max_s': round(max(gaps), 3) if gaps else None,
            'keyframe_compute_s': app.clock.status()['keyframe_compute_s'],
            'steps_per_keyframe': app.clock.status()['steps_per_keyframe'],
            'interpolate_ms': app.clock.status()['interpolate_ms'],
            'viewer_fps': round((frames_seen[0] - before['seen']) / elapsed, 2),
            'cpu_cores_main': round((own_cpu_seconds() - before['cpu_main']) / elapsed, 2),
            'cpu_cores_optimiser': (round((cpu_worker - before['cpu_worker']) / elapsed, 2)
                                    if cpu_worker is not None else None),
            'load_average_before': [round(x, 2) for x in load_before],
            'load_average_after': [round(x, 2) for x in os.getloadavg()],
            'watchdog_restarts': app.watchdog.restarts,
            'peak_rss_mb_main': harness.hwm_mb(),
            'peak_rss_mb_optimiser': harness.hwm_mb(pid),
        }
        result.update(judge_keyframes(keyframes, SUBJECT))
        result['targets_met'] = {
            'fps': result['fps'] >= TARGETS['fps'] - 0.05,
            'deadline_misses': result['deadline_misses_per_minute']
            < TARGETS['deadline_misses_per_minute'],
            'keyframe_period': result['keyframe_period_max_s'] is not None
            and result['keyframe_period_max_s'] <= TARGETS['keyframe_period_max_s'],
        }
        return result
    finally:
        stop.set()
        app.stop()


def run(quick=False, seconds=60.0, canvas=None, steps=None, keyframe_seconds=None,
        nice=None, budget=None, recipe=None, views=None):
    """The figures of ``bench/live.json``; unset settings are the live
    defaults. Prints the result."""
    d = DEFAULTS
    seconds = 10.0 if quick else seconds
    steps = d['steps'] if steps is None else steps
    keyframe_seconds = keyframe_seconds or d['keyframe_seconds']
    nice = d['nice'] if nice is None else nice
    budget = d['budget'] if budget is None else budget
    recipe = recipe or d['recipe']
    frame_size = d['frame_size']
    keyframe = keyframe_settings(recipe, frame_size, canvas and parse_size(canvas),
                                 **({'views': views} if views else {}))
    canvas, views = keyframe['canvas'], keyframe['views']
    config = dict(frame_size=frame_size, canvas=canvas, steps=steps,
                  keyframe_seconds=keyframe_seconds, nice=nice, subject='volcano',
                  budget=budget, recipe=recipe, views=views)
    result = measure(seconds, **config)
    print(json.dumps(result, indent=2))
    return {'config': {'frame_size': '%dx%d' % frame_size[::-1],
                       'canvas': '%dx%d' % canvas[::-1],
                       'steps': keyframe['steps'] if steps is None else steps,
                       'keyframe_seconds': keyframe_seconds, 'fps': d['fps'],
                       'budget': budget, 'min_steps': d['min_steps'],
                       'model': keyframe['model'], 'recipe': recipe, 'views': list(views),
                       'warmup_steps': d['warmup_steps'], 'nice': nice,
                       'lookahead': d['lookahead'], 'page_viewers': 1},
            'targets': TARGETS, 'result': result}


def main(argv=None):
    d = DEFAULTS
    p = argparse.ArgumentParser(prog='python -m bench.live_bench',
                                description=__doc__.splitlines()[0])
    p.add_argument('--seconds', type=float, default=60.0)
    p.add_argument('--quick', action='store_true', help='a smoke run (see above)')
    p.add_argument('--out', default='bench/live.json')
    p.add_argument('--canvas', help='WxH (default: the recipe\'s, as live takes it)')
    p.add_argument('--steps', type=int, default=d['steps'])
    p.add_argument('--keyframe-seconds', type=float, default=d['keyframe_seconds'])
    p.add_argument('--nice', type=int, default=d['nice'])
    p.add_argument('--budget', type=float, default=d['budget'])
    p.add_argument('--recipe', default=d['recipe'])
    p.add_argument('--views', help='F[,F...] (default: the keyframes\' own)')
    args = p.parse_args(argv)
    harness.save(args.out, run(quick=args.quick, seconds=args.seconds, canvas=args.canvas,
                               steps=args.steps, keyframe_seconds=args.keyframe_seconds,
                               nice=args.nice, budget=args.budget, recipe=args.recipe,
                               views=args.views and tuple(int(f) for f in args.views.split(','))))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
