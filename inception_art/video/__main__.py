"""A zooming dream video: ``python -m inception_art.video --classes volcano,jellyfish``

Keyframes are optimised every few seconds of video, each from the previous
one zoomed forward (:mod:`inception_art.video.dream`); the frames between them are
interpolated (:mod:`inception_art.video.interpolate`) and piped into ffmpeg
(:mod:`inception_art.video.encode`), which writes an H.264 mp4 or an animated GIF.
The subject follows ``--classes``: each entry holds for ``--subject-seconds``,
and ``a+b`` puts ``a`` on the lower half and ``b`` on the upper half.
"""
import sys
from pathlib import Path

from .. import recipes
from ..cli import ArgumentParser, run_main
from ..imagenet import parse_subject
from ..images import check_writable
from ..loop import Renderer, check
from ..settings import Setting, add_flags, above, between, defaults, given, validate
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
    Setting('gif', False, 'write an animated GIF instead of an mp4 (also chosen by an '
                          '--out ending in .gif)', type=bool),
    Setting('out', None, 'file to write (default: dream.mp4, or dream.gif with --gif)',
            metavar='PATH'),
    Setting('no_progress', False, 'no progress bar', type=bool),
)
DEFAULTS = defaults(SETTINGS)
#: A GIF's frames unless --frame-size is given.
GIF_SIZE = (288, 512)
OUT, GIF_OUT = 'dream.mp4', 'dream.gif'


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art video --classes volcano,jellyfish --seconds 20',
    'inception-art video --classes goldfish+coral_reef --gif --out dream.gif',
)


def build_parser():
    """The command's flags: its own, the motion, the keyframes' render settings."""
    p = ArgumentParser(prog='inception-art video', examples=EXAMPLES,
                       description=__doc__.splitlines()[0])
    p.add_argument('--classes', required=True, metavar='A,B+C,...',
                   help='subjects in order, comma-separated; each is a class (label word, '
                        'full label, index or WordNet id) or two joined by "+" '
                        '(first below, second above)')
    add_flags(p, SETTINGS)
    add_flags(p.add_argument_group('frames, keyframes and motion'), keyframes.SETTINGS,
              defaults=dict(frame_size=None))
    recipes.add_recipe_flags(p.add_argument_group('render settings of the keyframes'),
                             recipe=keyframes.RECIPE, skip=keyframes.NOT_KEYFRAME)
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def check_args(args):
    """Validate everything before any work; returns ``(settings, motion,
    video)``: the keyframes' :class:`~inception_art.recipes.RenderSettings`,
    the motion (keyword arguments of :class:`~inception_art.video.dream.Dream`)
    and the command's own settings.

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
    loop = dict(keyframes.DEFAULTS, **given(args, keyframes.SETTINGS))
    validate(loop, keyframes.SETTINGS)
    if args.frame_size is None:
        loop['frame_size'] = GIF_SIZE if gif else keyframes.DEFAULTS['frame_size']
    frame = v['frame_size'] = tuple(loop['frame_size'])
    if not gif and (frame[0] % 2 or frame[1] % 2):
        raise ValueError('--frame-size %dx%d: an mp4 needs an even width and height'
                         % frame[::-1])
    v.setdefault('seconds', DEFAULTS['seconds'])
    v.setdefault('subject_seconds', v['seconds'] / len(v['subjects']))
    render = given(args, recipes.SETTINGS)
    s = keyframes.keyframe_settings(args.recipe, frame, render.pop('canvas', None), **render)
    check(s)
    check_writable(out)
    return s, {k: loop[k] for k in keyframes.MOTION}, v


def main(argv=None):
    s, motion, v = check_args(parse_args(argv))
    progress = not v.get('no_progress')
    dream = Dream(s, renderer=Renderer(announce=progress), **motion)
    fps = motion['fps']
    path, frames, interrupted = make_video(
        dream, Schedule(v['subjects'], v['subject_seconds']), v['out'], v['seconds'], fps,
        v['frame_size'], gif=v['gif'], progress=progress)
    print('%s: %d frames, %.1f s at %g fps, %dx%d%s' % (
        path, frames, frames / fps, fps, v['frame_size'][1], v['frame_size'][0],
        ' (interrupted)' if interrupted else ''))
    return 130 if interrupted else 0


if __name__ == '__main__':
    sys.exit(run_main(main))
