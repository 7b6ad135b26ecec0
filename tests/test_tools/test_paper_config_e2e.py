"""The headline command, run as the README says, on a small NYUDv2-layout
folder: ``tools/train.py configs/mtlsi/swin-t_nyud.py`` loads the Swin-T
ImageNet weights from a local copy in the official release's layout, trains
(SyncBN becomes BN in one process), keeps the last checkpoint, and
``tools/test.py`` prints the table from it. Only sizes and iteration counts
are overridden, with --cfg-options (about 45 s of CPU time)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_datasets'))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_models'))

from mt_data_helpers import make_nyud  # noqa: E402
from upstream_checkpoints import SWIN_ARCHS, official_swin_checkpoint  # noqa: E402

CONFIG = 'configs/mtlsi/swin-t_nyud.py'


def _run(args, timeout=600):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable] + args, cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp('paper')
    data = str(root / 'NYUDv2')
    make_nyud(data, ids=('0001', '0002'), split='train')
    make_nyud(data, ids=('0003', '0004'), split='val')
    ckpt = str(root / 'swin_tiny_patch4_window7_224_22k.pth')
    state = official_swin_checkpoint(ckpt, **SWIN_ARCHS['tiny'])
    # 64x64 inputs: Swin-T's stride-16/32 maps (4x4, 2x2) are smaller than
    # its window (7) and are padded to it (the paper's crops need no padding)
    small = [
        f'data_root={data}', 'model.data_preprocessor.size=(64,64)',
        'model.backbone.pad_small_map=True',
        'model.data_preprocessor.test_cfg.size=(64,64)',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'val_evaluator.nproc=1', 'test_evaluator.nproc=1'
    ]
    work = str(root / 'work')
    train_log = _run([
        'tools/train.py', CONFIG, '--work-dir', work, '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={ckpt}',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1'
    ] + small)
    test_log = _run([
        'tools/test.py', CONFIG, osp.join(work, 'iter_2.pth'), '--work-dir',
        str(root / 'test'), '--no-flops', '--cfg-options'
    ] + small)
    return dict(work=work, ckpt=ckpt, state=state, train_log=train_log,
                test_log=test_log)


def test_backbone_weights_come_from_the_file(run):
    assert (f'SwinTransformer: 183 tensors loaded from {run["ckpt"]} '
            '(official Swin layout)') in run['train_log']
    saved = torch.load(osp.join(run['work'], 'iter_2.pth'),
                       weights_only=True)['state_dict']
    table = ('backbone.stages.2.blocks.3.attn.w_msa.'
             'relative_position_bias_table')
    start = run['state'][
        'layers.2.blocks.3.attn.relative_position_bias_table']
    # two AdamW steps at lr 2e-5 from the file's values
    assert (saved[table] - start).abs().max() < 1e-3
    assert not torch.equal(saved[table], start)


def test_single_process_run_turns_syncbn_into_bn(run):
    assert 'SyncBatchNorm (SyncBN) layers in the model will be automatically '\
        'reverted' in run['train_log']
    assert 'Iter(train) [2/2]' in run['train_log']


def test_last_checkpoint_is_kept_and_no_best_is_chosen(run):
    with open(osp.join(run['work'], 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'iter_2.pth'
    names = os.listdir(run['work'])
    assert not [n for n in names if n.startswith('best')]
    # max_keep_ckpts=2 of the paper's schedule: iter_1 and iter_2 remain
    assert sorted(n for n in names if n.endswith('.pth')) == [
        'iter_1.pth', 'iter_2.pth']


def test_test_tool_prints_the_table_from_it(run):
    for column in ('Seg. mIoU', 'Depth RMSE', 'Normal mErr', 'Bound. odsF',
                   'Params (M)'):
        assert column in run['test_log']
    assert 'swin-t_nyud' in run['test_log']
