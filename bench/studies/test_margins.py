"""The margins of the tests that render and then judge the picture.

Each test's exact configuration is rendered over many seeds, and what the
test judges is recorded per seed: Lite0's rank of the class and its logit
margin over the best other class, Lite2's rank at full size and in the
thumbnail test. A seed is a far larger change than another CPU's
floating-point path (both move the optimisation's trajectory; a seed also
moves every random draw), so a configuration that holds over seeds holds
across CPUs with room to spare.

    python -m bench.studies.test_margins --seeds 20 --out .cache/test_margins.json

``bench/studies/test_margins.json`` holds these runs for the tests'
configurations (20 seeds of the renders, 12 of the keyframes) beside the
same measurements at the configurations tried before choosing them.
"""
import argparse
import json
import os
import time

import numpy as np

VOLCANO, JELLYFISH = 980, 107


def rank(logits, k):
    return int((logits > logits[k]).sum()) + 1


def margin(logits, k):
    """The class's logit minus the best other class's (> 0: top-1)."""
    others = np.delete(logits, k)
    return float(logits[k] - others.max())


def default_render(seed, renderer):
    from inception_art.loop import render
    picture, _ = render((VOLCANO,), renderer=renderer, canvas=(320, 320), steps=64,
                        seed=seed, progress=False)
    return picture


def class2_render(seed, renderer):
    from inception_art.loop import render
    picture, _ = render((VOLCANO, JELLYFISH), renderer=renderer, canvas=(256, 256), steps=64,
                        views=(1, 2), seed=seed, progress=False)
    return picture


def video_keyframes(seed, renderer):
    from inception_art.video.dream import Dream, keyframe_settings
    dream = Dream(keyframe_settings(canvas=(180, 320), steps=10, seed=seed), warmup_steps=100,
                  keyframe_seconds=1.0, renderer=renderer)
    dream.set_subject('volcano')
    return dream.next_keyframe(), dream.next_keyframe()


def live_first_keyframe(seed, renderer):
    from inception_art.live.app import LiveApp
    from inception_art.video.dream import MOTION, Dream
    app = LiveApp(subject='volcano', seed=seed, port=0)     # the live defaults
    dream = Dream(app.keyframe, renderer=renderer,
                  **{k: app.config[k] for k in MOTION})
    dream.set_subject('volcano')
    return dream.next_keyframe()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', type=int, default=20)
    parser.add_argument('--only', default='default,class2,video,live')
    parser.add_argument('--out', default='.cache/test_margins.json')
    args = parser.parse_args()
    from bench.harness import machine_info
    from inception_art import look
    from inception_art.loop import Renderer
    from inception_art.nets.classifier import Classifier
    lite0, lite2 = Classifier('efficientnet-lite0'), Classifier('efficientnet-lite2')
    result = {'machine': machine_info(), 'seeds': list(range(args.seeds))}
    if os.path.exists(args.out):
        result.update({k: v for k, v in json.load(open(args.out)).items()
                       if k not in ('machine', 'seeds')})
    renderer = Renderer()
    for name in args.only.split(','):
        rows, t0 = [], time.time()
        for seed in range(args.seeds):
            if name == 'default':
                p = default_render(seed, renderer)
                l0, l2 = lite0.logits([p])[0], lite2.logits([p, look.thumbnail(p)])
                rows.append(dict(seed=seed, lite0_rank=rank(l0, VOLCANO),
                                 lite0_margin=margin(l0, VOLCANO),
                                 lite2_rank=rank(l2[0], VOLCANO),
                                 lite2_thumb_rank=rank(l2[1], VOLCANO),
                                 contrast=float(look.contrast(p))))
            elif name == 'class2':
                p = class2_render(seed, renderer)
                half = p.shape[0] // 2
                lower, upper = lite0.logits([p[half:], p[:half]])
                rows.append(dict(seed=seed, lower_rank=rank(lower, VOLCANO),
                                 lower_gap=float(lower[VOLCANO] - lower[JELLYFISH]),
                                 upper_rank=rank(upper, JELLYFISH),
                                 upper_gap=float(upper[JELLYFISH] - upper[VOLCANO]),
                                 volcano_below=float(lower[VOLCANO] - upper[VOLCANO]),
                                 jellyfish_above=float(upper[JELLYFISH] - lower[JELLYFISH])))
            elif name == 'video':
                first, second = video_keyframes(seed, renderer)
                l0 = lite0.logits([first, second])
                rows.append(dict(seed=seed, ranks=[rank(r, VOLCANO) for r in l0],
                                 margins=[margin(r, VOLCANO) for r in l0],
                                 moved=float(np.abs(first.astype(int) - second).mean())))
            elif name == 'live':
                p = live_first_keyframe(seed, renderer)
                l0 = lite0.logits([p])[0]
                rows.append(dict(seed=seed, lite0_rank=rank(l0, VOLCANO),
                                 lite0_margin=margin(l0, VOLCANO)))
            print(name, rows[-1], flush=True)
        result[name] = dict(rows=rows, seconds=round(time.time() - t0, 1))
        result['machine'] = machine_info()
        tmp = args.out + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, args.out)


if __name__ == '__main__':
    main()
