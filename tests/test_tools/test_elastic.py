"""Two CPU processes under torchrun (tools/dist_train.sh, gloo): a worker
killed with SIGKILL makes the group restart from the last checkpoint and end
with the weights of an uninterrupted 2-process run; resuming with another
number of processes (2 -> 1, 1 -> 2) stops with advice."""
import os
import os.path as osp
import random
import re
import signal
import socket
import subprocess
import sys

import torch
from tiny_runs import tiny_run_config

import mmtlsi  # noqa: F401  (allow-lists mmengine's checkpoint types)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAX_ITERS = 8
ITER_LINE = re.compile(r'Iter\(train\) \[\s*(\d+)/')


def _config(folder):
    return tiny_run_config(folder, MAX_ITERS, num_train=8, num_workers=0)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               PYTHON=sys.executable,
               PORT=str(_free_port()), **extra)
    env.pop('TORCHELASTIC_RESTART_COUNT', None)
    return env


def _dist_train(cfg, work_dir, nproc, *args, restarts=0):
    return subprocess.Popen(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), cfg, str(nproc),
         '--work-dir', work_dir, *args],
        cwd=REPO, env=_env(RESTARTS=str(restarts)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _train_1(cfg, work_dir, *args):
    return subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg,
         '--work-dir', work_dir, *args], cwd=REPO, env=_env(),
        capture_output=True, text=True, timeout=600)


def _rank_pid(rank):
    """The pid of the training worker of ``rank`` (its environment says)."""
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/environ', 'rb') as f:
                env = f.read().split(b'\0')
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmd = f.read()
        except OSError:
            continue
        if b'train.py' in cmd and f'RANK={rank}'.encode() in env and \
                b'TORCHELASTIC_RUN_ID=mmtlsi' in env and \
                f'MMTLSI_TEST_RUN={os.getpid()}'.encode() in env:
            return int(pid)
    return None


def _weights(work_dir, step=MAX_ITERS):
    ckpt = torch.load(osp.join(work_dir, f'iter_{step}.pth'),
                      map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == step
    return ckpt


def test_sigkilled_worker_restarts_group_and_matches(tmp_path):
    os.environ['MMTLSI_TEST_RUN'] = str(os.getpid())
    folder = str(tmp_path)
    cfg = _config(folder)
    ref_dir = osp.join(folder, 'ref')
    proc = _dist_train(cfg, ref_dir, 2)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:]
    reference = _weights(ref_dir)
    assert reference['meta']['world_size'] == 2
    assert reference['meta']['batch_size'] == 2

    rng = random.Random(20261204)
    target = rng.randint(3, MAX_ITERS - 2)
    work_dir = osp.join(folder, 'killed')
    proc = _dist_train(cfg, work_dir, 2, restarts=1)
    lines = []
    killed = None
    for line in proc.stdout:
        lines.append(line)
        done = ITER_LINE.search(line)
        if killed is None and done and int(done[1]) >= target:
            killed = _rank_pid(1)
            assert killed, ''.join(lines)[-3000:]
            os.kill(killed, signal.SIGKILL)
    proc.wait(timeout=900)
    out = ''.join(lines)
    assert killed and proc.returncode == 0, out[-4000:]
    # the restarted group resumed from the checkpoint before the kill
    resumed = re.findall(r'resumed epoch: 0, iter: (\d+)', out)
    assert resumed and int(resumed[-1]) <= target, out[-4000:]
    final = _weights(work_dir)
    assert final['state_dict'].keys() == reference['state_dict'].keys()
    for key, value in reference['state_dict'].items():
        assert torch.equal(final['state_dict'][key], value), key

    # 2 -> 1: the 2-process work dir resumed by one process
    result = _train_1(cfg, work_dir, '--resume')
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert 'written by 2 process(es) x batch size 2, this run has 1 x 2' \
        in text, text[-3000:]
    assert 'tools/dist_train.sh CONFIG 2 --resume' in text

    # 1 -> 2: a 1-process work dir resumed by two processes
    one_dir = osp.join(folder, 'one')
    result = _train_1(cfg, one_dir, '--cfg-options', 'train_cfg.max_iters=2')
    assert result.returncode == 0, result.stdout[-3000:]
    proc = _dist_train(cfg, one_dir, 2, '--resume')
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode != 0
    assert 'written by 1 process(es) x batch size 2, this run has 2 x 2' \
        in out, out[-3000:]
    # nothing was trained or written over
    assert sorted(n for n in os.listdir(one_dir) if n.endswith('.pth')) \
        == ['iter_2.pth']
