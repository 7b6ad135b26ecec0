"""The train and test tools close their process group before the process
ends. A gloo group still alive at interpreter shut-down can abort a finished
run ('terminate called without an active exception', exit -6)."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch.distributed as dist
from scripts import ROOT
from tiny_runs import tiny_run_config

from mmtlsi.engine import PREEMPTED_EXIT_CODE, closing_process_group


@pytest.fixture
def group(tmp_path):
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store',
                            rank=0, world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_a_finished_block_destroys_the_group(group):
    with closing_process_group():
        assert dist.is_initialized()
    assert not dist.is_initialized()


def test_the_preemption_exit_destroys_the_group_and_goes_on(group):
    with pytest.raises(SystemExit) as info:
        with closing_process_group():
            raise SystemExit(PREEMPTED_EXIT_CODE)
    assert info.value.code == PREEMPTED_EXIT_CODE
    assert not dist.is_initialized()


@pytest.mark.parametrize('error', [RuntimeError('one rank failed'),
                                   SystemExit('error: bad config')])
def test_a_failure_leaves_the_group_to_the_launcher(group, error):
    # the other ranks may be inside a collective: destroying could hang
    with pytest.raises(type(error)):
        with closing_process_group():
            raise error
    assert dist.is_initialized()


def test_a_block_without_a_group_is_unchanged():
    assert not dist.is_initialized()
    with closing_process_group():
        pass
    assert not dist.is_initialized()


# a launcher's worker: run the tool's main(), then report the group's state
WORKER = """
import sys
import torch.distributed as dist
from mmtlsi.tools.{tool} import main
main(sys.argv[1:])
print('group alive after main:', dist.is_initialized())
"""


def _launched(tool, args, tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', RANK='0',
               LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(port))
    result = subprocess.run(
        [sys.executable, '-c', WORKER.format(tool=tool), *args,
         '--launcher', 'pytorch'], cwd=str(tmp_path), env=env,
        capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    return out


def test_train_and_test_tools_end_without_a_group(tmp_path):
    cfg = tiny_run_config(str(tmp_path), 2, num_train=4, num_workers=0)
    work_dir = osp.join(str(tmp_path), 'run')
    out = _launched('train', [cfg, '--work-dir', work_dir], tmp_path)
    assert 'group alive after main: False' in out, out[-3000:]
    out = _launched('test', [cfg, osp.join(work_dir, 'iter_2.pth'),
                             '--work-dir', work_dir, '--no-flops'], tmp_path)
    assert 'group alive after main: False' in out, out[-3000:]
    assert 'semseg' in out
