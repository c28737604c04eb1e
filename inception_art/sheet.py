"""Contact sheets: ``python -m inception_art.sheet --out docs/gallery.png``

Renders a set of classes with one recipe and lays the pictures out in a
grid, each with its label underneath and, beside the label, what the
thumbnail test says: the rank of the class among Lite2's guesses for the
picture shrunk to 64 pixels (``thumb #1`` is best). A sheet is how the
pictures are judged in the end: can a person name each subject without
reading the label?
"""
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import imagenet, recipes
from .cli import ArgumentParser, run_main
from .images import atomic_path, check_writable
from .loop import Renderer, check, render

#: Twelve classes a person knows at a glance, from animals to scenes.
GALLERY = ('goldfish', 'flamingo', 'jellyfish', 'monarch', 'zebra', 'tabby',
           'strawberry', 'volcano', 'castle', 'school bus', 'cheeseburger', 'peacock')
LABEL_HEIGHT = 22


def contact_sheet(pictures, labels, columns=4, cell=256):
    """Pictures (each (h, w, 3) uint8) in a grid of ``columns``, each scaled
    to ``cell`` pixels wide, with its label below; an (H, W, 3) uint8 array."""
    h0, w0 = pictures[0].shape[:2]
    ch = round(cell * h0 / w0)
    rows = -(-len(pictures) // columns)
    sheet = Image.new('RGB', (columns * cell, rows * (ch + LABEL_HEIGHT)), 'white')
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:       # Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    for i, (picture, label) in enumerate(zip(pictures, labels)):
        x, y = (i % columns) * cell, (i // columns) * (ch + LABEL_HEIGHT)
        sheet.paste(Image.fromarray(picture).resize((cell, ch), Image.LANCZOS), (x, y))
        draw.text((x + 4, y + ch + 3), label, fill='black', font=font)
    return np.asarray(sheet)


def make_sheet(classes, settings='default', columns=4, cell=256, judge=True, progress=True):
    """Render ``classes`` (indices) with ``settings`` (a RenderSettings or a
    recipe's name) and return the sheet with the pictures."""
    renderer, pictures = Renderer(), []
    for c in classes:
        pictures.append(render((c,), settings, renderer=renderer, progress=progress)[0])
    labels = [imagenet.short_name(c) for c in classes]
    if judge:
        from .research.evaluate import judge as run_judges
        thumb = run_judges(pictures, classes, judges=('efficientnet-lite2',))
        ranks = thumb['efficientnet-lite2']['thumb_ranks']
        labels = ['%s  (thumb #%d)' % (l, r) for l, r in zip(labels, ranks)]
    return contact_sheet(pictures, labels, columns, cell), pictures


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art sheet',
    'inception-art sheet --recipe 2015 --out sheet_2015.png',
)


def build_parser():
    """The command's flags: its own and every render setting."""
    p = ArgumentParser(prog='inception-art sheet', examples=EXAMPLES,
                       description=__doc__.splitlines()[0])
    p.add_argument('--classes', default=','.join(GALLERY),
                   help='comma-separated class names (default: twelve)')
    p.add_argument('--columns', type=int, default=4)
    p.add_argument('--cell', type=int, default=256, help='width of each picture, pixels')
    p.add_argument('--no-judge', action='store_true',
                   help='labels without the thumbnail test (no judge package needed)')
    p.add_argument('--out', default='docs/gallery.png')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    recipes.add_recipe_flags(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    classes = [imagenet.resolve(c.strip()) for c in args.classes.split(',')]
    s = recipes.from_args(args)
    check(s)
    if args.columns < 1 or args.cell < 16:
        raise ValueError('--columns must be >= 1 and --cell >= 16')
    check_writable(args.out)
    sheet, _ = make_sheet(classes, s, columns=args.columns, cell=args.cell,
                          judge=not args.no_judge, progress=not args.no_progress)
    with atomic_path(args.out) as tmp:
        Image.fromarray(sheet).save(tmp, format='PNG', optimize=True)
    print('%s: %d classes, recipe %s' % (args.out, len(classes), args.recipe))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
