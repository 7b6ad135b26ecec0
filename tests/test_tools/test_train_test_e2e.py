"""tools/train.py and tools/test.py as users run them, on a tiny synthetic set.

One training run is shared by the tests of this module (module fixture); each
step is a subprocess, as on the command line.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')
TENSORBOARD = ("visualizer.vis_backends=[dict(type='LocalVisBackend'),"
               "dict(type='TensorboardVisBackend')]")
TASKS = ('semseg', 'depth', 'normals', 'edge')


def _run(args, cwd, timeout=600, extra_env=None):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               **(extra_env or {}))
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert out.returncode == 0, (out.stdout[-3000:] + out.stderr[-3000:])
    return out.stdout + out.stderr


def _tiny_config(folder, data_root, max_iters):
    path = osp.join(folder, f'tiny_{max_iters}.py')
    loader = ('num_workers=0, persistent_workers=False, dataset=dict('
              'data_root=DATA_ROOT, num_train=6, num_val=3, '
              'img_size=(48, 64), seed=1)')
    with open(path, 'w') as f:
        f.write(textwrap.dedent(f"""
            _base_ = '{DEMO_CFG}'
            DATA_ROOT = '{data_root}'
            train_dataloader = dict(batch_size=2, {loader})
            val_dataloader = dict({loader})
            test_dataloader = dict({loader})
            train_cfg = dict(max_iters={max_iters}, val_interval=2)
            default_hooks = dict(
                logger=dict(interval=1),
                checkpoint=dict(interval=2, max_keep_ckpts=3, save_best=None))
            """))
    return path


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('e2e')
    data_root = str(root / 'synthetic')
    work_dir = str(root / 'work')
    cfg2 = _tiny_config(str(root), data_root, 2)
    cfg4 = _tiny_config(str(root), data_root, 4)
    # the first run also logs to TensorBoard and draws the validation
    # samples, with the one line docs/visualization.md documents
    log_a = _run([sys.executable, 'tools/train.py', cfg2, '--work-dir',
                  work_dir, '--cfg-options', TENSORBOARD,
                  'default_hooks.visualization.draw=True',
                  'default_hooks.visualization.interval=1'], REPO)
    # the same job, longer, restarted with --resume: continues at iter 2
    log_b = _run([sys.executable, 'tools/train.py', cfg4, '--work-dir',
                  work_dir, '--resume'], REPO)
    return dict(root=str(root), data_root=data_root, work_dir=work_dir,
                cfg=cfg4, log_a=log_a, log_b=log_b)


def test_training_writes_checkpoints_and_resumes(trained):
    work_dir = trained['work_dir']
    assert 'Iter(train) [2/2]' in trained['log_a']
    assert 'resumed epoch: 0, iter: 2' in trained['log_b']
    assert 'Iter(train) [3/4]' in trained['log_b']
    assert 'Iter(train) [1/4]' not in trained['log_b']
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert osp.basename(last) == 'iter_4.pth'
    ckpt = torch.load(last, map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert 'message_hub' in ckpt and 'optimizer' in ckpt
    # validation ran during training, with every task's metric
    assert 'semseg/mIoU' in trained['log_b']
    assert 'edge/odsF' in trained['log_b']
    # no temporary files left by the atomic writer
    assert not [n for n in os.listdir(work_dir) if n.endswith('.tmp')]


def test_test_tool_prints_and_writes_the_benchmark_table(trained):
    out_dir = osp.join(trained['root'], 'results')
    show_dir = osp.join(trained['root'], 'show')
    edges = osp.join(trained['root'], 'edges')
    log = _run([sys.executable, 'tools/test.py', trained['cfg'],
                osp.join(trained['work_dir'], 'iter_4.pth'),
                '--work-dir', osp.join(trained['root'], 'test'),
                '--out', out_dir, '--name', 'tiny', '--show-dir', show_dir,
                '--export-edges', edges, '--cfg-options',
                'default_hooks.visualization.interval=1'], REPO)
    for column in ('Seg. mIoU', 'Depth RMSE', 'Normal mErr', 'Bound. odsF',
                   'Params (M)', 'MACs (G)'):
        assert column in log
    with open(osp.join(out_dir, 'tiny.json')) as f:
        record = json.load(f)
    for key in ('semseg/mIoU', 'depth/rmse', 'normals/mean', 'edge/odsF'):
        assert key in record['metrics']
    assert 0 <= record['metrics']['semseg/mIoU'] <= 100
    assert record['metrics']['depth/rmse'] > 0
    assert 0 < record['params_head'] < record['params_total']
    assert record['macs'] > 0
    assert osp.exists(osp.join(out_dir, 'tiny.md'))
    pictures = os.listdir(osp.join(show_dir, 'vis_data', 'vis_image'))
    assert len(pictures) == 3
    assert sorted(os.listdir(edges)) == ['val_00000.png', 'val_00001.png',
                                         'val_00002.png']


def test_data_root_option_repoints_every_dataloader(trained, tmp_path):
    out = _run([sys.executable, 'tools/misc/print_config.py', trained['cfg'],
                '--cfg-options', 'data_root=/elsewhere'], REPO)
    # print_config shows the config as written; the tools re-point loaders
    from mmengine.config import Config

    from mmtlsi.apis.run_config import set_data_root
    cfg = Config.fromfile(trained['cfg'])
    assert set_data_root(cfg, '/elsewhere') == [
        'train_dataloader', 'val_dataloader', 'test_dataloader']
    assert cfg.test_dataloader.dataset.data_root == '/elsewhere'
    assert 'Config:' in out


def test_two_process_cpu_run_matches_one_process(trained):
    """torchrun with 2 CPU processes: training works, and the pooled test
    metrics equal the single-process ones exactly."""
    ckpt = osp.join(trained['work_dir'], 'iter_4.pth')
    results = {}
    for nproc in (1, 2):
        out_dir = osp.join(trained['root'], f'dist{nproc}')
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               f'--nproc_per_node={nproc}', '--master_port',
               str(29600 + nproc), 'tools/test.py', trained['cfg'], ckpt,
               '--work-dir', out_dir, '--out', out_dir, '--name', 'run',
               '--no-flops', '--launcher', 'pytorch']
        _run(cmd, REPO)
        with open(osp.join(out_dir, 'run.json')) as f:
            results[nproc] = json.load(f)['metrics']
    for key in ('semseg/mIoU', 'depth/rmse', 'normals/mean', 'edge/odsF'):
        assert results[2][key] == pytest.approx(results[1][key], rel=1e-9)
    _run([sys.executable, '-m', 'torch.distributed.run',
          '--nproc_per_node=2', '--master_port', '29611', 'tools/train.py',
          trained['cfg'], '--work-dir', osp.join(trained['root'], 'ddp'),
          '--launcher', 'pytorch', '--cfg-options', 'train_cfg.max_iters=2'],
         REPO)
    assert osp.exists(osp.join(trained['root'], 'ddp', 'iter_2.pth'))


def test_test_only_run_with_pictures_needs_no_training_split(trained,
                                                             tmp_path):
    """--show-dir must not build the training dataset: the training split
    points at a missing folder, which a synthetic dataset, once built, would
    generate."""
    show_dir = str(tmp_path / 'show')
    _run([sys.executable, 'tools/test.py', trained['cfg'],
          osp.join(trained['work_dir'], 'iter_4.pth'), '--work-dir',
          str(tmp_path / 'w'), '--no-flops', '--show-dir', show_dir,
          '--cfg-options', 'default_hooks.visualization.interval=1',
          f'train_dataloader.dataset.data_root={tmp_path}/missing'], REPO)
    pictures = sorted(os.listdir(osp.join(show_dir, 'vis_data',
                                          'vis_image')))
    assert pictures == ['test_val_00000_0.png', 'test_val_00001_0.png',
                        'test_val_00002_0.png']
    assert not osp.exists(tmp_path / 'missing')


def _fails(args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode != 0, out.stdout[-2000:]
    return out.stderr


def test_misspelled_option_stops_train_and_test_before_the_run(trained,
                                                               tmp_path):
    work_dir = str(tmp_path / 'w')
    err = _fails([sys.executable, 'tools/train.py', trained['cfg'],
                  '--work-dir', work_dir, '--cfg-options', 'data_rot=/x'])
    assert 'data_rot (did you mean data_root?)' in err
    assert not osp.exists(work_dir)
    err = _fails([sys.executable, 'tools/test.py', trained['cfg'],
                  osp.join(trained['work_dir'], 'iter_4.pth'), '--work-dir',
                  work_dir, '--cfg-options',
                  'default_hooks.checkpoint.intervl=5'])
    assert 'did you mean default_hooks.checkpoint.interval?' in err
    assert not osp.exists(work_dir)


def test_second_run_on_a_live_work_dir_is_refused(trained, tmp_path):
    from mmtlsi.engine import WorkDirLock
    work_dir = str(tmp_path / 'busy')
    lock = WorkDirLock(work_dir).acquire()      # a live run, this process
    try:
        err = _fails([sys.executable, 'tools/train.py', trained['cfg'],
                      '--work-dir', work_dir])
    finally:
        lock.release()
    assert f'{work_dir} is in use by another live training run' in err
    assert f'pid {os.getpid()}' in err
    assert sorted(os.listdir(work_dir)) == ['.mmtlsi-train.lock']


def test_tensorboard_event_file_holds_losses_metrics_lr_pictures(trained):
    """TensorBoard's own reader finds, next to the local backend's files,
    every loss, every task metric, the learning rate and the pictures."""
    import glob

    import cv2
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    events = glob.glob(osp.join(trained['work_dir'], '*', 'vis_data',
                                'events.out.tfevents.*'))
    assert len(events) == 1                     # only the first run had it
    vis_data = osp.dirname(events[0])
    acc = EventAccumulator(events[0], size_guidance={'images': 0,
                                                     'scalars': 0})
    acc.Reload()
    scalars = set(acc.Tags()['scalars'])
    losses = {'loss'} | {f'loss_{t}' for t in TASKS} | {
        f'loss_{t}_coarse' for t in TASKS}
    metrics = {'semseg/mIoU', 'semseg/aAcc', 'depth/rmse', 'depth/delta1',
               'normals/mean', 'normals/11.25', 'edge/odsF', 'edge/oisF'}
    assert losses | metrics | {'lr'} <= scalars
    # the same numbers as the local backend's scalars.json, step by step
    with open(osp.join(vis_data, 'scalars.json')) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    local = {(k, line['step']): v for line in lines for k, v in line.items()
             if k != 'step'}
    assert set(k for k, _ in local) <= scalars
    for tag in sorted(losses | metrics | {'lr'}):
        for event in acc.Scalars(tag):
            assert event.value == pytest.approx(local[(tag, event.step)],
                                                rel=1e-6), tag
    assert [e.step for e in acc.Scalars('loss')] == [1, 2]
    # one picture per validation sample, the one the local backend wrote
    images = sorted(acc.Tags()['images'])
    assert images == ['val_val_00000', 'val_val_00001', 'val_val_00002']
    for tag in images:
        event = acc.Images(tag)[-1]
        decoded = cv2.imdecode(
            np.frombuffer(event.encoded_image_string, np.uint8),
            cv2.IMREAD_COLOR)
        written = cv2.imread(osp.join(vis_data, 'vis_image',
                                      f'{tag}_{event.step}.png'))
        np.testing.assert_array_equal(decoded, written)


def _other_model_checkpoint(trained, tmp_path):
    """The trained checkpoint's tensors, one head tensor widened."""
    ckpt = torch.load(osp.join(trained['work_dir'], 'iter_4.pth'),
                      map_location='cpu', weights_only=True)
    state = ckpt['state_dict']
    key = next(k for k in state if k.startswith('decode_head.')
               and k.endswith('.weight') and state[k].dim() == 4)
    state[key] = torch.zeros((state[key].shape[0] + 1, ) +
                             state[key].shape[1:])
    state['decode_head.extra.weight'] = torch.zeros(2)
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': state, 'meta': ckpt['meta']}, path)
    return path, key


def test_checkpoint_that_does_not_fit_stops_test_train_demo(trained,
                                                            tmp_path):
    path, key = _other_model_checkpoint(trained, tmp_path)
    err = _fails([sys.executable, 'tools/test.py', trained['cfg'], path,
                  '--work-dir', str(tmp_path / 't'), '--no-flops'])
    assert f'error: checkpoint {path} does not fit' in err
    assert key in err and 'decode_head.extra.weight' in err
    assert 'Traceback' not in err and '--partial-load' in err
    err = _fails([sys.executable, 'tools/train.py', trained['cfg'],
                  '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                  f'load_from={path}'])
    assert f'checkpoint {path} does not fit' in err and key in err
    assert not osp.exists(tmp_path / 'w' / 'iter_2.pth')
    image = osp.join(trained['data_root'], 'val', 'images')
    image = osp.join(image, sorted(os.listdir(image))[0]) \
        if osp.isdir(image) else None
    if image is None:                     # any image of the synthetic set
        import glob
        image = sorted(glob.glob(osp.join(trained['data_root'], '**',
                                          '*.png'), recursive=True))[0]
    err = _fails([sys.executable, 'demo/image_demo.py', image,
                  trained['cfg'], path, '--out-file',
                  str(tmp_path / 'p.png')])
    assert f'checkpoint {path} does not fit' in err and key in err
    assert not osp.exists(tmp_path / 'p.png')
    # on purpose: the rest of the file is loaded, the run goes on
    log = _run([sys.executable, 'tools/test.py', trained['cfg'], path,
                '--work-dir', str(tmp_path / 't2'), '--no-flops',
                '--partial-load'], REPO)
    assert 'partial load' in log or 'size mismatch' in log
    assert 'Seg. mIoU' in log


def test_config_errors_are_one_line(trained, tmp_path):
    ckpt = osp.join(trained['work_dir'], 'iter_4.pth')
    err = _fails([sys.executable, 'tools/test.py',
                  str(tmp_path / 'missing.py'), ckpt])
    assert 'Traceback' not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error:'), err
    assert f'{tmp_path}/missing.py' in lines[0]
    err = _fails([sys.executable, 'tools/test.py', trained['cfg'],
                  str(tmp_path / 'nope.pth')])
    assert err.strip() == f'error: checkpoint {tmp_path}/nope.pth not found'


def test_test_tool_in_bf16_weights(trained):
    """``--dtype bf16``: the checkpoint is tested with bf16 weights
    (InferenceDtypeHook); the metrics stay near the fp32 ones."""
    ckpt = osp.join(trained['work_dir'], 'iter_4.pth')
    records = {}
    for dtype in ('fp32', 'bf16'):
        out_dir = osp.join(trained['root'], f'results_{dtype}')
        log = _run([sys.executable, 'tools/test.py', trained['cfg'], ckpt,
                    '--work-dir', osp.join(trained['root'], f'test_{dtype}'),
                    '--out', out_dir, '--name', dtype, '--no-flops',
                    '--dtype', dtype], REPO)
        with open(osp.join(out_dir, f'{dtype}.json')) as f:
            records[dtype] = json.load(f)['metrics']
        assert f'testing with {dtype} (requested' in log
    fp32, bf16 = records['fp32'], records['bf16']
    # 3 validation images of 48x64: a flipped pixel moves mIoU visibly, so
    # the bounds are wider than the documented ones of a real test set
    assert abs(bf16['semseg/mIoU'] - fp32['semseg/mIoU']) < 2.0
    assert abs(bf16['depth/rmse'] - fp32['depth/rmse']) < \
        0.02 * fp32['depth/rmse']
    assert abs(bf16['normals/mean'] - fp32['normals/mean']) < 0.5
    assert bf16 != fp32      # the bf16 route really ran
