"""Two simulated nodes (tools/dist_train.sh with NNODES=2, twice on
127.0.0.1), each with its own torch.hub cache, the backbone checkpoint served
by a local HTTP server: each node fetches it once; the checkpoint's test
metrics on the two nodes equal those of one process."""
import functools
import http.server
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import textwrap
import threading

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmtlsi  # noqa: F401
from mmtlsi.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')
NAME = 'resnet_tiny_backbone.pth'
METRICS = re.compile(r'Iter\(test\) \[\d+/\d+\]\s+(.*?)\s+data_time')


class _Server(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        _Server.requests.append(self.path)


def _serve(folder):
    handler = functools.partial(_Server, directory=folder)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _config(folder, url):
    path = osp.join(folder, 'tiny.py')
    loader = ('num_workers=0, persistent_workers=False, dataset=dict('
              f'data_root={osp.join(folder, "data")!r}, num_train=4, '
              'num_val=4, img_size=(48, 64), seed=1)')
    # lr 0: the backbone's weights stay the file's
    with open(path, 'w') as f:
        f.write(textwrap.dedent(f"""
            _base_ = {DEMO_CFG!r}
            model = dict(
                backbone=dict(
                    norm_cfg=dict(type='BN', momentum=0.0),
                    zero_init_residual=False,
                    init_cfg=dict(_delete_=True, type='StrictPretrained',
                                  checkpoint={url!r})),
                decode_head=dict(norm_cfg=dict(type='BN', momentum=0.0)))
            train_dataloader = dict(batch_size=1, {loader})
            val_dataloader = dict(batch_size=1, {loader})
            test_dataloader = dict(batch_size=1, {loader})
            train_cfg = dict(max_iters=1, val_interval=1000)
            optim_wrapper = dict(optimizer=dict(lr=0.0))
            param_scheduler = None
            default_hooks = dict(logger=dict(interval=1),
                                 checkpoint=dict(interval=1, save_best=None))
            """))
    return path


def _backbone_file(folder):
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CFG)
    backbone = MODELS.build(cfg.model.backbone)
    torch.manual_seed(3)
    with torch.no_grad():
        for value in backbone.parameters():
            value.copy_(torch.randn_like(value) * 0.1)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save({'state_dict': state}, osp.join(folder, NAME))
    return state


def _env(torch_home, **extra):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               PYTHON=sys.executable,
               TORCH_HOME=torch_home, **extra)
    env.pop('TORCHELASTIC_RESTART_COUNT', None)
    return env


def _metrics(out):
    found = METRICS.findall(out)
    assert found, out[-3000:]
    return found[-1]


def _two_nodes(folder, script, args, port):
    nodes = []
    for node in (0, 1):
        env = _env(osp.join(folder, f'home_node{node}'), NNODES='2',
                   NODE_RANK=str(node), PORT=port, MASTER_ADDR='127.0.0.1')
        if script == 'test':
            cmd = [sys.executable, '-m', 'torch.distributed.run',
                   '--nnodes=2', f'--node-rank={node}', '--nproc-per-node=1',
                   '--rdzv-backend=c10d', f'--rdzv-endpoint=127.0.0.1:{port}',
                   '--rdzv-id=mmtlsi-test',
                   osp.join(REPO, 'tools', 'test.py'), *args,
                   '--launcher', 'pytorch']
        else:
            cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), *args]
        nodes.append(subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=900)[0] for p in nodes]
    for p, out in zip(nodes, outs):
        assert p.returncode == 0, out[-4000:]
    return ''.join(outs)


def test_two_nodes_fetch_once_each_and_match_one_process(tmp_path):
    folder = str(tmp_path)
    served = osp.join(folder, 'served')
    os.makedirs(served)
    state = _backbone_file(served)
    server = _serve(served)
    url = f'http://127.0.0.1:{server.server_address[1]}/{NAME}'
    cfg = _config(folder, url)
    work_dir = osp.join(folder, 'two_nodes')
    try:
        _two_nodes(folder, 'train', [cfg, '1', '--work-dir', work_dir],
                   str(_free_port()))
    finally:
        server.shutdown()
    assert _Server.requests == [f'/{NAME}'] * 2   # once per node
    for node in (0, 1):
        cached = osp.join(folder, f'home_node{node}', 'hub', 'checkpoints',
                          NAME)
        got = torch.load(cached, weights_only=True)['state_dict']
        assert all(torch.equal(got[k], v) for k, v in state.items())
    ckpt = osp.join(work_dir, 'iter_1.pth')
    trained = torch.load(ckpt, weights_only=True)['state_dict']
    for key, value in state.items():          # lr 0: the file's weights
        if value.is_floating_point() and 'running' not in key:
            assert torch.equal(trained[key], value), key

    # its test metrics: two nodes, then one process
    test_args = [cfg, ckpt, '--work-dir', osp.join(folder, 'test')]
    two = _metrics(_two_nodes(folder, 'test', test_args, str(_free_port())))
    one = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), *test_args],
        cwd=REPO, env=_env(osp.join(folder, 'home_one')),
        capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stdout[-4000:]
    assert 'semseg/mIoU' in two and 'edge/odsF' in two, two
    assert two == _metrics(one.stdout)
