"""docs/model.md, "Names of the design": every class it names is in the
registry it names, the paper config builds them at the config keys it
names, and ``model.neck`` takes a neck of mmseg's as the page says."""
import re
from pathlib import Path

import torch
from mmengine.config import Config
from mmseg import registry as mmseg_registry

REPO = Path(__file__).resolve().parents[2]


def _design_rows():
    text = (REPO / 'docs' / 'model.md').read_text(encoding='utf-8')
    section = text.split('## Names of the design', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in section.splitlines()
            if line.startswith('| ') and not line.startswith('| Name')]
    return [[cell.strip() for cell in row.strip('|').split('|')]
            for row in rows]


def test_every_named_class_is_in_its_registry():
    rows = _design_rows()
    assert len(rows) >= 14
    for name, classes, registry, _ in rows:
        registry_name = re.search(r'`(\w+)`', registry).group(1)
        found = getattr(mmseg_registry, registry_name)
        for cls in re.findall(r'`([\w.]+)`', classes):
            assert found.get(cls) is not None, \
                f'{name}: {cls} is not in {registry_name}'


def test_the_paper_configs_build_them_at_the_named_keys():
    cfg = Config.fromfile(str(REPO / 'configs/mtlsi/swin-t_nyud.py'))
    at = {
        'model': cfg.model.type,
        'model.data_preprocessor': cfg.model.data_preprocessor.type,
        'model.backbone': cfg.model.backbone.type,
        'model.backbone.init_cfg': cfg.model.backbone.init_cfg.type,
        'model.decode_head': cfg.model.decode_head.type,
        'model.decode_head.fusion': cfg.model.decode_head.fusion.type,
        'task_cfg.edge.loss': cfg.task_cfg.edge.loss.type,
        'train_dataloader.dataset': cfg.train_dataloader.dataset.type,
        'test_evaluator': cfg.test_evaluator.type,
        'visualizer': cfg.visualizer.type,
        'default_hooks.visualization':
            cfg.default_hooks.visualization.type,
    }
    assert at == {
        'model': 'MultiTaskEncoderDecoder',
        'model.data_preprocessor': 'MultiTaskDataPreProcessor',
        'model.backbone': 'mmpretrain.SwinTransformer',
        'model.backbone.init_cfg': 'StrictPretrained',
        'model.decode_head': 'MTLSIHead',
        'model.decode_head.fusion': 'MTMQLFB',
        'task_cfg.edge.loss': 'BalancedBCELoss',
        'train_dataloader.dataset': 'NYUDv2Dataset',
        'test_evaluator': 'MultiTaskMetric',
        'visualizer': 'MultiTaskVisualizer',
        'default_hooks.visualization': 'MultiTaskVisualizationHook'}
    assert cfg.model.get('neck') is None
    hrnet = Config.fromfile(str(REPO / 'configs/mtlsi/hrnet18_nyud.py'))
    assert hrnet.model.backbone.type == 'mmpretrain.HRNet'


def test_a_neck_of_mmseg_runs_between_backbone_and_head():
    """mmseg's FPN at ``model.neck`` maps the demo backbone's 32..256
    channels to 32 each; the head, told so, predicts every task at the input
    size."""
    from mmtlsi.apis.builder import build_model
    model = build_model('configs/demo/mtlsi_tiny_synthetic-nyud.py',
                        cfg_options={
                            'model.neck': dict(
                                type='FPN', in_channels=[32, 64, 128, 256],
                                out_channels=32, num_outs=4),
                            'model.decode_head.in_channels': [32] * 4})
    assert type(model.neck).__name__ == 'FPN'
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 64, 96))
        out = model(torch.zeros(1, 3, 64, 96), mode='tensor')
    assert [tuple(f.shape) for f in feats] == [
        (1, 32, 16, 24), (1, 32, 8, 12), (1, 32, 4, 6), (1, 32, 2, 3)]
    assert {t: tuple(x.shape) for t, x in out.items()} == {
        'semseg': (1, 7, 64, 96), 'depth': (1, 1, 64, 96),
        'normals': (1, 3, 64, 96), 'edge': (1, 1, 64, 96)}
