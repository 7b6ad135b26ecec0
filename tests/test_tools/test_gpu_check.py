import importlib.util
import json
import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'


def load_tool(name='gpu_check'):
    path = osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_mt_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_sizes():
    tool = load_tool()
    cases = tool.plan(tool.parse_args([]))
    assert [(c['name'], c['batch'], c['crop'], c['amp']) for c in cases] == [
        ('Swin-T NYUDv2', 8, (448, 576), False),
        ('Swin-T NYUDv2', 8, (448, 576), True),
        ('Swin-L PASCAL-Context', 4, (512, 512), True),
        ('Swin-L PASCAL-Context', 4, (512, 512), False)]
    args = tool.parse_args(['--dry-run'])
    assert (args.steps, args.warmup, args.workers) == (1, 1, 0)
    assert all(c['crop'] == (224, 224) for c in tool.plan(args))


def test_matmul_peak_formula():
    tool = load_tool()
    r = tool.matmul_peak(torch.device('cpu'), 64, repeats=2)
    assert r['n'] == 64 and r['seconds'] > 0
    assert r['tflops'] == pytest.approx(2 * 64**3 / r['seconds'] / 1e12)


def test_dry_run_end_to_end(tmp_path):
    """The whole driver on the CPU with the demo model in both slots: every
    training case, the utilisation arithmetic, the sweep and the report."""
    tool = load_tool()
    out = tmp_path / 'out'
    report = tool.main(['--dry-run', '--dry-crop', '64', '96', '--out-dir',
                        str(out), '--nyud-config', DEMO, '--pascal-config',
                        DEMO, '--skip', 'ddp'])
    assert len(report['train']) == 4
    peak = report['matmul']['tflops']
    for r in report['train']:
        assert 'error' not in r, r
        assert r['images_per_s'] > 0 and r['crop'] == [64, 96]
        step_s = r['latency_ms_mean'] / 1000
        assert r['model_tflops'] == pytest.approx(
            6 * r['forward_gmacs'] * 1e9 * r['batch'] / step_s / 1e12)
        assert r['fraction_of_bf16_peak'] == pytest.approx(
            r['model_tflops'] / peak)
    assert [r['amp'] for r in report['train']] == [
        'float32', 'bfloat16', 'bfloat16', 'float32']
    assert report['sweep']['ok'] and 'MT-MQLFB' in report['sweep']['table']
    text = (out / 'gpu_check.md').read_text()
    assert 'Dry run on the CPU' in text
    assert text.count('| Swin-T NYUDv2 | 2 | 64x96 |') == 2
    saved = json.loads((out / 'gpu_check.json').read_text())
    assert saved['train'][0]['images_per_s'] == pytest.approx(
        report['train'][0]['images_per_s'])


def test_ddp_dry_run(tmp_path):
    """Two CPU processes (gloo) train the demo model in DDP."""
    tool = load_tool()
    args = tool.parse_args(['--dry-run', '--dry-crop', '64', '96',
                            '--out-dir', str(tmp_path), '--nyud-config',
                            DEMO])
    r = tool.ddp_run(args, 2)
    assert r['ok'], r.get('error')
    assert r['world_size'] == 2 and r['batch'] == 2
    assert r['images_per_s_total'] == pytest.approx(2 * r['images_per_s'])


def test_markdown_report():
    tool = load_tool()
    row = dict(name='Swin-T NYUDv2', batch=8, crop=[448, 576],
               amp='bfloat16', images_per_s=40.0, latency_ms_mean=200.0,
               data_wait_fraction=0.012, peak_memory_mib=10240.0,
               model_tflops=100.0, fraction_of_bf16_peak=0.125)
    report = dict(
        date='2026-01-01 00:00 UTC', command='python x.py', dry_run=False,
        environment=dict(devices=['GPU A'], versions=dict(torch='2.11')),
        matmul=dict(n=8192, tflops=800.0), train=[row], ddp=None,
        sweep=dict(ok=True, command='complexity.py', table='| t |'),
        seconds=100.0)
    text = tool.markdown(report)
    assert ('| Swin-T NYUDv2 | 8 | 448x576 | bfloat16 | 40.00 | 200 | 1.2% | '
            '10.00 | 100.0 | 12.5% |') in text
    assert '800.0 TFLOP/s' in text and 'GPU A' in text
    assert 'DDP: one device, not run.' in text and 'Dry run' not in text


@pytest.mark.gpu
def test_cuda_bf16_training_step(tmp_path):
    """On a GPU: a bf16 autocast training step of the demo model moves the
    weights, and the matmul peak is a GPU's."""
    from mmengine.config import Config
    bench = load_tool('benchmark')
    tool = load_tool()
    device = torch.device('cuda')
    assert tool.matmul_peak(device, 4096, repeats=3)['tflops'] > 5
    cfg = Config.fromfile(osp.join(ROOT, DEMO))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'data')
    cfg.train_dataloader.dataset.num_train = 4
    model = bench.build_model(cfg, None, device)
    before = [p.detach().clone() for p in model.parameters()]
    loader = bench.build_train_loader(cfg, cfg.train_dataloader.dataset, 2, 0)
    step = bench.make_train_step(model, cfg, device, True, torch.bfloat16)
    loss = step(next(iter(loader)))
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b)
               for a, b in zip(before, model.parameters()))
