"""Installing: the wheel holds the whole tool, its console command renders
from any folder, ``--help`` compiles nothing, and a machine without a
compiler or a BLAS gets one line."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from inception_art import commands, theano_env

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out, source = tmp_path_factory.mktemp('wheel'), tmp_path_factory.mktemp('source')
    # The checkout's files as they are, copied: setuptools writes build/ next to setup.py.
    for name in subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
                               cwd=ROOT, check=True, capture_output=True,
                               text=True).stdout.split():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # No build isolation: the build uses .venv's setuptools, offline.
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', '-w', str(out), str(source)], check=True, capture_output=True)
    (path,) = out.glob('inception_art-*.whl')
    return path


def test_the_wheel_holds_every_data_file_of_the_package(wheel):
    tracked = subprocess.run(['git', 'ls-files', 'inception_art'], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    data = {p for p in tracked if not p.endswith('.py')}
    assert {'inception_art/data/prior/patch8_student.npz', 'inception_art/live/page.html',
            'inception_art/nets/winograd.c'} <= data
    names = set(zipfile.ZipFile(wheel).namelist())
    assert data - names == set()
    entry_points = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'inception-art = inception_art.commands:entry_point' in \
        zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_command_renders_from_another_folder(wheel, tmp_path):
    """A fresh venv with the wheel; its dependencies are this venv's (a
    path entry, not an install: the test stays offline and quick)."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    python = venv / 'bin' / 'python'
    site = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()'
                           '["purelib"])'], check=True, capture_output=True, text=True)
    # A plain path line: this venv's own .pth files (its editable install of
    # the checkout) are not run from there.
    Path(site.stdout.strip(), 'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([str(python), '-m', 'pip', 'install', '-q', '--no-deps', '--no-index',
                    str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    env = dict(os.environ, INCEPTION_ART_CACHE=str(theano_env.cache_dir()))
    where = subprocess.run([str(python), '-c',
                            'import inception_art; print(inception_art.__file__)'],
                           cwd=elsewhere, env=env, check=True, capture_output=True,
                           text=True)
    assert where.stdout.startswith(str(venv))
    done = subprocess.run([str(venv / 'bin' / 'inception-art'), 'render', '--class', 'volcano',
                           '--canvas', '64x64', '--steps', '2', '--views', '1', '--crops', '0',
                           '--out', 'v.png'],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (elsewhere / 'v.png').stat().st_size > 1000
    assert 'compiling the step' in done.stderr      # a first run is not silent


@pytest.mark.parametrize('name', sorted(commands.COMMANDS))
def test_help_is_plain_text_with_examples_and_compiles_nothing(name):
    code = ('import sys, runpy; sys.argv = ["x", "%s", "--help"]\n'
            'try:\n    runpy.run_module("inception_art", run_name="__main__")\n'
            'except SystemExit as e:\n    assert not e.code, e.code\n'
            'print("THEANO" if "theano" in sys.modules else "NO THEANO")' % name)
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith('NO THEANO')
    assert done.stdout.startswith('usage: inception-art %s' % name)
    assert '``' not in done.stdout and '\nexamples:\n  inception-art %s' % name in done.stdout


def test_the_command_lists_its_subcommands_and_refuses_others(capsys):
    assert commands.main(['--help']) == 0
    listing = capsys.readouterr().out
    assert all('\n  %s ' % name in listing for name in commands.COMMANDS)
    with pytest.raises(ValueError, match="unknown command 'rendr'; choose one of: render"):
        commands.main(['rendr'])


def test_blas_is_found_in_known_folders_or_named(tmp_path, monkeypatch):
    monkeypatch.delenv('INCEPTION_ART_BLAS', raising=False)
    monkeypatch.setenv('PATH', str(tmp_path))          # no pkg-config
    monkeypatch.setattr(theano_env, 'DEFAULT_LIB_DIRS', (str(tmp_path / 'none'),))
    brew = tmp_path / 'brew'
    brew.mkdir()
    monkeypatch.setattr(theano_env, 'OTHER_LIB_DIRS', (str(brew),))
    with pytest.raises(OSError) as e:
        theano_env.blas_ldflags()
    assert str(e.value) == theano_env.NO_BLAS and 'INCEPTION_ART_BLAS' in str(e.value)
    (brew / 'libopenblas.dylib').write_bytes(b'')
    assert theano_env.blas_ldflags() == '-L%s -Wl,-rpath,%s -lopenblas' % (brew, brew)
    monkeypatch.setenv('INCEPTION_ART_BLAS', '-lblis')
    assert theano_env.blas_ldflags() == '-lblis'


def test_a_missing_compiler_is_one_line(monkeypatch):
    theano_env.check_compiler()                        # this machine has both
    monkeypatch.setenv('CXX', 'no-such-compiler-here')
    with pytest.raises(OSError) as e:
        theano_env.check_compiler()
    assert str(e.value) == ('cannot compile the network: missing a C++ compiler, g++ '
                            '(Debian/Ubuntu: apt install g++)')


def test_make_finds_a_python_311_or_says_how_to_get_one(tmp_path):
    script = ROOT / 'scripts' / 'find-python.sh'
    found = subprocess.run([str(script)], capture_output=True, text=True)
    assert found.returncode == 0
    assert subprocess.run([found.stdout.strip(), '-c', 'import sys; print(sys.version_info[:2])'],
                          capture_output=True, text=True).stdout.strip() == '(3, 11)'
    # A Python that is not 3.11 is refused in one line, and none found says how.
    for name in ('python3', 'python3.11'):      # Pythons of another version
        fake = tmp_path / name
        fake.write_text('#!/bin/sh\nexit 1\n')
        fake.chmod(0o755)
    refused = subprocess.run([str(script), str(fake)], capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stderr.count('\n') == 1
    assert 'is not a Python 3.11' in refused.stderr
    bare = dict(os.environ, PATH=str(tmp_path))      # only the fakes
    none = subprocess.run(['/bin/sh', str(script)], capture_output=True, text=True, env=bare)
    assert none.returncode == 1 and none.stderr.count('\n') == 1
    assert 'uv python install 3.11' in none.stderr
