"""Screen the look's ingredients: each alone and in combination, on a few
classes, judged as a person names a picture.

For each candidate (a recipe and overrides) and class: Lite2's rank of the
class at full size and in the thumbnail test at 64 and 48 pixels, the
contrast and colourfulness, the glitter (power share above 1/8 cycle per
pixel) and the border's luminance and saturation, beside the photographs'
ranges (``inception_art/data/prior/photographs.json``); and one contact sheet per run to look
at (a candidate a row).

    python -m bench.studies.look_screen --out bench/studies/look_screen.json
        --sheet bench/studies/look_screen.png
"""
import argparse
import time

import numpy as np
from PIL import Image

from bench.harness import machine_info, write_json
from inception_art import imagenet, look
from inception_art.loop import Renderer, check, render
from inception_art.nets.classifier import Classifier
from inception_art.recipes import settings
from inception_art.research.evaluate import ranks
from inception_art.sheet import contact_sheet

#: The statistics term's strength: on Lite0 at 384x384 the network's RMS
#: gradient on the Fourier coefficients is 8 times the term's at a grey
#: start and 200 times at a finished default picture; 50 puts the term
#: between the two.
STATS = 50.0
#: Animals first: the whole object is what the look is after.
CLASSES = ('golden retriever', 'tabby', 'goldfish', 'flamingo', 'volcano', 'school bus')
BASE = dict(canvas=(384, 384), steps=128)
CANDIDATES = {
    'default': {},
    'crops': dict(crops=4),
    'centre octaves': dict(octaves=3, octave_mode='centre'),
    'stats': dict(stats_strength=STATS),
    'crops+octaves+stats': dict(crops=4, octaves=3, octave_mode='centre', stats_strength=STATS),
    'phase+crops': dict(param='phase', views=(0,), crops=4, lr=0.06),
    'clear 5': dict(transparency=5.0),
    'clear 20': dict(transparency=20.0),
    'clear 20+octaves': dict(transparency=20.0, octaves=3, octave_mode='centre'),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--only', help='comma-separated candidate names')
    p.add_argument('--classes', default=','.join(CLASSES))
    p.add_argument('--out', default='.cache/look_screen.json')
    p.add_argument('--sheet', default='.cache/look_screen.png')
    args = p.parse_args(argv)
    classes = [imagenet.resolve(c) for c in args.classes.split(',')]
    names = args.only.split(',') if args.only else list(CANDIDATES)
    judge = Classifier('efficientnet-lite2')
    renderer, rows, pictures, labels = Renderer(), {}, [], []
    for name in names:
        s = settings('default', **dict(BASE, **CANDIDATES[name]))
        check(s)
        records = []
        for c in classes:
            started = time.perf_counter()
            picture, logit = render((c,), s, renderer=renderer, progress=False)
            seconds = time.perf_counter() - started
            views = [picture, look.thumbnail(picture, 64), look.thumbnail(picture, 48)]
            r = ranks(judge.logits(views), [c] * len(views))
            records.append(dict(cls=c, logit=logit, seconds=seconds, rank=r[0], rank64=r[1],
                                rank48=r[2], **look.measure(picture)))
            pictures.append(picture)
            labels.append('%s: %s #%d/%d/%d' % (name, imagenet.short_name(c)[:14], *r))
            print(name, records[-1], flush=True)
        rows[name] = dict(overrides={k: list(v) if isinstance(v, tuple) else v
                                     for k, v in CANDIDATES[name].items()},
                          records=records,
                          top5={k: float(np.mean([x[k] <= 5 for x in records]))
                                for k in ('rank', 'rank64', 'rank48')},
                          means={k: float(np.mean([x[k] for x in records]))
                                 for k in ('contrast', 'colourfulness', 'fine_power',
                                           'border_luminance', 'border_saturation',
                                           'seconds')})
        print(name, rows[name]['top5'], rows[name]['means'], flush=True)
    write_json(args.out, dict(machine=machine_info(), base=dict(BASE, canvas=list(BASE['canvas'])),
                              classes=classes, photographs=look.reference()['ranges'],
                              candidates=rows))
    Image.fromarray(contact_sheet(pictures, labels, columns=len(classes), cell=192)).save(
        args.sheet)
    return 0


if __name__ == '__main__':
    main()
