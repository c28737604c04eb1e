"""Transparency charged only late in the run: does the subject form first,
then the ground clear, so that the thumbnails hold?

    python -m bench.studies.transparency_schedule [--out bench/studies/transparency_schedule.json]
        [--sheet docs/look/transparency_schedule.jpg]

Renders six classes at the default's full settings (512x512, 256 steps),
seed 0, under each candidate: opaque, transparency from the first step, and
the opacity cost switched on only after a share of the steps (the weight,
a run setting, is set between steps; the first step is charged in every
transparent candidate, as the restart sets the weight). Lite2 judges each
picture at full size and in the thumbnail test; :func:`inception_art.look.measure`
measures the look.
"""
import argparse
import time

import numpy as np
from PIL import Image

from bench.harness import machine_info, write_json
from bench.studies.look_screen import CLASSES
from inception_art import imagenet, look
from inception_art.loop import Renderer, canvas_size, render
from inception_art.nets.classifier import Classifier
from inception_art.recipes import settings
from inception_art.research.evaluate import ranks
from inception_art.sheet import contact_sheet

#: (name, opacity cost, share of the steps before it is charged)
CANDIDATES = (('opaque', 0.0, 0.0), ('clear 20', 20.0, 0.0),
              ('clear 20 from 50%', 20.0, 0.5), ('clear 40 from 75%', 40.0, 0.75))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='.cache/transparency_schedule.json')
    p.add_argument('--sheet', default='.cache/transparency_schedule.jpg')
    args = p.parse_args(argv)
    judge, renderer = Classifier('efficientnet-lite2'), Renderer()
    rows, pictures, labels = {}, [], []
    for name, weight, start in CANDIDATES:
        s = settings('default', transparency=weight)
        opt = renderer.optimizer(s, canvas_size(s))

        def charge(i, loss, logit, opt=opt, weight=weight, first=start * s['steps']):
            opt.transparency.set_value(np.float32(weight if i + 1 >= first else 0.0))

        records = []
        for c in [imagenet.resolve(x) for x in CLASSES]:
            started = time.perf_counter()
            picture, _ = render((c,), s, optimizer=opt, callback=charge, progress=False)
            seconds = time.perf_counter() - started
            r = ranks(judge.logits([picture, look.thumbnail(picture, 64),
                                    look.thumbnail(picture, 48)]), [c] * 3)
            records.append(dict(cls=c, seconds=seconds, rank=r[0], rank64=r[1], rank48=r[2],
                                **look.measure(picture)))
            pictures.append(picture)
            labels.append('%s: %s #%d/%d/%d' % (name, imagenet.short_name(c)[:12], *r))
            print(name, records[-1], flush=True)
        rows[name] = dict(weight=weight, start=start, records=records,
                          top5={k: float(np.mean([x[k] <= 5 for x in records]))
                                for k in ('rank', 'rank64', 'rank48')},
                          means={k: float(np.mean([x[k] for x in records]))
                                 for k in records[0] if k != 'cls'})
        write_json(args.out, dict(machine=machine_info(), classes=list(CLASSES),
                                  candidates=rows))
    Image.fromarray(contact_sheet(pictures, labels, columns=len(CLASSES), cell=200)).save(
        args.sheet, quality=88)
    return 0


if __name__ == '__main__':
    main()
