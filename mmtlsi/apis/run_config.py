"""Building the config of a run from a file and ``--cfg-options``: shared
by every tool and by :mod:`mmtlsi.apis`.

``--cfg-options KEY=VALUE`` may only change keys the config has; a key it
does not have is refused before anything runs, with the closest known key.
A new key is added on purpose by writing it with a leading ``+``
(``+model.decode_head.new_option=1``).
"""
from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import os
import os.path as osp
from typing import Iterable, List, Mapping, Optional

from mmengine.config import Config, DictAction

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
NEW_KEY_PREFIX = '+'


#: top-level keys the Runner and mmtlsi's tools read after loading; any other
#: top-level key is a variable of the config file, copied where it is used
#: when the file is read
RUN_KEYS = frozenset((
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'model_wrapper_cfg', 'runner_type', 'custom_imports', 'compile',
    'data_root', 'crop_size', 'load_from_strict'))


class ConfigOptionError(KeyError):
    """A ``--cfg-options`` key that the config does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


def literal_value(text: str):
    """The value of a Python literal written on the command line: numbers,
    strings, ``True/False/None``, lists, tuples, ``{...}`` and
    ``dict(key=value, ...)``; a bare name is the string it spells (as
    mmengine's ``DictAction`` reads ``[a,b]``). Nothing is executed."""

    def value(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.UnaryOp) and isinstance(
                node.op, (ast.USub, ast.UAdd)) and isinstance(
                    node.operand, ast.Constant) and isinstance(
                        node.operand.value, (int, float)):
            number = node.operand.value
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.List):
            return [value(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(value(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            if None in node.keys:
                raise ValueError('** in a dict literal')
            return {value(k): value(v)
                    for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == 'dict' and not node.args \
                and all(kw.arg for kw in node.keywords):
            return {kw.arg: value(kw.value) for kw in node.keywords}
        raise ValueError(f'not a literal: {ast.unparse(node)}')

    return value(ast.parse(text.strip(), mode='eval').body)


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction``, plus values holding dicts:
    ``vis_backends="[dict(type='LocalVisBackend'),dict(type=X)]"`` or
    ``"[{'type': 'LocalVisBackend'}]"`` give a list of dicts (mmengine's
    action splits them into strings). Other values parse as there."""

    @staticmethod
    def _parse_iterable(val: str):
        if 'dict(' in val or '{' in val:
            try:
                return literal_value(val)
            except (SyntaxError, ValueError) as e:
                raise argparse.ArgumentError(
                    None, f'--cfg-options: cannot read {val!r} as a '
                    f'literal: {e}') from None
        return DictAction._parse_iterable(val)


def add_cfg_options_argument(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options KEY=VALUE ...`` read with :class:`CfgOptionsAction`."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        metavar='KEY=VALUE',
        help='override settings of the config, e.g. '
        'train_cfg.max_iters=100, key="[a,b]" or '
        'key="[dict(type=A),dict(type=B)]". Only keys the config has '
        'are accepted; write +KEY=VALUE to add a new one.')


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every run tool takes: --work-dir, --cfg-options,
    --compile, --partial-load, --launcher, --local-rank."""
    parser.add_argument('--work-dir', help='the folder for logs, checkpoints '
                        'and results (default: ./work_dirs/<config name>)')
    add_cfg_options_argument(parser)
    parser.add_argument(
        '--compile', action='store_true',
        help="compile the model with torch.compile (mmengine's `compile` "
        'config key)')
    parser.add_argument(
        '--partial-load', action='store_true',
        help='let a checkpoint (load_from) fill the model in part: what '
        'does not fit is listed and left as initialised (default: such a '
        'checkpoint stops the run with the keys)')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help='job launcher')
    # torchrun passes LOCAL_RANK in the environment; older launchers pass it
    # as an argument
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> None:
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)


def _known_paths(node, prefix: str = '', depth: int = 6) -> List[str]:
    paths = []
    if depth == 0 or not isinstance(node, Mapping):
        return paths
    for key, value in node.items():
        path = f'{prefix}{key}'
        paths.append(path)
        paths += _known_paths(value, path + '.', depth - 1)
    return paths


def type_arguments(type_name) -> set:
    """Argument names the class (or function) registered as ``type_name``
    takes, over its bases too; empty if it is not found."""
    if not isinstance(type_name, str):
        return set()
    from mmengine.registry import Registry
    from mmseg.registry import registry as mmseg_registries
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    for registry in vars(mmseg_registries).values():
        if not isinstance(registry, Registry):
            continue
        try:
            obj = registry.get(type_name)
        except Exception:
            obj = None
        if obj is None:
            continue
        functions = [c.__dict__['__init__'] for c in inspect.getmro(obj)
                     if '__init__' in c.__dict__] \
            if inspect.isclass(obj) else [obj]
        names = set()
        for fn in functions:
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                continue
            names |= {p.name for p in params if p.kind in (
                p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        return names - {'self'}
    return set()


def _flatten(node, prefix: str = ''):
    items = node.items() if isinstance(node, Mapping) else \
        enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, value in items:
        path = f'{prefix}{key}'
        yield path, value
        yield from _flatten(value, path + '.')


def _uses_of(cfg: Mapping, key: str) -> List[str]:
    """Paths below the run keys that hold the value of top-level ``key``."""
    value = cfg[key]
    if value is None or isinstance(value, bool) or value == '':
        return []
    return [path for name in cfg if name in RUN_KEYS
            for path, v in _flatten(cfg[name], name + '.') if v == value]


def _missing_part(cfg: Mapping, parts: List[str]) -> Optional[int]:
    """Index of the first part of a dotted key the config lacks, or None.

    A key that the config does not write but that the ``type`` of its dict
    takes as an argument (e.g. ``default_hooks.logger.interval``) counts as
    known."""
    node = cfg
    for i, part in enumerate(parts):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() \
                and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and 'type' in node \
                and part in type_arguments(node['type']):
            return None
        else:
            return i
    return None


def suggest_key(cfg: Mapping, key: str) -> Optional[str]:
    """The known key closest to ``key`` (same level first), or None."""
    cfg = getattr(cfg, '_cfg_dict', cfg)
    parts = key.split('.')
    missing = _missing_part(cfg, parts)
    if missing is not None:
        node = cfg
        for part in parts[:missing]:
            node = node[int(part)] if isinstance(node, (list, tuple)) \
                else node[part]
        if isinstance(node, Mapping):
            known = [str(k) for k in node] + sorted(
                type_arguments(node.get('type')))
            close = difflib.get_close_matches(parts[missing], known, n=1)
            if close:
                return '.'.join(parts[:missing] + close +
                                parts[missing + 1:])
    close = difflib.get_close_matches(key, _known_paths(cfg), n=1,
                                      cutoff=0.7)
    return close[0] if close else None


def check_cfg_options(cfg: Mapping, options: Mapping) -> dict:
    """Options with every key checked against ``cfg``.

    A key written ``+a.b`` is a deliberate new key: it is accepted and
    returned as ``a.b``. Any other key must name something the config has;
    otherwise ``ConfigOptionError`` lists the unknown keys with the closest
    known ones.
    """
    cfg = getattr(cfg, '_cfg_dict', cfg)        # Config -> its ConfigDict
    checked, problems = {}, []
    for key, value in options.items():
        if key.startswith(NEW_KEY_PREFIX):
            checked[key[len(NEW_KEY_PREFIX):]] = value
            continue
        if '.' not in key and key not in RUN_KEYS and key in cfg:
            uses = _uses_of(cfg, key)
            if uses:
                problems.append(
                    f'  {key} is a variable of the config file, copied where '
                    f'it is used when the file is read, so setting it here '
                    f'would change nothing; set {" and ".join(uses[:3])}'
                    + (' ...' if len(uses) > 3 else ''))
                continue
        if _missing_part(cfg, key.split('.')) is not None:
            hint = suggest_key(cfg, key)
            problems.append(f'  {key}' + (f' (did you mean {hint}?)'
                                          if hint else ''))
            continue
        checked[key] = value
    if problems:
        raise ConfigOptionError(
            '--cfg-options: not a key of the config:\n' + '\n'.join(problems) +
            f'\nwrite {NEW_KEY_PREFIX}KEY=VALUE to add a new key on purpose')
    return checked


def set_data_root(cfg: Config, data_root: str) -> list[str]:
    """Point every dataloader's dataset at ``data_root``.

    A base dataset config copies its top-level ``data_root`` into each
    dataset when it is read, so ``--cfg-options data_root=...`` alone would
    change nothing; the tools call this to make that one option work.
    Dataset wrappers (``dataset=dict(dataset=...)``) are followed.

    Returns the names of the dataloaders that were changed.
    """
    cfg.data_root = data_root
    changed = []
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        dataset = loader.get('dataset')
        while dataset is not None:
            if 'data_root' in dataset:
                dataset['data_root'] = data_root
                changed.append(name)
                break
            dataset = dataset.get('dataset')
    return changed


def merge_cfg_options(cfg: Config, options: Optional[Mapping]) -> Config:
    """Check and merge ``--cfg-options`` into ``cfg`` (``data_root``
    re-points every dataloader)."""
    if not options:
        return cfg
    options = check_cfg_options(cfg, options)
    cfg.merge_from_dict(options)
    if 'data_root' in options:
        set_data_root(cfg, options['data_root'])
    return cfg


def build_run_config(config: str, cfg_options: Optional[Mapping] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none', *, compile: bool = False,
                     partial_load: bool = False) -> Config:
    """The config of a run: the file, then ``--cfg-options``, then the work
    dir (``--work-dir`` > the config's ``work_dir`` >
    ``./work_dirs/<config name>``) and the launcher. ``compile`` sets
    mmengine's ``compile`` key; ``partial_load`` sets
    ``load_from_strict = False``."""
    cfg = merge_cfg_options(Config.fromfile(config), cfg_options)
    cfg.launcher = launcher
    if compile:
        cfg.compile = True
    if partial_load:
        cfg.load_from_strict = False
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def parse_cfg_options(pairs: Iterable[str]) -> dict:
    """``['a.b=1', 'c=x']`` -> options dict, parsed as ``--cfg-options``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=CfgOptionsAction,
                        default={})
    pairs = list(pairs)
    return parser.parse_args(['--o', *pairs]).o if pairs else {}
