"""Class visualisation: ``python -m inception_art.render --class volcano``

Optimises an image so that a network sees the class in it (Adam on the
class logits, as the 2015 stream did) and writes a PNG. A second class
(``--class2``) takes the upper half of the picture.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from . import imagenet, nets
from .cli import parse_size, run_main
from .images import check_writable, load_rgb, resize, save_png
from .objectives import KINDS, ClassObjective
from .step import ImageOptimizer

#: Defaults, chosen by measurement (see README, "Choosing the defaults").
DEFAULTS = dict(model=nets.DEFAULT, size=(224, 224), steps=200, lr=5.0,
                jitter=16, blur=0.5, blur_every=4, objective='logit', seed=0,
                init='grey', prior='student', prior_strength=10.0)
PRIORS = ('none', 'gaussian', 'student')


def load_prior(kind):
    """The committed prior of ``kind`` (still-image scales), or None."""
    if kind == 'none':
        return None
    from .prior import PatchPrior, default_path
    return PatchPrior.load(default_path(kind))


def initial_image(init, size, seed):
    """``'grey'``, ``'noise'`` or a photo's path -> (h, w, 3) float array."""
    h, w = size
    if init == 'grey':
        return np.full((h, w, 3), 128.0)
    if init == 'noise':
        return 128 + np.random.RandomState(seed).uniform(-32, 32, (h, w, 3))
    return resize(load_rgb(init), size).astype('float64')


def smooth(optimizer, sigma):
    """Blur the image in place (spatially only): a cheap way to damp the
    high frequencies that fool one network and nobody else."""
    image = optimizer.image.get_value(borrow=True)
    optimizer.image.set_value(ndimage.gaussian_filter(image, (0, 0, sigma, sigma)))


def render(classes, model=DEFAULTS['model'], size=DEFAULTS['size'],
           steps=DEFAULTS['steps'], lr=DEFAULTS['lr'], jitter=DEFAULTS['jitter'],
           blur=DEFAULTS['blur'], blur_every=DEFAULTS['blur_every'],
           objective=DEFAULTS['objective'], seed=DEFAULTS['seed'],
           init=DEFAULTS['init'], prior=DEFAULTS['prior'],
           prior_strength=DEFAULTS['prior_strength'], progress=True, optimizer=None,
           callback=None):
    """Render ``classes`` (one or two class indices) and return the picture.

    Parameters
    ----------
    classes : sequence of int
        ``(A,)`` or ``(A, B)``: A below, B above.
    model : str
        Network name (see :mod:`inception_art.nets`).
    size : tuple (h, w)
    steps : int
        Adam steps.
    lr : float
        Adam learning rate on the 0..255 scale.
    jitter : int
        Random shift of the network's view at each step, in pixels.
    blur, blur_every : float, int
        Gaussian blur of sigma ``blur`` pixels every ``blur_every`` steps
        (``blur=0``: never).
    objective : {'logit', 'logit-plain', 'prob', 'loglik'}
    seed : int
    init : str
        ``'grey'``, ``'noise'`` or a photo's path.
    prior : {'none', 'gaussian', 'student'}
        Natural-image prior on 8x8 patches (see :mod:`inception_art.prior`).
    prior_strength : float
        Its weight in the loss.
    progress : bool
        Show a progress bar on stderr.
    optimizer : ImageOptimizer, optional
        A compiled optimiser to reuse (same size; ``model``, ``objective``
        and ``prior`` are then its own); classes, ``lr``, ``jitter`` and
        ``prior_strength`` are set here.
    callback : callable, optional
        Called as ``callback(step, loss, logit)`` after each step (step
        counts from 0), e.g. to record the target logit's progress.

    Returns
    -------
    (image, logit) : (h, w, 3) uint8 array, final target logit
    """
    start = initial_image(init, size, seed)
    if optimizer is None:
        network = nets.build(model, size)
        optimizer = ImageOptimizer(network, ClassObjective(objective), seed=seed,
                                   prior=load_prior(prior))
    optimizer.objective.set_classes(*classes)
    optimizer.jitter = jitter
    optimizer.adam.lr.set_value(np.float32(lr))
    optimizer.prior_strength.set_value(np.float32(prior_strength))
    optimizer.adam.reset()
    optimizer.rng.seed(seed)
    optimizer.set_image(start)
    bar = tqdm(range(steps), unit='step', disable=not progress,
               bar_format='step {n_fmt}/{total_fmt} |{bar:20}| {desc} '
                          '[{elapsed}<{remaining}]')
    logit = float('nan')
    for i in bar:
        loss, logit = optimizer.step()
        if callback is not None:
            callback(i, loss, logit)
        if blur and blur_every and (i + 1) % blur_every == 0 and i + 1 < steps:
            smooth(optimizer, blur)
        bar.set_description_str('loss %.2f logit %.2f' % (loss, logit), refresh=False)
    bar.close()
    return optimizer.get_image(), logit


def parse_args(argv=None):
    d = DEFAULTS
    p = argparse.ArgumentParser(prog='python -m inception_art.render',
                                description=__doc__.splitlines()[0])
    p.add_argument('--class', dest='class_', required=True, metavar='NAME',
                   help='class: a label word (volcano), a full label, an index '
                        'or a WordNet id')
    p.add_argument('--class2', metavar='NAME', help='a second class, on the upper half')
    p.add_argument('--model', default=d['model'], choices=nets.NAMES,
                   help='network (default: %(default)s)')
    p.add_argument('--size', default='%dx%d' % d['size'][::-1], metavar='WxH',
                   help='picture size (default: %(default)s)')
    p.add_argument('--steps', type=int, default=d['steps'],
                   help='Adam steps (default: %(default)s)')
    p.add_argument('--lr', type=float, default=d['lr'],
                   help='Adam learning rate, 0..255 scale (default: %(default)s)')
    p.add_argument('--seed', type=int, default=d['seed'], help='random seed (default: 0)')
    p.add_argument('--init', default=d['init'], metavar='grey|noise|PHOTO',
                   help='start image (default: %(default)s)')
    p.add_argument('--jitter', type=int, default=d['jitter'],
                   help='random shift per step, pixels (default: %(default)s)')
    p.add_argument('--blur', type=float, default=d['blur'],
                   help='blur sigma every --blur-every steps, 0 = off (default: %(default)s)')
    p.add_argument('--blur-every', type=int, default=d['blur_every'],
                   help='(default: %(default)s)')
    p.add_argument('--objective', default=d['objective'], choices=KINDS,
                   help='what to maximise (default: %(default)s, as in 2015)')
    p.add_argument('--prior', default=d['prior'], choices=PRIORS,
                   help='natural-image prior (default: %(default)s)')
    p.add_argument('--prior-strength', type=float, default=d['prior_strength'],
                   help='weight of the prior term (default: %(default)s)')
    p.add_argument('--out', metavar='PATH',
                   help='PNG to write (default: renders/CLASS.png)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Every check runs before the network is built: errors come in a second.
    size = parse_size(args.size)
    classes = [imagenet.resolve(args.class_)]
    if args.class2:
        classes.append(imagenet.resolve(args.class2))
    if (args.steps < 1 or args.lr <= 0 or args.jitter < 0 or args.blur < 0
            or args.prior_strength < 0):
        raise ValueError('--steps must be >= 1, --lr > 0, --jitter, --blur and '
                         '--prior-strength >= 0')
    load_prior(args.prior)   # a missing prior file fails now, not after compiling
    if args.init not in ('grey', 'noise'):
        load_rgb(args.init)
    names = '+'.join(imagenet.short_name(c).replace(' ', '_') for c in classes)
    out = Path(args.out or Path('renders') / (names + '.png'))
    if args.out is None:
        out.parent.mkdir(exist_ok=True)
    check_writable(out)
    image, logit = render(classes, model=args.model, size=size, steps=args.steps,
                          lr=args.lr, jitter=args.jitter, blur=args.blur,
                          blur_every=args.blur_every, objective=args.objective,
                          seed=args.seed, init=args.init, prior=args.prior,
                          prior_strength=args.prior_strength)
    save_png(image, out)
    print('%s: %s, logit %.2f (%s, %d steps)' % (
        out, ' + '.join(imagenet.LABELS[c] for c in classes), logit, args.model, args.steps))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
