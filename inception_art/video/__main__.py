"""A zooming dream video: ``python -m inception_art.video --classes volcano,jellyfish``

Keyframes are optimised every few seconds of video, each from the previous
one zoomed forward (:mod:`inception_art.video.dream`); the frames between them are
interpolated (:mod:`inception_art.video.interpolate`) and piped into ffmpeg
(:mod:`inception_art.video.encode`), which writes an H.264 mp4 or an animated GIF.
The subject follows ``--classes``: each entry holds for ``--subject-seconds``,
and ``a+b`` puts ``a`` on the lower half and ``b`` on the upper half.
"""
import math
import sys
from pathlib import Path

from .. import recipes
from ..cli import ArgumentParser, run_main
from ..imagenet import parse_subject
from ..images import check_writable
from ..loop import check, load_prior
from ..settings import Setting, add_flags, above, between, defaults, given, size, validate
from . import dream as keyframes
from .dream import Dream
from .film import Schedule, make_video

#: The command's own settings. Output defaults: the 2015 stream's frame
#: size and rate; a GIF is four times smaller by default (at full size a
#: 30 s GIF is over 100 MB).
SETTINGS = (
    Setting('seconds', 30.0, 'length of the video', type=float, check=between(1e-3, 24 * 3600)),
    Setting('subject_seconds', None, 'how long each subject holds (default: --seconds '
                                     'divided by the number of subjects); the list repeats',
            type=float, check=above(0), metavar='S'),
    Setting('size', (576, 1024), 'frame size (512x288 with --gif)', type=size,
            metavar='WxH'),
    Setting('gif', False, 'write an animated GIF instead of an mp4 (also chosen by an '
                          '--out ending in .gif)', type=bool),
    Setting('out', None, 'file to write (default: dream.mp4, or dream.gif with --gif)',
            metavar='PATH'),
    Setting('quiet', False, 'no progress bar', type=bool),
)
DEFAULTS = defaults(SETTINGS)
GIF_SIZE = (288, 512)
OUT, GIF_OUT = 'dream.mp4', 'dream.gif'
#: The default optimisation size is the output's shape at this width at most
#: (448x252 for 1024x576; see README, "Video", for the measurements).
OPT_WIDTH = 448


def default_opt_size(size):
    """The optimisation size for output ``size`` (h, w): the same aspect,
    at most :data:`OPT_WIDTH` wide, sides multiples of 4."""
    h, w = size
    scale = min(1.0, OPT_WIDTH / w)
    return max(32, 4 * round(h * scale / 4)), max(32, 4 * round(w * scale / 4))


def build_parser():
    """The command's flags: its own, the motion, the keyframes' render settings."""
    p = ArgumentParser(prog='python -m inception_art.video',
                       description=__doc__.splitlines()[0])
    p.add_argument('--classes', required=True, metavar='A,B+C,...',
                   help='subjects in order, comma-separated; each is a class (label word, '
                        'full label, index or WordNet id) or two joined by "+" '
                        '(first below, second above)')
    add_flags(p, SETTINGS)
    add_flags(p.add_argument_group('keyframe motion'), keyframes.SETTINGS,
              defaults=dict(opt_size=None))
    recipes.add_recipe_flags(p.add_argument_group('render settings of the keyframes'),
                             recipe=keyframes.RECIPE, skip=keyframes.NOT_KEYFRAME)
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def check_args(args):
    """Validate everything before any work; returns ``(motion, settings,
    video)``: the keyword arguments of :class:`~inception_art.video.dream.Dream`
    (the motion, then the render settings) and the command's own settings.

    Raises ValueError / OSError with one-line messages (see
    :func:`inception_art.cli.run_main`).
    """
    entries = [e for e in args.classes.split(',')]
    if not args.classes.strip() or not all(e.strip() for e in entries):
        raise ValueError('--classes %r: give class names separated by commas, '
                         'e.g. volcano,jellyfish+tabby' % args.classes)
    v = given(args, SETTINGS)
    validate(v, SETTINGS)
    v['subjects'] = [parse_subject(e.strip()) for e in entries]
    v['gif'] = gif = bool(v.get('gif')) or (v.get('out') or '').lower().endswith('.gif')
    out = v['out'] = Path(v.get('out') or (GIF_OUT if gif else OUT))
    if gif and out.suffix.lower() not in ('.gif', ''):
        raise ValueError('--gif writes a GIF, but --out %s ends in %s; use a .gif name'
                         % (out, out.suffix))
    frame = v.setdefault('size', GIF_SIZE if gif else DEFAULTS['size'])
    if not gif and (frame[0] % 2 or frame[1] % 2):
        raise ValueError('--size %dx%d: an mp4 needs an even width and height'
                         % frame[::-1])
    v.setdefault('seconds', DEFAULTS['seconds'])
    v.setdefault('subject_seconds', v['seconds'] / len(v['subjects']))
    motion = dict(keyframes.DEFAULTS, **given(args, keyframes.SETTINGS))
    validate(motion, keyframes.SETTINGS)
    # The keyframe size: --opt-size, else the recipe's when it has the
    # frames' shape and is no wider (2015-stream: 840x472 for 1024x576),
    # else the frames' shape at most 448 wide.
    own = recipes.settings(args.recipe)['size']
    if args.opt_size is None:
        motion['opt_size'] = (own if own and own[1] <= frame[1] and same_shape(own, frame)
                              else default_opt_size(frame))
    elif not same_shape(motion['opt_size'], frame):
        raise ValueError('--opt-size %dx%d and --size %dx%d differ in shape; give '
                         'both the same aspect ratio' % (motion['opt_size'][::-1] + frame[::-1]))
    motion['recipe'] = args.recipe
    settings = given(args, recipes.SETTINGS)
    s = recipes.settings(args.recipe, **dict(settings, size=motion['opt_size'], octaves=1))
    check(s)
    load_prior(s['prior'])    # a missing prior file fails now
    check_writable(out)
    return motion, settings, v


def same_shape(a, b):
    """Whether sizes ``a`` and ``b`` (h, w) have the same aspect ratio, to 2%."""
    return abs(math.log((a[1] / a[0]) / (b[1] / b[0]))) <= 0.02


def main(argv=None):
    motion, settings, v = check_args(parse_args(argv))
    dream = Dream(**motion, **settings)
    fps = motion['fps']
    path, frames, interrupted = make_video(
        dream, Schedule(v['subjects'], v['subject_seconds']), v['out'], v['seconds'], fps,
        v['size'], gif=v['gif'], progress=not v.get('quiet'))
    print('%s: %d frames, %.1f s at %g fps, %dx%d%s' % (
        path, frames, frames / fps, fps, v['size'][1], v['size'][0],
        ' (interrupted)' if interrupted else ''))
    return 130 if interrupted else 0


if __name__ == '__main__':
    sys.exit(run_main(main))
