"""Imports run one way: no module imports a layer above its own.

Every import statement (also inside functions, and constant
``importlib.import_module('mmtlsi...')`` calls) of every Python file under
``mmtlsi/``, ``tools/``, ``demo/`` and ``.dev_scripts/`` is read with
:mod:`ast`; a module's layer is derived from its path. The layers, bottom
to top (docs/CONTRACTS.md, "Layers"):

0. ``mmtlsi.tasks``, ``mmtlsi.registry``, ``mmtlsi.utils``,
   ``mmtlsi.version``, ``mmtlsi.compat``: import only each other;
1. ``mmtlsi.datasets``, ``mmtlsi.models``, ``mmtlsi.evaluation``,
   ``mmtlsi.visualization``: read the bottom (task specs, registries,
   utils); none imports another of this layer (:data:`SIBLINGS_ALLOWED`
   lists the exceptions: none);
2. ``mmtlsi.engine`` (runner parts: hooks, checkpoints, distributed);
3. ``mmtlsi`` itself (``mmtlsi/__init__.py`` imports every module that
   registers into the registries);
4. ``mmtlsi.apis``;
5. ``mmtlsi.tools`` (the command-line tools' code);
6. the repository's ``tools/``, ``demo/``, ``.dev_scripts/``: import the
   package, never each other (not by name, not by path), and edit no
   ``sys.path``.

A module may always import its own subpackage. A new subpackage of mmtlsi
has no layer until it is added to :data:`LAYERS`.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ('mmtlsi', 'tools', 'demo', '.dev_scripts')
SCRIPT_DIRS = ('tools', 'demo', '.dev_scripts')

BOTTOM, MIDDLE, ENGINE, ROOT, APIS, PKG_TOOLS, SCRIPTS = range(7)
LAYER_NAMES = ('bottom', 'middle', 'engine', 'package root', 'apis',
               'mmtlsi.tools', 'scripts')
#: first name under mmtlsi -> layer
LAYERS = dict(tasks=BOTTOM, registry=BOTTOM, utils=BOTTOM, version=BOTTOM,
              compat=BOTTOM, datasets=MIDDLE, models=MIDDLE,
              evaluation=MIDDLE, visualization=MIDDLE, engine=ENGINE,
              apis=APIS, tools=PKG_TOOLS)
#: middle-layer subpackage -> the other middle ones it may import
SIBLINGS_ALLOWED: dict[str, set[str]] = {
    name: set() for name, layer in LAYERS.items() if layer == MIDDLE}


def _unit(path: Path, repo: Path) -> str:
    """'mmtlsi' (the package root), 'mmtlsi.<first name>', or 'scripts'."""
    parts = path.relative_to(repo).parts
    if parts[0] != 'mmtlsi':
        return 'scripts'
    if parts[1:] == ('__init__.py', ):
        return 'mmtlsi'
    return 'mmtlsi.' + parts[1].removesuffix('.py')


def _layer(unit: str) -> int | None:
    if unit == 'scripts':
        return SCRIPTS
    if unit == 'mmtlsi':
        return ROOT
    return LAYERS.get(unit.split('.', 1)[1])


def _module_name(path: Path, repo: Path) -> str:
    parts = list(path.relative_to(repo).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _imports(tree: ast.AST, path: Path, repo: Path):
    """(line, absolute module name) of every import in ``tree``; a name
    imported from a package counts as its submodule when it is one."""
    package = _module_name(path, repo)
    if path.name != '__init__.py':
        package = package.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module
                                          else []))
            else:
                module = node.module or ''
            for alias in node.names:
                sub = repo.joinpath(*module.split('.'), alias.name)
                if sub.is_dir() or sub.with_suffix('.py').is_file():
                    yield node.lineno, f'{module}.{alias.name}'
                else:
                    yield node.lineno, module
        elif isinstance(node, ast.Call) and _call_name(node) in (
                'import_module', 'importlib.import_module') and node.args \
                and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str):
            yield node.lineno, node.args[0].value


def _call_name(node: ast.Call) -> str:
    func = node.func
    names = []
    while isinstance(func, ast.Attribute):
        names.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        names.append(func.id)
    return '.'.join(reversed(names))


def _target_unit(module: str) -> str | None:
    """The unit an imported module belongs to (None: not mmtlsi's)."""
    parts = module.split('.')
    if parts[0] in SCRIPT_DIRS or parts[0] == 'dev_scripts':
        return 'scripts'
    if parts[0] != 'mmtlsi':
        return None
    return 'mmtlsi' if len(parts) == 1 else f'mmtlsi.{parts[1]}'


def _rule_broken(own: str, target: str) -> str | None:
    """The rule ``own`` importing ``target`` breaks (None: allowed)."""
    if own == target and own != 'scripts':
        return None
    own_layer, target_layer = _layer(own), _layer(target)
    if own_layer is None:
        return f'{own} has no layer (add it to LAYERS in this test)'
    if target_layer is None:
        return f'{target} has no layer (add it to LAYERS in this test)'
    if own_layer == SCRIPTS and target_layer == SCRIPTS:
        return 'a script imports no other script (move shared code into ' \
            'the package)'
    if own_layer == BOTTOM:
        return None if target_layer == BOTTOM else \
            'the bottom (tasks, registry, utils, version, compat) imports ' \
            'only the bottom'
    if own_layer == MIDDLE and target_layer == MIDDLE:
        own_name, target_name = own.split('.')[1], target.split('.')[1]
        if target_name in SIBLINGS_ALLOWED[own_name]:
            return None
        return 'datasets, models, evaluation and visualization do not ' \
            'import each other'
    if target_layer >= own_layer:
        return f'{LAYER_NAMES[own_layer]} imports only layers below it ' \
            f'({", ".join(LAYER_NAMES[:own_layer])})'
    return None


def _script_problems(tree: ast.AST, path: Path, repo: Path):
    """Scripts: a sibling script imported by name, code loaded by path, a
    ``sys.path`` edit."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and \
                not getattr(node, 'level', 0):
            names = [a.name for a in node.names] if isinstance(
                node, ast.Import) else [node.module or '']
            for name in names:
                top = path.parent / name.split('.')[0]
                if top.with_suffix('.py').is_file() or (
                        top.is_dir() and (top / '__init__.py').is_file()):
                    yield node.lineno, f'imports the script {name!r} next ' \
                        'to it: a script imports no other script'
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name.endswith(('spec_from_file_location', 'run_path',
                              'SourceFileLoader')):
                yield node.lineno, f'{name}(): a script loads no code by ' \
                    'path'
            elif name in ('sys.path.insert', 'sys.path.append',
                          'sys.path.extend'):
                yield node.lineno, f'{name}(): no script edits sys.path'


def upward_imports(repo: Path) -> list[str]:
    """'file:line: what imports what: the rule' for every broken rule."""
    problems = []
    for top in SCANNED:
        for path in sorted((repo / top).rglob('*.py')):
            if '__pycache__' in path.parts:
                continue
            rel = path.relative_to(repo)
            tree = ast.parse(path.read_text(encoding='utf-8'), str(rel))
            own = _unit(path, repo)
            for line, module in _imports(tree, path, repo):
                target = _target_unit(module)
                if target is None:
                    continue
                rule = _rule_broken(own, target)
                if rule:
                    problems.append(f'{rel}:{line}: {own} imports {module}: '
                                    f'{rule}')
            if own == 'scripts':
                problems += [f'{rel}:{line}: {why}' for line, why in
                             _script_problems(tree, path, repo)]
    return problems


def test_no_module_imports_a_layer_above_its_own():
    problems = upward_imports(REPO)
    assert not problems, 'imports against the layers:\n' + '\n'.join(problems)


def test_the_check_finds_each_kind_of_wrong_import(tmp_path):
    """A tree with one wrong import of each kind: every one is reported,
    with its file and line, and the allowed ones are not."""
    files = {
        'mmtlsi/__init__.py': 'from . import engine, tasks\n',
        'mmtlsi/tasks.py': '''
            import os
            from mmtlsi import utils


            def kinds():
                from mmtlsi.evaluation.metrics import KINDS
                return KINDS
            ''',
        'mmtlsi/utils/__init__.py': '',
        'mmtlsi/utils/files.py': 'from ..registry import MODELS\n',
        'mmtlsi/registry.py': '',
        'mmtlsi/evaluation/__init__.py': 'from .metrics import KINDS\n',
        'mmtlsi/evaluation/metrics.py': '''
            from mmtlsi.tasks import TaskSpec
            from ..visualization import draw
            KINDS = {}
            ''',
        'mmtlsi/visualization/__init__.py': 'draw = None\n',
        'mmtlsi/models/heads.py': '''
            import importlib
            mod = importlib.import_module('mmtlsi.engine.hooks')
            ''',
        'mmtlsi/engine/__init__.py': 'import mmtlsi\n',
        'mmtlsi/apis/__init__.py': 'from mmtlsi.engine import hooks\n',
        'mmtlsi/newthing/__init__.py': 'from mmtlsi import tasks\n',
        'tools/train.py': '''
            import sys
            sys.path.insert(0, '.')
            from mmtlsi.apis import run
            from common import x
            ''',
        'tools/common.py': 'x = 1\n',
        'demo/run.py': '''
            import importlib.util
            spec = importlib.util.spec_from_file_location('t', 'train.py')
            from tools import train
            ''',
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip('\n'))
    problems = upward_imports(tmp_path)
    expected = [
        ('demo/run.py:2:', 'loads no code by path'),
        ('demo/run.py:3:', 'imports tools.train: a script imports no other'),
        ('mmtlsi/engine/__init__.py:1:', 'imports mmtlsi: engine imports '
         'only layers below it'),
        ('mmtlsi/evaluation/metrics.py:2:', 'imports '
         'mmtlsi.visualization: datasets, models, evaluation and '
         'visualization do not import each other'),
        ('mmtlsi/models/heads.py:2:', 'imports mmtlsi.engine.hooks: middle '
         'imports only layers below it (bottom)'),
        ('mmtlsi/newthing/__init__.py:1:', 'mmtlsi.newthing has no layer'),
        ('mmtlsi/tasks.py:6:', 'imports mmtlsi.evaluation.metrics: the '
         'bottom'),
        ('tools/train.py:2:', 'no script edits sys.path'),
        ('tools/train.py:4:', "imports the script 'common' next to it"),
    ]
    assert len(problems) == len(expected), '\n'.join(problems)
    for problem, (where, why) in zip(sorted(problems), expected):
        assert problem.startswith(where) and why in problem, problem
