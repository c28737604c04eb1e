"""Are the renders recognisable, to other networks and at a glance?

``python -m inception_art.research.evaluate`` renders a fixed set of classes under
named settings and measures each picture:

* independent judges (EfficientNet-Lite1 and -Lite2, from their PyPI
  packages) classify it at full size, and in the **thumbnail test**: shrunk
  to 64 pixels on its shorter side and enlarged back, so that only
  large-scale structure is left (:func:`inception_art.look.thumbnail`). A
  picture that fools only the network that made it, or only through fine
  texture, scores nothing there;
* its luminance RMS contrast and colourfulness, beside scikit-image's
  photographs (``inception_art/data/prior/photographs.json``);
* the seconds per render.

This is how the render defaults were chosen. Results go to a JSON file.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from .. import imagenet, look, recipes
from ..cli import ArgumentParser, run_main
from ..images import atomic_path, save_png
from ..loop import Renderer, check, render

#: 20 classes with distinctive looks, fixed so that results compare.
CLASSES = (1, 76, 84, 107, 130, 145, 207, 281, 301, 323,
           340, 437, 483, 779, 879, 933, 937, 949, 963, 980)
#: 20 more, spread over the 1000 (animals, objects, scenes, food), to
#: confirm a default chosen on the first 20.
MORE_CLASSES = (9, 22, 71, 100, 113, 151, 292, 309, 327, 355,
                388, 417, 510, 525, 574, 628, 717, 812, 954, 970)
JUDGES = ('efficientnet-lite1', 'efficientnet-lite2')


def ranks(logits, classes):
    """1-based rank of each wanted class in its row of logits."""
    return [int((row > row[c]).sum()) + 1 for row, c in zip(logits, classes)]


def judge(pictures, classes, judges=JUDGES, classifiers=None):
    """Top-1 / top-5 rates of ``judges`` on ``pictures`` (one per class),
    at full size and in the thumbnail test.

    Returns
    -------
    dict
        ``{judge: {'top1', 'top5', 'ranks', 'thumb_top1', 'thumb_top5',
        'thumb_ranks'}}``; a rank is the 1-based position of the wanted class
        in the judge's ordering.
    """
    from ..nets.classifier import Classifier   # Theano: not for --help
    classifiers = classifiers if classifiers is not None else {}
    thumbs = [look.thumbnail(p) for p in pictures]
    results = {}
    for name in judges:
        if name not in classifiers:
            classifiers[name] = Classifier(name)
        record = {}
        for prefix, images in (('', pictures), ('thumb_', thumbs)):
            r = ranks(classifiers[name].logits(images), classes)
            record.update({prefix + 'top1': sum(x == 1 for x in r) / len(r),
                           prefix + 'top5': sum(x <= 5 for x in r) / len(r),
                           prefix + 'ranks': r})
        results[name] = record
    return results


def evaluate(settings, classes=CLASSES, judges=JUDGES, seeds=(0,), save_dir=None,
             progress=False):
    """Render ``classes`` under each of ``settings`` and measure the pictures.

    Parameters
    ----------
    settings : dict of str to dict
        Named render settings: a ``recipe`` name (default ``'default'``) and
        overrides of :data:`inception_art.recipes.SETTINGS`.
    seeds : sequence of int
        Each class is rendered once per seed.
    save_dir : path-like, optional
        Where to write the pictures, ``<setting>/<class>[_seed].png``.
    """
    renderer, classifiers, report = Renderer(), {}, {}
    for name, kwargs in settings.items():
        kwargs = dict(kwargs)
        recipe = kwargs.pop('recipe', 'default')
        resolved = recipes.settings(recipe, **kwargs)
        pictures, wanted, logits, seconds = [], [], [], []
        for seed in seeds:
            for c in classes:
                start = time.time()
                picture, logit = render((c,), resolved.replace(seed=seed), renderer=renderer,
                                        progress=progress)
                seconds.append(time.time() - start)
                pictures.append(picture)
                wanted.append(c)
                logits.append(logit)
                if save_dir:
                    folder = Path(save_dir) / name
                    folder.mkdir(parents=True, exist_ok=True)
                    stem = imagenet.short_name(c).replace(' ', '_').replace('/', '_')
                    save_png(picture, folder / ('%s%s.png' % (stem, '_%d' % seed if seed else '')))
        looks = [look.measure(p) for p in pictures]
        report[name] = dict(
            recipe=recipe, overrides=kwargs, settings=dict(resolved),
            classes=wanted, seeds=list(seeds),
            # The first render of a setting includes compiling its step.
            seconds_per_render=float(np.median(seconds)), seconds_first=seconds[0],
            mean_logit=float(np.mean(logits)),
            contrast=float(np.mean([m['contrast'] for m in looks])),
            colourfulness=float(np.mean([m['colourfulness'] for m in looks])),
            spectrum_slope=float(np.nanmean([m['spectrum_slope'] for m in looks])),
            judges=judge(pictures, wanted, judges, classifiers))
        print(name, summary(report[name]), flush=True)
    return report


def summary(record):
    """One line of a setting's figures."""
    parts = ['%s top5 %.0f%% thumb %.0f%%' % (j.split('-')[-1], 100 * r['top5'],
                                              100 * r['thumb_top5'])
             for j, r in record['judges'].items()]
    return '%s; contrast %.1f colourfulness %.1f; %.1f s/render' % (
        ', '.join(parts), record['contrast'], record['colourfulness'],
        record['seconds_per_render'])


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art evaluate --class-count 20 --seeds 0,1',
    'inception-art evaluate --classes volcano,goldfish',
)


def parse_args(argv=None):
    p = ArgumentParser(prog='inception-art evaluate', examples=EXAMPLES,
                       description=__doc__.splitlines()[0])
    p.add_argument('--settings', default='{"default": {}}',
                   help='JSON: {name: {recipe, any render setting}}')
    p.add_argument('--classes', metavar='A,B,...',
                   help='a comma-separated list of classes (instead of --class-count)')
    p.add_argument('--class-count', type=int, choices=(20, 40), metavar='{20,40}',
                   help='20: the evaluation classes; 40: and 20 more (default: 20)')
    p.add_argument('--seeds', default='0', help='comma-separated seeds (default: 0)')
    p.add_argument('--out', default='reports/recognisability.json', help='JSON to write')
    p.add_argument('--save-dir', help='also write every picture under this folder')
    return p.parse_args(argv)


def parse_classes(args):
    """The classes ``--classes`` or ``--class-count`` names."""
    if args.classes and args.class_count:
        raise ValueError('give --classes or --class-count, not both')
    if args.classes:
        return tuple(imagenet.resolve(t.strip()) for t in args.classes.split(','))
    return CLASSES + (MORE_CLASSES if args.class_count == 40 else ())


def main(argv=None):
    args = parse_args(argv)
    try:
        settings = json.loads(args.settings)
    except ValueError as e:
        raise ValueError('--settings is not JSON: %s' % e) from None
    for kwargs in settings.values():    # fail before any compiling
        kwargs = dict(kwargs)
        check(recipes.settings(kwargs.pop('recipe', 'default'), **kwargs))
    seeds = tuple(int(s) for s in args.seeds.split(','))
    report = evaluate(settings, classes=parse_classes(args), seeds=seeds,
                      save_dir=args.save_dir)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
