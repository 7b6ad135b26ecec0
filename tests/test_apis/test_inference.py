import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmtlsi.apis import get_test_pipeline_cfg, inference_model, init_model


@MODELS.register_module(force=True)
class _TinyMultiTaskStandIn(BaseModel):
    """Predicts semseg / depth / normals / edge at each image's ori_shape."""

    def __init__(self, backbone=None, data_preprocessor=None, train_cfg=None,
                 num_classes=3):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone_cfg = backbone
        self.conv = torch.nn.Conv2d(3, num_classes + 1 + 3 + 1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.conv(inputs)
        if mode != 'predict':
            return out
        results = []
        for i, sample in enumerate(data_samples):
            h, w = sample.ori_shape[:2]
            o = F.interpolate(out[i:i + 1], (h, w), mode='bilinear')[0]
            res = SegDataSample(metainfo=sample.metainfo)
            res.pred_sem_seg = PixelData(data=o[:3].argmax(0, keepdim=True))
            res.pred_depth_map = PixelData(data=o[3:4].clamp(min=0))
            res.pred_normal_map = PixelData(data=F.normalize(o[4:7], dim=0))
            res.pred_edge_map = PixelData(data=o[7:8].sigmoid())
            results.append(res)
        return results


def make_cfg():
    return Config(dict(
        default_scope='mmseg',
        model=dict(
            type='_TinyMultiTaskStandIn',
            backbone=dict(type='Anything', init_cfg=dict(
                type='Pretrained', checkpoint='https://example.invalid/x')),
            train_cfg=dict(),
            data_preprocessor=dict(type='SegDataPreProcessor',
                                   mean=[0, 0, 0], std=[255, 255, 255],
                                   bgr_to_rgb=True)),
        test_dataloader=dict(dataset=dict(type='NoSuchDataset', pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadMultiTaskAnnotations'),
            dict(type='Resize', scale=(16, 16), keep_ratio=False),
            dict(type='PackSegInputs'),
        ]))))


def test_pipeline_drops_annotations():
    cfg = make_cfg()
    types = [t['type'] for t in get_test_pipeline_cfg(cfg)]
    assert types == ['LoadImageFromFile', 'Resize', 'PackSegInputs']
    types = [t['type'] for t in get_test_pipeline_cfg(cfg, from_array=True)]
    assert types[0] == 'LoadImageFromNDArray'
    # the config itself is untouched
    assert len(cfg.test_dataloader.dataset.pipeline) == 4


def test_inference_on_array_and_path(tmp_path):
    model = init_model(make_cfg(), device='cpu')
    assert not model.training and model.dataset_meta == {}
    img = np.random.RandomState(0).randint(0, 255, (20, 30, 3), np.uint8)
    results = inference_model(model, img)
    assert isinstance(results, list) and len(results) == 1
    r = results[0]
    assert r.pred_sem_seg.data.shape == (1, 20, 30)
    assert r.pred_sem_seg.data.dtype == torch.int64
    assert r.pred_depth_map.data.shape == (1, 20, 30)
    assert r.pred_normal_map.data.shape == (3, 20, 30)
    assert torch.allclose(r.pred_normal_map.data.norm(dim=0),
                          torch.ones(20, 30), atol=1e-4)
    e = r.pred_edge_map.data
    assert e.shape == (1, 20, 30) and 0 <= e.min() and e.max() <= 1

    path = str(tmp_path / 'img.png')
    mmcv.imwrite(img, path)
    img2 = np.zeros((12, 14, 3), np.uint8)
    results = inference_model(model, [path, path])
    assert len(results) == 2
    assert results[1].pred_sem_seg.data.shape == (1, 20, 30)
    assert results[0].img_path == path
    assert inference_model(model, [img2])[0].pred_depth_map.shape == (12, 14)


def test_init_model_with_checkpoint(tmp_path):
    cfg = make_cfg()
    model = init_model(cfg)
    # the loader kept its init_cfg when no checkpoint is given
    assert model.backbone_cfg['init_cfg'] is not None
    state = {k: torch.full_like(v, 0.5)
             for k, v in model.state_dict().items()}
    ckpt = str(tmp_path / 'ckpt.pth')
    meta = dict(dataset_meta=dict(classes=['a', 'b', 'c']))
    torch.save(dict(state_dict=state, meta=meta), ckpt)
    model = init_model(cfg, ckpt, cfg_options={'model.num_classes': 3})
    assert model.backbone_cfg['init_cfg'] is None
    assert model.dataset_meta == meta['dataset_meta']
    assert torch.all(model.conv.weight == 0.5)
    # the caller's config is not modified
    assert cfg.model.backbone.init_cfg is not None
