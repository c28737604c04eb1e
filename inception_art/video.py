"""A zooming dream video: ``python -m inception_art.video --classes volcano,jellyfish``

Keyframes are optimised every few seconds of video, each from the previous
one zoomed forward (:mod:`inception_art.dream`); the frames between them are
interpolated (:mod:`inception_art.interpolate`) and piped into ffmpeg
(:mod:`inception_art.encode`), which writes an H.264 mp4 or an animated GIF.
The subject follows ``--classes``: each entry holds for ``--subject-seconds``,
and ``a+b`` puts ``a`` on the lower half and ``b`` on the upper half.
"""
import math
import sys
from pathlib import Path

from tqdm import tqdm

from . import nets, recipes
from .cli import ArgumentParser, run_main
from .dream import DEFAULTS, Dream, parse_subject, subject_text
from .encode import VideoFile
from .images import check_writable
from .render import PRIORS, check, load_prior, parse_size

#: Output defaults: the 2015 stream's frame size and rate. A GIF is four
#: times smaller by default: at full size a 30 s GIF is over 100 MB.
VIDEO_DEFAULTS = dict(seconds=30.0, fps=25.0, size=(576, 1024), gif_size=(288, 512),
                      out='dream.mp4', gif_out='dream.gif')
#: The default optimisation size is the output's shape at this width at most
#: (448x252 for 1024x576; see README, "Video", for the measurements).
OPT_WIDTH = 448


def default_opt_size(size):
    """The optimisation size for output ``size`` (h, w): the same aspect,
    at most :data:`OPT_WIDTH` wide, sides multiples of 4."""
    h, w = size
    scale = min(1.0, OPT_WIDTH / w)
    return max(32, 4 * round(h * scale / 4)), max(32, 4 * round(w * scale / 4))


class Schedule:
    """Which subject holds at each instant of the video.

    Parameters
    ----------
    subjects : list of tuple of int
        One entry per subject (one or two classes each).
    subject_seconds : float
        How long each holds; past the last entry the list starts again.
    """

    def __init__(self, subjects, subject_seconds):
        self.subjects, self.subject_seconds = list(subjects), float(subject_seconds)

    def at(self, seconds):
        """The subject at video time ``seconds``."""
        # A small tolerance, so that a switch at exactly 15.0 s lands on the
        # keyframe made for 15.0 s despite floating-point sums.
        index = math.floor(seconds / self.subject_seconds + 1e-9)
        return self.subjects[index % len(self.subjects)]


def check_model(name, opt_size):
    """Fail now, not after minutes, on a size the network refuses or a
    VGG weight file that is not there."""
    h, w = opt_size
    if name.startswith('vgg'):
        from .nets import vgg
        from .weights import WeightFileError
        if min(h, w) < vgg.MIN_SIZE:
            raise ValueError('%s needs --opt-size of at least %dx%d; got %dx%d'
                             % (name, vgg.MIN_SIZE, vgg.MIN_SIZE, w, h))
        path = vgg.default_path(int(name[3:]))
        if not path.is_file():
            raise WeightFileError(path, 'file not found')
    elif min(h, w) < 32:
        raise ValueError('%s needs --opt-size of at least 32x32; got %dx%d' % (name, w, h))


def make_video(dream, schedule, out, seconds, fps, size, gif=False, progress=True):
    """Write the video; returns ``(path, frames written, interrupted)``.

    ``dream`` makes the keyframes, every ``dream.keyframe_seconds`` of video;
    the subject of a keyframe is the schedule's at the keyframe's time, and
    the text on a frame is the schedule's at the frame's time. On Ctrl-C the
    frames written so far are kept as a complete file.
    """
    period = dream.keyframe_seconds
    total = max(1, round(seconds * fps))
    interp = dream.interpolator(size)
    segments = math.floor((total - 1) / fps / period) + 1
    bar = tqdm(total=round(total / fps, 2), unit='s', disable=not progress,
               bar_format='{n:.1f}/{total:.1f} s of video |{bar:20}| {desc} '
                          '[{elapsed}<{remaining}]')
    video = VideoFile(out, size, fps, gif=gif)
    try:
        with video:
            _frames(dream, schedule, interp, video, total, fps, segments, bar)
    except KeyboardInterrupt:
        if not video.finished:
            raise               # no file was kept: an ordinary interrupt
    finally:
        bar.close()
    return video.path, video.frames, video.interrupted


def _frames(dream, schedule, interp, video, total, fps, segments, bar):
    """The keyframe loop and the frames between keyframes (see make_video)."""
    period = dream.keyframe_seconds
    dream.set_subject(schedule.at(0.0))
    older = dream.next_keyframe()
    frame, buffer = 0, None
    last = (total - 1) / fps
    for k in range(segments):
        # The last keyframe may lie past the end: it takes the subject of the
        # last frame, not one that never shows.
        subject = schedule.at(min((k + 1) * period, last))
        bar.set_description_str('keyframe %d/%d: %s' % (k + 2, segments + 1,
                                                         subject_text(subject)))
        bar.refresh()
        dream.set_subject(subject)
        newer = dream.next_keyframe()
        interp.set_keyframes(older, newer, period)
        while frame < total and frame / fps < (k + 1) * period:
            t = frame / fps
            interp.set_text(subject_text(schedule.at(t)))
            buffer = interp.frame(t - k * period, out=buffer)
            video.write(buffer)
            frame += 1
            bar.update(round(frame / fps, 2) - bar.n)
        older = newer


def parse_args(argv=None):
    d, v = DEFAULTS, VIDEO_DEFAULTS
    k = recipes.settings(d['recipe'])
    p = ArgumentParser(prog='python -m inception_art.video',
                                description=__doc__.splitlines()[0])
    p.add_argument('--classes', required=True, metavar='A,B+C,...',
                   help='subjects in order, comma-separated; each is a class (label word, '
                        'full label, index or WordNet id) or two joined by "+" '
                        '(first below, second above)')
    p.add_argument('--seconds', type=float, default=v['seconds'],
                   help='length of the video (default: %(default)s)')
    p.add_argument('--subject-seconds', type=float, metavar='S',
                   help='how long each subject holds (default: --seconds divided by '
                        'the number of subjects); the list repeats')
    p.add_argument('--fps', type=float, default=v['fps'],
                   help='frames per second (default: %(default)s)')
    p.add_argument('--size', metavar='WxH',
                   help='frame size (default: 1024x576; 512x288 with --gif)')
    p.add_argument('--opt-size', metavar='WxH',
                   help='size of the optimised keyframes (default: the frame shape at '
                        'most %d wide: 448x252 for 1024x576)' % OPT_WIDTH)
    p.add_argument('--zoom', type=float, default=d['zoom'],
                   help='magnification per second, >= 1 (default: %(default)s)')
    p.add_argument('--rotation', type=float, default=d['degrees_per_frame'],
                   metavar='DEGREES', help='turn per frame, anticlockwise '
                                           '(default: %(default)s)')
    p.add_argument('--keyframe-seconds', type=float, default=d['keyframe_seconds'],
                   help='video time between keyframes (default: %(default)s)')
    p.add_argument('--recipe', default=d['recipe'], choices=tuple(recipes.RECIPES),
                   help='render settings of the keyframes; its steps are per keyframe '
                        '(default: %(default)s; 2015-stream: the 2015 stream\'s)')
    p.add_argument('--steps-per-keyframe', type=int, metavar='N',
                   help='steps per keyframe (default: the recipe\'s, %d)' % k['steps'])
    p.add_argument('--warmup-steps', type=int, default=d['warmup_steps'], metavar='N',
                   help='steps of the first keyframe, from the start image (default: '
                        '%(default)s)')
    p.add_argument('--model', choices=nets.NAMES,
                   help='network (default: the recipe\'s, %s)' % k['model'])
    p.add_argument('--prior', choices=PRIORS,
                   help='natural-image prior (default: the recipe\'s, %s)' % k['prior'])
    p.add_argument('--prior-strength', type=float,
                   help='weight of the prior term (default: the recipe\'s, %g)'
                        % k['prior_strength'])
    p.add_argument('--lr', type=float,
                   help='learning rate (default: the recipe\'s, %g)' % k['lr'])
    p.add_argument('--seed', type=int, help='random seed (default: 0)')
    p.add_argument('--gif', action='store_true',
                   help='write an animated GIF instead of an mp4 (also chosen by an '
                        '--out ending in .gif)')
    p.add_argument('--out', metavar='PATH',
                   help='file to write (default: dream.mp4, or dream.gif with --gif)')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def check_args(args):
    """Validate everything before any work; returns the settings.

    Raises ValueError / OSError with one-line messages (see
    :func:`inception_art.cli.run_main`).
    """
    entries = [e for e in args.classes.split(',')]
    if not args.classes.strip() or not all(e.strip() for e in entries):
        raise ValueError('--classes %r: give class names separated by commas, '
                         'e.g. volcano,jellyfish+tabby' % args.classes)
    subjects = [parse_subject(e.strip()) for e in entries]
    gif = args.gif or (args.out or '').lower().endswith('.gif')
    out = Path(args.out or VIDEO_DEFAULTS['gif_out' if gif else 'out'])
    if gif and out.suffix.lower() not in ('.gif', ''):
        raise ValueError('--gif writes a GIF, but --out %s ends in %s; use a .gif name'
                         % (out, out.suffix))
    size = parse_size(args.size) if args.size else VIDEO_DEFAULTS[
        'gif_size' if gif else 'size']
    if not gif and (size[0] % 2 or size[1] % 2):
        raise ValueError('--size %dx%d: an mp4 needs an even width and height'
                         % size[::-1])
    # The keyframe size: --opt-size, else the recipe's when it has the
    # frames' shape and is no wider (2015-stream: 840x472 for 1024x576),
    # else the frames' shape at most 448 wide.
    own = recipes.settings(args.recipe)['size']
    opt_size = (parse_size(args.opt_size) if args.opt_size
                else own if own and own[1] <= size[1] and abs(math.log(
                    (own[1] / own[0]) / (size[1] / size[0]))) <= 0.02
                else default_opt_size(size))
    if abs(math.log((opt_size[1] / opt_size[0]) / (size[1] / size[0]))) > 0.02:
        raise ValueError('--opt-size %dx%d and --size %dx%d differ in shape; give '
                         'both the same aspect ratio' % (opt_size[::-1] + size[::-1]))
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= 24 * 3600):
        raise ValueError('--seconds must be above 0 (and at most a day), got %g' % args.seconds)
    if not (math.isfinite(args.fps) and 0 < args.fps <= 120):
        raise ValueError('--fps must be above 0 and at most 120, got %g' % args.fps)
    if not (math.isfinite(args.zoom) and 1 <= args.zoom <= 4):
        raise ValueError('--zoom must be between 1 (no zoom) and 4 per second, got %g'
                         % args.zoom)
    if not math.isfinite(args.rotation) or abs(args.rotation) > 10:
        raise ValueError('--rotation must be within +-10 degrees per frame, got %g'
                         % args.rotation)
    if not (math.isfinite(args.keyframe_seconds) and args.keyframe_seconds > 0):
        raise ValueError('--keyframe-seconds must be above 0, got %g' % args.keyframe_seconds)
    subject_seconds = (args.subject_seconds if args.subject_seconds is not None
                       else args.seconds / len(subjects))
    if not (math.isfinite(subject_seconds) and subject_seconds > 0):
        raise ValueError('--subject-seconds must be above 0, got %g' % subject_seconds)
    if args.warmup_steps < 0:
        raise ValueError('--warmup-steps must be >= 0')
    settings = {name: value for name, value in (
        ('steps', args.steps_per_keyframe), ('model', args.model), ('prior', args.prior),
        ('prior_strength', args.prior_strength), ('lr', args.lr), ('seed', args.seed))
        if value is not None}
    keyframes = recipes.settings(args.recipe, **dict(settings, size=opt_size, octaves=1))
    check_model(keyframes['model'], opt_size)
    check(keyframes)
    load_prior(keyframes['prior'])    # a missing prior file fails now
    check_writable(out)
    return dict(subjects=subjects, subject_seconds=subject_seconds, gif=gif, out=out,
                size=size, opt_size=opt_size, settings=settings)


def main(argv=None):
    args = parse_args(argv)
    s = check_args(args)
    dream = Dream(args.recipe, opt_size=s['opt_size'], warmup_steps=args.warmup_steps,
                  zoom=args.zoom, degrees_per_frame=args.rotation, fps=args.fps,
                  keyframe_seconds=args.keyframe_seconds, **s['settings'])
    path, frames, interrupted = make_video(
        dream, Schedule(s['subjects'], s['subject_seconds']), s['out'], args.seconds,
        args.fps, s['size'], gif=s['gif'], progress=not args.quiet)
    print('%s: %d frames, %.1f s at %g fps, %dx%d%s' % (
        path, frames, frames / args.fps, args.fps, s['size'][1], s['size'][0],
        ' (interrupted)' if interrupted else ''))
    return 130 if interrupted else 0


if __name__ == '__main__':
    sys.exit(run_main(main))
