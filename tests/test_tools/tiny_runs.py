"""The short demo training runs that the kill, preemption and restart tests
start again and again: one config file, written once here."""
import os.path as osp
import textwrap

from scripts import ROOT

DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')


def tiny_run_config(folder: str, max_iters: int, num_train: int,
                    num_workers: int, checkpoint_interval: int = 2,
                    extra: str = '', name: str = 'tiny.py') -> str:
    """``folder/<name>``: the demo config on ``num_train`` synthetic images
    of 48x64 (batch 2), ``max_iters`` iterations, a checkpoint every
    ``checkpoint_interval`` (the newest kept), a log line every iteration,
    then the config lines ``extra`` (which replace a key set above);
    returns its path."""
    path = osp.join(folder, name)
    loader = (f'num_workers={num_workers}, '
              f'persistent_workers={num_workers > 0}, dataset=dict('
              f'data_root={osp.join(folder, "data")!r}, '
              f'num_train={num_train}, num_val=2, img_size=(48, 64), seed=1)')
    with open(path, 'w') as f:
        f.write(textwrap.dedent(f"""
            _base_ = {DEMO_CFG!r}
            train_dataloader = dict(batch_size=2, {loader})
            val_dataloader = dict({loader})
            test_dataloader = dict({loader})
            train_cfg = dict(max_iters={max_iters}, val_interval=1000)
            param_scheduler = [dict(type='LinearLR', start_factor=0.5,
                                    begin=0, end=4, by_epoch=False)]
            default_hooks = dict(
                logger=dict(interval=1),
                checkpoint=dict(interval={checkpoint_interval},
                                max_keep_ckpts=1, save_best=None))
            """) + textwrap.dedent(extra))
    return path
