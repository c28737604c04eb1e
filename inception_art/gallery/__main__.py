"""A gallery of ImageNet classes: ``inception-art gallery --classes CLASSES --out DIR``

Renders each class with the default recipe (every render flag overrides
it) on Dask, and writes one picture per class, thumbnails and a browsable
``index.html``; a rerun renders only what is missing or stale.
"""
import sys

from .. import engine, imagenet, recipes, wordnet
from ..cli import ArgumentParser, run_main
from ..loop import check
from . import FORMATS, make_gallery


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art gallery --classes dog',
    'inception-art gallery --class-count 48 --out docs/gallery --format jpg',
)


def build_parser():
    """The command's flags: its own and every render setting."""
    p = ArgumentParser(prog='inception-art gallery', examples=EXAMPLES,
                       description=__doc__.splitlines()[0])
    p.add_argument('--classes', default='all', metavar='CLASSES',
                   help='all (default); a WordNet subtree (dog, bird, n02084071); or a '
                        'comma-separated list of classes and subtrees (volcano,tabby,980)')
    p.add_argument('--class-count', type=int, metavar='N',
                   help='only N of those classes, spread evenly (48: every 21st of the 1000)')
    p.add_argument('--out', default='renders/gallery',
                   help='the gallery folder (default: %(default)s)')
    p.add_argument('--scheduler', metavar='tcp://HOST:PORT',
                   help='render on this running Dask cluster (dask scheduler, dask worker) '
                        'instead of a local one')
    p.add_argument('--workers', type=int,
                   help='worker processes of the local cluster (default: one per core)')
    p.add_argument('--connect-timeout', type=float, default=engine.CONNECT_TIMEOUT,
                   metavar='S', help='seconds to wait for --scheduler (default: %(default)g)')
    p.add_argument('--format', default='png', choices=FORMATS,
                   help='the full pictures\' format (default: %(default)s)')
    p.add_argument('--picture-size', type=int, metavar='PX',
                   help='shrink the full pictures to this longer side (default: as rendered)')
    p.add_argument('--thumb', type=int, default=192, metavar='PX',
                   help='thumbnail size, pixels (default: %(default)s)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    recipes.add_recipe_flags(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    classes = wordnet.class_set(args.classes, args.class_count)
    s = recipes.from_args(args)
    check(s)
    if args.workers is not None and (args.workers < 1 or args.scheduler):
        raise ValueError('--workers must be >= 1, and goes with the local cluster only '
                         '(not with --scheduler)')
    if not 16 <= args.thumb <= 1024:
        raise ValueError('--thumb must be 16..1024 pixels, got %d' % args.thumb)
    if args.picture_size is not None and not 16 <= args.picture_size <= 4096:
        raise ValueError('--picture-size must be 16..4096 pixels, got %d' % args.picture_size)
    if args.connect_timeout <= 0:
        raise ValueError('--connect-timeout must be > 0')
    if args.scheduler is not None and '://' not in args.scheduler:
        raise ValueError('--scheduler %r: give an address such as tcp://HOST:8786'
                         % args.scheduler)
    done = make_gallery(classes, s, args.out, scheduler=args.scheduler,
                        workers=args.workers, thumb=args.thumb, fmt=args.format,
                        picture_size=args.picture_size,
                        progress=not args.no_progress, connect_timeout=args.connect_timeout)
    for index, error in done['failed']:
        message = str(error).splitlines()[0] if str(error) else ''
        print('error: class %d (%s) failed: %s: %s' % (
            index, imagenet.short_name(index), type(error).__name__, message),
            file=sys.stderr)
    print('%s: %d classes: %d rendered now%s, %d already done%s; %.1f min' % (
        done['page'], len(classes), len(done['rendered']),
        ' on %d workers' % done['workers'] if done['rendered'] else '',
        done['done'], ', %d failed' % len(done['failed']) if done['failed'] else '',
        done['seconds'] / 60))
    return 1 if done['failed'] else 0


if __name__ == '__main__':
    sys.exit(run_main(main))
