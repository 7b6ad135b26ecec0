"""A task setting overridden in a config's ``task_cfg`` reaches every part
that reads it (transforms, data preprocessor, head), and a part that would
read another value stops the build instead of running on misaligned
semantics."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmtlsi.apis.builder import build_model
from mmtlsi.datasets.synthetic import SyntheticNYUDv2Dataset
from mmtlsi.datasets.transforms.loading import _with_ignore_index

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')
SMALL = dict(num_train=4, num_val=1, img_size=(48, 64), seed=0)
PAD = (72, 100)   # larger than the 64x96 crops: every sample is padded


def _child_config(tmp_path, body: str) -> Config:
    path = tmp_path / 'child.py'
    path.write_text(f'_base_ = [{DEMO!r}]\n' + body)
    return Config.fromfile(str(path))


def test_pad_value_override_pads_exactly_the_padded_pixels(tmp_path):
    """depth padded with -1: a config inheriting the demo config writes the
    override once (its ``task_cfg`` variable, passed on as the demo config
    does); the training batch the model's data preprocessor makes from the
    config's data loader holds -1 exactly at the pixels beyond each sample's
    image, 72 * 100 - h * w of them, and the image's depth unchanged."""
    cfg = _child_config(tmp_path, f'''
task_cfg = dict(depth=dict(pad_value=-1.0))
model = dict(data_preprocessor=dict(size={PAD!r}, task_cfg=task_cfg),
             decode_head=dict(task_cfg=task_cfg))
train_dataloader = dict(
    batch_size=3, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={str(tmp_path / 'data')!r}, task_cfg=task_cfg,
                 **{SMALL!r}))
''')
    model = build_model(cfg)
    assert model.decode_head.task_specs['depth'].pad_value == -1.0
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    data = next(iter(loader))
    before = [(s.gt_depth_map.data.clone(), s.gt_sem_seg.data.clone())
              for s in data['data_samples']]
    out = model.data_preprocessor(data, training=True)
    assert out['inputs'].shape == (3, 3) + PAD
    for sample, (depth0, seg0) in zip(out['data_samples'], before):
        h, w = depth0.shape[-2:]
        assert h <= 64 and w <= 96
        assert sample.metainfo['padding_size'] == (0, PAD[1] - w,
                                                   0, PAD[0] - h)
        padded = torch.ones(PAD, dtype=torch.bool)
        padded[:h, :w] = False
        depth = sample.gt_depth_map.data[0]
        assert depth.shape == PAD and depth.dtype == torch.float32
        # the loaded depth is >= 0 (0 = invalid): -1 marks padding only
        assert torch.equal(depth == -1.0, padded)
        assert int((depth == -1.0).sum()) == PAD[0] * PAD[1] - h * w
        assert torch.equal(depth[:h, :w], depth0[0])
        # a task without the override keeps its registered pad value
        seg = sample.gt_sem_seg.data[0]
        assert (seg[padded] == 255).all()
        assert torch.equal(seg[:h, :w], seg0[0])


def test_a_pad_value_only_the_head_reads_stops_the_build():
    """``--cfg-options`` setting depth's pad_value on the head alone: the
    data preprocessor would pad with 0, so the model refuses, naming the
    task, the field and both values."""
    with pytest.raises(ValueError, match=r"task 'depth': pad_value is -1 "
                       r'in model\.decode_head but 0\.0 in '
                       r'model\.data_preprocessor'):
        build_model(DEMO, {'+model.decode_head.task_cfg.depth.pad_value': -1})
    # the same override on both is a model
    model = build_model(DEMO, {
        '+model.decode_head.task_cfg.depth.pad_value': -1,
        '+model.data_preprocessor.task_cfg.depth.pad_value': -1})
    assert model.data_preprocessor.task_specs['depth'].pad_value == -1


def test_an_ignore_index_only_the_data_reads_stops_the_batch(tmp_path):
    """edge's ignore_index set on the dataset alone: its label maps are
    packed with 254 for ignored pixels while the model ignores 255 (and
    pads with it), so the data preprocessor refuses the batch; with the
    override on the model too the batch goes through."""
    body = f'''
task_cfg = dict(edge=dict(ignore_index=254, pad_value=254))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={str(tmp_path / 'data')!r}, task_cfg=task_cfg,
                 **{SMALL!r}))
'''
    cfg = _child_config(tmp_path, body)
    data = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    assert data['data_samples'][0].metainfo['gt_ignore_index'] == dict(
        semseg=255, edge=254)
    model = build_model(cfg)
    with pytest.raises(ValueError, match=r"task 'edge': ignore_index is 254 "
                       r'in the data .* but 255 in model\.data_preprocessor'):
        model.data_preprocessor(data, training=True)
    cfg = _child_config(tmp_path, body + f'''
model = dict(data_preprocessor=dict(task_cfg=task_cfg, size={PAD!r}),
             decode_head=dict(task_cfg=task_cfg))
''')
    model = build_model(cfg)
    out = model.data_preprocessor(data, training=True)
    edge = out['data_samples'][0].gt_edge_map.data
    h, w = out['data_samples'][0].metainfo['img_shape']
    assert edge.shape == (1, ) + PAD and h < PAD[0] and w < PAD[1]
    assert (edge[:, h:] == 254).all() and (edge[:, :, w:] == 254).all()
    # the synthetic edge maps are 0 / 1: 254 marks the padding only
    assert int((edge == 254).sum()) == PAD[0] * PAD[1] - h * w


def test_a_misspelt_task_in_task_cfg_is_an_error():
    with pytest.raises(KeyError, match=r"unknown task\(s\) \['dpeth'\]"):
        build_model(DEMO, {
            '+model.data_preprocessor.task_cfg.dpeth.pad_value': -1})


def _flip_dataset(root, task_cfg=None, flip_task_cfg=None):
    flip = dict(type='MultiTaskRandomFlip', prob=1.0,
                direction='horizontal')
    if flip_task_cfg is not None:
        flip['task_cfg'] = flip_task_cfg
    return SyntheticNYUDv2Dataset(
        data_root=str(root), split='val', tasks=['normals'],
        task_cfg=task_cfg, pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadMultiTaskAnnotations'), flip,
            dict(type='PackMultiTaskInputs')], **SMALL)


def test_the_dataset_hands_its_task_cfg_to_its_transforms(tmp_path):
    """normals whose horizontal flip negates channels 0 and 1 (set on the
    dataset only): the flip transform negates both, where the registered
    spec negates channel 0 only."""
    plain = _flip_dataset(tmp_path)[0]['data_samples'].gt_normal_map.data
    both = _flip_dataset(tmp_path, task_cfg=dict(normals=dict(
        flip_negated_channels=dict(horizontal=(0, 1)))))
    both = both[0]['data_samples'].gt_normal_map.data
    assert (plain[1] != 0).any()
    assert torch.equal(both[0], plain[0])
    assert torch.equal(both[1], -plain[1])
    assert torch.equal(both[2], plain[2])


def test_a_transform_that_disagrees_with_its_dataset_stops_it(tmp_path):
    with pytest.raises(ValueError, match=r"task 'normals': "
                       r'flip_negated_channels is .* in SyntheticNYUDv2'
                       r'Dataset .* but \{\} in MultiTaskRandomFlip'):
        _flip_dataset(tmp_path,
                      flip_task_cfg=dict(normals=dict(
                          flip_negated_channels={})))


def test_label_maps_get_the_task_ignore_index():
    """The decoders mark ignored pixels 255; the loader writes the task's
    ignore_index there (254 fits uint8, -1 needs int64)."""
    arr = np.array([[0, 255], [1, 255]], np.uint8)
    out = _with_ignore_index(arr, 254, None)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 254], [1, 254]]
    out = _with_ignore_index(arr, -1, None)
    assert out.dtype == np.int64 and out.tolist() == [[0, -1], [1, -1]]
    assert _with_ignore_index(arr, 255, None) is arr
    empty = _with_ignore_index(np.zeros((0, 0), np.uint8), -1, (2, 3))
    assert empty.tolist() == [[-1] * 3] * 2


def _semseg_sample(recorded_ignore):
    gt = torch.tensor([[[0, 254], [1, 1]]])
    pred = torch.tensor([[[0, 1], [1, 0]]])
    return dict(img_path='a.png', gt_ignore_index=dict(semseg=recorded_ignore),
                gt_sem_seg=dict(data=gt), pred_sem_seg=dict(data=pred))


def test_the_metric_reads_the_ignore_index_the_data_was_packed_with():
    """semseg packed with 254 = ignore: an evaluator still ignoring 255
    refuses the sample; one given the dataset's task_cfg scores the three
    other pixels: class 0 IoU 1/2, class 1 IoU 1/2, mIoU 50 %."""
    from mmtlsi.evaluation import MultiTaskMetric
    metric = MultiTaskMetric(tasks=['semseg'],
                             task_cfg=dict(semseg=dict(num_classes=2)))
    with pytest.raises(ValueError, match=r"task 'semseg': ignore_index is "
                       r'254 in the data .* but 255 in MultiTaskMetric'):
        metric.process({}, [_semseg_sample(254)])
    metric = MultiTaskMetric(tasks=['semseg'], task_cfg=dict(
        semseg=dict(num_classes=2, ignore_index=254, pad_value=254)))
    metric.process({}, [_semseg_sample(254)])
    result = metric.compute_metrics(metric.results)
    assert result['semseg/mIoU'] == pytest.approx(50.0)


def test_the_visualizer_reads_the_ignore_index_the_data_was_packed_with():
    """semseg packed with 254 = ignore: a visualizer still ignoring 255
    refuses to draw its ground truth; given the dataset's task_cfg it draws
    the 254 pixel black, as the ignored pixels are drawn."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmtlsi.visualization import MultiTaskVisualizer
    sample = SegDataSample(metainfo=dict(gt_ignore_index=dict(semseg=254)))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 254], [1, 1]]]))
    image = np.zeros((2, 2, 3), np.uint8)
    vis = MultiTaskVisualizer(name='vis_255', task_cfg=dict(
        semseg=dict(num_classes=2)))
    with pytest.raises(ValueError, match=r"task 'semseg': ignore_index is "
                       r'254 in the data .* but 255 in MultiTaskVisualizer'):
        vis.tasks_in(sample)
    vis = MultiTaskVisualizer(name='vis_254', task_cfg=dict(
        semseg=dict(num_classes=2, ignore_index=254, pad_value=254)))
    assert vis.tasks_in(sample) == ['semseg']
    spec = vis.task_spec('semseg')
    gt = vis.draw_task(spec, dict(gt=sample.gt_sem_seg.data), image)['gt']
    assert gt[0, 1].tolist() == [0, 0, 0]
    assert gt[0, 0].tolist() != [0, 0, 0]
