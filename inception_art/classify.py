"""What the network sees: ``python -m inception_art.classify IMAGE...``

Prints, for each image, the top classes with index, label, logit and
probability; ``--json`` prints one JSON object per image instead.
Images are viewed as ImageNet evaluation does: shorter side scaled to
``size / 0.875``, centre crop to the network's native size.
"""
import json
import sys

from . import imagenet, nets
from .cli import ArgumentParser, run_main
from .images import load_rgb


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art classify photo.jpg',
    'inception-art classify --model efficientnet-lite2 --top 3 a.png b.png',
)


def parse_args(argv=None):
    parser = ArgumentParser(
        prog='inception-art classify', examples=EXAMPLES, description=__doc__.splitlines()[0])
    parser.add_argument('images', nargs='+', metavar='IMAGE', help='PNG or JPEG files')
    parser.add_argument('--model', default=nets.DEFAULT, choices=nets.NAMES,
                        help='network (default: %(default)s)')
    parser.add_argument('--top', type=int, default=5, help='classes shown (default: 5)')
    parser.add_argument('--json', action='store_true',
                        help='one JSON object per image, one per line')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not 1 <= args.top <= imagenet.NUM_CLASSES:
        raise ValueError('--top must be between 1 and 1000, got %d' % args.top)
    images = [load_rgb(path) for path in args.images]  # fail before compiling
    from .nets.classifier import Classifier   # Theano: not for --help
    classifier = Classifier(args.model)
    for path, image in zip(args.images, images):
        top = classifier.top(image, args.top)
        if args.json:
            print(json.dumps({'image': str(path), 'model': args.model, 'top': top}))
            continue
        print('%s (%s):' % (path, args.model))
        for row in top:
            print('  %4d  %-40s logit %7.3f  prob %.4f' % (
                row['index'], row['label'][:40], row['logit'], row['prob']))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
