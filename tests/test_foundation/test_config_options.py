"""--cfg-options: unknown keys are refused with the closest known key."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmtlsi.apis.run_config import (
    ConfigOptionError,
    build_run_config,
    check_cfg_options,
    parse_cfg_options,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(DEMO_CFG)


@pytest.mark.parametrize('key,hint', [
    ('data_rot', 'data_root'),
    ('default_hooks.checkpoint.intervl', 'default_hooks.checkpoint.interval'),
    ('model.decode_head.num_tokns', 'model.decode_head.num_tokens'),
    ('train_dataloader.batchsize', 'train_dataloader.batch_size'),
])
def test_misspelled_key_is_refused_with_did_you_mean(cfg, key, hint):
    with pytest.raises(ConfigOptionError) as e:
        check_cfg_options(cfg, {key: 1})
    assert f'{key} (did you mean {hint}?)' in str(e.value)


def test_known_keys_list_indices_and_type_arguments_pass(cfg):
    opts = {'train_cfg.max_iters': 3,
            'train_dataloader.dataset.pipeline.3.crop_size': (8, 8),
            # not written in the config, but an argument of LoggerHook
            'default_hooks.logger.ignore_last': False,
            'default_hooks.visualization.interval': 1}
    assert check_cfg_options(cfg, opts) == opts


def test_plus_adds_a_new_key_on_purpose(cfg):
    assert check_cfg_options(cfg, {'+model.decode_head.extra_flag': 1}) == {
        'model.decode_head.extra_flag': 1}
    built = build_run_config(DEMO_CFG, parse_cfg_options(
        ['+custom_key.a=3', 'train_cfg.max_iters=7']), work_dir='/tmp/w')
    assert built.custom_key.a == 3 and built.train_cfg.max_iters == 7
    assert built.work_dir == '/tmp/w'


def test_file_variable_is_refused_with_the_keys_that_use_it(cfg):
    with pytest.raises(ConfigOptionError) as e:
        check_cfg_options(cfg, {'tasks': ['semseg']})
    msg = str(e.value)
    assert 'variable of the config file' in msg
    assert 'model.decode_head.tasks' in msg


def test_data_root_repoints_every_dataloader():
    built = build_run_config(DEMO_CFG, {'data_root': '/elsewhere'})
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert built[name].dataset.data_root == '/elsewhere'
    assert built.work_dir == osp.join('./work_dirs',
                                      'mtlsi_tiny_synthetic-nyud')
