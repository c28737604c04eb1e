"""A film of a dream: the keyframes, the frames between them, the file.

:func:`make_video` asks a :class:`~inception_art.video.dream.Dream` for a
keyframe every ``keyframe_seconds`` of video, with the subject the
:class:`Schedule` gives for that instant, interpolates the frames between
keyframes (:mod:`inception_art.video.interpolate`) and pipes them into
ffmpeg (:mod:`inception_art.video.encode`). ``python -m inception_art.video``
is the command over it.
"""
import math

from tqdm import tqdm

from ..imagenet import subject_text
from .encode import VideoFile


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


def make_video(dream, schedule, out, seconds, fps, frame_size, gif=False, progress=True):
    """Write the video; returns ``(path, frames written, interrupted)``.

    ``dream`` makes the keyframes, every ``dream.keyframe_seconds`` of video;
    the subject of a keyframe is the schedule's at the keyframe's time, and
    the text on a frame is the schedule's at the frame's time. On Ctrl-C the
    frames written so far are kept as a complete file.
    """
    period = dream.keyframe_seconds
    total = max(1, round(seconds * fps))
    interp = dream.interpolator(frame_size)
    segments = math.floor((total - 1) / fps / period) + 1
    bar = tqdm(total=round(total / fps, 2), unit='s', disable=not progress,
               bar_format='{n:.1f}/{total:.1f} s of video |{bar:20}| {desc} '
                          '[{elapsed}<{remaining}]')
    video = VideoFile(out, frame_size, fps, gif=gif)
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
