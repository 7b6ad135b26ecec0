"""A training run killed (SIGKILL) or preempted (SIGTERM / SIGUSR1) at
random moments, also inside a save, always resumes and ends with the weights
of an uninterrupted run."""
import os
import os.path as osp
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from tiny_runs import tiny_run_config

import mmtlsi  # noqa: F401  (allow-lists mmengine's checkpoint types)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAX_ITERS = 8
ITER_LINE = re.compile(r'Iter\(train\) \[\s*(\d+)/')
# a save's fsync sleeps this long, so that kills land inside saves
SLOW_FSYNC_S = 0.3
# train.py behind a slowed os.fsync (checkpoint files are fsynced before
# their rename, so the temporary file exists for at least this long)
LAUNCHER = f"""
import os, runpy, sys, time
_fsync = os.fsync
def slow_fsync(fd):
    time.sleep({SLOW_FSYNC_S})
    _fsync(fd)
os.fsync = slow_fsync
sys.argv = [{osp.join(REPO, 'tools', 'train.py')!r}] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def _config(folder):
    return tiny_run_config(folder, MAX_ITERS, num_train=6, num_workers=1)


def _start(cfg, work_dir, folder, new_session=False):
    launcher = osp.join(folder, 'launch.py')
    if not osp.exists(launcher):
        with open(launcher, 'w') as f:
            f.write(LAUNCHER)
    cmd = [sys.executable, launcher, cfg, '--work-dir', work_dir]
    if osp.exists(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=new_session)


def _temp_files(work_dir):
    return [n for n in os.listdir(work_dir) if n.endswith('.tmp')] \
        if osp.isdir(work_dir) else []


class _Log:
    """Collects a process's output lines as they come, on a thread."""

    def __init__(self, proc):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(proc,),
                                       daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line)

    def last_iter(self):
        done = [int(m[1]) for line in list(self.lines)
                for m in [ITER_LINE.search(line)] if m]
        return max(done, default=0)

    def text(self):
        self.thread.join(timeout=30)
        return ''.join(self.lines)


def _saved_step(work_dir):
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(marker):
        return 0
    with open(marker) as f:
        return int(re.search(r'iter_(\d+)\.pth', f.read())[1])


def _final_weights(work_dir):
    ckpt = torch.load(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
                      map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == MAX_ITERS
    return ckpt['state_dict']


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """Config, scratch folder and final weights of an uninterrupted run."""
    folder = str(tmp_path_factory.mktemp('kill_resume'))
    cfg = _config(folder)
    ref_dir = osp.join(folder, 'ref')
    proc = _start(cfg, ref_dir, folder)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    ckpt = torch.load(osp.join(ref_dir, f'iter_{MAX_ITERS}.pth'),
                      map_location='cpu', weights_only=True)
    assert ckpt['meta']['world_size'] == 1
    assert ckpt['meta']['batch_size'] == 2
    return cfg, folder, _final_weights(ref_dir)


def _assert_same_weights(resumed, reference, events):
    assert resumed.keys() == reference.keys()
    for key, value in reference.items():
        assert torch.equal(resumed[key], value), (key, events)


def test_sigkill_at_random_moments_then_resume_matches(reference):
    cfg, folder, reference = reference

    rng = random.Random(20261202)
    work_dir = osp.join(folder, 'killed')
    # when each run is killed: while a checkpoint is being written; at a
    # random moment of the start-up; a random time after a random iteration
    moments = ['save', 'startup'] + ['iteration'] * 3
    kills = []                         # (moment, detail, inside a save)
    for moment in moments:
        resumed_at = _saved_step(work_dir)
        leftover = set(_temp_files(work_dir))  # removed once training starts
        proc = _start(cfg, work_dir, folder)
        log = _Log(proc)
        if moment == 'save':
            detail = 'first temporary file'
            while proc.poll() is None and not _temp_files(work_dir):
                time.sleep(0.002)
        elif moment == 'startup':
            delay = rng.uniform(0.5, 3.0)
            detail = f'{delay:.2f} s after start'
            time.sleep(delay)
        else:
            target = rng.randint(resumed_at + 1, MAX_ITERS - 1)
            delay = rng.uniform(0.0, 0.4)
            detail = f'{delay:.2f} s after iteration {target}'
            while proc.poll() is None and log.last_iter() < target:
                time.sleep(0.002)
            time.sleep(delay)
        assert proc.poll() is None, (moment, detail, log.text()[-3000:])
        in_save = bool(set(_temp_files(work_dir)) - leftover)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.text()
        kills.append((moment, detail, in_save))
        # a loadable checkpoint is always left once one was written
        if osp.exists(osp.join(work_dir, 'last_checkpoint')):
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                named = f.read().strip()
            assert osp.isfile(named), (kills, os.listdir(work_dir))
            torch.load(named, map_location='cpu', weights_only=True)

    assert len(kills) == len(moments), kills
    assert kills[0][2], f'the first kill was not inside a save: {kills}'
    proc = _start(cfg, work_dir, folder)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    assert not _temp_files(work_dir), os.listdir(work_dir)
    _assert_same_weights(_final_weights(work_dir), reference, kills)
    print('kills (moment, when, inside a save):', kills)
    # max_keep_ckpts=1: exactly the last checkpoint is left
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) \
        == [f'iter_{MAX_ITERS}.pth']


def _check_loadable_finite(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        named = f.read().strip()
    ckpt = torch.load(named, map_location='cpu', weights_only=True)
    for key, value in ckpt['state_dict'].items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), key
    return ckpt['meta']['iter']


def test_sigterm_sigusr1_at_random_moments_then_resume_matches(reference):
    cfg, folder, reference = reference
    rng = random.Random(20261204)
    work_dir = osp.join(folder, 'preempted')
    # (signal, moment): after a random iteration, to the process only; to
    # the whole process group (as Slurm signals a job step), twice; while a
    # checkpoint is written
    plans = [('SIGTERM', 'iteration', False), ('SIGUSR1', 'iteration', True),
             ('SIGTERM', 'save', False)]
    events = []
    for name, moment, group in plans:
        resumed_at = _saved_step(work_dir)
        proc = _start(cfg, work_dir, folder, new_session=group)
        log = _Log(proc)
        if moment == 'save':
            leftover = set(_temp_files(work_dir))
            while proc.poll() is None and \
                    not set(_temp_files(work_dir)) - leftover:
                time.sleep(0.002)
            detail = 'inside a save'
        else:
            # at most 2 iterations on: room for the later plans (and the
            # last iteration would end the run as usual)
            target = rng.randint(resumed_at + 1, resumed_at + 2)
            delay = rng.uniform(0.0, 0.3)
            while proc.poll() is None and log.last_iter() < target:
                time.sleep(0.002)
            time.sleep(delay)
            detail = f'{delay:.2f} s after iteration {target}'
        assert proc.poll() is None, (name, detail, log.text()[-3000:])
        seen = log.last_iter()
        signum = getattr(signal, name)
        if group:
            os.killpg(proc.pid, signum)
            time.sleep(0.05)
            os.killpg(proc.pid, signum)       # a second signal changes nothing
        else:
            proc.send_signal(signum)
        proc.wait(timeout=300)
        out = log.text()
        assert proc.returncode == 75, (name, detail, out[-3000:])
        stopped = int(re.search(r'stopped after iteration (\d+)', out)[1])
        # the iteration that ran when the signal came was finished and saved
        assert seen <= stopped <= seen + 1, (seen, stopped)
        assert _saved_step(work_dir) == stopped
        assert _check_loadable_finite(work_dir) == stopped
        assert not _temp_files(work_dir), os.listdir(work_dir)
        events.append((name, detail, group, stopped))
    proc = _start(cfg, work_dir, folder)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    assert f'resumed epoch: 0, iter: {events[-1][3]}' in out
    _assert_same_weights(_final_weights(work_dir), reference, events)
    print('preemptions (signal, when, process group, saved at):', events)
