"""The stream out: frames to an RTMP server (Twitch) through ffmpeg.

The ffmpeg that ``imageio-ffmpeg`` bundles takes the raw frames on its
stdin (:class:`inception_art.video.encode.FFmpegPipe`) and sends FLV with H.264
video and a silent AAC track over RTMP: Twitch wants an audio track, so
``anullsrc`` provides one. A keyframe every 2 s and a constant bit rate,
as Twitch recommends.

Frames come from the hub through a bounded queue, so a slow network can
never hold up the video for the page: frames that do not fit are dropped
and counted. When the connection fails (ffmpeg exits), the output waits,
doubling the pause each time up to a limit, and connects again; while it
waits its queue takes no frames (a soak saw the main process hold 35 MB
more through each nginx restart).

The stream key is part of the URL ffmpeg is given. It is kept out of
everything this module logs or reports: ffmpeg's complaints are searched
for it and it is replaced by ``***``.
"""
import logging
import queue
import threading
import time

from ..video.encode import EncoderError, FFmpegPipe

log = logging.getLogger(__name__)


def redact(text, secrets):
    """``text`` with every non-empty secret replaced by ``***``."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '***')
    return text


def flv_args(bitrate_kbps=3000, fps=25.0, preset='veryfast', audio_kbps=96):
    """ffmpeg output options: H.264 + AAC in FLV, for live streaming."""
    gop = max(1, round(2 * fps))            # a keyframe every 2 s
    return ['-map', '0:v', '-map', '1:a',
            '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency',
            '-b:v', '%dk' % bitrate_kbps, '-maxrate', '%dk' % bitrate_kbps,
            '-bufsize', '%dk' % (2 * bitrate_kbps), '-g', str(gop),
            '-keyint_min', str(gop), '-pix_fmt', 'yuv420p',
            '-c:a', 'aac', '-b:a', '%dk' % audio_kbps, '-ar', '44100',
            '-shortest', '-flvflags', 'no_duration_filesize', '-f', 'flv']


#: The silent audio track.
SILENCE = ['-f', 'lavfi', '-i', 'anullsrc=channel_layout=stereo:sample_rate=44100']


class RTMPOutput(threading.Thread):
    """Streams the hub's frames to ``url`` until stopped.

    Parameters
    ----------
    hub : FrameHub
        Source of the frames.
    url : str
        The full RTMP address, stream key included.
    size : (h, w)
        Frame size.
    fps : float
    bitrate_kbps : int
        Video bit rate (2015: about 3000).
    secrets : sequence of str
        Strings never to log (the stream key).
    backoff : (float, float)
        First and longest pause between reconnection tries, seconds.
    queue_frames : int
        Frames buffered for ffmpeg at most (dropped beyond).
    """

    def __init__(self, hub, url, size, fps=25.0, bitrate_kbps=3000, secrets=(),
                 backoff=(1.0, 60.0), queue_frames=50, preset='veryfast'):
        super().__init__(name='rtmp', daemon=True)
        self.hub, self.url, self.size, self.fps = hub, url, tuple(size), float(fps)
        self.bitrate_kbps, self.preset = int(bitrate_kbps), preset
        self.secrets = [s for s in secrets if s]
        self.backoff = tuple(float(b) for b in backoff)
        self.queue_frames = int(queue_frames)
        self.stop_event = threading.Event()
        self.pipe = None
        self.state = 'starting'
        self.connects = 0
        self.failures = 0
        self.frames_sent = 0
        self.last_error = None
        self.frames = None

    @property
    def public_url(self):
        """The address with the key hidden: what the status may show."""
        return redact(self.url, self.secrets)

    def run(self):
        self.frames = self.hub.subscribe(self.queue_frames)
        pause = self.backoff[0]
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                ok = self._connection()
                if self.stop_event.is_set():
                    break
                if time.monotonic() - started > 30:   # it had been working
                    pause = self.backoff[0]
                wait, pause = pause, min(self.backoff[1], pause * 2)
                self.frames.pause()
                self.state = 'waiting %.0f s to reconnect' % wait
                log.warning('RTMP: stream to %s ended (%s); reconnecting in %.1f s',
                            self.public_url, 'ffmpeg closed' if ok else self.last_error, wait)
                self.stop_event.wait(wait)
        finally:
            self.hub.unsubscribe(self.frames)
            self.state = 'stopped'

    def _connection(self):
        """Feed one ffmpeg until it fails or we stop; False on failure."""
        self.state = 'connecting'
        self.connects += 1
        self.frames.pause(False)
        output = flv_args(self.bitrate_kbps, self.fps, self.preset) + [self.url]
        try:
            self.pipe = FFmpegPipe(self.size, self.fps, output, input_args=SILENCE)
        except OSError as e:
            self.failures += 1
            self.last_error = redact(e, self.secrets)
            return False
        # Frames queued while disconnected are stale: start from now.
        while len(self.frames):
            try:
                self.frames.get(timeout=0)
            except queue.Empty:
                break
        self.state = 'streaming'
        try:
            while not self.stop_event.is_set():
                try:
                    frame = self.frames.get(timeout=0.5)
                except queue.Empty:
                    if self.pipe.process.poll() is not None:
                        self.pipe.close()     # raises with ffmpeg's complaint
                        return True
                    continue
                self.pipe.write(frame)
                self.frames_sent += 1
            # A live stream has nothing to finish: end it now.
            self.pipe.kill()
            return True
        except (EncoderError, OSError, ValueError) as e:
            self.failures += 1
            self.last_error = redact(e, self.secrets)
            self.pipe.kill()
            return False
        finally:
            self.pipe = None

    def stop(self, timeout=5.0):
        """End the stream now: ffmpeg is killed (a live stream has nothing
        to finish), then the thread is given ``timeout`` seconds to end."""
        self.stop_event.set()
        pipe = self.pipe
        if pipe is not None:
            # First, so that a write blocked on ffmpeg's full pipe (a stalled
            # network) ends at once instead of holding up the stop.
            pipe.kill()
        if self.is_alive():
            self.join(timeout)

    def status(self):
        return {'state': self.state, 'url': self.public_url, 'connects': self.connects,
                'failures': self.failures, 'frames_sent': self.frames_sent,
                'frames_dropped': self.frames.dropped if self.frames else 0,
                'last_error': self.last_error}
