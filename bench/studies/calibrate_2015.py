"""The 2015 stills' prior strength, calibrated for a network by its
gradient balance, and what each balance paints.

The rule (``inception_art.recipes``, :data:`BALANCE_2015`): the strength
is the one at which the Student-t prior's root-mean-square gradient with
respect to the pixels, at the recipe's start photograph, is ``balance``
times the network's (the mean over the evaluation classes). This study
measures both gradients (:func:`bench.studies.balance.gradients`), renders
classes under the 2015 recipe at several balances, and judges them: the
network that painted (top-1) and Lite2 (top-5 at full size).

    python -m bench.studies.calibrate_2015 [--balances 0.3,0.1,0.03]
        [--classes 20] [--steps 100] [--out bench/studies/calibrate_2015.json]
        [--canvas HxW] [--strengths 25,300]

``--canvas`` renders on another canvas than the start photograph's (the
photograph stretched to it); ``--strengths`` gives prior strengths directly
instead of balances.
"""
import argparse
import time

import numpy as np
from PIL import Image

from bench.harness import machine_info, write_json
from bench.studies.balance import gradients
from inception_art import imagenet, recipes
from inception_art.loop import Renderer, render
from inception_art.nets.classifier import Classifier
from inception_art.research.evaluate import CLASSES, MORE_CLASSES, ranks
from inception_art.sheet import contact_sheet


def scale_check(model, cls=1, strength=25.45, steps=100):
    """Is a 2015 picture tied to the pixel grid of its view or to its
    scale? One render at ``strength`` (25.45: balance 0.1 on Lite0, over
    the goldfish, flamingo, golden retriever and volcano); then the model
    built for the view pooled by 3 judges that view, the view of the canvas
    rolled by 1 and 2 pixels, and the classifier's view of the whole
    picture."""
    from inception_art.nets import build
    from inception_art.theano_env import T, theano
    picture, logit = render((cls,), recipes.settings('2015', model=model, steps=steps,
                                                     prior_strength=strength), progress=False)
    h, w = picture.shape[0] // 3, picture.shape[1] // 3
    x = T.tensor4()
    view = theano.function([x], build(model, (h, w)).logit_map(x).mean(axis=(2, 3)))
    out = dict(cls=cls, strength=strength, steps=steps,
               view_logit_during_render=logit)
    for name, dy, dx in (('as optimised', 0, 0), ('shifted 1 px', 1, 1), ('shifted 2 px', 2, 0)):
        rolled = np.roll(picture.astype('float32'), (dy, dx), axis=(0, 1))[:3 * h, :3 * w]
        pooled = rolled.reshape(h, 3, w, 3, 3).mean(axis=(1, 3))
        row = view(pooled.transpose(2, 0, 1)[None])[0]
        out[name] = dict(rank=ranks([row], [cls])[0], logit=float(row[cls]))
    row = Classifier(model).logits([picture])[0]
    out['whole picture, classifier view'] = dict(rank=ranks([row], [cls])[0],
                                                 logit=float(row[cls]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', default='efficientnet-lite0')
    p.add_argument('--balances', default='0.3,0.1,0.03')
    p.add_argument('--classes', type=int, default=20, help='how many of the 40 evaluation classes')
    p.add_argument('--class-list', help='comma-separated class indices instead')
    p.add_argument('--steps', type=int, default=100)
    p.add_argument('--out', default='.cache/calibrate_2015.json')
    p.add_argument('--sheet', default='.cache/calibrate_2015.png')
    p.add_argument('--canvas', help='HxW instead of the start photograph\'s size')
    p.add_argument('--strengths', help='comma-separated prior strengths instead of --balances')
    p.add_argument('--scale-check', action='store_true',
                   help='only the check of a picture\'s grid against its scale (one class)')
    args = p.parse_args(argv)
    if args.scale_check:
        print(scale_check(args.model))
        return 0
    classes = list(CLASSES + MORE_CLASSES)[:args.classes]
    if args.class_list:
        classes = [int(c) for c in args.class_list.split(',')]
    canvas = tuple(int(x) for x in args.canvas.split('x')) if args.canvas else None
    balance = gradients(args.model, classes, canvas)
    print(balance, flush=True)
    painter, judge = Classifier(args.model), Classifier('efficientnet-lite2')
    renderer, rows, pictures, labels = Renderer(), {}, [], []
    per_strength = balance['rms_network'] / balance['rms_prior']
    balances = ([float(x) / per_strength for x in args.strengths.split(',')] if args.strengths
                else [float(x) for x in args.balances.split(',')])
    for b in balances:
        strength = b * per_strength
        s = recipes.settings('2015', model=args.model, prior_strength=strength,
                             steps=args.steps, canvas=canvas)
        records = []
        for c in classes:
            started = time.perf_counter()
            picture, logit = render((c,), s, renderer=renderer, progress=False)
            seconds = time.perf_counter() - started
            own = ranks(painter.logits([picture]), [c])[0]
            lite2 = ranks(judge.logits([picture]), [c])[0]
            records.append(dict(cls=c, logit=logit, seconds=seconds, own_rank=own,
                                lite2_rank=lite2))
            pictures.append(picture)
            labels.append('%.3g: %s #%d/%d' % (b, imagenet.short_name(c)[:14], own, lite2))
            print(b, records[-1], flush=True)
        rows['%.3g' % b] = dict(strength=strength, records=records,
                            own_top1=float(np.mean([r['own_rank'] == 1 for r in records])),
                            lite2_top5=float(np.mean([r['lite2_rank'] <= 5 for r in records])),
                            seconds=float(np.median([r['seconds'] for r in records])))
        print(b, {k: v for k, v in rows['%.3g' % b].items() if k != 'records'}, flush=True)
        # after each balance: a long run cut short keeps what it measured
        write_json(args.out, dict(machine=machine_info(), model=args.model, steps=args.steps,
                                  canvas=balance['canvas'],
                                  classes=classes, balance=balance, balances=rows))
    Image.fromarray(contact_sheet(pictures, labels, columns=min(len(classes), 10),
                                  cell=160)).save(args.sheet)
    return 0


if __name__ == '__main__':
    main()
