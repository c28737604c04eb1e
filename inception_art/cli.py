"""What every command-line entry point shares: one-line errors, not tracebacks,
and the parsing of sizes.

No Theano here: the live mode's frame-clock process imports this module.
"""
import argparse
import sys

#: Errors that carry a message meant for the user. Anything else is a bug
#: and keeps its traceback.
USER_ERRORS = (ValueError, OSError)


def run_main(main, argv=None):
    """Run ``main(argv)``; print a user error as one line and return 2.

    ``KeyboardInterrupt`` returns 130 quietly: whatever was written
    atomically before stays complete.
    """
    try:
        return main(argv)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print('error: %s' % message, file=sys.stderr)
        return 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors raised as one-line user errors (exit 2
    through :func:`run_main`) instead of a usage block, a help text in
    plain text (the docstrings' double backticks dropped) and ``examples``,
    command lines shown at the end of ``--help``."""

    def __init__(self, *args, examples=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.examples = tuple(examples)

    def error(self, message):
        raise ValueError('%s (see --help)' % message)

    def format_help(self):
        text = super().format_help().replace('``', '')
        if self.examples:
            text += '\nexamples:\n' + ''.join('  %s\n' % e for e in self.examples)
        return text


def parse_size(text):
    """``'WxH'`` -> (h, w), with a clear error for anything else."""
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ValueError('size %r is not WIDTHxHEIGHT, e.g. 320x240' % text) from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise ValueError('size %s is out of range: each side must be 16..4096' % text)
    return h, w
