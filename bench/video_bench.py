"""Cost of the zooming video: keyframes, interpolation, encoding.

    python -m bench.video_bench [--keyframes 5] [--frames 250] [--quick]
                                [--out bench/video.json]

* **Seconds per keyframe** for each network at the default optimisation
  size (448x252): :class:`inception_art.video.dream.Dream` with the video
  defaults (the ``keyframes`` recipe, 10 steps), after one warm-up
  keyframe; the build + compile time apart.
  VGG-16 runs only when its weight file is in ``models/`` (it is not
  downloadable here); otherwise it is recorded as skipped.
* **Interpolation + text overlay per output frame** at 1024x576 from
  448x252 keyframes, on one core (``cv2.setNumThreads(1)``), over a whole
  keyframe period of frames (target: 10 ms or less).
* **Encoding real-time factor**: seconds of video per second of wall time
  for the frames alone piped into the bundled ffmpeg (mp4: libx264
  veryfast, yuv420p; GIF at 512x288 with its dithering), and for the whole
  frame path (interpolate + encode) at 1024x576.

The keyframes of the first network are what the interpolation and the
encoder are fed, so the encoder sees real dream pictures, not noise.
``--quick``, a smoke run: 1 timed keyframe, 25 frames per measurement.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from inception_art.video.dream import DEFAULTS, Dream, keyframe_settings
from inception_art.video.encode import VideoFile, probe
from inception_art.video.interpolate import Interpolator
from inception_art.video.zoom import Motion
from inception_art.video.__main__ import GIF_SIZE

from bench import harness

NETWORKS = ('efficientnet-lite0', 'vgg16')
SUBJECT = 'volcano'


def keyframe_seconds(model, count):
    """Build a Dream for ``model`` and time ``count`` keyframes after one
    warm-up; returns (record, keyframes)."""
    start = time.perf_counter()
    dream = Dream(keyframe_settings(model=model))
    build = time.perf_counter() - start
    dream.set_subject(SUBJECT)
    keys, times = [dream.next_keyframe()], []
    # Time the compiled steps apart: the rest (zoom, blur, copies) is the
    # keyframe loop's own overhead.
    step, in_steps = dream.optimizer.step, []

    def timed_step():
        t = time.perf_counter()
        result = step()
        in_steps.append(time.perf_counter() - t)
        return result
    dream.optimizer.step = timed_step
    for _ in range(count):
        t = time.perf_counter()
        keys.append(dream.next_keyframe())
        times.append(time.perf_counter() - t)
    dream.optimizer.step = step
    s = dream.settings
    record = dict(network=model, canvas='%dx%d' % dream.size[::-1], steps=dream.steps,
                  recipe=DEFAULTS['recipe'],
                  prior='%s x%g' % (s['prior'], s['prior_strength']),
                  build_compile_s=build, keyframe_s=float(np.median(times)),
                  keyframe_min_s=float(np.min(times)), step_s=float(np.median(in_steps)),
                  overhead_s=(sum(times) - sum(in_steps)) / count, keyframes_timed=count)
    return record, keys


def interpolator(keys, size):
    """An interpolator from the keyframes' size to ``size`` with the video
    defaults' motion and a subject text."""
    fps = DEFAULTS['fps']
    interp = Interpolator(Motion(DEFAULTS['zoom'], DEFAULTS['degrees_per_frame'] * fps),
                          keys[0].shape[:2], size)
    interp.set_text('volcano + jellyfish')
    return interp


def frame_of(interp, keys, i, out=None):
    """Output frame ``i`` of a film through ``keys``, one keyframe period
    each, cycling."""
    period, fps = DEFAULTS['keyframe_seconds'], DEFAULTS['fps']
    per_period = round(period * fps)
    k = (i // per_period) % (len(keys) - 1)
    interp.set_keyframes(keys[k], keys[k + 1], period)
    return interp.frame((i % per_period) / fps, out=out)


def interpolation_ms(keys, frames, size=DEFAULTS['frame_size']):
    """Median / min milliseconds per interpolated, overlaid output frame on
    one core."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        interp = interpolator(keys, size)
        out = np.empty(tuple(size) + (3,), np.uint8)
        times, cpu = [], []
        for i in range(frames + 5):
            t, c = time.perf_counter(), time.process_time()
            frame_of(interp, keys, i, out)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        times, cpu = times[5:], cpu[5:]   # warm-up
        # On a shared machine the wall time includes waiting for a core;
        # the process's CPU time per frame does not (one thread here).
        return dict(size='%dx%d' % tuple(size)[::-1], key_size='%dx%d' % keys[0].shape[1::-1],
                    frames=frames, threads=1, median_ms=1e3 * float(np.median(times)),
                    min_ms=1e3 * float(np.min(times)),
                    cpu_ms_per_frame=1e3 * float(np.sum(cpu)) / frames, target_ms=10.0)
    finally:
        cv2.setNumThreads(threads)


def encode_factor(keys, frames, size, gif, interpolate=False):
    """Seconds of video encoded per wall second (interpolation included
    when ``interpolate``)."""
    fps = DEFAULTS['fps']
    interp = interpolator(keys, size)
    # Frames made beforehand unless the interpolation is part of the timing.
    made = None if interpolate else [frame_of(interp, keys, i) for i in range(frames)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ('bench.gif' if gif else 'bench.mp4')
        start = time.perf_counter()
        with VideoFile(path, size, fps, gif=gif) as video:
            for i in range(frames):
                video.write(made[i] if made else frame_of(interp, keys, i))
        wall = time.perf_counter() - start
        info = probe(path)
        size_mb = path.stat().st_size / 1e6
    assert info['frames'] == frames, info
    return dict(format='gif' if gif else 'mp4', size='%dx%d' % tuple(size)[::-1],
                frames=frames, interpolation_included=interpolate, wall_s=wall,
                realtime_factor=frames / fps / wall,
                megabits_per_s=8 * size_mb / (frames / fps))


def run(quick=False, keyframes=5, frames=250):
    """The figures of ``bench/video.json``: ``keyframes`` timed per network,
    ``frames`` output frames per measurement."""
    if quick:
        keyframes, frames = 1, 25
    results = dict(machine=dict(cpus=os.cpu_count(), load_1min=os.getloadavg()[0]),
                   keyframes=[], notes=__doc__)
    keys = None
    for model in NETWORKS:
        if model.startswith('vgg'):
            from inception_art.nets import vgg
            path = vgg.default_path(int(model[3:]))
            if not path.is_file():
                results['keyframes'].append(dict(network=model,
                                                 skipped='no weights: %s not found' % path))
                print('%-18s skipped: no weights (%s)' % (model, path), flush=True)
                continue
        record, made = keyframe_seconds(model, keyframes)
        keys = keys or made
        results['keyframes'].append(record)
        print('%-18s %s: %.2f s per keyframe (%d steps of %.3f s, %.3f s other; '
              'build+compile %.1f s)' % (model, record['canvas'], record['keyframe_s'],
                                         record['steps'], record['step_s'],
                                         record['overhead_s'], record['build_compile_s']),
              flush=True)
    results['interpolation'] = interpolation_ms(keys, frames)
    r = results['interpolation']
    print('interpolation + overlay %s from %s, 1 core: %.2f ms/frame median, %.2f min, '
          '%.2f CPU ms (target %.0f)' % (r['size'], r['key_size'], r['median_ms'], r['min_ms'],
                                         r['cpu_ms_per_frame'], r['target_ms']), flush=True)
    results['encoding'] = [
        encode_factor(keys, frames, DEFAULTS['frame_size'], gif=False),
        encode_factor(keys, frames, DEFAULTS['frame_size'], gif=False, interpolate=True),
        encode_factor(keys, frames, GIF_SIZE, gif=True)]
    for r in results['encoding']:
        print('encode %-4s %s%s: %.1fx real time, %.1f Mbit/s' % (
            r['format'], r['size'], ' (with interpolation)' if r['interpolation_included']
            else '', r['realtime_factor'], r['megabits_per_s']), flush=True)
    results['machine']['load_1min_after'] = os.getloadavg()[0]
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--keyframes', type=int, default=5, help='timed keyframes per network')
    p.add_argument('--frames', type=int, default=250, help='output frames per measurement')
    p.add_argument('--quick', action='store_true', help='a smoke run (see above)')
    p.add_argument('--out', default='bench/video.json')
    args = p.parse_args(argv)
    harness.save(args.out, run(quick=args.quick, keyframes=args.keyframes, frames=args.frames))


if __name__ == '__main__':
    main()
