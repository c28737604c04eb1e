"""One name per setting: each table row gives a command's flag, its Make
variable and the library's keyword argument, and they agree everywhere
(flags, Makefile, README)."""
import re
from pathlib import Path

import pytest

from inception_art import objectives, param, recipes, render, sheet, updates
from inception_art.gallery import __main__ as gallery
from inception_art.live import __main__ as live_command, app as live_app
from inception_art.video import __main__ as video, dream
from inception_art.settings import Setting, add_flags, at_least, given, validate

ROOT = Path(__file__).resolve().parent.parent

#: Each command's parser and the tables it offers.
COMMANDS = {
    'render': (lambda argv: render.parse_args(['--class', 'volcano'] + argv),
               recipes.SETTINGS),
    'video': (lambda argv: video.parse_args(['--classes', 'volcano'] + argv),
              video.SETTINGS + dream.SETTINGS + tuple(
                  s for s in recipes.SETTINGS if s.name not in dream.NOT_KEYFRAME)),
    'live': (live_command.parse_args, live_app.SETTINGS + dream.SETTINGS + tuple(
        s for s in recipes.SETTINGS if s.name not in dream.NOT_KEYFRAME)),
}

#: A value each kind of setting takes, as text and as the library's value.
SAMPLES = {'size': ('320x240', (240, 320)), 'opt_size': ('160x90', (90, 160)),
           'views': ('1,3', (1, 3)), 'scale': ('0.8,1.2', (0.8, 1.2))}


def sample(s):
    """(flag text, value) for setting ``s``."""
    if s.name in SAMPLES:
        return SAMPLES[s.name]
    if s.choices:
        value = s.choices[-1]
        return str(value), value
    if s.type is int:
        return '3', 3
    if s.type is float:
        return '2.5' if s.name != 'degrees_per_frame' else '0.5', \
            2.5 if s.name != 'degrees_per_frame' else 0.5
    if s.type is bool:
        return None, True
    return 'text', 'text'


def test_choice_names_agree_with_what_the_compiled_step_implements():
    # recipes writes the names out so that reading settings imports no Theano.
    assert set(recipes.RULES) == set(updates.RULES)
    assert set(recipes.PARAMS) == set(param.KINDS)
    assert set(recipes.OBJECTIVES) == set(objectives.KINDS)


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_every_flag_of_a_table_sets_its_own_keyword(command):
    """For every setting a command offers: its flag exists, is the name with
    dashes, and reads into the keyword of the same name, nothing else."""
    parse, table = COMMANDS[command]
    for s in table:
        if not s.flag:
            continue
        text, value = sample(s)
        argv = [s.option] if text is None else [s.option, text]
        got = given(parse(argv), table)
        if command == 'live' and s.name == 'recipe':
            continue
        assert got == {s.name: value}, (command, s.name, got)


def test_the_same_name_has_the_same_type_in_every_table():
    tables = [recipes.SETTINGS, dream.SETTINGS, video.SETTINGS, live_app.SETTINGS]
    seen = {}
    for table in tables:
        for s in table:
            if s.name in seen:
                assert s.type is seen[s.name].type and s.choices == seen[s.name].choices, s.name
            seen[s.name] = s


def test_a_bad_value_is_one_line_naming_the_flag():
    table = (Setting('warmup_steps', 100, 'steps', type=int, check=at_least(0)),
             Setting('prior', 'student', 'prior', choices=('none', 'student')))
    with pytest.raises(ValueError, match=r'^--warmup-steps must be >= 0, got -1$'):
        validate(dict(warmup_steps=-1), table)
    with pytest.raises(ValueError, match=r"^unknown prior 'x'; choose one of: none, student$"):
        validate(dict(prior='x'), table)
    validate(dict(warmup_steps=None, other=-5), table)       # None: the default applies


def test_help_shows_the_defaults_of_the_commands_recipe():
    import argparse
    p = argparse.ArgumentParser()
    recipes.add_recipe_flags(p, recipe='keyframes')
    text = p.format_help()
    assert '(default: keyframes)' in text
    assert re.search(r'--steps STEPS\s+update steps.*\(default: 10\)', text.replace('\n', ' '))
    p = argparse.ArgumentParser()
    add_flags(p, dream.SETTINGS)
    assert '(default: 448x252)' in p.format_help()


def test_live_defaults_are_read_not_copied():
    """The live mode's render settings are the recipe's (None), its motion
    the keyframe loop's but for its own keyframe period."""
    d = live_app.DEFAULTS
    for s in recipes.SETTINGS:
        if s.name not in dream.NOT_KEYFRAME:
            assert d[s.name] is None, s.name
    for name in ('opt_size', 'warmup_steps', 'zoom', 'degrees_per_frame', 'fps'):
        assert d[name] == dream.DEFAULTS[name]
    assert d['recipe'] == dream.RECIPE and d['keyframe_seconds'] == 2.5


def makefile_pairs():
    """(flag, Make variable) for every ``$(if $(VAR),--flag $(VAR))`` in the Makefile."""
    text = (ROOT / 'Makefile').read_text()
    return re.findall(r'\$\(if \$\((\w+)\),\s*(--[a-z0-9-]+) "?\$\((\w+)\)', text)


def test_make_variables_are_the_flags_in_capitals():
    pairs = makefile_pairs()
    assert len(pairs) > 40
    for tested, flag, used in pairs:
        assert tested == used, flag
        expected = flag[2:].upper().replace('-', '_')
        # The comparison's own flags carry its prefix (its --steps are per picture).
        assert used == expected or used == 'COMPARE_' + expected, (flag, used)


def test_every_flag_is_in_the_readme():
    readme = (ROOT / 'README.md').read_text()
    missing = []
    for command in (render, video, live_command, sheet, gallery):
        for action in command.build_parser()._actions:
            for option in action.option_strings:
                if option.startswith('--') and option != '--help' and not re.search(
                        r'(?<![\w-])%s(?![\w-])' % re.escape(option), readme):
                    missing.append((command.__name__, option))
    assert not missing

