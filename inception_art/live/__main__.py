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

from ..video import dream as keyframes
from .. import recipes
from ..cli import ArgumentParser, run_main
from ..settings import add_flags, given
from . import memory
from .app import MOTION, SETTINGS, LiveApp
from .twitch import ENV


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art live   (then open http://127.0.0.1:8080/)',
    'inception-art live --subject volcano --canvas 448x252',
)


def build_parser():
    """The command's flags: its own, the motion, the keyframes' render settings."""
    p = ArgumentParser(prog='inception-art live', examples=EXAMPLES,
                       description=__doc__.split('\n\n')[1].replace('\n', ' '),
                       epilog='Twitch settings come from the environment: %s.'
                       % ', '.join(ENV.values()))
    add_flags(p, SETTINGS)
    p.add_argument('--twitch-chat-only', action='store_true',
                   help='read and answer Twitch chat, stream no video (needs only '
                        'TWITCH_CHANNEL, and TWITCH_OAUTH to answer)')
    p.add_argument('-v', '--verbose', action='store_true', help='log more')
    add_flags(p.add_argument_group('frames, keyframes and motion'), keyframes.SETTINGS,
              defaults=MOTION)
    recipes.add_recipe_flags(p.add_argument_group('render settings of the keyframes'),
                             recipe=MOTION['recipe'], skip=keyframes.NOT_KEYFRAME)
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Before any thread starts: flat memory over days (see memory.py).
    memory.tune()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(asctime)s %(levelname)s %(message)s', datefmt='%H:%M:%S')
    config = given(args, SETTINGS + keyframes.SETTINGS + recipes.SETTINGS)
    if args.twitch_chat_only:
        config.update(twitch=True, twitch_stream=False)
    app = LiveApp(recipe=args.recipe, **config)
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
