"""Are the renders recognisable to *another* network?

``python -m inception_art.evaluate`` renders a fixed set of classes with
one network and has independent networks (EfficientNet-Lite1 and -Lite2 by
default, from their PyPI packages) classify the pictures. A picture that
only fools the network that made it scores nothing here; this is how the
render defaults were chosen. Results go to a JSON file.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from . import imagenet, nets
from .classify import Classifier
from .cli import run_main
from .images import atomic_path, save_png
from .objectives import ClassObjective
from .render import DEFAULTS, load_prior, render
from .step import ImageOptimizer

#: 20 classes with distinctive looks, fixed so that results compare.
CLASSES = (1, 76, 84, 107, 130, 145, 207, 281, 301, 323,
           340, 437, 483, 779, 879, 933, 937, 949, 963, 980)
JUDGES = ('efficientnet-lite1', 'efficientnet-lite2')


def judge(pictures, classes, judges=JUDGES):
    """Top-1 / top-5 rates of ``judges`` on ``pictures`` (one per class).

    Returns
    -------
    dict
        ``{judge: {'top1': rate, 'top5': rate, 'ranks': [...]}}``; a rank is
        the 1-based position of the wanted class in the judge's ordering.
    """
    results = {}
    for name in judges:
        logits = Classifier(name).logits(pictures)
        ranks = [int((row > row[c]).sum()) + 1 for row, c in zip(logits, classes)]
        results[name] = dict(top1=sum(r == 1 for r in ranks) / len(ranks),
                             top5=sum(r <= 5 for r in ranks) / len(ranks),
                             ranks=ranks)
    return results


def evaluate(settings, classes=CLASSES, model=DEFAULTS['model'],
             size=DEFAULTS['size'], prior=DEFAULTS['prior'], judges=JUDGES,
             save_dir=None):
    """Render ``classes`` under each of ``settings`` and judge the pictures.

    Parameters
    ----------
    settings : dict of str to dict
        Named keyword sets for :func:`inception_art.render.render`
        (``steps``, ``lr``, ``jitter``, ``blur``, ``blur_every``, ``seed``).
    prior : {'none', 'gaussian', 'student'}
        The prior compiled into the step; each setting's ``prior_strength``
        weighs it (0 switches it off without recompiling).
    save_dir : path-like, optional
        Where to write the pictures, ``<setting>/<class>.png``.
    """
    optimizer = ImageOptimizer(nets.build(model, size), ClassObjective('logit'),
                               prior=load_prior(prior))
    report = {}
    for name, kwargs in settings.items():
        pictures, logits, start = [], [], time.time()
        for c in classes:
            picture, logit = render((c,), size=size, optimizer=optimizer,
                                    progress=False, **kwargs)
            pictures.append(picture)
            logits.append(logit)
            if save_dir:
                folder = Path(save_dir) / name
                folder.mkdir(parents=True, exist_ok=True)
                save_png(picture, folder / (imagenet.short_name(c).replace(' ', '_') + '.png'))
        report[name] = dict(settings=kwargs, model=model, size=list(size), prior=prior,
                            seconds_per_render=(time.time() - start) / len(classes),
                            mean_logit=sum(logits) / len(logits),
                            judges=judge(pictures, classes, judges))
        print(name, json.dumps({j: {k: v for k, v in r.items() if k != 'ranks'}
                                for j, r in report[name]['judges'].items()}), flush=True)
    return report


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='python -m inception_art.evaluate',
                                description=__doc__.splitlines()[0])
    p.add_argument('--settings', default='{"defaults": {}}',
                   help='JSON: {name: {steps, lr, jitter, blur, blur_every, seed}}')
    p.add_argument('--model', default=DEFAULTS['model'], choices=nets.NAMES)
    p.add_argument('--prior', default=DEFAULTS['prior'], choices=('none', 'gaussian', 'student'),
                   help='prior compiled into the step (default: %(default)s)')
    p.add_argument('--out', default='bench/recognisability.json', help='JSON to write')
    p.add_argument('--save-dir', help='also write every picture under this folder')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = json.loads(args.settings)
    report = evaluate(settings, model=args.model, prior=args.prior, save_dir=args.save_dir)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
