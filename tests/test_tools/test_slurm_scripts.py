"""``tools/slurm_train.sh`` as Slurm runs it, with stand-ins for ``srun``
and ``scontrol`` on PATH: the options it asks Slurm for, ``--resume`` on
every start, a restart after a preemption (exit 75) until the run is done,
and ``scontrol requeue`` of the batch job inside ``sbatch``.

The stand-in ``srun`` records its command line and runs the step's command
as one task (``--launcher none``: the CPU has no GPUs for mmengine's Slurm
launcher); on its first start it can send the step SIGUSR1 once a file
appears, as ``--signal=USR1@SECONDS`` does before the time limit."""
import os
import os.path as osp
import stat
import subprocess
import sys

import pytest
from tiny_runs import tiny_run_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'slurm_train.sh')

FAKE_SRUN = r"""#!/usr/bin/env bash
echo "srun $*" >> "$FAKE_SLURM_DIR/calls"
n=$(cat "$FAKE_SLURM_DIR/starts" 2>/dev/null || echo 0)
echo $((n + 1)) > "$FAKE_SLURM_DIR/starts"
if [ -n "$FAKE_SRUN_EXIT" ]; then exit "$FAKE_SRUN_EXIT"; fi
while [ "$#" -gt 0 ] && [ "$1" != python ]; do shift; done
cmd=()
prev=
for a in "$@"; do
  if [ "$prev" = --launcher ]; then a=none; fi
  cmd+=("$a"); prev=$a
done
if [ "$n" = 0 ] && [ -n "$FAKE_PREEMPT_WHEN" ]; then
  "${cmd[@]}" &
  pid=$!
  while [ ! -e "$FAKE_PREEMPT_WHEN" ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.1
  done
  kill -USR1 "$pid"
  wait "$pid"
  exit $?
fi
exec "${cmd[@]}"
"""

FAKE_SCONTROL = r"""#!/usr/bin/env bash
echo "scontrol $*" >> "$FAKE_SLURM_DIR/calls"
"""


def _fake_slurm(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name, text in (('srun', FAKE_SRUN), ('scontrol', FAKE_SCONTROL)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(bin_dir)


def _run_script(tmp_path, args, **env):
    base = {k: v for k, v in os.environ.items()
            if not k.startswith('SLURM_')}
    base.update(
        PATH=os.pathsep.join([_fake_slurm(tmp_path),
                              osp.dirname(sys.executable), base['PATH']]),
        FAKE_SLURM_DIR=str(tmp_path), OMP_NUM_THREADS='1', GPUS='1',
        GPUS_PER_NODE='1', PYTHONPATH=REPO, **env)
    out = subprocess.run(['bash', SCRIPT, 'cpu', 'tiny', *args],
                         cwd=REPO, env=base, capture_output=True, text=True,
                         timeout=600)
    calls = (tmp_path / 'calls').read_text().splitlines() \
        if (tmp_path / 'calls').exists() else []
    return out, calls


def test_preempted_step_starts_again_and_finishes(tmp_path):
    cfg = tiny_run_config(str(tmp_path), max_iters=6, num_train=6,
                          num_workers=0)
    work = tmp_path / 'work'
    out, calls = _run_script(
        tmp_path, [cfg, '--work-dir', str(work)], REQUEUES='3',
        FAKE_PREEMPT_WHEN=str(work / 'iter_2.pth'))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    srun = [c for c in calls if c.startswith('srun ')]
    assert len(srun) == 2, calls        # preempted once, then done
    for call in srun:
        for option in ('--signal=USR1@120', '--kill-on-bad-exit=1',
                       '--ntasks=1', '--gres=gpu:1', '--launcher slurm',
                       '--resume'):
            assert option in call, (option, call)
    assert 'preempted (exit 75): starting again with --resume (1 of at ' \
        'most 3)' in log
    # the second start continued from the checkpoint the first one saved
    # when signalled, and finished the run
    assert 'resumed epoch: 0, iter:' in log
    with open(work / 'last_checkpoint') as f:
        assert osp.basename(f.read().strip()) == 'iter_6.pth'
    assert not any(c.startswith('scontrol') for c in calls)


@pytest.mark.parametrize('srun_exit,requeued', [(75, True), (0, False),
                                                (1, False)])
def test_batch_job_is_requeued_only_when_preempted(tmp_path, srun_exit,
                                                   requeued):
    out, calls = _run_script(tmp_path, ['cfg.py'], SLURM_JOB_ID='4242',
                             FAKE_SRUN_EXIT=str(srun_exit))
    assert out.returncode == srun_exit
    # one step per batch script: Slurm starts the requeued job again
    assert sum(c.startswith('srun ') for c in calls) == 1
    assert ('scontrol requeue 4242' in calls) == requeued


def test_outside_sbatch_restarts_stop_at_the_limit(tmp_path):
    out, calls = _run_script(tmp_path, ['cfg.py'], REQUEUES='2',
                             FAKE_SRUN_EXIT='75', RESUME='0')
    assert out.returncode == 75
    srun = [c for c in calls if c.startswith('srun ')]
    assert len(srun) == 3                 # the start and two restarts
    assert all('--resume' not in c for c in srun)     # RESUME=0
