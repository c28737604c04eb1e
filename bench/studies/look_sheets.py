"""Contact sheets from pictures already rendered by the evaluation, so that
a sheet and the figures beside it are the same pictures.

``python -m inception_art.research.evaluate --classes 40 --seeds 0
--save-dir DIR`` writes ``DIR/<setting>/<class>.png``; this lays chosen
classes out as ``python -m inception_art.sheet`` does (same settings, same
seed, so the same pictures), labelled with Lite2's rank in the thumbnail
test at 64 and 48 pixels.

    python -m bench.studies.look_sheets DIR/default --classes look
        --out docs/look/sheet_default.jpg

With a second folder (``--beside``), each row of the first is followed by
the same classes from the second, for a comparison.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from inception_art import imagenet, look
from inception_art.images import load_rgb
from inception_art.nets.classifier import Classifier
from inception_art.research.evaluate import CLASSES, ranks
from inception_art.sheet import GALLERY, contact_sheet

#: The look's sheet: 12 animals, then 12 other things, all among the 40
#: evaluation classes.
LOOK = ('golden retriever', 'tabby', 'Chihuahua', 'tiger', 'zebra', 'llama', 'giant panda',
        'flamingo', 'king penguin', 'bald eagle', 'goldfish', 'monarch',
        'volcano', 'castle', 'school bus', 'umbrella', 'cheeseburger', 'broccoli',
        'strawberry', 'pizza', 'balloon', 'container ship', 'space shuttle', 'pickup')
SETS = {'look': LOOK, 'gallery': GALLERY,
        'evaluation': tuple(imagenet.short_name(c) for c in CLASSES)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('folder')
    p.add_argument('--classes', default='look', help='look, gallery or a comma-separated list')
    p.add_argument('--columns', type=int, default=6)
    p.add_argument('--cell', type=int, default=192)
    p.add_argument('--beside', help='a second folder, its rows under the first\'s')
    p.add_argument('--names', default='', help='the two folders\' names for the labels')
    p.add_argument('--out', required=True)
    args = p.parse_args(argv)
    names = SETS.get(args.classes) or args.classes.split(',')
    classes = [imagenet.resolve(n) for n in names]
    folders = [args.folder] + ([args.beside] if args.beside else [])
    tags = (args.names.split(',') if args.names else [''] * len(folders))
    judge = Classifier('efficientnet-lite2')
    pictures, labels = [], []
    for start in range(0, len(classes), args.columns):
        for folder, tag in zip(folders, tags):
            for c in classes[start:start + args.columns]:
                stem = imagenet.short_name(c).replace(' ', '_').replace('/', '_')
                picture = load_rgb(Path(folder) / ('%s.png' % stem))
                r = ranks(judge.logits([look.thumbnail(picture, 64),
                                        look.thumbnail(picture, 48)]), [c, c])
                pictures.append(picture)
                labels.append('%s%s (#%d/#%d)' % (tag + ': ' if tag else '',
                                                 imagenet.short_name(c)[:16], *r))
    sheet = contact_sheet(pictures, labels, columns=args.columns, cell=args.cell)
    Image.fromarray(np.asarray(sheet)).save(args.out, quality=82)
    print(args.out, len(classes))
    return 0


if __name__ == '__main__':
    main()
