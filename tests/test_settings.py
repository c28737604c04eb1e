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
SAMPLES = {'canvas': ('320x240', (240, 320)), 'frame_size': ('160x90', (90, 160)),
           'views': ('1,3', (1, 3)), 'scale': ('0.8,1.2', (0.8, 1.2)),
           'crop_extent': ('0.2,0.5', (0.2, 0.5)), 'crop_spread': ('0.25', 0.25)}


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
    assert re.search(r'--canvas WxH\s+size of the optimised picture.*\(default: 448x252\)',
                     text.replace('\n', ' '))
    p = argparse.ArgumentParser()
    add_flags(p, dream.SETTINGS)
    assert '(default: 1024x576)' in p.format_help()


def test_live_defaults_are_read_not_copied():
    """The live mode's render settings are its recipe's (None), its motion
    the keyframe loop's."""
    d = live_app.DEFAULTS
    for s in recipes.SETTINGS:
        if s.name not in dream.NOT_KEYFRAME:
            assert d[s.name] is None, s.name
    for name in ('frame_size', 'warmup_steps', 'zoom', 'degrees_per_frame', 'fps',
                 'keyframe_seconds'):
        assert d[name] == dream.DEFAULTS[name]
    assert d['recipe'] == 'live' and recipes.settings('live')['canvas'] == (472, 840)


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
    # The README is the manual's first screen; the flags' reference is in
    # docs/ (render.md, video.md, live.md, gallery.md).
    readme = '\n'.join(p.read_text() for p in
                       [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md')))
    missing = []
    for command in (render, video, live_command, sheet, gallery):
        for action in command.build_parser()._actions:
            for option in action.option_strings:
                if option.startswith('--') and option != '--help' and not re.search(
                        r'(?<![\w-])%s(?![\w-])' % re.escape(option), readme):
                    missing.append((command.__name__, option))
    assert not missing



# ------------------------------------------------------- one settings value --

#: A second value for each render setting, to see what changing it does.
OTHER = {'model': 'efficientnet-lite1', 'canvas': (96, 128), 'steps': 7, 'rule': 'gd',
         'lr': 0.2, 'param': 'pixels', 'views': (1,), 'octaves': 2, 'octave_scale': 1.2,
         'jitter': 3, 'shift': 4.0, 'scale': (0.9, 1.1), 'degrees': 5.0, 'blur': 0.5,
         'blur_every': 2, 'objective': 'prob', 'prior': 'gaussian', 'prior_strength': 20.0,
         'prior_scales': 'video', 'prior_stride': 2, 'init': 'noise', 'seed': 9,
         'stats_strength': 5.0, 'crops': 3, 'crop_size': 160, 'crop_extent': (0.2, 0.5),
         'crop_spread': 0.2, 'octave_mode': 'centre', 'transparency': 5.0}


def test_every_render_setting_has_a_stage():
    assert set(OTHER) == set(recipes.DEFAULTS)
    for s in recipes.SETTINGS:
        assert s.stage in ('graph', 'run', 'loop'), s.name


def test_the_renderers_key_is_the_graph_part_and_only_it():
    """Changing any graph setting changes the compiled step's key; changing
    a run or loop setting never does (they are shared variables and the
    loop's own). With the prior and the crops on, so that their settings
    count."""
    base = recipes.settings('default', prior_strength=10.0, crops=2, stats_strength=1.0,
                            transparency=1.0)
    stage = {s.name: s.stage for s in recipes.SETTINGS}
    for name, value in OTHER.items():
        changed = base.replace(**{name: value})
        assert changed[name] == value
        if stage[name] == 'graph':
            assert changed.key() != base.key(), name
        else:
            assert changed.key() == base.key(), name


def test_strength_0_means_no_prior_in_the_graph():
    off = recipes.settings('default', prior_strength=0.0)
    assert off.graph['prior'] == 'none' and off.prior_used == 'none'
    # with the prior off, its scales and stride do not split the cache
    assert off.replace(prior_scales='video', prior_stride=2).key() == off.key()
    assert off.replace(prior_strength=1.0).key() != off.key()


def test_restart_takes_the_run_part():
    from inception_art.step import ImageOptimizer
    assert set(ImageOptimizer.RUN) == set(recipes.STAGES['run'])
    assert set(recipes.settings().run) == set(recipes.STAGES['run'])


def test_settings_are_frozen_and_travel_whole():
    import pickle
    s = recipes.settings('2015', steps=3)
    with pytest.raises(AttributeError, match='frozen'):
        s.steps = 4
    with pytest.raises(TypeError):
        s['steps'] = 4
    back = pickle.loads(pickle.dumps(s))
    assert back == s and back.recipe == '2015' and hash(back) == hash(s)
    assert recipes.settings(s, lr=1.0)['lr'] == 1.0 and s['lr'] == 5.0
    with pytest.raises(ValueError, match='unknown setting'):
        s.replace(stepz=1)


def test_one_function_owns_the_keyframe_canvas():
    """Video and live take the keyframes' canvas from keyframe_settings:
    the 2015 stream's 840x472 for 1024x576 frames in both."""
    frames = (576, 1024)
    assert dream.keyframe_settings('2015-stream', frames)['canvas'] == (472, 840)
    assert dream.keyframe_settings('keyframes', frames)['canvas'] == (252, 448)
    assert dream.keyframe_settings('default', frames)['canvas'] == (252, 448)   # 512x512
    assert dream.keyframe_settings('keyframes', frames, canvas=(90, 160))['canvas'] == (90, 160)
    with pytest.raises(ValueError, match='--canvas 160x160 and --frame-size 1024x576'):
        dream.keyframe_settings('keyframes', frames, canvas=(160, 160))
    app = live_app.LiveApp(recipe='2015-stream', source='stand-in', port=0)
    assert app.keyframe['canvas'] == (472, 840) and app.keyframe == dream.keyframe_settings(
        '2015-stream', frames)
    assert app.worker.options['settings'] is app.keyframe


@pytest.mark.parametrize('command, argv', [
    ('render', ['--class', 'volcano']),
    ('sheet', ['--no-judge', '--classes', 'volcano']),
    ('gallery', ['--classes', 'volcano']),
    ('video', ['--classes', 'volcano']),
    ('live', []),
])
def test_every_command_checks_the_prior_file_first(command, argv, tmp_path, monkeypatch,
                                                   capsys):
    """A missing prior file is one line from every command, before any work."""
    from inception_art import prior_file
    from inception_art.cli import run_main
    monkeypatch.setattr(prior_file, 'FOLDER', tmp_path / 'no-priors')
    monkeypatch.chdir(tmp_path)
    module = {'render': render, 'sheet': sheet, 'gallery': gallery, 'video': video,
              'live': live_command}[command]
    for name in ('render', 'make_sheet', 'make_gallery', 'Dream', 'LiveApp'):
        if hasattr(module, name) and not (command == 'live' and name == 'LiveApp'):
            monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail('work started'))
    assert run_main(module.main, argv + ['--prior-strength', '5', '--port', '0'][
        :2 if command != 'live' else 4]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'no such prior file' in err[0], err

