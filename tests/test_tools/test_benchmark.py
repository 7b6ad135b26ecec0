import importlib.util
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('_mt_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@MODELS.register_module(force=True)
class _BenchStandIn(BaseModel):

    def __init__(self, backbone=None, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone_cfg = backbone
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.conv(inputs)
        if mode != 'predict':
            return out
        res = []
        for i, s in enumerate(data_samples):
            r = SegDataSample(metainfo=s.metainfo)
            r.pred_sem_seg = PixelData(data=out[i, :3].argmax(0, True))
            r.pred_depth_map = PixelData(data=F.relu(out[i, 3:]))
            res.append(r)
        return res


def test_measure_consistent():
    bench = load_tool()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1),
                              torch.nn.ReLU(), torch.nn.Conv2d(8, 2, 1))
    x = torch.rand(4, 3, 32, 32)
    r = bench.measure(lambda: net(x), batch_size=4, repeat=6, warmup=1)
    assert r['latency_ms_mean'] > 0 and r['images_per_s'] > 0
    assert r['latency_ms_min'] <= r['latency_ms_median'] <= \
        r['latency_ms_p90']
    # images/s is batch / mean latency
    assert r['images_per_s'] == pytest.approx(
        4 / (r['latency_ms_mean'] / 1000), rel=1e-9)
    assert r['peak_memory_mib'] >= 0 and r['memory_method']
    # bf16 autocast on CPU runs too
    r = bench.measure(lambda: net(x), 4, repeat=2, warmup=0, amp=True)
    assert r['images_per_s'] > 0
    with pytest.raises(ValueError):
        bench.measure(lambda: None, 1, repeat=0)


def test_cpu_peak_memory_sees_an_allocation():
    bench = load_tool()
    with bench.CpuPeakMemory() as mem:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        block += 1
        del block
    if mem.method.startswith('rss'):
        assert mem.peak_mib > 32


def test_main_on_config(tmp_path):
    bench = load_tool()
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "default_scope = 'mmseg'\n"
        "model = dict(type='_BenchStandIn', backbone=dict(\n"
        "    type='X', init_cfg=dict(type='Pretrained', checkpoint='u')),\n"
        "    data_preprocessor=dict(type='SegDataPreProcessor',\n"
        "        mean=[0, 0, 0], std=[1, 1, 1]))\n")
    out = tmp_path / 'bench.json'
    result = bench.main([str(cfg), '--shape', '16', '24', '--batch-size',
                         '2', '--repeat', '3', '--warmup', '1', '--out',
                         str(out)])
    saved = json.loads(out.read_text())
    assert saved['batch_size'] == 2 and saved['shape'] == [16, 24]
    assert saved['images_per_s'] == pytest.approx(result['images_per_s'])
    assert saved['device'] == 'cpu' and saved['amp'] is False
