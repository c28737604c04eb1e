"""The zooming video: geometry, interpolation, the keyframe loop, the ffmpeg
writer and the command. Real ffmpeg (the one imageio-ffmpeg bundles) reads
back every file; the keyframe loop runs on the small test network, and one
short command run uses the real Lite0."""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import tiny_network
from inception_art.cli import run_main
from inception_art.imagenet import parse_subject, subject_text
from inception_art.video import __main__ as command, film
from inception_art.video.dream import Dream, default_canvas, keyframe_settings
from inception_art.video.encode import (EncoderError, FFmpegPipe, GifDither, VideoFile,
                                        gif_palette, mp4_args, probe, read_frames)
from inception_art.video.interpolate import Interpolator
from inception_art.video.zoom import Motion, covered, warp, zoom_matrix

TESTS = Path(__file__).resolve().parent


def dots(size, offsets, radius=2.0):
    """A black (h, w, 3) uint8 picture with a white blob at each (dx, dy)
    offset from the centre."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w), np.float64)
    for dx, dy in offsets:
        img += np.exp(-((xs - (w - 1) / 2 - dx) ** 2 + (ys - (h - 1) / 2 - dy) ** 2)
                      / (2 * radius ** 2))
    return np.repeat((255 * np.clip(img, 0, 1)).astype(np.uint8)[..., None], 3, axis=2)


def blob_centres(frame, n):
    """Centroids (x, y) of the ``n`` largest bright blobs, as offsets from
    the frame centre, sorted by x then y (rounded to whole pixels)."""
    grey = frame[..., 0].astype(np.float64)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((grey > 40).astype(np.uint8))
    biggest = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:n] + 1
    h, w = grey.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = []
    for label in biggest:
        weight = grey * (labels == label)
        out.append(((weight * xs).sum() / weight.sum() - (w - 1) / 2,
                    (weight * ys).sum() / weight.sum() - (h - 1) / 2))
    return sorted(out, key=lambda p: (round(p[0]), round(p[1])))


# ------------------------------------------------------------- geometry --

def test_zoom_matrix_identity_and_resize():
    assert np.allclose(zoom_matrix(1.0, 0.0, (60, 100)), [[1, 0, 0], [0, 1, 0]])
    # 100x60 shown at 200x120: output pixel x maps to (x + 0.5) / 2 - 0.5.
    m = zoom_matrix(1.0, 0.0, (60, 100), (120, 200))
    assert np.allclose(m @ [0, 0, 1], [-0.25, -0.25])
    assert np.allclose(m @ [199, 119, 1], [99.25, 59.25])


@pytest.mark.parametrize('seconds', [1.0, 3.0, -2.0])
def test_zoom_keeps_centre_and_scales_per_second(seconds):
    """Blobs at +-20 px about the centre of a 160x120 pattern, zoomed by
    Motion(1.05/s) for ``seconds`` and shown at twice the size: the centre
    blob stays at the centre, the others move out by 2 * 1.05**seconds."""
    motion = Motion(zoom=1.05, degrees_per_second=0.0)
    offsets = [(0, 0), (-20, 0), (20, 0), (0, -20), (0, 20)]
    src = dots((120, 160), offsets)
    out = warp(src, motion.matrix(seconds, (120, 160), (240, 320)),
               np.empty((240, 320, 3), np.uint8))
    found = blob_centres(out, 5)
    scale = 2 * 1.05 ** seconds
    expected = sorted(((dx * scale, dy * scale) for dx, dy in offsets),
                      key=lambda p: (round(p[0]), round(p[1])))
    # Within 0.1 px at 46 px: 0.2 %, where 1.04/s instead would be 3 % off.
    assert np.allclose(found, expected, atol=0.1), (found, expected)


def test_rotation_turns_anticlockwise_by_degrees_per_second():
    motion = Motion(zoom=1.0, degrees_per_second=5.0)
    src = dots((121, 161), [(40, 0)])
    out = warp(src, motion.matrix(2.0, src.shape[:2]), np.empty_like(src))
    (x, y), = blob_centres(out, 1)
    # Anticlockwise on the screen: y points down, so the blob goes up.
    assert math.degrees(math.atan2(-y, x)) == pytest.approx(10.0, abs=0.1)
    assert math.hypot(x, y) == pytest.approx(40.0, abs=0.1)


def erode(mask):
    """``mask`` less its edge pixels (3x3)."""
    return cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def test_warp_keep_outside_fills_only_covered_pixels():
    src = np.full((60, 100, 3), 200, np.uint8)
    m = zoom_matrix(0.5, 3.0, (60, 100), (90, 150))
    out = np.full((90, 150, 3), 7, np.uint8)
    warp(src, m, out, keep_outside=True)
    inside = covered(m, (60, 100), (90, 150))
    assert 0.2 < inside.mean() < 0.3               # half the width and height
    # OpenCV rounds coordinates to 1/32 pixel: at the very edge it may
    # decide a pixel differently; elsewhere it agrees, and no pixel is a
    # blend of the picture and what was there.
    assert (out[erode(inside)] == 200).all()
    assert (out[erode(~inside)] == 7).all()
    assert np.isin(out, (7, 200)).all()


# -------------------------------------------------------- interpolation --

def test_interpolation_passes_through_keyframes_and_crossfades():
    rng = np.random.RandomState(0)
    k0 = cv2.resize(rng.randint(0, 255, (12, 20, 3)).astype(np.uint8), (160, 96))
    k1 = cv2.resize(rng.randint(0, 255, (12, 20, 3)).astype(np.uint8), (160, 96))
    interp = Interpolator(Motion(1.05, 0.25), (96, 160), (96, 160))
    interp.set_keyframes(k0, k1, 3.0)
    assert np.array_equal(interp.frame(0.0), k0)
    assert np.abs(interp.frame(3.0).astype(int) - k1).max() <= 1
    # Halfway: the older keyframe zoomed forward 1.5 s, the newer one zoomed
    # back 1.5 s, half each; the newer one's missing border shows the older.
    t = 1.5
    a = warp(k0, interp.motion.matrix(t, (96, 160)), np.empty_like(k0)).astype(float)
    m1 = interp.motion.matrix(t - 3.0, (96, 160))
    b = warp(k1, m1, np.zeros_like(k0)).astype(float)
    inside = covered(m1, (96, 160), (96, 160))
    frame = interp.frame(t).astype(float)
    core = erode(inside)
    assert np.abs(frame[core] - (a[core] + b[core]) / 2).max() <= 1
    border = erode(~inside)
    assert border.sum() > 100
    assert np.abs(frame[border] - a[border]).max() <= 1


def test_interpolated_frames_change_smoothly_between_keyframes():
    rng = np.random.RandomState(1)
    keys = [cv2.resize(rng.randint(0, 255, (9, 16, 3)).astype(np.uint8), (160, 90))
            for _ in range(3)]
    interp = Interpolator(Motion(1.05, 0.25), (90, 160), (180, 320))
    frames = []
    for older, newer in zip(keys, keys[1:]):
        interp.set_keyframes(older, newer, 2.0)
        frames += [interp.frame(i / 25) for i in range(50)]
    steps = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:])]
    between_keys = np.abs(frames[0].astype(int) - frames[50]).mean()
    assert max(steps) < between_keys / 10


def test_text_overlay_is_drawn_top_left_only():
    k = np.full((90, 160, 3), 100, np.uint8)
    interp = Interpolator(Motion(1.0, 0.0), (90, 160), (180, 320))
    interp.set_keyframes(k, k, 1.0)
    plain = interp.frame(0.5)
    interp.set_text('volcano + jellyfish')
    marked = interp.frame(0.5)
    changed = (plain != marked).any(-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 200
    assert ys.max() < 180 * 0.25 and xs.min() < 20 and xs.max() < 320 * 0.9
    assert marked.max() > 230 and marked.min() < 40       # white text, dark edge
    interp.set_text(None)
    assert np.array_equal(interp.frame(0.5), plain)


def test_interpolator_rejects_wrong_keyframes():
    interp = Interpolator(Motion(), (90, 160), (180, 320))
    with pytest.raises(ValueError, match='160x90'):
        interp.set_keyframes(np.zeros((90, 161, 3), np.uint8), np.zeros((90, 160, 3), np.uint8), 1)
    with pytest.raises(RuntimeError):
        interp.frame(0.0)


# --------------------------------------------------------------- writer --

def ramp_frames(n, size=(72, 128)):
    """Frames whose brightness encodes their index (readable after H.264)."""
    h, w = size
    return [np.full((h, w, 3), 10 + 20 * (i % 12), np.uint8) for i in range(n)]


def test_mp4_read_back_has_count_fps_size_and_content(tmp_path):
    out = tmp_path / 'ramp.mp4'
    frames = ramp_frames(30)
    with VideoFile(out, (72, 128), 12.5) as v:
        for f in frames:
            v.write(f)
    info = probe(out)
    assert info == dict(frames=30, width=128, height=72, fps=12.5, codec='h264',
                        pix_fmt='yuv420p')
    back = read_frames(out)
    assert np.abs(back.astype(int) - np.stack(frames)).mean() < 2
    assert not list(tmp_path.glob('.ramp*'))                  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask      # not mkstemp's 0600


def test_interrupt_inside_writer_keeps_playable_file(tmp_path):
    out = tmp_path / 'cut.mp4'
    out.write_bytes(b'old')
    with pytest.raises(KeyboardInterrupt):
        with VideoFile(out, (72, 128), 25) as v:
            for i, f in enumerate(ramp_frames(40)):
                if i == 17:
                    raise KeyboardInterrupt
                v.write(f)
    assert v.interrupted
    assert probe(out)['frames'] == 17
    assert not list(tmp_path.glob('.cut*'))


def test_interrupt_while_ffmpeg_finishes_still_keeps_the_file(tmp_path, monkeypatch):
    """A Ctrl-C that lands while close() waits for ffmpeg: ffmpeg finishes,
    the file is renamed into place, and the interrupt is then re-raised."""
    out = tmp_path / 'late.mp4'
    out.write_bytes(b'old')
    v = VideoFile(out, (72, 128), 25)
    for f in ramp_frames(9):
        v.write(f)
    real_wait, calls = v.pipe.process.wait, []

    def wait(timeout=None):
        calls.append(timeout)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_wait(timeout)
    monkeypatch.setattr(v.pipe.process, 'wait', wait)
    with pytest.raises(KeyboardInterrupt):
        v.close()
    assert v.interrupted and v.finished
    assert probe(out)['frames'] == 9
    assert not list(tmp_path.glob('.late*'))


def test_error_or_empty_film_leaves_old_file(tmp_path):
    out = tmp_path / 'keep.mp4'
    out.write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with VideoFile(out, (72, 128), 25) as v:
            v.write(ramp_frames(1)[0])
            raise RuntimeError('boom')
    with pytest.raises(EncoderError, match='no frames'):
        with VideoFile(out, (72, 128), 25):
            pass
    with pytest.raises(ValueError, match='128x72'):
        with VideoFile(out, (72, 128), 25) as v:
            v.write(np.zeros((72, 130, 3), np.uint8))
    assert out.read_bytes() == b'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['keep.mp4']


def test_ffmpeg_failure_is_one_line(tmp_path):
    pipe = FFmpegPipe((72, 128), 25, mp4_args() + [str(tmp_path / 'no' / 'dir' / 'x.mp4')])
    with pytest.raises(EncoderError) as e:
        for f in ramp_frames(200):
            pipe.write(f)
        pipe.close()
    assert 'No such file' in str(e.value) and '\n' not in str(e.value)


def test_ffmpeg_on_a_full_disk_says_so():
    """ENOSPC (Linux's /dev/full refuses every write so): ffmpeg's error
    knows that the output did not fit (VideoFile then says so in one line,
    as the full-disk test of the command checks)."""
    pipe = FFmpegPipe((72, 128), 25, ['-c:v', 'libx264', '-f', 'h264', '/dev/full'])
    with pytest.raises(EncoderError) as e:
        for f in ramp_frames(200):
            pipe.write(f)
        pipe.close()
    assert e.value.out_of_space == 'the disk is full', str(e.value)


def test_gif_is_dithered_onto_its_palette_and_read_back(tmp_path):
    rng = np.random.RandomState(0)
    frame = cv2.resize(rng.randint(0, 255, (6, 8, 3)).astype(np.uint8), (128, 72))
    dithered = GifDither((72, 128))(frame)
    palette = {tuple(c) for c in gif_palette()}
    assert len(palette) == 256
    assert {tuple(c) for c in dithered.reshape(-1, 3)} <= palette
    # Dithering keeps local means: blurred, it is close to the original.
    blur = lambda a: cv2.blur(a.astype(np.float32), (8, 8))
    assert np.abs(blur(dithered) - blur(frame)).mean() < 6

    out = tmp_path / 'ramp.gif'
    with VideoFile(out, (72, 128), 25, gif=True) as v:
        for f in ramp_frames(10) + [frame]:
            v.write(f)
    info = probe(out)
    assert (info['frames'], info['width'], info['height'], info['codec']) == (11, 128, 72, 'gif')
    back = read_frames(out)
    assert np.abs(back[-1].astype(int) - dithered).max() == 0   # exactly the dithered frame


# ---------------------------------------------------------- keyframes --

@pytest.fixture(scope='module')
def tiny_dream():
    return Dream(keyframe_settings(model=tiny_network, canvas=(40, 48), steps=3, prior='none',
                                   jitter=2, blur=0.5, blur_every=2),
                 warmup_steps=5, keyframe_seconds=2.0)


def test_keyframe_starts_from_previous_zoomed_forward(tiny_dream):
    dream = tiny_dream
    dream.keyframe = None
    dream.set_subject(3)
    first = dream.next_keyframe()
    assert first.flags.c_contiguous
    assert dream.optimizer.rule.t.get_value() == 5          # the warm-up
    # The dream zooms its float image, not the rounded keyframe (whose
    # rounding alone, interpolated, is up to 0.5 grey levels more).
    before = np.ascontiguousarray(dream.optimizer.get_float_image())
    assert np.abs(before - first).max() <= 0.5
    lr = dream.optimizer.rule.lr.get_value()
    dream.optimizer.rule.lr.set_value(np.float32(1e-4))   # hardly move
    settings, dream.settings = dream.settings, dream.settings.replace(blur=0)
    try:
        second = dream.next_keyframe()
    finally:
        dream.optimizer.rule.lr.set_value(lr)
        dream.settings = settings
    expected = warp(before, dream.motion.matrix(2.0, dream.size), np.empty_like(before))
    # 0.5 for the rounding of the new keyframe; the rest is three steps at lr 1e-4
    assert np.abs(second - expected).max() <= 0.8
    # Adam starts afresh at every keyframe.
    assert dream.optimizer.rule.t.get_value() == dream.steps


def test_subject_changes_without_recompiling(tiny_dream):
    dream = tiny_dream
    step = dream.optimizer._step
    assert dream.set_subject('4+7') == (4, 7)
    assert dream.optimizer.objective.classes == (4, 7)
    assert dream.subject_text == subject_text((4, 7))
    dream.next_keyframe()
    assert dream.optimizer._step is step
    with pytest.raises(ValueError, match='volcano'):
        dream.set_subject('volcanoe')
    assert dream.subject == (4, 7)


def test_a_dream_of_the_2015_stream_recipe():
    """The recipe's settings reach the keyframe step: the photograph start,
    the 2015 Adam, pixels, the prior at the stream's scales."""
    from inception_art.prior import VIDEO_SCALES
    from inception_art.loop import initial_image
    from inception_art.updates import Adam2015
    dream = Dream(keyframe_settings('2015-stream', model=tiny_network, canvas=(40, 48)),
                  warmup_steps=0)
    assert dream.steps == 10 and isinstance(dream.optimizer.rule, Adam2015)
    np.testing.assert_array_equal(dream.start_image(), initial_image('photo', (40, 48), 0))
    prior = dream.optimizer.random_parts[-1]
    assert prior.scales == VIDEO_SCALES and prior.stride == 1
    assert float(dream.optimizer.prior_strength.get_value()) == 10.0
    first = dream.next_keyframe().astype(int)
    # 10 steps of the 2015 Adam at lr 5 from the photograph: it is still there.
    assert np.abs(first - dream.start_image()).mean() < 30


def test_parse_subject():
    assert parse_subject('volcano') == (980,)
    assert parse_subject(' volcano + jellyfish ') == (980, 107)
    assert parse_subject([1, 2]) == (1, 2)
    for bad in ('a+b+c', '+volcano', ''):
        with pytest.raises(ValueError):
            parse_subject(bad)


def test_make_video_follows_schedule_and_keeps_frames_on_interrupt(tiny_dream, tmp_path,
                                                                    monkeypatch):
    dream = tiny_dream
    dream.keyframe = None
    subjects = []
    real = dream.set_subject
    monkeypatch.setattr(dream, 'set_subject', lambda s: subjects.append(s) or real(s))
    schedule = film.Schedule([(1,), (2, 3)], subject_seconds=3.0)
    out = tmp_path / 'tiny.mp4'
    path, frames, interrupted = film.make_video(dream, schedule, out, seconds=5.0, fps=10,
                                                 frame_size=(80, 96), progress=False)
    assert (path, frames, interrupted) == (out, 50, False)
    info = probe(out)
    assert (info['frames'], info['width'], info['height'], info['fps']) == (50, 96, 80, 10.0)
    # Keyframes at 0, 2, 4 and 6 s; the one at 6 s takes the last frame's subject.
    assert subjects == [(1,), (1,), (2, 3), (2, 3)]

    # Ctrl-C in the middle: the frames so far make a complete file.
    calls = []
    write = VideoFile.write

    def interrupting_write(self, frame):
        calls.append(1)
        if len(calls) == 23:
            raise KeyboardInterrupt
        write(self, frame)
    monkeypatch.setattr(VideoFile, 'write', interrupting_write)
    path, frames, interrupted = film.make_video(dream, schedule, out, seconds=5.0, fps=10,
                                                 frame_size=(80, 96), progress=False)
    assert (frames, interrupted) == (22, True)
    assert probe(out)['frames'] == 22


def test_schedule_cycles():
    s = film.Schedule([(1,), (2,)], 2.5)
    assert [s.at(t) for t in (0, 2.49, 2.5, 5.0, 7.6)] == [(1,), (1,), (2,), (1,), (2,)]


# -------------------------------------------------------------- command --

@pytest.mark.parametrize('args, words', [
    (['--classes', 'volcanoe'], ['unknown', 'volcano']),
    (['--classes', 'volcano,,jellyfish'], ['--classes']),
    (['--classes', 'volcano+jellyfish+tabby'], ['two joined']),
    (['--classes', 'volcano', '--frame-size', '1024'], ['WIDTHxHEIGHT']),
    (['--classes', 'volcano', '--frame-size', '1023x576'], ['even']),
    (['--classes', 'volcano', '--size', '1023x576'], ['unrecognized', '--size']),  # gone
    (['--classes', 'volcano', '--canvas', '448x448'], ['aspect']),
    (['--classes', 'volcano', '--opt-size', '448x448'], ['unrecognized', '--opt-size']),
    (['--classes', 'volcano', '--zoom', '0.95'], ['--zoom']),
    (['--classes', 'volcano', '--fps', '0'], ['--fps']),
    (['--classes', 'volcano', '--seconds', '-1'], ['--seconds']),
    (['--classes', 'volcano', '--keyframe-seconds', '0'], ['--keyframe-seconds']),
    (['--classes', 'volcano', '--steps', '0'], ['--steps']),
    (['--classes', 'volcano', '--warmup-steps', '-1'], ['--warmup-steps']),
    (['--classes', 'volcano', '--out', 'no/such/dir/x.mp4'], ['does not exist']),
    (['--classes', 'volcano', '--gif', '--out', 'x.mp4'], ['.gif']),
    (['--classes', 'volcano', '--model', 'vgg16', '--frame-size', '1024x576'], ['vgg16.pkl']),
    (['--classes', 'volcano', '--model', 'vgg16', '--canvas', '320x180'], ['minimum 224x224']),
])
def test_bad_arguments_fail_before_any_work(args, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('INCEPTION_ART_MODELS', str(tmp_path))
    monkeypatch.setattr(command, 'Dream', lambda *a, **k: pytest.fail('work started'))
    assert run_main(command.main, args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), lines
    for word in words:
        assert word in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_recipe_2015_stream_makes_840x472_keyframes(tmp_path, monkeypatch):
    """``--recipe 2015-stream``: the keyframes take the recipe's 840x472
    (the 1024x576 frames' shape), its 10 steps and its prior; an unknown
    recipe is one line."""
    monkeypatch.chdir(tmp_path)
    s, motion, _ = command.check_args(command.parse_args(
        ['--classes', 'volcano', '--recipe', '2015-stream']))
    assert s['canvas'] == (472, 840) and s.recipe == '2015-stream' and s['steps'] == 10
    assert s == keyframe_settings('2015-stream', (576, 1024))
    s, _, _ = command.check_args(command.parse_args(['--classes', 'volcano']))
    assert s['canvas'] == (252, 448)
    # A GIF's 512x288 is narrower than 840: the frames' shape at most 448 wide.
    s, _, _ = command.check_args(command.parse_args(['--classes', 'volcano', '--gif',
                                                     '--recipe', '2015-stream']))
    assert s['canvas'] == (252, 448)
    with pytest.raises(ValueError, match='invalid choice'):
        command.parse_args(['--classes', 'volcano', '--recipe', 'nope'])


def test_default_sizes():
    assert default_canvas((576, 1024)) == (252, 448)
    assert default_canvas((288, 512)) == (252, 448)
    assert default_canvas((120, 160)) == (120, 160)


def run_video(*args, **kwargs):
    return subprocess.Popen([sys.executable, '-m', 'inception_art.video', *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


@pytest.mark.full_network
def test_command_writes_the_video(tmp_path):
    """One short real run: Lite0 with its prior, two subjects."""
    out = tmp_path / 'dream.mp4'
    proc = run_video('--classes', 'volcano,jellyfish+tabby', '--seconds', '2', '--fps', '10',
                     '--frame-size', '192x128', '--canvas', '96x64', '--keyframe-seconds', '1',
                     '--out', out)
    stdout, stderr = (s.decode() for s in proc.communicate(timeout=600))
    assert proc.returncode == 0, stderr
    assert '20 frames' in stdout
    assert '2.0/2.0 s of video' in stderr and 'jellyfish + tabby' in stderr
    info = probe(out)
    assert (info['frames'], info['width'], info['height'], info['fps']) == (20, 192, 128, 10.0)
    frames = read_frames(out).astype(int)
    steps = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:])]
    keyframes = np.abs(frames[0] - frames[10]).mean()     # keyframes at 0 and 1 s
    assert keyframes > 2 and np.median(steps) < keyframes / 3
    assert not list(tmp_path.glob('.dream*'))


SIGINT_DRIVER = '''
import sys
sys.path.insert(0, %r)
from conftest import tiny_network
from conftest import tiny_network
from inception_art.video import film
from inception_art.video.dream import Dream, keyframe_settings
dream = Dream(keyframe_settings(model=tiny_network, canvas=(40, 48), steps=2, prior='none'),
              warmup_steps=0, keyframe_seconds=1.0)
path, frames, interrupted = film.make_video(
    dream, film.Schedule([(1,)], 100), sys.argv[1], seconds=100, fps=25, frame_size=(80, 96))
sys.exit(130 if interrupted else 0)
'''


def read_until(proc, marker, timeout=300):
    """What ``proc`` writes to its stderr up to and including ``marker``
    (its progress bar reaching a point); fails if it never comes."""
    seen, deadline = b'', time.time() + timeout
    while marker not in seen and time.time() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert marker in seen, seen[-500:]
    return seen


def interrupt_group_at_3_s(command, **kwargs):
    """Run ``command`` in a process group of its own; once its progress bar
    reaches 3.0 s of video, send SIGINT to the whole group, as a terminal's
    Ctrl-C does. Returns the process (ended) and all it wrote to stderr."""
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, start_new_session=True,
                            **kwargs)
    seen = read_until(proc, b'3.0/')
    os.killpg(proc.pid, signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    return proc, seen + rest


def test_ctrl_c_leaves_playable_file(tmp_path):
    """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process
    group. The writer runs in a group of its own here, standing for the
    terminal's foreground group, and the signal goes to that group; ffmpeg
    survives it only because the encoder starts it in a session of its own
    (without that, the file is cut off and unplayable)."""
    out = tmp_path / 'stopped.mp4'
    proc, said = interrupt_group_at_3_s([sys.executable, '-c', SIGINT_DRIVER % str(TESTS),
                                         str(out)])
    assert proc.returncode == 130, said[-500:]
    frames = probe(out)['frames']
    assert 75 <= frames < 2500
    read_frames(out)                                  # every frame decodes
    assert not list(tmp_path.glob('.stopped*'))


@pytest.mark.full_network
def test_ctrl_c_in_make_video_keeps_a_playable_file(tmp_path):
    """The user's case end to end: ``make video`` with the real Lite0, and
    Ctrl-C sent, as a terminal sends it, to make, Python and everything
    else in the foreground group."""
    out = tmp_path / 'dream.mp4'
    _, said = interrupt_group_at_3_s(
        ['make', '-s', 'video', 'CLASSES=volcano', 'SECONDS=100', 'FPS=10', 'FRAME_SIZE=192x128',
         'CANVAS=96x64', 'KEYFRAME_SECONDS=1', 'STEPS=2', 'WARMUP_STEPS=2', 'OUT=%s' % out],
        cwd=TESTS.parent)
    assert b'Traceback' not in said, said[-800:]
    frames = probe(out)['frames']
    assert 30 <= frames < 1000
    assert len(read_frames(out)) == frames             # every frame decodes
    assert not list(tmp_path.glob('.dream*'))


@pytest.mark.full_network
def test_a_full_disk_keeps_the_old_video_and_says_so_in_one_line(tmp_path):
    """The disk fills while the video is written: once ffmpeg is writing
    frames, a file-size limit (RLIMIT_FSIZE, as ``ulimit -f`` sets it) is
    put on it. ffmpeg ends (the kernel's SIGXFSZ); the video already at
    --out stays as it was, no temporary file is left, and the user gets one
    line and exit status 2."""
    import resource
    from testkit.procs import command_line, descendants
    out = tmp_path / 'dream.mp4'
    with VideoFile(out, (72, 128), 25) as v:
        for f in ramp_frames(10):
            v.write(f)
    before = out.read_bytes()
    proc = run_video('--classes', 'volcano', '--seconds', 100, '--fps', 10,
                     '--frame-size', '192x128', '--canvas', '96x64', '--keyframe-seconds', 1,
                     '--steps', 2, '--warmup-steps', 2, '--out', out)
    try:
        seen = read_until(proc, b'1.0/')
        ffmpeg = [p for p in descendants(proc.pid)
                  if os.path.basename((command_line(p) or [''])[0]).startswith('ffmpeg')]
        assert len(ffmpeg) == 1
        resource.prlimit(ffmpeg[0], resource.RLIMIT_CORE, (0, 0))     # no core file
        resource.prlimit(ffmpeg[0], resource.RLIMIT_FSIZE, (1024, 1024))
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    said = (seen + rest).decode()
    assert proc.returncode == 2, said[-800:]
    assert said.strip().splitlines()[-1] == (
        'error: %s not written: the file-size limit (ulimit -f) was reached; the dream.mp4 '
        'already there is unchanged' % out), said[-800:]
    assert 'Traceback' not in said
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['dream.mp4']


@pytest.mark.full_network
def test_video_keyframes_show_their_class():
    """The first keyframe of a film (from grey) and the next one (zoomed
    forward, then 10 steps) are both Lite0's picture of the class.

    Over 12 seeds (AMD EPYC, ``bench/studies/test_margins.json``) both were
    Lite0's top-1 every time, by 10.0-20.4 (mean 14.8, sd 2.8) and 6.7-18.4
    (mean 14.4, sd 3.5) over the next class: 4 sd from failing."""
    from inception_art.nets.classifier import Classifier
    dream = Dream(keyframe_settings(canvas=(180, 320), steps=10), warmup_steps=100,
                  keyframe_seconds=1.0)
    dream.set_subject('volcano')
    first, second = dream.next_keyframe(), dream.next_keyframe()
    assert np.abs(first.astype(int) - second).mean() > 1     # it moved on
    logits = Classifier('efficientnet-lite0').logits([first, second])
    assert [int(np.argmax(row)) for row in logits] == [980, 980]
