"""The layout shows the architecture: commands are thin and nothing imports
them, every module is in the module table of docs/architecture.md, and the
layers stay apart: the package imports none of the folders beside it, the
tests take their support from ``testkit`` and never from the benchmarks,
and ``testkit`` builds on neither the benchmarks nor the soak."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'inception_art'
TESTS = ROOT / 'tests'
TESTKIT = ROOT / 'testkit'
#: The command-line entry points: a library never imports one.
COMMANDS = {'inception_art.render', 'inception_art.sheet', 'inception_art.classify',
            'inception_art.video.__main__', 'inception_art.live.__main__',
            'inception_art.gallery.__main__'}


def module_name(path):
    return '.'.join(path.relative_to(ROOT).with_suffix('').parts)


def imported(path):
    """The absolute names of the modules ``path`` imports (``from a import b``
    counts ``a.b`` too, since b may be a module)."""
    here = module_name(path).split('.')
    package = here if path.name == '__init__.py' else here[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update('%s.%s' % (module, alias.name) for alias in node.names)
    return names


def test_no_module_imports_a_command():
    offenders = []
    for path in PACKAGE.rglob('*.py'):
        name = module_name(path)
        for target in imported(path) & COMMANDS:
            if target != name:
                offenders.append((name, target))
    assert not offenders


def test_the_check_sees_a_command_import(tmp_path):
    # The check itself: a relative import of the render command is seen.
    fake = PACKAGE / 'video' / '_probe_for_test.py'
    fake.write_text('from ..render import main\n')
    try:
        assert 'inception_art.render' in imported(fake)
    finally:
        fake.unlink()


def imports_from(folder, tops):
    """``[(module, imported name)]`` for every import in ``folder``'s Python
    files of a module in one of the top-level packages ``tops``."""
    found = []
    for path in sorted(folder.rglob('*.py')):
        for target in imported(path):
            if target.split('.')[0] in tops:
                found.append((module_name(path), target))
    return sorted(set(found))


def test_the_package_imports_none_of_the_folders_beside_it():
    assert not imports_from(PACKAGE, {'bench', 'testkit', 'soak'})


def test_no_test_imports_the_benchmarks():
    # What the tests need (loopback servers, hostile chat, /proc readers,
    # random VGG-16 weights) is in testkit; a benchmark may change freely.
    assert not imports_from(TESTS, {'bench'})


def test_testkit_builds_on_neither_the_benchmarks_nor_the_soak():
    assert not imports_from(TESTKIT, {'bench', 'soak'})


def test_the_check_sees_a_test_importing_a_benchmark():
    # The check itself: an import inside a function is seen too.
    probe = TESTS / '_probe_for_layout.py'
    probe.write_text('def f():\n    from bench.harness import write_json\n')
    try:
        assert ('tests._probe_for_layout', 'bench.harness') in imports_from(TESTS, {'bench'})
    finally:
        probe.unlink()


def test_every_module_is_in_the_readme():
    # The module table is in docs/architecture.md (the README links it).
    readme = (ROOT / 'docs' / 'architecture.md').read_text()
    missing = []
    for path in sorted(PACKAGE.rglob('*')):
        if path.suffix not in ('.py', '.c') or path.name == '__init__.py' \
                or '__pycache__' in path.parts:
            continue
        if path.parent.name == 'live':
            continue        # the live modules have their table in live/__init__.py
        if not re.search(r'`[^`]*\b%s`' % re.escape(path.name), readme):
            missing.append(str(path.relative_to(ROOT)))
    assert not missing
