"""Settings: one table row per setting, from which the flags, the checks
and the defaults all come.

A :class:`Setting` names a keyword argument of the library (``prior_strength``)
and gives its default, its help line, how to read it from text and what
values it allows. Its flag is the name with dashes (``--prior-strength``)
and its Make variable the name in capitals (``PRIOR_STRENGTH``), so the same
name means the same thing in a keyword argument, a flag, a Make variable and
the docs' tables (docs/render.md). The tables are :data:`inception_art.recipes.SETTINGS`
(render settings), :data:`inception_art.video.dream.SETTINGS` (the keyframe
loop's motion), :data:`inception_art.video.SETTINGS` and
:data:`inception_art.live.app.SETTINGS` (each command's own).

No Theano here: the live mode's main process reads these tables.
"""
import argparse
import math
from dataclasses import dataclass

from .cli import parse_size


@dataclass(frozen=True)
class Setting:
    """One setting.

    Parameters
    ----------
    name : str
        The keyword argument; the flag is ``--`` + name with dashes.
    default
        The default (a command may show its own instead).
    help : str
        One line, without the default (the flag's help adds it).
    type : callable, optional
        Text -> value, for the flag (argparse's ``type``).
    choices : tuple, optional
        The values allowed.
    check : callable, optional
        ``check(value)`` -> None when the value is allowed, else the end of
        a sentence that starts with the flag: ``'must be >= 1'``.
    metavar : str, optional
        The flag's placeholder in ``--help``.
    flag : bool
        Whether the commands offer a flag for it (some settings are for
        the library and the tests only).
    aliases : tuple of str
        Former flags that still work, hidden from ``--help`` (one a command
        already has for another setting is left out).
    stage : {'graph', 'run', 'loop'}, optional
        Where a render setting acts: ``graph`` changes the compiled step
        (a new value compiles another), ``run`` is a shared variable of the
        compiled step, set before a run (:meth:`ImageOptimizer.restart`),
        ``loop`` is read by the render loop around the step (steps, start
        image, octaves, blur). None for the commands' own settings.
    """

    name: str
    default: object
    help: str
    type: object = None
    choices: tuple = None
    check: object = None
    metavar: str = None
    flag: bool = True
    aliases: tuple = ()
    stage: str = None

    @property
    def option(self):
        """The command-line flag, e.g. ``'--prior-strength'``."""
        return '--' + self.name.replace('_', '-')


def defaults(table):
    """``{name: default}`` of a table."""
    return {s.name: s.default for s in table}


def show(value, setting=None):
    """A value as ``setting``'s flag takes it: a size as WxH, a tuple
    comma-separated."""
    if setting is not None and setting.type is size and value is not None:
        return '%dx%d' % (value[1], value[0])
    if isinstance(value, (tuple, list)):
        return ','.join('%g' % v if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return '%g' % value
    return str(value)


def add_flags(parser, table, defaults=None, skip=()):
    """Add a flag for every setting of ``table`` (but those in ``skip``)
    that has one.

    A flag left out on the command line reads as None (see :func:`given`),
    so that the recipe or the library keeps its own default; ``--help``
    shows ``defaults[name]`` (default: the table's).
    """
    shown = dict((s.name, s.default) for s in table)
    shown.update(defaults or {})
    for s in table:
        if not s.flag or s.name in skip:
            continue
        default = shown[s.name]
        help_text = s.help if default is None else '%s (default: %s)' % (s.help, show(default, s))
        help_text = help_text.replace('%', '%%')
        if s.type is bool:
            # A switch: on when given; its default (off) is not shown.
            parser.add_argument(s.option, action='store_true', default=None, help=s.help)
            continue
        parser.add_argument(s.option, type=s.type, choices=s.choices, metavar=s.metavar,
                            help=help_text)
        taken = parser._option_string_actions     # shared by a parser and its groups
        for alias in s.aliases:
            if alias not in taken:
                parser.add_argument(alias, dest=s.name, type=s.type, choices=s.choices,
                                    default=None, help=argparse.SUPPRESS)


def given(args, table):
    """The settings of ``table`` given on the command line: ``{name: value}``."""
    return {s.name: getattr(args, s.name) for s in table
            if getattr(args, s.name, None) is not None}


def validate(values, table):
    """Raise a one-line ValueError, naming the flag, for the first value of
    ``values`` that its setting in ``table`` does not allow. Names not in
    the table and values of None (the default applies) are not checked."""
    for s in table:
        value = values.get(s.name)
        if value is None:
            continue
        if s.choices is not None and value not in s.choices:
            raise ValueError('unknown %s %r; choose one of: %s'
                             % (s.option[2:], value, ', '.join(map(str, s.choices))))
        problem = s.check(value) if s.check else None
        if problem:
            raise ValueError('%s %s' % (s.option, problem))


# ------------------------------------------------------- value readers --

def numbers(kind):
    """A reader of comma-separated numbers of ``kind`` (a flag's ``type``)."""
    def read(text):
        try:
            return tuple(kind(v) for v in text.split(','))
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a comma-separated list of %s'
                                             % (text, kind.__name__)) from None
    read.__name__ = 'list of %s' % kind.__name__
    return read


def size(text):
    """``'WxH'`` -> (h, w), as a flag's ``type``."""
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# -------------------------------------------------------------- checks --

def at_least(low):
    """A check: the value is a finite number >= ``low``."""
    def check(value):
        if not (math.isfinite(value) and value >= low):
            return 'must be >= %g, got %g' % (low, value)
    return check


def above(low):
    """A check: the value is a finite number > ``low``."""
    def check(value):
        if not (math.isfinite(value) and value > low):
            return 'must be above %g, got %g' % (low, value)
    return check


def between(low, high):
    """A check: ``low <= value <= high``."""
    def check(value):
        if not (math.isfinite(value) and low <= value <= high):
            return 'must be between %g and %g, got %g' % (low, high, value)
    return check
