"""A diverging training run (learning rate 50) stops at its first
non-finite step (after the allowed skips), exit non-zero, naming the
iteration and the batch's files, and leaves only finite, loadable
checkpoints."""
import os
import os.path as osp
import re
import subprocess
import sys

import torch
from tiny_runs import tiny_run_config

import mmtlsi  # noqa: F401  (allow-lists mmengine's checkpoint types)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_diverged_run_stops_and_keeps_only_finite_checkpoints(tmp_path):
    folder = str(tmp_path)
    cfg = tiny_run_config(
        folder, max_iters=20, num_train=6, num_workers=0,
        checkpoint_interval=1, name='diverge.py', extra="""
            optim_wrapper = dict(optimizer=dict(lr=50.0), clip_grad=None,
                                 max_nonfinite_skips=1)
            param_scheduler = None
            """)
    work_dir = osp.join(folder, 'work')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg,
         '--work-dir', work_dir], cwd=REPO, capture_output=True, text=True,
        timeout=900, env=dict(os.environ, PYTHONPATH=REPO,
                              OMP_NUM_THREADS='1'))
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    skipped = re.findall(r'skipped a non-finite step \(1 of at most 1\): '
                         r'iteration (\d+)', out)
    stopped = re.search(r'NonFiniteLossError: iteration (\d+) \(rank 0\)',
                        out)
    assert len(skipped) == 1 and stopped, out[-3000:]
    assert int(stopped[1]) > int(skipped[0])
    assert osp.join(folder, 'data', 'images') in out.split(
        'NonFiniteLossError')[-1]
    # every checkpoint left is finite and loadable, the named one included
    left = [n for n in os.listdir(work_dir) if n.endswith('.pth')]
    assert left, os.listdir(work_dir)
    for name in left:
        ckpt = torch.load(osp.join(work_dir, name), weights_only=True)
        for key, value in ckpt['state_dict'].items():
            assert torch.isfinite(value.float()).all(), (name, key)
        for slots in ckpt['optimizer']['state'].values():
            for key, value in slots.items():
                assert torch.isfinite(value.float()).all(), (name, key)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) in left
