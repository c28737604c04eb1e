"""The frame clock without threads or processes: a fake worker hands it
keyframes, and the test takes its frames one by one (``next_frame``), so
what a late keyframe does to the video is exact and quick to see."""
import collections

import cv2
import numpy as np
import pytest

from inception_art.live.clock import FrameClock
from inception_art.live.worker import Keyframe
from inception_art.video.interpolate import Interpolator
from inception_art.video.zoom import Motion, warp

KEY, OUT = (90, 160), (180, 320)
FPS, PERIOD = 25.0, 1.0
MOTION = Motion(1.05, 0.25)


class FakeWorker:
    """Keyframes the test puts in ``ready``; ``poll`` hands them out."""

    def __init__(self):
        self.ready = collections.deque()
        self.granted = 0

    def poll(self):
        return self.ready.popleft() if self.ready else None

    def grant(self, n=1):
        self.granted += n


class FakeHub:
    def publish(self, frame):
        pass


def texture(seed):
    image = np.random.RandomState(seed).randint(0, 256, KEY + (3,)).astype(np.uint8)
    return cv2.GaussianBlur(image, (0, 0), 2.0) * 3 - 255   # uint8 wraps: bold, varied


def next_key(image):
    """What an optimiser makes from ``image``: it zoomed forward one period
    (plus changes of its own, left out here so that the motion is exact)."""
    return warp(image, MOTION.matrix(PERIOD, KEY), np.empty_like(image))


def keyframe(image, number):
    return Keyframe(image, {'text': None}, number, 0.5, 10, 0.0)


def make_clock(coast):
    worker = FakeWorker()
    clock = FrameClock(worker, FakeHub(), Interpolator(MOTION, KEY, OUT), fps=FPS,
                       keyframe_seconds=PERIOD, coast=coast)
    first = texture(0)
    worker.ready.extend([keyframe(first, 1), keyframe(next_key(first), 2)])
    return clock, worker


def frames(clock, n):
    return [clock.frame().copy() for _ in range(n)]


def change(a, b):
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


@pytest.mark.parametrize('coast', [10.0, 0.0])
def test_a_late_keyframe_coasts_or_holds(coast):
    clock, worker = make_clock(coast)
    video = frames(clock, int(FPS * PERIOD) + int(FPS * 4))    # one segment, then 4 s late
    late = video[int(FPS * PERIOD):]
    assert clock.underflows == len(late)
    steps = [change(a, b) for a, b in zip(late, late[1:])]
    if coast == 0:
        assert max(steps) == 0                  # the last frame again
        assert clock.coasts == 0
        return
    # It moves on at the pace of the segment before, slowing down.
    moving = [change(a, b) for a, b in zip(video[1:25], video[2:25])]
    assert min(steps) > 0.2 * np.median(moving)
    assert np.mean(steps[:10]) > np.mean(steps[-10:])
    assert clock.coasts == 1 and clock.status()['coasting']
    assert clock.coast_progress(4.0) == pytest.approx(10 * (1 - np.exp(-0.4)))
    assert clock.coast_progress(1e6) == pytest.approx(10.0)     # never past 10 s of motion


def test_after_a_coast_the_video_goes_on_from_where_it_was():
    """The optimiser that comes back is told where the video will be when
    its keyframe arrives; the segment into that keyframe starts from the
    coasted view: no jump back, no ghost of a different zoom."""
    clock, worker = make_clock(10.0)
    video = frames(clock, int(FPS * PERIOD) + 10)               # 0.4 s into a coast
    # A new optimiser is ready now; its keyframe will take clock's measured
    # 0.5 s, so it continues from the view 0.9 s past the last keyframe.
    start = clock.resume_image()
    expected = clock.interp.newer_beyond(clock.coast_progress(0.4 + 0.5))
    assert np.array_equal(start, expected)
    left = clock.newer.image
    video += frames(clock, 12)          # it arrives a frame sooner than expected
    worker.ready.append(keyframe(next_key(start), 3))
    video += frames(clock, int(FPS * PERIOD) + 1)
    assert clock.keyframes_shown == 2 and clock.longest_coast == pytest.approx(0.88)
    steps = [change(a, b) for a, b in zip(video, video[1:])]
    typical = np.median(steps)
    # Through the coast and into the new segment, each frame one small step
    # from the last: nothing jumps.
    assert max(steps) < 3 * typical, (max(steps), typical)
    # And the new keyframe is on screen at its time, where the motion from
    # the keyframe the coast left has brought it (not a period from there).
    assert change(video[-1], clock.interp.beyond(0.0)) < 1.0
    went_on = warp(left, MOTION.matrix(clock.coast_progress(0.9) + PERIOD, KEY, OUT),
                   np.empty(OUT + (3,), np.uint8))
    assert change(video[-1], went_on) < 3 * typical     # 1.2 here; 14 from the old start


def test_a_keyframe_in_time_needs_no_new_start():
    clock, worker = make_clock(10.0)
    frames(clock, 5)                    # early in the segment: the next is not late
    assert clock.resume_image() is None
    worker.ready.append(keyframe(texture(3), 3))
    frames(clock, 1)
    assert clock.resume_image() is None     # one waits: the optimiser made it already


def test_beyond_zero_is_the_newer_keyframe():
    interp = Interpolator(MOTION, KEY, OUT)
    older = texture(1)
    interp.set_keyframes(older, next_key(older), PERIOD)
    assert change(interp.beyond(0.0), interp.frame(PERIOD)) < 0.5
    assert change(interp.beyond(0.5), interp.frame(PERIOD)) > 2.0
