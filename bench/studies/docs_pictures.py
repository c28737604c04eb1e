"""Remake the README's video and live pictures with the current defaults.

    python -m bench.studies.docs_pictures [--only video|live]

* ``docs/video_frames.jpg``: the frames at 3 s (volcano) and 30 s
  (jellyfish) of ``make video CLASSES="volcano,jellyfish" SECONDS=30``, each
  shrunk to 448x252, side by side; prints the command's wall time.
* ``docs/live_frame.jpg``: the newest frame of the live mode
  (``/frame.jpg``, defaults, subject volcano) after a minute of video,
  shrunk to 640x360.
"""
import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def video_frames(out=ROOT / 'docs' / 'video_frames.jpg'):
    from inception_art.video.encode import read_frames
    with tempfile.TemporaryDirectory() as tmp:
        film = Path(tmp) / 'dream.mp4'
        t = time.perf_counter()
        subprocess.run([sys.executable, '-m', 'inception_art.video', '--classes',
                        'volcano,jellyfish', '--seconds', '30', '--out', str(film),
                        '--no-progress'],
                       check=True, cwd=ROOT)
        print('make video CLASSES="volcano,jellyfish" SECONDS=30: %.0f s' % (
            time.perf_counter() - t))
        frames = read_frames(film)
        picked = [frames[75], frames[-1]]
    shrunk = [np.asarray(Image.fromarray(f).resize((448, 252), Image.LANCZOS)) for f in picked]
    Image.fromarray(np.concatenate(shrunk, axis=1)).save(out, quality=88)
    print('wrote', out)


def live_frame(out=ROOT / 'docs' / 'live_frame.jpg', seconds=60.0):
    from inception_art.live.app import LiveApp
    app = LiveApp(port=0, subject='volcano').start()
    try:
        while app.clock.keyframes_shown < 1:
            if app.fatal_reason:
                raise RuntimeError(app.fatal_reason)
            time.sleep(0.5)
        time.sleep(seconds)
        with urllib.request.urlopen(app.server.url + 'frame.jpg', timeout=30) as response:
            data = response.read()
    finally:
        app.stop()
    with tempfile.NamedTemporaryFile(suffix='.jpg') as tmp:
        Path(tmp.name).write_bytes(data)
        frame = Image.open(tmp.name).convert('RGB')
        frame.resize((640, 360), Image.LANCZOS).save(out, quality=88)
    print('wrote', out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--only', choices=('video', 'live'))
    args = p.parse_args(argv)
    if args.only in (None, 'video'):
        video_frames()
    if args.only in (None, 'live'):
        live_frame()


if __name__ == '__main__':
    main()
