import importlib.util
import os.path as osp

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@MODELS.register_module(force=True)
class _DemoStandIn(BaseModel):
    """Semseg = 1 everywhere, plus depth and saliency."""

    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        res = []
        for i, s in enumerate(data_samples):
            h, w = s.ori_shape[:2]
            x = F.interpolate(inputs[i:i + 1].float(), (h, w))[0]
            r = SegDataSample(metainfo=s.metainfo)
            r.pred_sem_seg = PixelData(
                data=torch.ones(1, h, w, dtype=torch.int64))
            r.pred_depth_map = PixelData(data=x[:1] * self.scale + 1)
            r.pred_sal_map = PixelData(data=x[1:2].sigmoid())
            res.append(r)
        return res


def test_image_demo(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "default_scope = 'mmseg'\n"
        "model = dict(type='_DemoStandIn', data_preprocessor=dict(\n"
        "    type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]))\n"
        "test_pipeline = [dict(type='LoadImageFromFile'),\n"
        "    dict(type='LoadMultiTaskAnnotations'),\n"
        "    dict(type='PackSegInputs')]\n"
        "test_dataloader = dict(dataset=dict(type='Nope',\n"
        "    pipeline=test_pipeline))\n")
    palette = [[1, 2, 3], [250, 0, 5]]
    ckpt = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=dict(scale=torch.ones(1) * 2),
                    meta=dict(dataset_meta=dict(classes=['a', 'b'],
                                                palette=palette))), ckpt)
    img = tmp_path / 'img.png'
    cv2.imwrite(str(img), np.full((18, 20, 3), 100, np.uint8))
    out = tmp_path / 'out' / 'pic.png'
    spec = importlib.util.spec_from_file_location(
        '_mt_image_demo', osp.join(ROOT, 'demo', 'image_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.main([str(img), str(cfg), str(ckpt), '--out-file', str(out)])
    pic = cv2.imread(str(out))[..., ::-1]
    h, w = pic.shape[:2]
    # one row (no ground truth), image + 3 tasks
    assert w == 4 * 20 and h > 18
    # the semseg panel is class 1 in the checkpoint's palette
    assert pic[h - 5, 20 + 5].tolist() == palette[1]
