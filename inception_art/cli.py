"""What every command-line entry point shares: one-line errors, not tracebacks."""
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
