"""The ``inception-art`` console command: one name for every tool.

``inception-art render --class volcano`` runs the same code as
``python -m inception_art.render --class volcano``; each subcommand is the
``main`` of its module, imported only when it is asked for, so that
``inception-art --help`` loads no network and compiles nothing.
"""
import importlib
import sys

from .cli import run_main

#: Subcommand -> (module whose ``main(argv)`` runs it, one line of help).
COMMANDS = {
    'render': ('inception_art.render', 'paint an ImageNet class as a still picture'),
    'video': ('inception_art.video', 'a zooming dream video (mp4, optional GIF)'),
    'live': ('inception_art.live', 'serve the dream live, steered by chat'),
    'gallery': ('inception_art.gallery', 'render many classes into a browsable gallery (Dask)'),
    'sheet': ('inception_art.sheet', 'a contact sheet of twelve classes, judged'),
    'classify': ('inception_art.classify', 'what the network sees in pictures'),
    'evaluate': ('inception_art.research.evaluate', 'render classes and score them with judges'),
    'compare': ('inception_art.research.compare', 'the research comparison with the 2015 post'),
    'look': ('inception_art.look', 'measure pictures as the look targets do'),
    'doctor': ('inception_art.doctor', 'versions, CPU and the BLAS kernels in use'),
    'prior': ('inception_art.prior_fit', 'fit a natural-image patch prior'),
    'wordnet': ('inception_art.wordnet', "remake the WordNet table from Debian's WordNet"),
}

USAGE = """usage: inception-art COMMAND [options]   (inception-art COMMAND --help for its options)

commands:
%s
examples:
  inception-art render --class volcano
  inception-art video --classes volcano,jellyfish --seconds 20
  inception-art live   (then open http://127.0.0.1:8080/)
"""


def usage():
    width = max(map(len, COMMANDS))
    return USAGE % ''.join('  %-*s  %s\n' % (width, name, text)
                           for name, (_, text) in COMMANDS.items())


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help', 'help'):
        print(usage(), end='')
        return 0
    if argv[0] == '--version':
        from . import __version__
        print('inception-art %s' % __version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        raise ValueError('unknown command %r; choose one of: %s (see inception-art --help)'
                         % (name, ', '.join(COMMANDS)))
    module = importlib.import_module(COMMANDS[name][0])
    if not hasattr(module, 'main'):                   # a package: its __main__
        module = importlib.import_module(COMMANDS[name][0] + '.__main__')
    result = module.main(rest)
    return result or 0


def entry_point():
    """``inception-art`` (setup.py's console script)."""
    sys.exit(run_main(main))
