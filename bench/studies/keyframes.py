"""Which render settings make the best keyframes for the zooming video?

    python -m bench.studies.keyframes [--classes 6] [--keyframes 6]
                                      [--out bench/studies/keyframes.json]

Each candidate (a recipe with overrides) makes, for each class, a short
film of keyframes as :class:`inception_art.video.dream.Dream` makes them at the
video's size (448x252): the first from the recipe's start after the warm-up
steps, then each the one before zoomed forward by 3 s and optimised for the
recipe's steps per keyframe. The keyframes after the first are measured:

* judges: Lite0 (the network that dreams) top-1, and the independent Lite1
  and Lite2 top-5 at full size and in the thumbnail test;
* contrast and colourfulness (:mod:`inception_art.look`);
* flicker: the mean absolute change (0..255) the optimisation makes to a
  keyframe beyond the zoom, i.e. between the keyframe and the one before it
  zoomed forward: what the interpolated video shows as a change of content;
* for a Fourier image, the jump: how far the zoomed keyframe moves when it
  goes back into the parameters (the inverse's error, 0..255);
* seconds per keyframe.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench import harness
from inception_art import look
from inception_art.nets.classifier import Classifier
from inception_art.video.dream import Dream, keyframe_settings
from inception_art.research.evaluate import CLASSES, ranks
from inception_art.loop import Renderer
from inception_art.video.zoom import warp
from bench.studies.look_screen import STATS

#: Six of the evaluation classes (evaluate.CLASSES), spread over its list.
FILM_CLASSES = CLASSES[::len(CLASSES) // 6][:6]
#: (name, recipe, overrides)
MILD = dict(shift=8.0, scale=(0.9, 1.1), degrees=5.0)
CANDIDATES = (
    ('before: classic, video prior', 'classic',
     dict(steps=10, prior_scales='video')),
    ('2015-stream', '2015-stream', {}),
    ('keyframes: default core, pool 1', 'keyframes', {}),
    ('fourier, mild transforms', 'default', dict(views=(1,), steps=10, **MILD)),
    ('fourier, mild, views 1,2', 'default', dict(views=(1, 2), steps=10, **MILD)),
    ('pixels adam2015 lr 2, mild, prior 10', 'default',
     dict(views=(1,), steps=10, param='pixels', lr=2.0, prior_strength=10.0,
          prior_scales='video', **MILD)),
    ('fourier, stills transforms, views 1,2', 'default', dict(views=(1, 2), steps=10)),
    ('fourier, stills transforms, views 2', 'default', dict(views=(2,), steps=10)),
    # the look's ingredients on the keyframes (docs/look.md)
    ('keyframes + transparency 20', 'keyframes', dict(transparency=20.0)),
    ('keyframes + statistics prior', 'keyframes', dict(stats_strength=STATS)),
)
JUDGES = ('efficientnet-lite1', 'efficientnet-lite2')


def film(dream, cls, count):
    """The keyframes of one film, the flicker of each after the first and
    the Fourier jump."""
    dream.keyframe = None
    dream.set_subject((cls,))
    keys, flicker, jumps, seconds = [], [], [], []
    for i in range(count + 1):
        t = time.perf_counter()
        keys.append(dream.next_keyframe().astype(np.float32))
        seconds.append(time.perf_counter() - t)
        if i:
            zoomed = warp(keys[-2], dream.motion.matrix(dream.keyframe_seconds, dream.size),
                          np.empty_like(keys[-2]))
            flicker.append(float(np.abs(keys[-1] - zoomed).mean()))
    # The jump: a zoomed keyframe put back into the parameters and read out.
    current = np.ascontiguousarray(dream.optimizer.get_float_image())
    zoomed = warp(current, dream.motion.matrix(dream.keyframe_seconds, dream.size),
                  np.empty_like(current))
    dream.optimizer.set_image(zoomed)
    jumps.append(float(np.abs(dream.optimizer.get_float_image() - zoomed).mean()))
    return [k.astype(np.uint8) for k in keys], flicker, jumps, seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--classes', type=int, default=6)
    p.add_argument('--keyframes', type=int, default=6, help='measured keyframes per film')
    p.add_argument('--warmup-steps', type=int, default=100)
    p.add_argument('--only', help='comma-separated candidate numbers (from 0)')
    p.add_argument('--out', default='bench/studies/keyframes.json')
    p.add_argument('--append', action='store_true',
                   help='add to the candidates already in --out')
    p.add_argument('--sheet', help='also write the last keyframe of each film here (PNG)')
    args = p.parse_args(argv)
    classes = FILM_CLASSES[:args.classes]
    chosen = (CANDIDATES if not args.only
              else [CANDIDATES[int(i)] for i in args.only.split(',')])
    judges = {name: Classifier(name) for name in ('efficientnet-lite0',) + JUDGES}
    renderer, report, sheet = Renderer(), [], []
    for name, recipe, overrides in chosen:
        built = time.perf_counter()
        dream = Dream(keyframe_settings(recipe, canvas=(252, 448), **overrides),
                      warmup_steps=args.warmup_steps, renderer=renderer)
        built = time.perf_counter() - built
        pictures, wanted, flicker, jumps, seconds = [], [], [], [], []
        for c in classes:
            keys, f, j, s = film(dream, c, args.keyframes)
            pictures += keys[1:]
            wanted += [c] * (len(keys) - 1)
            flicker += f
            jumps += j
            seconds += s[1:]
            sheet.append(keys[-1])
        thumbs = [look.thumbnail(p) for p in pictures]
        record = dict(name=name, recipe=recipe, overrides={k: v for k, v in overrides.items()},
                      param=dream.settings['param'], steps_per_keyframe=dream.steps,
                      classes=list(classes), keyframes=len(pictures),
                      build_s=built, seconds_per_keyframe=float(np.median(seconds)),
                      flicker=float(np.mean(flicker)), jump=float(np.mean(jumps)),
                      contrast=float(np.mean([look.contrast(p) for p in pictures])),
                      colourfulness=float(np.mean([look.colourfulness(p) for p in pictures])))
        r0 = ranks(judges['efficientnet-lite0'].logits(pictures), wanted)
        record['lite0_top1'] = float(np.mean([r == 1 for r in r0]))
        for j in JUDGES:
            full = ranks(judges[j].logits(pictures), wanted)
            thumb = ranks(judges[j].logits(thumbs), wanted)
            record[j.split('-')[-1] + '_top5'] = float(np.mean([r <= 5 for r in full]))
            record[j.split('-')[-1] + '_thumb_top5'] = float(np.mean([r <= 5 for r in thumb]))
        report.append(record)
        print('%-40s lite0 %3.0f%%  lite2 %3.0f%% thumb %3.0f%%  contrast %5.1f  colour %5.1f  '
              'flicker %5.2f  jump %.3f  %.2f s/keyframe' % (
                  name, 100 * record['lite0_top1'], 100 * record['lite2_top5'],
                  100 * record['lite2_thumb_top5'], record['contrast'],
                  record['colourfulness'], record['flicker'], record['jump'],
                  record['seconds_per_keyframe']), flush=True)
    if args.append and Path(args.out).exists():
        report = json.loads(Path(args.out).read_text())['candidates'] + report
    harness.save(args.out, dict(candidates=report))
    if args.sheet:
        from PIL import Image
        rows = [np.concatenate(sheet[i:i + len(classes)], axis=1)
                for i in range(0, len(sheet), len(classes))]
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.sheet)


if __name__ == '__main__':
    main()
