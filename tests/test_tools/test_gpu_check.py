import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from scripts import ROOT, load_script

from mmtlsi.apis import analysis
from mmtlsi.utils.benchmark import matmul_peak

DEMO = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'


@pytest.fixture(scope='module')
def tool():
    return load_script('.dev_scripts/gpu_check.py')


def test_plan_sizes(tool):
    cases = tool.plan(tool.parse_args([]))
    assert [(c['name'], c['batch'], c['crop'], c['amp'], c['compiled'])
            for c in cases] == [
        ('Swin-T NYUDv2', 8, (448, 576), False, False),
        ('Swin-T NYUDv2', 8, (448, 576), True, False),
        ('Swin-T NYUDv2', 8, (448, 576), True, True),
        ('Swin-L PASCAL-Context', 4, (512, 512), True, False),
        ('Swin-L PASCAL-Context', 4, (512, 512), False, False)]
    args = tool.parse_args(['--dry-run'])
    assert (args.steps, args.warmup, args.workers) == (1, 0, 0)
    assert args.compile_backend == 'eager'
    assert tool.parse_args([]).compile_backend == 'inductor'
    assert all(c['crop'] == (224, 224) for c in tool.plan(args))
    assert not any(c['compiled'] for c in
                   tool.plan(tool.parse_args(['--no-compile'])))
    # configs resolve against the repository from anywhere
    assert tool.parse_args([]).nyud_config == osp.join(
        ROOT, 'configs/mtlsi/swin-t_nyud.py')


def test_train_case_share_of_peak_by_hand(tool, tmp_path, monkeypatch):
    """A step of 0.5 s (fake), 1 GMAC forward, batch 2: 3 x 1 x 2 = 6
    GMACs = 12 GFLOP per step, 0.024 TFLOP/s; half a 0.048 TFLOP/s peak."""
    def fake_measure(step, loader, batch, device, repeat, warmup):
        return dict(latency_ms_mean=500.0, images_per_s=4.0)

    monkeypatch.setattr(tool, 'measure_train', fake_measure)
    args = tool.parse_args(['--dry-run', '--dry-crop', '64', '96',
                            '--out-dir', str(tmp_path)])
    case = dict(name='demo', config=osp.join(ROOT, DEMO), batch=2,
                crop=(64, 96), amp=False, compiled=False)
    r = tool.train_case(case, torch.device('cpu'), args, 1e9,
                        dict(tflops=0.048))
    assert r['model_tflops'] == pytest.approx(0.024)
    assert r['share_of_peak'] == pytest.approx(0.5)
    assert r['forward_gmacs'] == pytest.approx(1.0)
    assert r['amp'] == 'float32' and 'compile_s' not in r


def test_dry_run_of_the_prepared_command(tmp_path):
    """``gpu_check.sh --dry-run``, the demo model in both slots: every
    training case (the compiled one too), the sweep, the report and the
    gpu-marked tests (skipped without a GPU)."""
    out = tmp_path / 'out'
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable,
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, '.dev_scripts', 'gpu_check.sh'), '--dry-run',
         '--dry-crop', '64', '96', '--nyud-config', DEMO, '--pascal-config',
         DEMO, '--skip', 'ddp'], cwd=str(tmp_path), env=env,
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / 'gpu_check.json').read_text())
    assert [(r['amp'], r.get('compiled')) for r in report['train']] == [
        ('float32', False), ('bfloat16', False), ('bfloat16', True),
        ('bfloat16', False), ('float32', False)]
    macs = analysis.build_model_for_analysis(osp.join(ROOT, DEMO))
    from mmtlsi.utils import count_flops
    forward = count_flops(macs, (64, 96))['total'] / 1e9
    for r in report['train']:
        assert 'error' not in r, r
        assert r['images_per_s'] > 0 and r['crop'] == [64, 96]
        assert r['forward_gmacs'] == pytest.approx(forward)
        assert 0 < r['share_of_peak']
    assert report['train'][2]['compile_s'] > 0
    # inference: the deployed bf16 route and its compiled twin too
    assert [r['route'] for r in report['infer']] == [
        'fp32', 'bf16 autocast', 'bf16 weights', 'bf16 weights compiled']
    for r in report['infer']:
        assert 'error' not in r, r
        assert r['images_per_s'] > 0 and r['shape'] == [64, 96]
        assert r['gmacs_per_s'] > 0 and r['batch'] == 1
    assert report['infer'][3]['compile_s'] > 0
    assert set(report['matmul']) == {'float32', 'bfloat16'}
    assert report['sweep']['ok'] and 'MT-MQLFB' in report['sweep']['table']
    text = (out / 'gpu_check.md').read_text()
    assert 'Dry run on the CPU' in text
    assert text.count('| Swin-T NYUDv2 | 2 | 64x96 |') == 3
    assert '| bfloat16 compiled |' in text
    assert text.count('| Swin-T NYUDv2 | 1 | 64x96 |') == 4
    assert '| bf16 weights compiled |' in text
    tests = (out / 'gpu_tests.log').read_text()
    assert 'skipped' in tests and 'failed' not in tests


def test_ddp_dry_run(tool, tmp_path):
    """Two CPU processes (gloo) train the demo model in DDP."""
    args = tool.parse_args(['--dry-run', '--dry-crop', '64', '96',
                            '--out-dir', str(tmp_path), '--nyud-config',
                            DEMO])
    r = tool.ddp_run(args, 2)
    assert r['ok'], r.get('error')
    assert (r['world_size'], r['batch'], r['amp']) == (2, 2, 'bfloat16')
    assert r['crop'] == [64, 96] and r['images_per_s'] > 0


def test_markdown_report(tool):
    row = dict(name='Swin-T NYUDv2', batch=8, crop=[448, 576],
               amp='bfloat16', compiled=True, images_per_s=40.0,
               latency_ms_mean=200.0, data_wait_fraction=0.012,
               peak_memory_mib=10240.0, model_tflops=100.0,
               share_of_peak=0.125, compile_s=61.0)
    report = dict(
        date='2026-01-01 00:00 UTC', command='python x.py', dry_run=False,
        environment=dict(devices=['GPU A'], versions=dict(torch='2.11')),
        matmul={'float32': dict(n=8192, tflops=50.0),
                'bfloat16': dict(n=8192, tflops=800.0)},
        train=[row], ddp=None,
        infer=[dict(name='Swin-T NYUDv2', route='bf16 weights', batch=8,
                    shape=[448, 576], images_per_s=120.0,
                    latency_ms_mean=66.7, peak_memory_mib=2048.0,
                    gmacs_per_s=250000.0, share_of_peak=0.625)],
        sweep=dict(ok=True, command='complexity.py', table='| t |'),
        seconds=100.0)
    text = tool.markdown(report)
    assert ('| Swin-T NYUDv2 | 8 | 448x576 | bfloat16 compiled | 40.00 | 200 '
            '| 1.2% | 10.00 | 100.0 | 12.5% | 61 |') in text
    assert '8192x8192 bfloat16: 800.0 TFLOP/s' in text and 'GPU A' in text
    assert '8192x8192 float32: 50.0 TFLOP/s' in text
    assert 'DDP: one device, not run.' in text and 'Dry run' not in text
    # 250,000 GMAC/s = 500 TFLOP/s, 62.5% of the bf16 peak
    assert ('| Swin-T NYUDv2 | 8 | 448x576 | bf16 weights | 120.00 | 66.7 '
            '| 2.00 | 500.0 | 62.5% | - |') in text


@pytest.mark.gpu
def test_cuda_bf16_training_step(tmp_path):
    """On a GPU: a bf16 autocast training step of the demo model moves the
    weights, and the bf16 matmul peak is a GPU's."""
    from mmengine.config import Config
    device = torch.device('cuda')
    peak = matmul_peak(device, torch.bfloat16, 4096, repeats=3)
    assert peak['tflops'] > 5
    cfg = Config.fromfile(osp.join(ROOT, DEMO))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'data')
    cfg.train_dataloader.dataset.num_train = 4
    model = analysis.build_model_for_analysis(cfg, device=device)
    before = [p.detach().clone() for p in model.parameters()]
    loader = analysis.build_train_loader(cfg, cfg.train_dataloader.dataset,
                                         2, 0)
    step = analysis.make_train_step(model, cfg, device, True, torch.bfloat16)
    loss = step(next(iter(loader)))
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b)
               for a, b in zip(before, model.parameters()))


def test_tools_entry_point_needs_the_clone(tmp_path):
    """``tools/analysis_tools/gpu_check.sh`` runs the clone's
    ``.dev_scripts/gpu_check.sh``; without it (an installed package's copy)
    it stops with a message naming the missing file."""
    folder = tmp_path / 'tools' / 'analysis_tools'
    folder.mkdir(parents=True)
    script = folder / 'gpu_check.sh'
    script.write_text(open(osp.join(ROOT, 'tools', 'analysis_tools',
                                    'gpu_check.sh')).read())
    out = subprocess.run(['bash', str(script), '--dry-run'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert '.dev_scripts/gpu_check.sh not found' in out.stderr
    assert 'clone' in out.stderr
