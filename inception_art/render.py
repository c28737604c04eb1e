"""Class visualisation: ``python -m inception_art.render --class volcano``

Optimises an image so that a network sees the class in it and writes a PNG.
A second class (``--class2``) takes the upper half of the picture. The
settings come from a recipe (:mod:`inception_art.recipes`), each one
overridable by its own flag; the work is :func:`inception_art.loop.render`.
"""
import sys
from pathlib import Path

from . import imagenet, recipes
from .cli import ArgumentParser, run_main
from .images import check_writable, save_png
from .loop import check, render


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art render --class volcano',
    'inception-art render --class goldfish --canvas 768x432 --seed 3 --out fish.png',
    'inception-art render --class volcano --recipe 2015',
)


def build_parser():
    """The command's flags."""
    p = ArgumentParser(prog='inception-art render', examples=EXAMPLES,
                       description=__doc__.splitlines()[0])
    p.add_argument('--class', dest='class_', required=True, metavar='NAME',
                   help='class: a label word (volcano), a full label, an index '
                        'or a WordNet id')
    p.add_argument('--class2', metavar='NAME', help='a second class, on the upper half')
    recipes.add_recipe_flags(p)
    p.add_argument('--out', metavar='PATH',
                   help='PNG to write (default: renders/CLASS.png)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Every check runs before the network is built: errors come in a second.
    classes = [imagenet.resolve(args.class_)]
    if args.class2:
        classes.append(imagenet.resolve(args.class2))
    s = recipes.from_args(args)
    check(s)
    names = '+'.join(imagenet.short_name(c).replace(' ', '_') for c in classes)
    out = Path(args.out or Path('renders') / (names + '.png'))
    if args.out is None:
        out.parent.mkdir(exist_ok=True)
    check_writable(out)
    image, logit = render(classes, s, progress=not args.no_progress)
    save_png(image, out)
    print('%s: %s, logit %.2f (%s, %s, %d steps)' % (
        out, ' + '.join(imagenet.LABELS[c] for c in classes), logit, s['model'],
        args.recipe, s['steps']))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
