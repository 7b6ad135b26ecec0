import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from scripts import ROOT, load_script

from mmtlsi.registry import MODELS
from mmtlsi.tasks import build_task_specs

ABLATIONS = osp.join(ROOT, 'configs', 'demo', 'ablations')


def load_tool():
    return load_script('.dev_scripts/run_ablation.py')


def test_every_row_has_a_config():
    tool = load_tool()
    for name, _ in tool.ROWS:
        assert osp.isfile(osp.join(ABLATIONS, f'{name}.py')), name


def build_head(name):
    cfg = Config.fromfile(osp.join(ABLATIONS, f'{name}.py'))
    return MODELS.build(cfg.model.decode_head)


def test_ablation_configs_switch_one_thing():
    pd = build_head('pd-only')
    assert not pd.refine and not hasattr(pd, 'fusion')
    s1, s135 = build_head('mqlfb-s1'), build_head('mqlfb-s135')
    for head, scales in ((s1, (1, )), (s135, (1, 3, 5))):
        assert type(head.fusion).__name__ == 'MTMQLFB'
        assert head.fusion.scales == scales
        assert not head.distiller_cwib and not hasattr(head, 'cwibs')
    full = build_head('full')
    assert full.distiller_cwib and len(full.cwibs) == 4
    assert full.fusion.scales == (1, 3, 5) and full.fusion.num_heads == 1
    quad = build_head('quadratic-fusion')
    assert type(quad.fusion).__name__ == 'CrossTaskAttention'
    assert quad.distiller_cwib
    # everything but the fusion is the full model's
    names = {k for k in full.state_dict() if not k.startswith('fusion.')}
    assert names == {k for k in quad.state_dict()
                     if not k.startswith('fusion.')}


def test_fusion_only_head_maps_tokens_back_per_task():
    head = build_head('mqlfb-s135')
    b, d, h, w = 2, head.fusion.norm_q.normalized_shape[0], 5, 7
    n = (-(-h // 2)) * (-(-w // 2))                     # 3 * 4 tokens
    fused = torch.cat([torch.full((b, n, d), float(i)) for i in range(4)],
                      dim=1)
    like = torch.zeros(b, d, h, w)
    for i in range(4):
        out = head._task_map(fused, i, like)
        assert out.shape == (b, d, h, w)
        torch.testing.assert_close(out, torch.full_like(out, float(i)))
    # the map keeps the token grid's row-major layout
    grid = torch.arange(n, dtype=torch.float32).view(1, n, 1)
    fused = torch.cat([grid.expand(1, n, d)] * 4, dim=1)
    out = head._task_map(fused, 2, torch.zeros(1, d, 6, 8))
    torch.testing.assert_close(out[0, 0, ::2, ::2],
                               torch.arange(n, dtype=torch.float32)
                               .view(3, 4), atol=1.5, rtol=0)


def test_fusion_only_head_trains_the_fusion():
    head = build_head('mqlfb-s1')
    feats = [torch.randn(2, c, 16 // 2**i, 24 // 2**i)
             for i, c in enumerate([32, 64, 128, 256])]
    out = head(feats)
    assert set(out['final']) == {'semseg', 'depth', 'normals', 'edge'}
    assert out['final']['semseg'].shape == (2, 7, 16, 24)
    sum(v.float().mean() for v in out['final'].values()).backward()
    grads = [p.grad for p in head.fusion.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_run_config_stretches_the_schedule():
    tool = load_tool()
    cfg = tool.run_config(osp.join(ABLATIONS, 'full.py'), seed=3, iters=300)
    assert cfg.train_cfg.max_iters == 300 and cfg.train_cfg.val_interval == 300
    warm, poly = cfg.param_scheduler
    assert (warm.begin, warm.end) == (0, 50)          # 100 of 600
    assert (poly.begin, poly.end) == (50, 300)
    assert cfg.randomness.seed == 3
    assert cfg.default_hooks.checkpoint.interval == 300


def test_final_metrics_reads_the_last_validation(tmp_path):
    tool = load_tool()
    log = tmp_path / '20260101_000000' / 'vis_data'
    log.mkdir(parents=True)
    lines = [dict(loss=3.0, time=0.5, step=10),
             dict(loss=2.0, time=0.7, step=20),
             {'semseg/mIoU': 40.0, 'step': 10},
             dict(loss=1.0, time=0.6, step=30),
             {'semseg/mIoU': 50.0, 'depth/rmse': 0.5, 'step': 30}]
    (log / 'scalars.json').write_text(
        '\n'.join(json.dumps(x) for x in lines) + '\n')
    r = tool.final_metrics(str(tmp_path), 30)
    assert r == dict(metrics={'semseg/mIoU': 50.0, 'depth/rmse': 0.5},
                     s_per_iter=0.6)
    with pytest.raises(ValueError, match='no validation at iteration 40'):
        tool.final_metrics(str(tmp_path), 40)
    with pytest.raises(FileNotFoundError):
        tool.final_metrics(str(tmp_path / 'x'), 30)


def test_table_mean_std_and_delta_m():
    tool = load_tool()
    specs = build_task_specs(['semseg', 'depth'])

    def run(name, seed, miou, rmse):
        return dict(config=f'x/{name}.py', seed=seed, s_per_iter=0.5,
                    metrics={'semseg/mIoU': miou, 'depth/rmse': rmse})

    results = [run('a', 0, 40.0, 1.0), run('a', 1, 42.0, 1.2),
               run('b', 0, 44.0, 0.9), run('b', 1, 46.0, 0.9)]
    # reference = row a's mean: mIoU 41, rmse 1.1; row b's Delta_m:
    # 100 * ((44 - 41) / 41 + 0.2 / 1.1) / 2 = 12.749 (seed 0) and
    # 100 * ((46 - 41) / 41 + 0.2 / 1.1) / 2 = 15.188 (seed 1)
    table = tool.format_table(results, specs, {'a': 'row A'})
    lines = table.strip().splitlines()
    assert lines[0].startswith('| row | config | semseg/mIoU ↑ | '
                               'depth/rmse ↓ | Δm vs a (%) ↑')
    a, b = lines[2].split(' | '), lines[3].split(' | ')
    assert a[0] == '| row A' and b[0] == '| b'
    assert a[2] == '41.00 ± 1.41' and a[3] == '1.1000 ± 0.1414'
    assert b[2] == '45.00 ± 1.41' and b[3] == '0.9000 ± 0.0000'
    assert b[4] == '+13.97 ± 1.72'
    assert a[4] == '+0.00 ± 4.70'        # +3.326 and -3.326
    assert a[5] == '0,1 |'
