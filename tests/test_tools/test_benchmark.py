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


_PEAK_PROBE = """
import importlib.util, json, sys, time
import torch
spec = importlib.util.spec_from_file_location('bench', sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
with bench.CpuPeakMemory() as mem:
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    block += 1
    time.sleep(0.3)  # many sampling intervals, even on a busy machine
    del block
print(json.dumps(dict(method=mem.method, peak=mem.peak_mib)))
"""


def test_cpu_peak_memory_sees_an_allocation():
    # In a fresh process: a long-lived one (a pytest worker) may hold freed
    # memory that is still resident and gets reused, so its RSS need not grow.
    import subprocess
    import sys
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark.py')
    out = subprocess.run([sys.executable, '-c', _PEAK_PROBE, path],
                         capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    res = json.loads(out.strip().splitlines()[-1])
    if res['method'].startswith('rss'):
        assert 48 < res['peak'] < 256
    else:
        assert res['peak'] > 32


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


def test_cpu_bf16_support_reads_flags(tmp_path):
    bench = load_tool()
    info = tmp_path / 'cpuinfo'
    flags = 'flags\t\t: fpu avx2 avx512f avx512_bf16\n'
    info.write_text('processor\t: 0\nmodel name\t: Some CPU\n' + flags +
                    '\nprocessor\t: 1\n' + flags)
    r = bench.cpu_bf16_support(str(info))
    assert r == dict(native=True, flags=['avx512_bf16'], model='Some CPU')
    info.write_text('model name\t: Old CPU\nflags\t\t: fpu avx2 avx512f\n')
    assert bench.cpu_bf16_support(str(info))['native'] is False
    assert bench.cpu_bf16_support(str(tmp_path / 'none'))['native'] is None


def test_latency_stats_by_hand():
    bench = load_tool()
    r = bench.latency_stats([0.3, 0.1, 0.2, 0.4], batch_size=2)
    assert r['latency_ms_mean'] == pytest.approx(250)
    assert r['latency_ms_median'] == pytest.approx(250)
    assert r['latency_ms_min'] == pytest.approx(100)
    assert r['latency_ms_p90'] == pytest.approx(400)
    assert r['images_per_s'] == pytest.approx(2 / 0.25)


def test_measure_train_splits_data_wait(monkeypatch):
    """A fake clock: each batch takes 0.1 s to arrive, each step 0.3 s."""
    bench = load_tool()
    clock = [0.0]
    monkeypatch.setattr(bench.time, 'perf_counter', lambda: clock[0])

    def loader():
        while True:
            clock[0] += 0.1
            yield 'batch'

    steps = []

    def step(data):
        assert data == 'batch'
        clock[0] += 0.3
        steps.append(data)

    r = bench.measure_train(step, loader(), batch_size=4, repeat=3,
                            warmup=2)
    assert len(steps) == 5
    assert r['data_wait_fraction'] == pytest.approx(0.25)
    assert r['data_wait_ms_mean'] == pytest.approx(100)
    assert r['latency_ms_mean'] == pytest.approx(400)
    assert r['images_per_s'] == pytest.approx(4 / 0.4)
    assert r['peak_memory_mib'] > 0 and 'process peak' in r['memory_method']


def test_synthetic_twin_and_crop(tmp_path):
    from mmengine.config import Config
    bench = load_tool()
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mtlsi/swin-t_nyud.py'))
    ds = bench.synthetic_train_dataset(cfg, str(tmp_path), num_images=5)
    assert ds.type == 'SyntheticNYUDv2Dataset'
    assert ds.img_size == (480, 640) and ds.num_train == 5
    assert ds.data_root == osp.join(str(tmp_path), 'nyud_480x640_5')
    assert ds.pipeline == cfg.train_dataloader.dataset.pipeline
    bench.set_crop_size(cfg, (224, 256))
    crops = [t['crop_size'] for t in cfg.train_dataloader.dataset.pipeline
             if 'crop_size' in t]
    assert crops == [(224, 256)]
    assert cfg.model.data_preprocessor['size'] == (224, 256)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mtlsi/hrnet18_pascal.py'))
    ds = bench.synthetic_train_dataset(cfg, str(tmp_path), (100, 120))
    assert ds.type == 'SyntheticPascalContextDataset'
    assert ds.img_size == (100, 120)
    cfg.train_dataloader.dataset.type = 'SomeOtherDataset'
    with pytest.raises(ValueError, match='hrnet18_pascal.py.*SomeOther'):
        bench.synthetic_train_dataset(cfg, str(tmp_path))


def test_train_mode_steps_the_optimizer(tmp_path):
    """One real training step of the demo model on its own pipeline: the
    weights move and the result is reported."""
    from mmengine.config import Config
    bench = load_tool()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/demo/mtlsi_tiny_synthetic-nyud.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'data')
    cfg.train_dataloader.dataset.num_train = 4
    cfg.train_dataloader.dataset.num_val = 1
    model = bench.build_model(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = bench.build_train_loader(
        cfg, cfg.train_dataloader.dataset, batch_size=2, num_workers=0)
    step = bench.make_train_step(model, cfg, 'cpu')
    batches = iter(loader)
    r = bench.measure_train(step, batches, 2, 'cpu', repeat=1, warmup=0)
    assert r['images_per_s'] > 0 and 0 <= r['data_wait_fraction'] < 1
    after = model.state_dict()
    moved = [k for k in before if before[k].dtype.is_floating_point
             and not torch.equal(before[k], after[k])]
    assert any(k.startswith('backbone.') for k in moved)
    assert any(k.startswith('decode_head.fusion.') for k in moved)
    loss = step(next(batches))
    assert torch.isfinite(loss)


@pytest.mark.parametrize('mode', ['predict', 'train'])
def test_demo_model_under_cpu_bf16_autocast(tmp_path, mode):
    """``--amp`` on a CPU (bfloat16 autocast) runs the whole model, in
    inference and in a training step."""
    from mmengine.config import Config
    bench = load_tool()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/demo/mtlsi_tiny_synthetic-nyud.py'))
    model = bench.build_model(cfg)
    if mode == 'predict':
        fn = bench.make_predict_fn(model, (64, 96), 2)
        r = bench.measure(fn, 2, repeat=1, warmup=0, amp=True)
        assert r['images_per_s'] > 0
        with torch.no_grad(), bench.autocast_context(
                torch.device('cpu'), True):
            out = fn()
        assert out[0].pred_depth_map.data.isfinite().all()
        return
    cfg.train_dataloader.dataset.update(
        data_root=str(tmp_path / 'data'), num_train=2, num_val=1)
    loader = bench.build_train_loader(cfg, cfg.train_dataloader.dataset, 2, 0)
    step = bench.make_train_step(model, cfg, 'cpu', amp=True)
    before = [p.detach().clone() for p in model.parameters()]
    loss = step(next(iter(loader)))
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b)
               for a, b in zip(before, model.parameters()))
