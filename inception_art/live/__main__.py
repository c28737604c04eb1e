"""``python -m inception_art.live``: the live dream in a browser, optionally on Twitch.

Serves a page with the zooming video, the current subject and a chat box
(default http://127.0.0.1:8080/). Viewers name ImageNet classes (or two
joined by "+"); every --hold seconds one waiting request, picked at
random, becomes the subject. --twitch also streams to Twitch and reads its
chat; the settings come from the environment (TWITCH_STREAM_KEY,
TWITCH_CHANNEL, TWITCH_OAUTH, TWITCH_NICK).
"""
import logging
import signal
import sys

from .. import nets, recipes
from ..cli import ArgumentParser, parse_size, run_main
from .app import DEFAULTS, LiveApp
from .twitch import ENV


def parse_args(argv=None):
    d = DEFAULTS
    p = ArgumentParser(prog='python -m inception_art.live',
                                description=__doc__.split('\n\n')[1].replace('\n', ' '),
                                epilog='Twitch settings come from the environment: %s.'
                                % ', '.join(ENV.values()))
    p.add_argument('--host', default=d['host'], help='address to serve on (default: %(default)s)')
    p.add_argument('--port', type=int, default=d['port'],
                   help='port to serve on, 0 for any free one (default: %(default)s)')
    p.add_argument('--hold', type=float, default=d['hold'],
                   help='seconds a subject stays at least; then a waiting request is '
                        'picked at random (default: %(default)s)')
    p.add_argument('--subject', metavar='NAME',
                   help='the first subject, e.g. volcano or volcano+jellyfish '
                        '(default: one of a few, at random)')
    p.add_argument('--recipe', default=d['recipe'], choices=tuple(recipes.RECIPES),
                   help='render settings of the keyframes (default: %(default)s)')
    p.add_argument('--model', default=d['model'], choices=nets.NAMES,
                   help='network (default: %(default)s)')
    p.add_argument('--size', default='%dx%d' % d['size'][::-1], metavar='WxH',
                   help='video size (default: %(default)s)')
    p.add_argument('--opt-size', default='%dx%d' % d['opt_size'][::-1], metavar='WxH',
                   help='size of the optimised keyframes (default: %(default)s)')
    p.add_argument('--steps', type=int, default=d['steps'],
                   help='steps per keyframe, at most (default: %(default)s)')
    p.add_argument('--min-steps', type=int, default=d['min_steps'],
                   help='fewest steps per keyframe when the machine is busy '
                        '(default: %(default)s)')
    p.add_argument('--budget', type=float, default=d['budget'],
                   help='share of --keyframe-seconds one keyframe may take; fewer steps '
                        'are made when they would take longer, 0 = always --steps '
                        '(default: %(default)s)')
    p.add_argument('--warmup-steps', type=int, default=d['warmup_steps'],
                   help='steps of the first keyframe, from the recipe\'s start image '
                        '(default: %(default)s)')
    p.add_argument('--blur-every', type=int, default=d['blur_every'],
                   help='blur the keyframe every N steps, 0 = never (default: the '
                        'recipe\'s)')
    p.add_argument('--keyframe-seconds', type=float, default=d['keyframe_seconds'],
                   help='video seconds between keyframes (default: %(default)s)')
    p.add_argument('--fps', type=float, default=d['fps'],
                   help='video frame rate (default: %(default)s)')
    p.add_argument('--zoom', type=float, default=d['zoom'],
                   help='zoom per second (default: %(default)s)')
    p.add_argument('--seed', type=int, default=d['seed'], help='random seed (default: 0)')
    p.add_argument('--source', default=d['source'], choices=('dream', 'stand-in'),
                   help='dream: the network (default); stand-in: synthetic keyframes '
                        'without a network, to try the page or a Twitch set-up quickly')
    p.add_argument('--nice', type=int, default=d['nice'],
                   help='how much to lower the optimiser\'s CPU priority, so the video '
                        'always gets its share (default: %(default)s)')
    p.add_argument('--stall-timeout', type=float, default=d['stall_timeout'],
                   help='seconds without a keyframe before the watchdog restarts the '
                        'optimiser (default: %(default)s)')
    p.add_argument('--twitch', action='store_true',
                   help='also stream to Twitch and read its chat (settings from the '
                        'environment)')
    p.add_argument('--twitch-chat-only', action='store_true',
                   help='read and answer Twitch chat, stream no video (needs only '
                        'TWITCH_CHANNEL, and TWITCH_OAUTH to answer)')
    p.add_argument('--rtmp-url', default=d['rtmp_url'],
                   help='RTMP server; the stream key is appended (default: %(default)s)')
    p.add_argument('--irc-server', default=d['irc_server'],
                   help='chat server, ircs://HOST:PORT (TLS) or irc://HOST:PORT '
                        '(default: %(default)s)')
    p.add_argument('--bitrate', type=int, default=d['bitrate_kbps'], metavar='KBPS',
                   help='video bit rate of the stream (default: %(default)s)')
    p.add_argument('--reply-interval', type=float, default=d['reply_interval'],
                   help='seconds between two chat replies on Twitch (default: %(default)s)')
    p.add_argument('-v', '--verbose', action='store_true', help='log more')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(asctime)s %(levelname)s %(message)s', datefmt='%H:%M:%S')
    app = LiveApp(host=args.host, port=args.port, hold=args.hold, subject=args.subject,
                  recipe=args.recipe, model=args.model, size=parse_size(args.size),
                  opt_size=parse_size(args.opt_size), steps=args.steps,
                  min_steps=args.min_steps, budget=args.budget,
                  warmup_steps=args.warmup_steps, blur_every=args.blur_every,
                  keyframe_seconds=args.keyframe_seconds, fps=args.fps, zoom=args.zoom,
                  seed=args.seed, source=args.source, stall_timeout=args.stall_timeout,
                  nice=args.nice,
                  twitch=args.twitch or args.twitch_chat_only,
                  twitch_stream=not args.twitch_chat_only, rtmp_url=args.rtmp_url,
                  irc_server=args.irc_server,
                  bitrate_kbps=args.bitrate, reply_interval=args.reply_interval)
    # SIGTERM ends the program as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    try:
        app.start()
        print('inception_art live: open %s (Ctrl-C to stop)' % app.server.url, flush=True)
        while app.wait(1.0) is None and not app.done.is_set():
            pass
    finally:
        app.stop()
    if app.fatal_reason:
        print('error: %s' % app.fatal_reason, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
