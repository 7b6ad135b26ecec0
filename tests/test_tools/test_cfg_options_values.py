"""``--cfg-options`` values: dicts inside lists (the TensorBoard line of
docs/visualization.md), everything else as mmengine's DictAction reads it."""
import argparse

import pytest
from mmengine.config import Config

from mmtlsi.apis.run_config import (
    literal_value,
    merge_cfg_options,
    parse_cfg_options,
)


@pytest.mark.parametrize('text, value', [
    ("[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]",
     [{'type': 'LocalVisBackend'}, {'type': 'TensorboardVisBackend'}]),
    ('[dict(type=LocalVisBackend), dict(type=WandbVisBackend, '
     "init_kwargs=dict(mode='offline', project='p'))]",
     [{'type': 'LocalVisBackend'},
      {'type': 'WandbVisBackend',
       'init_kwargs': {'mode': 'offline', 'project': 'p'}}]),
    ("[{'type': 'A', 'n': -2}, {'type': 'B', 'x': (1, 2.5)}]",
     [{'type': 'A', 'n': -2}, {'type': 'B', 'x': (1, 2.5)}]),
    ('dict(a=[1, -0.5], b=None, c=True)',
     {'a': [1, -0.5], 'b': None, 'c': True}),
])
def test_literal_values(text, value):
    assert literal_value(text) == value
    assert parse_cfg_options([f'k={text}']) == {'k': value}


@pytest.mark.parametrize('pair, value', [
    ('a=1,2', [1, 2]),
    ('a=[x,y]', ['x', 'y']),
    ('a=(1,2)', (1, 2)),
    ('a=0.5', 0.5),
    ('a=false', False),
    ('a=work_dirs/run', 'work_dirs/run'),
])
def test_other_values_as_mmengine_reads_them(pair, value):
    assert parse_cfg_options([pair]) == {'a': value}


@pytest.mark.parametrize('text', [
    "dict(a=__import__('os').getcwd())",      # a call: never executed
    'dict(**x)',
    '[dict(a=1)',                              # syntax error
    "{'a': 1 + 2}",
])
def test_what_is_not_a_literal_is_refused(text):
    with pytest.raises((ValueError, SyntaxError)):
        literal_value(text)
    parser = argparse.ArgumentParser(exit_on_error=False)
    from mmtlsi.apis.run_config import add_cfg_options_argument
    add_cfg_options_argument(parser)
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        parser.parse_args(['--cfg-options', f'k={text}'])


def test_backends_list_replaces_the_config_list():
    cfg = Config(dict(visualizer=dict(
        type='MultiTaskVisualizer', vis_backends=[dict(type='Local')])))
    options = parse_cfg_options(
        ["visualizer.vis_backends=[dict(type='Local'),dict(type='TB')]"])
    merge_cfg_options(cfg, options)
    assert cfg.visualizer.vis_backends == [dict(type='Local'),
                                           dict(type='TB')]
    assert all(isinstance(b, dict) for b in cfg.visualizer.vis_backends)


def test_compile_and_partial_load_flags_set_config_keys(tmp_path):
    from mmtlsi.tools.train import parse_args
    cfg_file = tmp_path / 'c.py'
    cfg_file.write_text("model = dict(type='X')\nload_from = None\n")
    args = parse_args([str(cfg_file), '--compile', '--partial-load',
                       '--cfg-options', 'load_from=w.pth'])
    assert args.compile and args.partial_load
    from mmtlsi.apis.run_config import build_run_config
    cfg = build_run_config(str(cfg_file), args.cfg_options,
                           compile=args.compile,
                           partial_load=args.partial_load)
    assert cfg.compile is True and cfg.load_from_strict is False
    assert cfg.load_from == 'w.pth'
    plain = build_run_config(str(cfg_file))
    assert 'compile' not in plain and 'load_from_strict' not in plain
