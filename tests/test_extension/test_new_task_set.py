"""A dataset with its own task set, defined here and nowhere in mmtlsi/.

The task set: semantic segmentation with 19 classes (a Cityscapes-like
street), depth, and ``occlusion``, a task mmtlsi does not know, scored like
boundaries (it reuses the 'boundary' metric kind) with its own tolerance
from ``task_cfg``. Everything is registered from this file: the task
(``register_task``), the file decoders (``register_decoder``) and the dataset
class (mmseg's ``DATASETS``). A tiny MTLSI-Net is trained for a few
iterations with MMEngine's Runner, tested, the results table is printed and
the pictures are drawn; then the metric's numbers are recomputed here from
the model's predictions with the functional metrics.
"""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmtlsi.datasets import MultiTaskSegDataset
from mmtlsi.datasets.decoders import read_npy, read_png_array, register_decoder
from mmtlsi.evaluation import MultiTaskMetric
from mmtlsi.evaluation.functional import (
    boundary_counts,
    boundary_scores,
    confusion_matrix,
    depth_metrics,
    depth_stats,
    edge_thresholds,
    miou,
)
from mmtlsi.evaluation.report import format_results_table
from mmtlsi.registry import DATASETS
from mmtlsi.tasks import TASK_SPECS, TaskSpec, register_task

H, W = 56, 88                  # not a multiple of 32: the batch gets padded
NUM_CLASSES = 19
OCCLUSION_MAX_DIST = 0.02      # the dataset's tolerance, not edge's 0.011

OCCLUSION = register_task(TaskSpec(
    name='occlusion', title='Occl.',
    gt_field='gt_occlusion_map', pred_field='pred_occlusion_map',
    results_key='gt_occlusion_map', output='binary', out_channels=1,
    gt_channels=1, gt_dtype='int64', ignore_index=255, pad_value=255,
    loss=dict(type='BalancedBCELoss', pos_weight=0.9), loss_weight=20.0,
    metric_kind='boundary', metric='odsF', higher_is_better=True,
    metric_options=dict(max_dist=0.011, thresholds=11, nms=False,
                        gt_is_boundary=True),
    decimals=1, visual='gray'))


@register_decoder('street_labels')
def _street_labels(path):
    return read_png_array(path).astype(np.uint8)      # 255 = ignore


@register_decoder('street_depth')
def _street_depth(path):
    return read_npy(path).astype(np.float32)          # metres, 0 = invalid


@register_decoder('street_occlusion')
def _street_occlusion(path):
    return (read_png_array(path) > 127).astype(np.uint8)


@DATASETS.register_module()
class StreetDataset(MultiTaskSegDataset):
    """``<root>/{img,labels,depth,occlusion}/<id>.*`` and ``<split>.txt``."""

    METAINFO = dict(classes=tuple(f'class{i}' for i in range(NUM_CLASSES)),
                    palette=[[(37 * i) % 256, (91 * i) % 256,
                              (151 * i + 40) % 256]
                             for i in range(NUM_CLASSES)])
    TASKS = ('semseg', 'depth', 'occlusion')
    FILES = dict(semseg=('labels', '.png', 'street_labels'),
                 depth=('depth', '.npy', 'street_depth'),
                 occlusion=('occlusion', '.png', 'street_occlusion'))

    def load_ids(self):
        return self.read_split_file(self._path(self.split + '.txt'))

    def image_path(self, img_id):
        return self._path('img', img_id + '.png')

    def task_annotation(self, task, img_id):
        folder, ext, decoder = self.FILES[task]
        return dict(decoder=decoder, path=self._path(folder, img_id + ext))


def _street(rng):
    """A street: sky, buildings, road; cars in front (occluding)."""
    labels = np.zeros((H, W), np.uint8)
    labels[:H // 3] = 10                                   # sky
    labels[H // 3:H // 2] = 2                              # buildings
    labels[H // 2:] = 0                                    # road
    depth = np.where(np.arange(H)[:, None] >= H // 2,
                     40.0 / np.maximum(np.arange(H)[:, None] - H // 2 + 2.0,
                                       1.0), 30.0)
    depth = np.broadcast_to(depth, (H, W)).astype(np.float32).copy()
    depth[:H // 3] = 0                                     # sky: no depth
    front = np.zeros((H, W), bool)
    for _ in range(2):
        cls = int(rng.integers(11, NUM_CLASSES))
        y, x = int(rng.integers(H // 3, H - 14)), int(rng.integers(0, W - 20))
        labels[y:y + 12, x:x + 18] = cls
        depth[y:y + 12, x:x + 18] = float(rng.uniform(3, 8))
        front[y:y + 12, x:x + 18] = True
    labels[0, :4] = 255                                    # unlabelled
    occlusion = front & ~cv2.erode(front.astype(np.uint8),
                                   np.ones((3, 3), np.uint8)).astype(bool)
    palette = np.array(StreetDataset.METAINFO['palette'], np.uint8)
    image = palette[np.minimum(labels, NUM_CLASSES - 1)].astype(np.int16)
    image += rng.integers(-12, 13, image.shape, dtype=np.int16)
    return dict(image=np.clip(image, 0, 255).astype(np.uint8), labels=labels,
                depth=depth, occlusion=occlusion.astype(np.uint8) * 255)


def _write_street(root, splits):
    rng = np.random.default_rng(0)
    for split, n in splits.items():
        ids = [f'{split}{i}' for i in range(n)]
        with open(osp.join(root, split + '.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
        for img_id in ids:
            s = _street(rng)
            for folder in ('img', 'labels', 'depth', 'occlusion'):
                os.makedirs(osp.join(root, folder), exist_ok=True)
            cv2.imwrite(osp.join(root, 'img', img_id + '.png'),
                        s['image'][..., ::-1])
            cv2.imwrite(osp.join(root, 'labels', img_id + '.png'),
                        s['labels'])
            np.save(osp.join(root, 'depth', img_id + '.npy'), s['depth'])
            cv2.imwrite(osp.join(root, 'occlusion', img_id + '.png'),
                        s['occlusion'])


def _config(root, work_dir):
    tasks = ['semseg', 'depth', 'occlusion']
    task_cfg = dict(semseg=dict(num_classes=NUM_CLASSES),
                    occlusion=dict(max_dist=OCCLUSION_MAX_DIST))
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadMultiTaskAnnotations'),
                dict(type='PackMultiTaskInputs')]
    train_pipeline = pipeline[:2] + [
        dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
        pipeline[2]]

    def loader(split, pipeline, **kw):
        return dict(batch_size=kw.pop('batch_size', 1), num_workers=0,
                    sampler=dict(type=kw.pop('sampler', 'DefaultSampler'),
                                 shuffle=False),
                    dataset=dict(type='StreetDataset', data_root=root,
                                 split=split, tasks=tasks, task_cfg=task_cfg,
                                 pipeline=pipeline, **kw))

    evaluator = dict(type='MultiTaskMetric', task_cfg=task_cfg)
    return Config(dict(
        default_scope='mmseg',
        work_dir=work_dir,
        model=dict(
            type='MultiTaskEncoderDecoder',
            data_preprocessor=dict(
                type='MultiTaskDataPreProcessor', mean=[128.] * 3,
                std=[64.] * 3, bgr_to_rgb=True, size=(64, 96),
                test_cfg=dict(size_divisor=32)),
            backbone=dict(type='mmpretrain.ResNet', depth=18,
                          stem_channels=8, base_channels=8,
                          out_indices=(0, 1, 2, 3)),
            decode_head=dict(
                type='MTLSIHead', in_channels=[8, 16, 32, 64], tasks=tasks,
                task_cfg=task_cfg, channels=16, num_heads=2, num_tokens=8,
                window_size=(4, 6),
                preliminary_decoder=dict(lateral_kernel=(1, 1, 1, 3),
                                         num_convs=1),
                output_decoder=dict(num_convs=1)),
            test_cfg=dict(mode='whole')),
        train_dataloader=loader('train', train_pipeline, batch_size=2,
                                sampler='InfiniteSampler'),
        val_dataloader=loader('val', pipeline, test_mode=True),
        test_dataloader=loader('val', pipeline, test_mode=True),
        val_evaluator=evaluator,
        test_evaluator=evaluator,
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='AdamW', lr=1e-3)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3,
                       val_interval=3),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=-1),
            visualization=dict(type='MultiTaskVisualizationHook', draw=True,
                               interval=1)),
        visualizer=dict(type='MultiTaskVisualizer', name='street_vis',
                        vis_backends=[dict(type='LocalVisBackend')]),
        log_processor=dict(by_epoch=False),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('street'))
    _write_street(root, dict(train=4, val=2))
    cfg = _config(root, osp.join(root, 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    return dict(root=root, runner=runner, metrics=metrics)


def test_the_task_is_registered_from_outside():
    assert TASK_SPECS['occlusion'] is OCCLUSION
    import mmtlsi
    assert not glob.glob(osp.join(osp.dirname(mmtlsi.__file__), '**',
                                  '*occlusion*'), recursive=True)


def test_trains_and_tests_with_every_task_of_the_spec(trained):
    model = trained['runner'].model
    specs = model.decode_head.task_specs
    assert list(specs) == ['semseg', 'depth', 'occlusion']
    assert specs['semseg'].out_channels == NUM_CLASSES
    assert specs['occlusion'].metric_options['max_dist'] == \
        OCCLUSION_MAX_DIST
    # the head and the loss were built from the new spec
    assert model.decode_head.output['occlusion'] is not None
    assert model.decode_head.loss_fn.weights['occlusion'] == 20.0
    m = trained['metrics']
    for key in ('semseg/mIoU', 'semseg/aAcc', 'depth/rmse', 'depth/delta1',
                'occlusion/odsF', 'occlusion/oisF', 'occlusion/ods_threshold'):
        assert key in m and np.isfinite(m[key]), key
    assert 0 <= m['occlusion/odsF'] <= 100 and 0 <= m['semseg/mIoU'] <= 100


def test_training_batch_pads_the_new_task_with_its_value(trained):
    """The preprocessor pads every task's ground truth to the batch size
    (64x96) with the spec's pad value: 255 for occlusion, 0 for depth."""
    runner = trained['runner']
    batch = next(iter(runner.train_dataloader))
    data = runner.model.data_preprocessor(batch, training=True)
    sample = data['data_samples'][0]
    occ = sample.gt_occlusion_map.data
    assert occ.shape == (1, 64, 96) and occ.dtype == torch.int64
    assert (occ[:, H:] == 255).all() and (occ[:, :, W:] == 255).all()
    assert set(occ[:, :H, :W].unique().tolist()) == {0, 1}
    depth = sample.gt_depth_map.data
    assert depth.shape == (1, 64, 96) and (depth[:, H:] == 0).all()


def _predictions(runner):
    """The model's predictions on the test split, with their ground truth."""
    model = runner.model.eval()
    out = []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            out += model.test_step(batch)
    return out


def test_metric_values_follow_the_spec(trained):
    """Recompute every main metric from the predictions: 19 classes, depth
    pooled over valid pixels, occlusion with the dataset's max_dist, 11
    thresholds and no NMS, as its spec and task_cfg say."""
    samples = _predictions(trained['runner'])
    assert len(samples) == 2
    conf, depth, counts = 0, [], []
    thresholds = edge_thresholds(11)
    for s in samples:
        gt_seg = s.gt_sem_seg.data[0].numpy()
        conf = conf + confusion_matrix(s.pred_sem_seg.data[0].numpy(), gt_seg,
                                       NUM_CLASSES)
        depth.append(depth_stats(s.pred_depth_map.data[0].numpy(),
                                 s.gt_depth_map.data[0].numpy()))
        occ = s.pred_occlusion_map.data[0].numpy()
        assert occ.shape == (H, W) and occ.min() >= 0 and occ.max() <= 1
        counts.append(boundary_counts(
            occ, s.gt_occlusion_map.data[0].numpy(), thresholds,
            OCCLUSION_MAX_DIST, nms=False, gt_is_boundary=True))
    m = trained['metrics']
    assert m['semseg/mIoU'] == pytest.approx(100 * miou(conf)['mIoU'])
    total = {k: sum(d[k] for d in depth) for k in depth[0]}
    assert m['depth/rmse'] == pytest.approx(depth_metrics(total)['rmse'])
    odsf = 100 * boundary_scores(np.stack(counts), thresholds)['odsF']
    assert m['occlusion/odsF'] == pytest.approx(odsf)
    # Delta_m takes the new task's main metric and direction from its spec
    metric = MultiTaskMetric(tasks=['depth', 'occlusion'],
                             delta_m_ref=dict(occlusion=50.0, depth=2.0))
    expected = ((m['occlusion/odsF'] - 50.0) / 50.0
                - (m['depth/rmse'] - 2.0) / 2.0) * 100 / 2
    assert metric.compute_delta_m(m) == pytest.approx(expected)


def test_results_table_has_the_new_column(trained, capsys):
    specs = trained['runner'].model.decode_head.task_specs
    table = format_results_table(trained['metrics'], tasks=specs,
                                 name='street')
    print(table)
    header, row = [ln for ln in table.splitlines()
                   if not ln.startswith('-')]
    assert header.split('  ')[0] == 'Model'
    for title in ('Seg. mIoU ↑', 'Depth RMSE ↓', 'Occl. odsF ↑'):
        assert title in header
    cells = row.split()
    assert cells[0] == 'street'
    m = trained['metrics']
    assert cells[1:] == [f'{m["semseg/mIoU"]:.2f}', f'{m["depth/rmse"]:.4f}',
                         f'{m["occlusion/odsF"]:.1f}']   # spec's decimals
    assert 'Occl. odsF' in capsys.readouterr().out


def test_pictures_show_every_task(trained):
    runner = trained['runner']
    files = sorted(glob.glob(osp.join(runner.log_dir, 'vis_data',
                                      'vis_image', 'test_*.png')))
    assert [osp.basename(f).split('_')[1] for f in files] == ['val0', 'val1']
    picture = cv2.imread(files[0])[..., ::-1]
    vis = runner.visualizer
    # image + 3 tasks, a prediction row and a ground-truth row
    assert picture.shape == vis.expected_shape((H, W), 3, 2)
    strip = vis.title_height(W)
    gt_row = picture[2 * strip + H:]
    occlusion_gt = gt_row[:, 3 * W:4 * W]
    gt = (cv2.imread(osp.join(trained['root'], 'occlusion', 'val0.png'),
                     cv2.IMREAD_GRAYSCALE) > 127)
    # drawn in gray: white on the occlusion boundary, black elsewhere
    assert (occlusion_gt[gt] == 255).all() and (occlusion_gt[~gt] == 0).all()
    seg_gt = gt_row[:, W:2 * W]
    labels = cv2.imread(osp.join(trained['root'], 'labels', 'val0.png'),
                        cv2.IMREAD_GRAYSCALE)
    palette = np.array(StreetDataset.METAINFO['palette'], np.uint8)
    valid = labels != 255
    assert (seg_gt[valid] == palette[labels[valid]]).all()
