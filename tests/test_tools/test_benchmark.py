import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from scripts import ROOT, run_script

from mmtlsi.apis import analysis
from mmtlsi.tools import benchmark as tool
from mmtlsi.utils import benchmark as meter

DEMO = osp.join(ROOT, 'configs/demo/mtlsi_tiny_synthetic-nyud.py')


@MODELS.register_module(force=True)
class _BenchStandIn(BaseModel):
    """One 3x3 conv, 3 -> 4 channels: 4 * 27 multiply-adds per pixel."""

    def __init__(self, backbone=None, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone_cfg = backbone
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.compute_dtype = None      # set by optimize_for_inference

    def _forward(self, inputs, data_samples=None):
        return self.network(inputs)

    # the segmentor's interface that compile_network compiles
    def network(self, inputs):
        out = self.conv(inputs.to(self.compute_dtype or inputs.dtype))
        return out.float()

    def network_loss(self, inputs, targets=None):
        return dict(loss=self.network(inputs).mean())

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.network(inputs)
        if mode != 'predict':
            return out
        res = []
        for i, s in enumerate(data_samples):
            r = SegDataSample(metainfo=s.metainfo)
            r.pred_sem_seg = PixelData(data=out[i, :3].argmax(0, True))
            r.pred_depth_map = PixelData(data=F.relu(out[i, 3:]))
            res.append(r)
        return res


class StepClock:
    """A clock that only moves when ``advance`` is called."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_measure_by_hand():
    """Each call takes 0.1 s of a fake clock: 100 ms per batch of 4, 40
    images/s; the warm-up call is not timed; autocast is on inside."""
    clock, seen = StepClock(), []

    def fn():
        seen.append(torch.is_autocast_cpu_enabled())
        clock.advance(0.1)

    r = meter.measure(fn, batch_size=4, repeat=3, warmup=1, clock=clock)
    assert len(seen) == 4 and not any(seen)
    assert r['latency_ms_mean'] == pytest.approx(100)
    assert r['images_per_s'] == pytest.approx(40)
    seen.clear()
    meter.measure(fn, 4, repeat=2, warmup=0, amp=True, clock=clock)
    assert seen == [True, True]
    with pytest.raises(ValueError):
        meter.measure(fn, 1, repeat=0)


def test_timed_calls_run_without_the_memory_sampler():
    """The CPU memory meter's sampling thread runs during the warm-up only:
    with every core computing it would slow the timed calls."""
    import threading
    clock, threads = StepClock(), []

    def fn():
        threads.append(threading.active_count())
        clock.advance(0.1)

    r = meter.measure(fn, batch_size=1, repeat=2, warmup=1, clock=clock)
    assert threads[0] == threads[1] + 1 == threads[2] + 1
    assert r['memory_method'].startswith('rss sampled')


def test_clock_choice():
    assert meter.get_clock('cpu') is meter.CLOCKS['cpu']
    assert meter.get_clock('wall', 'cuda') is meter.CLOCKS['wall']
    with pytest.raises(ValueError, match='CPU runs only'):
        meter.get_clock('cpu', 'cuda')
    with pytest.raises(ValueError, match='timer must be one of'):
        meter.get_clock('gpu')


_PEAK_PROBE = """
import json, time
import torch
from mmtlsi.utils.benchmark import CpuPeakMemory
with CpuPeakMemory() as mem:
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    block += 1
    time.sleep(0.3)  # many sampling intervals, even on a busy machine
    del block
print(json.dumps(dict(method=mem.method, peak=mem.peak_mib)))
"""


def test_cpu_peak_memory_sees_an_allocation():
    # In a fresh process: a long-lived one (a pytest worker) may hold freed
    # memory that is still resident and gets reused, so its RSS need not grow.
    out = subprocess.run([sys.executable, '-c', _PEAK_PROBE],
                         capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    res = json.loads(out.strip().splitlines()[-1])
    if res['method'].startswith('rss'):
        assert 48 < res['peak'] < 256
    else:
        assert res['peak'] > 32


def test_live_tensor_bytes_by_hand():
    x = torch.zeros(1024)                     # made outside: not counted
    with meter.LiveTensorBytes() as live:
        y = x + 1                             # 4 KiB
        z = torch.cat([y, y])                 # 8 KiB, y still alive
        del y, z
    assert live.peak == 3 * 4096


def test_matmul_peak_by_hand():
    """Timed products of 0.5 s and 0.25 s: the best is 0.25 s, 64^3
    multiply-adds in it."""
    ticks = iter([0.0, 0.5, 1.0, 1.25])
    r = meter.matmul_peak('cpu', torch.bfloat16, 64, repeats=2,
                          clock=lambda: next(ticks))
    assert r['dtype'] == 'bfloat16' and r['n'] == 64
    assert r['seconds'] == pytest.approx(0.25)
    assert r['gmacs_per_s'] == pytest.approx(262144 / 0.25 / 1e9)
    assert r['tflops'] == pytest.approx(2 * 262144 / 0.25 / 1e12)


def test_share_of_peak_by_hand():
    assert meter.share_of_peak(3e9, 0.5, dict(gmacs_per_s=12.0)) == \
        pytest.approx(0.5)
    r = dict(macs_per_batch=2e9, latency_ms_mean=500.0, precision='bfloat16')
    analysis.add_share_of_peak(r, {'float32': dict(gmacs_per_s=8.0),
                                   'bfloat16': dict(gmacs_per_s=40.0)})
    assert r['gmacs_per_s'] == pytest.approx(4.0)
    assert r['share_of_peak'] == pytest.approx(0.1)     # of the bf16 peak
    assert analysis.train_step_macs(2e9, 4) == 24e9


def test_machine_peaks_mark_emulated_bf16(monkeypatch):
    sizes = []

    def fake_peak(device, dtype, n, clock=None):
        sizes.append(n)
        return dict(dtype=str(dtype).replace('torch.', ''), n=n)

    monkeypatch.setattr(meter, 'matmul_peak', fake_peak)
    monkeypatch.setattr(meter, 'bf16_is_native', lambda device: False)
    peaks = analysis.machine_peaks('cpu', 2048)
    assert sizes == [2048, 512]
    assert peaks['float32']['emulated'] is False
    assert peaks['bfloat16']['emulated'] is True
    monkeypatch.setattr(meter, 'bf16_is_native', lambda device: True)
    assert analysis.machine_peaks('cpu', 2048)['bfloat16']['n'] == 2048


def stand_in_config(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "default_scope = 'mmseg'\n"
        "model = dict(type='_BenchStandIn', backbone=dict(\n"
        "    type='X', init_cfg=dict(type='Pretrained', checkpoint='u')),\n"
        "    data_preprocessor=dict(type='SegDataPreProcessor',\n"
        "        mean=[0, 0, 0], std=[1, 1, 1]))\n")
    return str(cfg)


def test_main_on_config(tmp_path):
    out = tmp_path / 'bench.json'
    result = tool.main([stand_in_config(tmp_path), '--shape', '16', '24',
                        '--batch-size', '2', '--repeat', '3', '--warmup', '1',
                        '--peak-size', '64', '--compile', 'eager', '--out',
                        str(out)])
    saved = json.loads(out.read_text())
    assert saved['batch_size'] == 2 and saved['shape'] == [16, 24]
    assert saved['images_per_s'] == pytest.approx(result['images_per_s'])
    assert saved['device'] == 'cpu' and saved['precision'] == 'float32'
    # 16 * 24 pixels * 4 channels * 27 multiply-adds
    assert saved['forward_gmacs'] == pytest.approx(41472 / 1e9)
    assert set(saved['peaks']) == {'float32', 'bfloat16'}
    assert saved['peaks']['float32']['n'] == 64
    assert 0 < saved['share_of_peak']
    compiled = saved['compiled']
    assert compiled['backend'] == 'eager' and compiled['compile_s'] > 0
    assert compiled['images_per_s'] > 0 and 'share_of_peak' in compiled
    assert 'compiled' in tool.format_benchmark(saved)


def test_cfg_options_are_checked(tmp_path):
    with pytest.raises(KeyError, match='mdoel'):
        tool.main([stand_in_config(tmp_path), '--peak-size', '32',
                   '--repeat', '1', '--cfg-options', 'mdoel.type=X'])


def test_no_native_bf16_keeps_fp32(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(meter, 'onednn_isa_cap', lambda environ=None: 'AVX2')
    result = tool.main([stand_in_config(tmp_path), '--shape', '8', '8',
                        '--repeat', '1', '--warmup', '0', '--peak-size',
                        '32', '--amp'])
    assert 'no native bfloat16' in capsys.readouterr().out
    assert result['amp'] is False and result['precision'] == 'float32'


def test_entry_point_runs_the_module(tmp_path):
    out = tmp_path / 'r.json'
    run_script('tools/analysis_tools/benchmark.py',
               [stand_in_config(tmp_path), '--shape', '8', '8', '--repeat',
                '1', '--warmup', '0', '--peak-size', '32', '--timer', 'cpu',
                '--out', out])
    saved = json.loads(out.read_text())
    assert saved['timer'] == 'cpu' and saved['peaks']['float32']['timer'] \
        == 'cpu'


def test_cpu_bf16_support_reads_flags(tmp_path):
    info = tmp_path / 'cpuinfo'
    flags = 'flags\t\t: fpu avx2 avx512f avx512_bf16\n'
    info.write_text('processor\t: 0\nmodel name\t: Some CPU\n' + flags +
                    '\nprocessor\t: 1\n' + flags)
    r = meter.cpu_bf16_support(str(info))
    assert (r['native'], r['flags'], r['model']) == (True, ['avx512_bf16'],
                                                     'Some CPU')
    assert r['capability'] == torch.backends.cpu.get_cpu_capability()
    info.write_text('model name\t: Old CPU\nflags\t\t: fpu avx2 avx512f\n')
    assert meter.cpu_bf16_support(str(info))['native'] is False
    assert meter.cpu_bf16_support(str(tmp_path / 'none'))['native'] is None


@pytest.mark.parametrize('env,flags,capped', [
    ({}, ['avx512_bf16', 'amx_bf16'], []),
    ({'ONEDNN_MAX_CPU_ISA': 'avx512_core'}, [], ['avx512_bf16', 'amx_bf16']),
    ({'ONEDNN_MAX_CPU_ISA': 'AVX512_CORE_VNNI'}, [],
     ['avx512_bf16', 'amx_bf16']),
    ({'ONEDNN_MAX_CPU_ISA': 'AVX512_CORE_BF16'}, ['avx512_bf16'],
     ['amx_bf16']),
    ({'DNNL_MAX_CPU_ISA': 'AVX2'}, [], ['avx512_bf16', 'amx_bf16']),
    ({'ONEDNN_MAX_CPU_ISA': 'AVX512_CORE_AMX'}, ['avx512_bf16', 'amx_bf16'],
     []),
    ({'ONEDNN_MAX_CPU_ISA': 'DEFAULT'}, ['avx512_bf16', 'amx_bf16'], []),
    # a name oneDNN does not know caps nothing
    ({'ONEDNN_MAX_CPU_ISA': 'NOT_AN_ISA'}, ['avx512_bf16', 'amx_bf16'], []),
])
def test_onednn_isa_cap_removes_the_flags_above_it(tmp_path, env, flags,
                                                   capped):
    info = tmp_path / 'cpuinfo'
    info.write_text('model name\t: AMX CPU\nflags\t\t: fpu avx2 avx512f '
                    'avx512_bf16 amx_bf16 amx_tile\n')
    r = meter.cpu_bf16_support(str(info), environ=env)
    assert r['flags'] == flags and r['capped'] == capped
    assert r['native'] is bool(flags)


def test_onednn_isa_cap_named_in_the_dtype_choice(monkeypatch):
    from mmtlsi.models import optimize
    monkeypatch.setattr(optimize, 'cpu_bf16_support', lambda: dict(
        native=False, flags=[], model='test', capability='AVX512',
        isa_cap='AVX512_CORE', capped=['avx512_bf16']))
    native, why = optimize.cpu_native_bf16()
    assert not native
    assert 'ONEDNN_MAX_CPU_ISA=AVX512_CORE leaves out avx512_bf16' in why
    dtype, why = optimize.resolve_inference_dtype('auto')
    assert dtype == torch.float32 and 'ONEDNN_MAX_CPU_ISA' in why


def test_benchmark_prints_the_cap(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(meter, 'cpu_bf16_support', lambda *a, **k: dict(
        native=False, flags=[], model='Capped CPU', capability='AVX512',
        isa_cap='AVX512_CORE', capped=['avx512_bf16']))
    r = tool.main([stand_in_config(tmp_path), '--shape', '8', '8',
                   '--repeat', '1', '--warmup', '0', '--peak-size', '32'])
    out = capsys.readouterr().out
    assert ('CPU Capped CPU: AVX512, native bf16: no (ONEDNN_MAX_CPU_ISA='
            'AVX512_CORE leaves out avx512_bf16)') in out
    assert r['cpu_bf16']['capped'] == ['avx512_bf16']
    assert r['peaks']['bfloat16']['emulated'] is True


def test_capped_process_keeps_fp32_on_any_cpu():
    # the variable as a user sets it, read in a fresh process: whatever the
    # CPU, oneDNN below AVX512_CORE_BF16 has no bf16 instructions
    code = ('from mmtlsi.models.optimize import resolve_inference_dtype; '
            'd, why = resolve_inference_dtype("auto"); print(d, why)')
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA='AVX512_CORE_VNNI')
    out = subprocess.run([sys.executable, '-c', code], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith('torch.float32 fp32 kept'), out


def test_latency_stats_by_hand():
    r = meter.latency_stats([0.3, 0.1, 0.2, 0.4], batch_size=2)
    assert r['latency_ms_mean'] == pytest.approx(250)
    assert r['latency_ms_median'] == pytest.approx(250)
    assert r['latency_ms_min'] == pytest.approx(100)
    assert r['latency_ms_p90'] == pytest.approx(400)
    assert r['images_per_s'] == pytest.approx(2 / 0.25)


def test_measure_train_splits_data_wait():
    """A fake clock: each batch takes 0.1 s to arrive, each step 0.3 s."""
    clock = StepClock()

    def loader():
        while True:
            clock.advance(0.1)
            yield 'batch'

    steps = []

    def step(data):
        assert data == 'batch'
        clock.advance(0.3)
        steps.append(data)

    r = meter.measure_train(step, loader(), batch_size=4, repeat=3,
                            warmup=2, clock=clock)
    assert len(steps) == 5
    assert r['data_wait_fraction'] == pytest.approx(0.25)
    assert r['data_wait_ms_mean'] == pytest.approx(100)
    assert r['latency_ms_mean'] == pytest.approx(400)
    assert r['images_per_s'] == pytest.approx(4 / 0.4)
    assert r['peak_memory_mib'] > 0 and 'process peak' in r['memory_method']


def test_synthetic_twin_and_crop(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mtlsi/swin-t_nyud.py'))
    ds = analysis.synthetic_train_dataset(cfg, str(tmp_path), num_images=5)
    assert ds.type == 'SyntheticNYUDv2Dataset'
    assert ds.img_size == (480, 640) and ds.num_train == 5
    assert ds.data_root == osp.join(str(tmp_path), 'nyud_480x640_5')
    assert ds.pipeline == cfg.train_dataloader.dataset.pipeline
    analysis.set_crop_size(cfg, (224, 256))
    crops = [t['crop_size'] for t in cfg.train_dataloader.dataset.pipeline
             if 'crop_size' in t]
    assert crops == [(224, 256)]
    assert cfg.model.data_preprocessor['size'] == (224, 256)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mtlsi/hrnet18_pascal.py'))
    ds = analysis.synthetic_train_dataset(cfg, str(tmp_path), (100, 120))
    assert ds.type == 'SyntheticPascalContextDataset'
    assert ds.img_size == (100, 120)
    cfg.train_dataloader.dataset.type = 'SomeOtherDataset'
    with pytest.raises(ValueError, match='hrnet18_pascal.py.*SomeOther'):
        analysis.synthetic_train_dataset(cfg, str(tmp_path))


def test_analysis_model_drops_weights_and_loads_a_checkpoint(tmp_path):
    """No pretrained download; a checkpoint's weights are the model's."""
    model = analysis.build_model_for_analysis(DEMO)
    assert model.cfg.model.backbone.get('init_cfg') is None
    assert not model.training
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
    ckpt = tmp_path / 'w.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    loaded = analysis.build_model_for_analysis(DEMO, str(ckpt))
    assert all(torch.all(p == 0.5) for p in loaded.parameters())


def test_train_mode_steps_the_optimizer(tmp_path):
    """One real training step of the demo model on its own pipeline: the
    weights move and the result is reported."""
    cfg = Config.fromfile(DEMO)
    cfg.train_dataloader.dataset.update(data_root=str(tmp_path / 'data'),
                                        num_train=4, num_val=1)
    model = analysis.build_model_for_analysis(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = analysis.build_train_loader(
        cfg, cfg.train_dataloader.dataset, batch_size=2, num_workers=0)
    step = analysis.make_train_step(model, cfg, 'cpu')
    batches = iter(loader)
    r = meter.measure_train(step, batches, 2, 'cpu', repeat=1, warmup=0)
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
    """bfloat16 autocast on a CPU runs the whole model, in inference and in
    a training step."""
    cfg = Config.fromfile(DEMO)
    model = analysis.build_model_for_analysis(cfg)
    if mode == 'predict':
        fn = analysis.make_predict_fn(model, (64, 96), 2)
        with torch.no_grad(), meter.autocast_context('cpu', True):
            out = fn()
        assert out[0].pred_depth_map.data.isfinite().all()
        return
    cfg.train_dataloader.dataset.update(
        data_root=str(tmp_path / 'data'), num_train=2, num_val=1)
    loader = analysis.build_train_loader(cfg, cfg.train_dataloader.dataset,
                                         2, 0)
    step = analysis.make_train_step(model, cfg, 'cpu', amp=True)
    before = [p.detach().clone() for p in model.parameters()]
    loss = step(next(iter(loader)))
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b)
               for a, b in zip(before, model.parameters()))


def test_get_flops_parts_fit_in_the_forward():
    """The parts' parameters add up to the head's; the time inside the
    parts is part of the forward's; the options are checked."""
    from mmtlsi.tools import get_flops
    r = get_flops.main([DEMO, '--shape', '64', '96', '--parts', '--time',
                        '--timer', 'cpu'])
    params, flops = r['params'], r['flops']
    parts = [k for k in params if k.startswith('decode_head.')]
    assert sum(params[k] for k in parts) == params['head']
    assert params['backbone'] + params['head'] == params['total']
    assert max(flops[k] for k in parts) < flops['head'] < flops['total']
    assert sum(r['part_s'].values()) <= r['forward_s']
    with pytest.raises(KeyError, match='decode_hed'):
        get_flops.main([DEMO, '--no-flops', '--cfg-options',
                        'model.decode_hed.x=1'])


def test_train_mode_eager_and_compiled_share_the_data(tmp_path):
    """--mode train --compile: the eager and the compiled steps draw from
    one dataloader iterator (a second one of InfiniteSampler would stop);
    a step is three forwards of the crop."""
    r = tool.main([DEMO, '--mode', 'train', '--batch-size', '2',
                   '--num-workers', '0', '--crop-size', '64', '96',
                   '--data-size', '96', '128', '--data-root', str(tmp_path),
                   '--repeat', '1', '--warmup', '0', '--peak-size', '32',
                   '--compile', 'eager'])
    assert r['shape'] == [64, 96] and r['batch_size'] == 2
    model = analysis.build_model_for_analysis(DEMO)
    from mmtlsi.utils import count_flops
    assert r['forward_gmacs'] == pytest.approx(
        count_flops(model, (64, 96))['total'] / 1e9)
    assert r['compiled']['images_per_s'] > 0
    assert r['compiled']['compile_s'] > 0


def test_bf16_weights_route(tmp_path, monkeypatch, capsys):
    argv = [stand_in_config(tmp_path), '--shape', '8', '8', '--repeat', '1',
            '--warmup', '0', '--peak-size', '32', '--dtype', 'bf16']
    # a CPU without native bf16, for every reader of the CPU's support (the
    # tool, the dtype choice, the peaks): oneDNN capped below bf16
    monkeypatch.setattr(meter, 'onednn_isa_cap', lambda environ=None: 'AVX2')
    kept = tool.main(argv)
    assert 'no native bfloat16' in capsys.readouterr().out
    assert kept['route'] == 'fp32 (BN folded)'
    assert kept['precision'] == 'float32'
    r = tool.main(argv + ['--allow-emulated-bf16'])
    assert r['route'] == 'bf16 weights' and r['precision'] == 'bfloat16'
    assert 'emulated' in r['dtype_reason']
    # an emulated peak gives no share
    assert 'gmacs_per_s' in r and 'share_of_peak' not in r
    # the bf16 model compiled, and profiled: its products run in bf16
    r = tool.main(argv + ['--allow-emulated-bf16', '--compile', 'eager',
                          '--profile'])
    assert r['compiled']['precision'] == 'bfloat16'
    written = r['op_profile']['bytes_out']['matmul']
    # one 8x8 map of 4 channels, batch 1, in bf16
    assert written == {'bfloat16': 8 * 8 * 4 * 2}
    assert r['op_profile']['seconds']['matmul'] > 0
    with pytest.raises(SystemExit):
        tool.parse_args([argv[0], '--mode', 'train', '--dtype', 'bf16'])
    with pytest.raises(ValueError, match='predict'):
        analysis.run_benchmark(argv[0], mode='train', weights_dtype='bf16')


@pytest.mark.parametrize('mode,variants', [
    ('predict', [(), ('--amp', ), ('--dtype', 'bf16')]),
    ('train', [(), ('--amp', )])])
def test_compare_amp_runs_each_route_in_its_process(tmp_path, monkeypatch,
                                                    capsys, mode, variants):
    seen = []

    def fake(child, extra=()):
        seen.append((child, tuple(extra)))
        route = {(): 'fp32', ('--amp', ): 'bfloat16 autocast'}.get(
            tuple(extra), 'bf16 weights')
        return dict(route=route, images_per_s=2.0 * len(seen),
                    precision='float32', mode=mode, device='cpu',
                    batch_size=1, shape=[8, 8], threads=1, timer='wall',
                    cpu_bf16=dict(model='m', capability='c', flags=[]),
                    latency_ms_mean=1.0)

    monkeypatch.setattr(tool, 'in_subprocess', fake)
    cfg = stand_in_config(tmp_path)
    result = tool.main([cfg, '--mode', mode, '--compare-amp',
                        '--allow-emulated-bf16', '--out',
                        str(tmp_path / 'r.json')])
    assert [extra for _, extra in seen] == variants
    assert all('--compare-amp' not in c and '--out' not in c
               for c, _ in seen)
    # images/s of each route against fp32 (the first run's 2.0)
    expected = {'bfloat16 autocast': 2.0, 'bf16 weights': 3.0}
    assert result['speedups'] == {k: v for k, v in expected.items()
                                  if k in result['speedups']}
    assert len(result['speedups']) == len(variants) - 1
    assert 'bfloat16 autocast / fp32 images/s: 2.00x' in \
        capsys.readouterr().out


def test_op_profile_table():
    profile = dict(
        seconds=dict(matmul=0.6, norm=0.1, optimizer=0.0, total=1.0),
        bytes_out=dict(matmul={'bfloat16': 2 * 2**20},
                       norm={'float32': 2**20, 'bfloat16': 2**19},
                       optimizer={}))
    lines = analysis.format_op_profile(profile).splitlines()
    assert lines[1].split() == ['operators', 'self', 'CPU', 's', 'share',
                                'of', 'the', 'call', 'MiB', 'out,',
                                'bfloat16', 'MiB', 'out,', 'float32']
    rows = {line.split()[0]: line.split() for line in lines[3:-1]}
    assert rows['matmul'][1:] == ['0.600', '60.0%', '2.0', '0.0']
    assert rows['norm'][1:] == ['0.100', '10.0%', '0.5', '1.0']
    # what no operator accounts for: 1.0 - 0.7 s
    assert lines[-2].split()[-2:] == ['0.300', '30.0%']
    assert 'optimizer' not in rows        # never ran


def test_compile_time_is_wall_time(tmp_path):
    """The compiler works outside this process's CPU time (inductor's C++
    compiles run in child processes): a backend that waits 0.3 s while
    compiling shows in ``compile_s`` even with ``--timer cpu``."""
    import time

    from torch._dynamo import list_backends, register_backend
    if 'slow_eager' not in list_backends(exclude_tags=()):
        @register_backend(name='slow_eager')
        def slow_eager(gm, example_inputs):
            time.sleep(0.3)
            return gm.forward

    r = tool.main([stand_in_config(tmp_path), '--shape', '8', '8',
                   '--repeat', '1', '--warmup', '0', '--peak-size', '32',
                   '--timer', 'cpu', '--compile', 'slow_eager'])
    assert r['compiled']['backend'] == 'slow_eager'
    assert r['compiled']['compile_s'] >= 0.3
