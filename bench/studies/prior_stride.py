"""Does the strided prior pull as the full one does?

    python -m bench.studies.prior_stride [--out bench/studies/prior_stride.json]

Renders two classes under two recipes with the prior off, at stride 1
(every patch, as in 2015) and at strides 4 and 8 (patches that far apart,
on a grid moved at random each step), then scores every picture with the
*full* prior term (stride 1). If the strided term is the same pull, the
final full term matches stride 1's; the Lite0 logit and the contrast show
what else moved. The cost side is ``bench/prior.json``.
"""
import argparse
import time

from bench import harness
from inception_art import look
from inception_art.loop import Renderer, load_prior, render
from inception_art.theano_env import T, theano

#: (recipe, overrides, prior strength); the default recipe at 256x256 so
#: that the run takes minutes.
CASES = (('classic', {}, 10.0),
         ('default', dict(canvas=(256, 256), steps=128), 1000.0))
CLASSES = (980, 107)


def full_term(size):
    x = T.tensor4('x')
    fn = theano.function([x], load_prior('student', 'still', 1).term(x, size=size))
    return lambda picture: float(fn(picture.astype('float32').transpose(2, 0, 1)[None]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='bench/studies/prior_stride.json')
    args = p.parse_args(argv)
    renderer, terms, rows = Renderer(), {}, []
    for recipe, overrides, strength in CASES:
        for label, s, k in (('no prior', 0.0, 1), ('stride 1', strength, 1),
                            ('stride 4', strength, 4), ('stride 8', strength, 8)):
            for c in CLASSES:
                t = time.perf_counter()
                picture, logit = render((c,), recipe, renderer=renderer,
                                        progress=False, prior_strength=s, prior_stride=k,
                                        **overrides)
                size = picture.shape[:2]
                term = terms.setdefault(size, full_term(size))(picture)
                rows.append(dict(recipe=recipe, prior=label, strength=s, stride=k, cls=c,
                                 full_term=term, logit=logit,
                                 contrast=look.contrast(picture),
                                 seconds=time.perf_counter() - t))
                print('%-8s %-8s class %4d  full term %.3f  logit %5.1f  contrast %5.1f'
                      % (recipe, label, c, term, logit, rows[-1]['contrast']), flush=True)
    harness.save(args.out, dict(rows=rows))


if __name__ == '__main__':
    main()
