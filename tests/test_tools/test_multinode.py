"""Two simulated nodes (tools/dist_train.sh with NNODES=2, twice on
127.0.0.1), each with its own torch.hub cache, the backbone checkpoint served
by a local HTTP server: each node fetches it once, and the run's validation
metrics equal those of a 1-process run."""
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
METRICS = re.compile(r'Iter\(val\) \[\d+/\d+\]\s+(.*?)\s+data_time')


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
    # lr 0 and BN momentum 0: training changes no tensor, so every run
    # validates the initial model: backbone from the file, head seeded
    with open(path, 'w') as f:
        f.write(textwrap.dedent(f"""
            _base_ = {DEMO_CFG!r}
            model = dict(
                backbone=dict(
                    norm_cfg=dict(type='BN', momentum=0.0),
                    init_cfg=dict(_delete_=True, type='StrictPretrained',
                                  checkpoint={url!r})),
                decode_head=dict(norm_cfg=dict(type='BN', momentum=0.0)))
            train_dataloader = dict(batch_size=1, {loader})
            val_dataloader = dict(batch_size=1, {loader})
            test_dataloader = dict(batch_size=1, {loader})
            train_cfg = dict(max_iters=1, val_interval=1)
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


def test_two_nodes_fetch_once_each_and_match_one_process(tmp_path):
    folder = str(tmp_path)
    served = osp.join(folder, 'served')
    os.makedirs(served)
    state = _backbone_file(served)
    server = _serve(served)
    url = f'http://127.0.0.1:{server.server_address[1]}/{NAME}'
    cfg = _config(folder, url)
    try:
        port = str(_free_port())
        nodes = []
        for node in (0, 1):
            env = _env(osp.join(folder, f'home_node{node}'), NNODES='2',
                       NODE_RANK=str(node), PORT=port,
                       MASTER_ADDR='127.0.0.1')
            nodes.append(subprocess.Popen(
                ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), cfg, '1',
                 '--work-dir', osp.join(folder, 'two_nodes')],
                cwd=REPO, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True))
        outs = [p.communicate(timeout=900)[0] for p in nodes]
        for p, out in zip(nodes, outs):
            assert p.returncode == 0, out[-4000:]
        assert _Server.requests == [f'/{NAME}'] * 2   # once per node
        for node in (0, 1):
            cached = osp.join(folder, f'home_node{node}', 'hub',
                              'checkpoints', NAME)
            got = torch.load(cached, weights_only=True)['state_dict']
            assert all(torch.equal(got[k], v) for k, v in state.items())
        one = subprocess.run(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg,
             '--work-dir', osp.join(folder, 'one')], cwd=REPO,
            env=_env(osp.join(folder, 'home_one')), capture_output=True,
            text=True, timeout=900)
        assert one.returncode == 0, one.stdout[-4000:]
    finally:
        server.shutdown()
    two = _metrics(''.join(outs))
    assert 'multi_task/delta_m' in two or 'semseg' in two, two
    assert two == _metrics(one.stdout)
    # the backbone both runs trained from is the file's
    ckpt = torch.load(osp.join(folder, 'two_nodes', 'iter_1.pth'),
                      weights_only=True)['state_dict']
    for key, value in state.items():
        assert torch.equal(ckpt[key], value), key
