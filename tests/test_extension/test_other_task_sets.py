"""Two more task sets defined outside mmtlsi/, checked by value.

1. ``Indoor13Dataset`` (defined here): semantic segmentation with 13 classes,
   surface normals and ``figure``, a new task registered here from the
   ``sal`` spec (the 'maxf' metric kind) with its own names and decimals.
   Trained a few iterations, tested with Delta_m references; every main
   metric is recomputed from the predictions with plain numpy, and the table
   and the pictures are checked.
2. ``RangeContourDataset`` (``object_contour_task.py``): depth and
   ``object_contour``, a task scored by the 'boundary' kind, registered by
   the config through ``custom_imports`` and run with ``tools/train.py``
   and ``tools/test.py`` as a user runs them; its odsF is recomputed with
   the boundary oracle of ``tests/test_evaluation``.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_model import tiny_mtlsi

from mmtlsi.datasets import MultiTaskSegDataset
from mmtlsi.datasets.decoders import read_png_array, register_decoder
from mmtlsi.evaluation.report import format_results_table
from mmtlsi.registry import DATASETS
from mmtlsi.tasks import TASK_SPECS, get_task_spec, register_task

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
H, W = 40, 70                   # not multiples of 32
NUM_CLASSES = 13

FIGURE = register_task(get_task_spec('sal').with_overrides(
    name='figure', title='Fig.', gt_field='gt_figure_map',
    pred_field='pred_figure_map', results_key='gt_figure_map', decimals=3))


@register_decoder('indoor13_labels')
def _indoor13_labels(path):
    return read_png_array(path).astype(np.uint8)          # 255 = unlabelled


@register_decoder('indoor13_figure')
def _indoor13_figure(path):
    mask = read_png_array(path)
    return np.where(mask == 128, 255, mask > 128).astype(np.uint8)


@DATASETS.register_module()
class Indoor13Dataset(MultiTaskSegDataset):
    """``<root>/<split>/{image,label13,normal,fg}/<id>.*``; ids from the
    image folder."""

    METAINFO = dict(classes=tuple(f'c{i}' for i in range(NUM_CLASSES)),
                    palette=[[(53 * i) % 256, (97 * i + 30) % 256,
                              (13 * i + 200) % 256]
                             for i in range(NUM_CLASSES)])
    TASKS = ('semseg', 'normals', 'figure')
    FILES = dict(semseg=('label13', '.png', 'indoor13_labels'),
                 normals=('normal', '.npy', 'nyud_normals_npy'),
                 figure=('fg', '.png', 'indoor13_figure'))

    def load_ids(self):
        return sorted(osp.splitext(f)[0] for f in os.listdir(
            self._path(self.split, 'image')))

    def image_path(self, img_id):
        return self._path(self.split, 'image', img_id + '.png')

    def task_annotation(self, task, img_id):
        folder, ext, decoder = self.FILES[task]
        return dict(decoder=decoder,
                    path=self._path(self.split, folder, img_id + ext))


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _write_indoor(root, n_train=3, n_test=2):
    rng = np.random.default_rng(7)
    for split, n in (('train', n_train), ('test', n_test)):
        for folder in ('image', 'label13', 'normal', 'fg'):
            os.makedirs(osp.join(root, split, folder), exist_ok=True)
        for i in range(n):
            labels = rng.integers(0, NUM_CLASSES, (H // 10, W // 10))
            labels = np.kron(labels, np.ones((10, 10), int)).astype(np.uint8)
            labels[:2, :5] = 255
            normals = _unit(rng.normal(size=(H, W, 3))).astype(np.float32)
            normals[-3:, -6:] = 0                          # invalid
            fg = np.where(labels % 3 == 0, 255, 0).astype(np.uint8)
            fg[5:8, 20:30] = 128                           # ignored
            image = np.array(Indoor13Dataset.METAINFO['palette'],
                             np.uint8)[np.minimum(labels, 12)]
            name = f'{split}_{i}'
            cv2.imwrite(osp.join(root, split, 'image', name + '.png'),
                        image[..., ::-1])
            cv2.imwrite(osp.join(root, split, 'label13', name + '.png'),
                        labels)
            np.save(osp.join(root, split, 'normal', name + '.npy'), normals)
            cv2.imwrite(osp.join(root, split, 'fg', name + '.png'), fg)


REFS = {'semseg': 40.0, 'normals/mean': 30.0, 'figure': 60.0}


def _indoor_config(root, work_dir):
    tasks = ['semseg', 'normals', 'figure']
    task_cfg = dict(semseg=dict(num_classes=NUM_CLASSES))
    test_pipeline = [dict(type='LoadImageFromFile'),
                     dict(type='LoadMultiTaskAnnotations'),
                     dict(type='PackMultiTaskInputs')]
    train_pipeline = test_pipeline[:2] + [
        dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
        test_pipeline[2]]

    def loader(split, pipeline, **kw):
        return dict(batch_size=kw.pop('batch_size', 1), num_workers=0,
                    sampler=dict(type=kw.pop('sampler', 'DefaultSampler'),
                                 shuffle=False),
                    dataset=dict(type='Indoor13Dataset', data_root=root,
                                 split=split, tasks=tasks, task_cfg=task_cfg,
                                 pipeline=pipeline, **kw))

    evaluator = dict(type='MultiTaskMetric', task_cfg=task_cfg,
                     delta_m_ref=REFS)
    return Config(dict(
        default_scope='mmseg', work_dir=work_dir,
        model=tiny_mtlsi(tasks, task_cfg),
        train_dataloader=loader('train', train_pipeline, batch_size=2,
                                sampler='InfiniteSampler'),
        test_dataloader=loader('test', test_pipeline, test_mode=True),
        test_evaluator=evaluator,
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='AdamW', lr=1e-3)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=-1),
            visualization=dict(type='MultiTaskVisualizationHook', draw=True,
                               interval=1)),
        visualizer=dict(type='MultiTaskVisualizer', name='indoor13_vis',
                        vis_backends=[dict(type='LocalVisBackend')]),
        log_processor=dict(by_epoch=False),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=1), log_level='WARNING'))


@pytest.fixture(scope='module')
def indoor(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('indoor13'))
    _write_indoor(root)
    runner = Runner.from_cfg(_indoor_config(root, osp.join(root, 'work')))
    runner.train()
    metrics = runner.test()
    model = runner.model.eval()
    samples = []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            samples += model.test_step(batch)
    return dict(root=root, runner=runner, metrics=metrics, samples=samples)


# -- plain-numpy definitions of the three main metrics ----------------------
def numpy_miou(preds, gts, num_classes, ignore=255):
    conf = np.zeros((num_classes, num_classes), np.int64)
    for p, g in zip(preds, gts):
        keep = g != ignore
        conf += np.bincount(num_classes * g[keep].astype(np.int64) + p[keep],
                            minlength=num_classes**2).reshape(
                                num_classes, num_classes)
    tp = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - tp
    return 100 * np.mean(tp[union > 0] / union[union > 0])


def numpy_mean_angle(preds, gts):
    angles = []
    for p, g in zip(preds, gts):               # (3, H, W)
        valid = np.abs(g).sum(0) > 0
        cos = (p * g).sum(0)[valid] / (np.linalg.norm(p, axis=0)[valid] *
                                       np.linalg.norm(g, axis=0)[valid])
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.concatenate(angles).mean()


def numpy_maxf(probs, gts, ignore=255, beta2=0.3):
    best = 0.0
    for t in np.arange(1, 20) * 0.05:
        tp = fp = fn = 0
        for p, g in zip(probs, gts):
            keep = g != ignore
            pos, pred = g[keep] > 0, p[keep] >= t - 1e-12
            tp += np.sum(pred & pos)
            fp += np.sum(pred & ~pos)
            fn += np.sum(~pred & pos)
        if tp:
            prec, rec = tp / (tp + fp), tp / (tp + fn)
            best = max(best, (1 + beta2) * prec * rec / (beta2 * prec + rec))
    return 100 * best


def test_figure_is_registered_from_here_only():
    assert TASK_SPECS['figure'] is FIGURE
    assert FIGURE.metric_kind == 'maxf' and FIGURE.column == 'Fig. maxF'
    import mmtlsi
    hits = subprocess.run(
        ['grep', '-rlI', '-e', 'gt_figure_map', '-e', 'Indoor13',
         osp.dirname(mmtlsi.__file__)], capture_output=True, text=True)
    assert hits.returncode == 1 and hits.stdout == ''     # 1: no match


def test_indoor_metrics_equal_their_numpy_definitions(indoor):
    samples, m = indoor['samples'], indoor['metrics']
    assert len(samples) == 2
    seg_p = [s.pred_sem_seg.data[0].numpy() for s in samples]
    seg_g = [s.gt_sem_seg.data[0].numpy() for s in samples]
    assert all(p.shape == (H, W) and p.max() < NUM_CLASSES for p in seg_p)
    assert m['semseg/mIoU'] == pytest.approx(
        numpy_miou(seg_p, seg_g, NUM_CLASSES), abs=1e-9)
    nrm_p = [s.pred_normal_map.data.numpy() for s in samples]
    nrm_g = [s.gt_normal_map.data.numpy() for s in samples]
    assert m['normals/mean'] == pytest.approx(
        numpy_mean_angle(nrm_p, nrm_g), abs=1e-3)
    fg_p = [s.pred_figure_map.data[0].numpy() for s in samples]
    fg_g = [s.gt_figure_map.data[0].numpy() for s in samples]
    # the decoder's ignore value reached the metric: 30 pixels of each image
    assert all((g == 255).sum() == 30 for g in fg_g)
    assert m['figure/maxF'] == pytest.approx(numpy_maxf(fg_p, fg_g),
                                                 abs=1e-9)
    # Delta_m: the references' keys name a task (its main metric) or a
    # metric; directions from the specs (normals: lower is better)
    expected = np.mean([(m['semseg/mIoU'] - 40.0) / 40.0,
                        -(m['normals/mean'] - 30.0) / 30.0,
                        (m['figure/maxF'] - 60.0) / 60.0]) * 100
    assert m['multi_task/delta_m'] == pytest.approx(expected)


def test_indoor_table_shows_the_spec_columns(indoor):
    specs = indoor['runner'].model.decode_head.task_specs
    assert specs['semseg'].out_channels == NUM_CLASSES
    m = indoor['metrics']
    table = format_results_table(m, tasks=specs, name='indoor13')
    header, row = [ln for ln in table.splitlines() if not ln.startswith('-')]
    for title in ('Seg. mIoU ↑', 'Normal mErr ↓', 'Fig. maxF ↑', 'Δm ↑ (%)'):
        assert title in header
    assert row.split() == [
        'indoor13', f'{m["semseg/mIoU"]:.2f}', f'{m["normals/mean"]:.2f}',
        f'{m["figure/maxF"]:.3f}', f'{m["multi_task/delta_m"]:.2f}']


def test_indoor_pictures(indoor):
    runner = indoor['runner']
    files = sorted(glob.glob(osp.join(runner.log_dir, 'vis_data',
                                      'vis_image', 'test_*.png')))
    assert len(files) == 2
    picture = cv2.imread(files[0])[..., ::-1]
    vis = runner.visualizer
    assert picture.shape == vis.expected_shape((H, W), 3, 2)
    gt_row = picture[2 * vis.title_height(W) + H:]
    fg = cv2.imread(osp.join(indoor['root'], 'test', 'fg', 'test_0.png'),
                    cv2.IMREAD_GRAYSCALE)
    panel = gt_row[:, 3 * W:4 * W]
    assert (panel[fg == 255] == 255).all() and (panel[fg == 0] == 0).all()


# -- the config route: custom_imports, tools/train.py, tools/test.py ----------
def _range_data(root):
    rng = np.random.default_rng(3)
    for folder in ('rgb', 'range', 'contour', 'lists'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    for split, ids in (('train', ['a', 'b']), ('val', ['c', 'd'])):
        with open(osp.join(root, 'lists', split + '.lst'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
        for i in ids:
            depth_mm = np.full((H, W), 5000, np.int32)
            y, x = rng.integers(5, H - 20), rng.integers(5, W - 30)
            depth_mm[y:y + 14, x:x + 24] = 1500
            depth_mm[:, :3] = 0                                # no return
            contour = np.zeros((H, W), np.uint8)
            contour[y, x:x + 24] = contour[y + 13, x:x + 24] = 255
            contour[y:y + 14, x] = contour[y:y + 14, x + 23] = 255
            image = np.dstack([depth_mm // 40] * 3).clip(0, 255)
            cv2.imwrite(osp.join(root, 'rgb', i + '.png'),
                        image.astype(np.uint8))
            np.save(osp.join(root, 'range', i + '.npy'), depth_mm)
            cv2.imwrite(osp.join(root, 'contour', i + '.png'), contour)


RANGE_CONFIG = """
custom_imports = dict(imports=['mmtlsi', 'object_contour_task'],
                      allow_failed_imports=False)
default_scope = 'mmseg'
tasks = ['depth', 'object_contour']
task_cfg = dict(object_contour=dict(max_dist=0.03))
pipeline = [dict(type='LoadImageFromFile'),
            dict(type='LoadMultiTaskAnnotations'),
            dict(type='PackMultiTaskInputs')]
data = dict(type='RangeContourDataset', data_root='{root}', tasks=tasks,
            task_cfg=task_cfg, pipeline=pipeline)
train_dataloader = dict(batch_size=2, num_workers=0,
                        sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=dict(data, split='train'))
val_dataloader = dict(batch_size=1, num_workers=0,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(data, split='val', test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric', task_cfg=task_cfg,
                     delta_m_ref={{'depth/rmse': 1.5, 'object_contour': 20.0}})
test_evaluator = val_evaluator
model = {model}
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW',
                                                         lr=1e-3))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    visualization=dict(type='MultiTaskVisualizationHook', interval=1))
visualizer = dict(type='MultiTaskVisualizer', name='range_vis',
                  vis_backends=[dict(type='LocalVisBackend')])
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
"""


def _tool(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([REPO, HERE]))
    out = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


@pytest.fixture(scope='module')
def range_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('range')
    data = str(root / 'data')
    _range_data(data)
    config = root / 'range_contour.py'
    model = tiny_mtlsi(['depth', 'object_contour'],
                       dict(object_contour=dict(max_dist=0.03)),
                       mean=(0., ) * 3, std=(255., ) * 3, bgr_to_rgb=False)
    config.write_text(RANGE_CONFIG.format(root=data, model=repr(model)))
    work = str(root / 'work')
    _tool([osp.join(REPO, 'tools', 'train.py'), str(config), '--work-dir',
           work], cwd=str(root))
    log = _tool([osp.join(REPO, 'tools', 'test.py'), str(config),
                 osp.join(work, 'iter_2.pth'), '--work-dir',
                 str(root / 'test'), '--show-dir', str(root / 'show'),
                 '--no-flops'], cwd=str(root))
    record, = glob.glob(str(root / 'test' / '*' / 'range_contour.json'))
    with open(record) as f:
        record = json.load(f)
    return dict(root=root, data=data, config=str(config), work=work,
                log=log, record=record)


def test_config_registers_the_task_and_test_prints_its_table(range_run):
    log, record = range_run['log'], range_run['record']
    header = next(ln for ln in log.splitlines() if ln.startswith('Model'))
    for title in ('Depth RMSE ↓', 'Contour odsF ↑', 'Δm ↑ (%)'):
        assert title in header
    m = record['metrics']
    assert record['tasks'] == ['depth', 'object_contour']
    assert record['task_columns']['object_contour'] == dict(
        key='object_contour/odsF', title='Contour odsF', higher_is_better=True,
        decimals=3)
    row = next(ln for ln in log.splitlines()
               if ln.startswith('range_contour'))
    assert f'{m["object_contour/odsF"]:.3f}' in row.split()
    expected = ((-(m['depth/rmse'] - 1.5) / 1.5) +
                (m['object_contour/odsF'] - 20.0) / 20.0) * 100 / 2
    assert m['multi_task/delta_m'] == pytest.approx(expected, abs=1e-9)
    pictures = glob.glob(str(range_run['root'] / 'show' / '**' / '*.png'),
                         recursive=True)
    assert len(pictures) == 2


def test_config_run_metrics_equal_the_oracle(range_run):
    """The checkpoint's predictions, scored by the boundary oracle (max-flow
    matching, its own thinning loop) and a plain-numpy RMSE, give the numbers
    tools/test.py reported: contour with the config's max_dist 0.03, 21
    thresholds, the GT taken as the boundary."""
    sys.path.insert(0, osp.join(REPO, 'tests', 'test_evaluation'))
    from boundary_oracle import boundary_counts_reference

    from mmtlsi.registry import MODELS
    cfg = Config.fromfile(range_run['config'])      # runs custom_imports
    assert TASK_SPECS['object_contour'].metric_options['thresholds'] == 21
    model = MODELS.build(cfg.model)
    state = torch.load(osp.join(range_run['work'], 'iter_2.pth'),
                       map_location='cpu', weights_only=True)['state_dict']
    model.load_state_dict(state)
    model.eval()
    runner_cfg = cfg.copy()
    runner_cfg.work_dir = str(range_run['root'] / 'oracle')
    loader = Runner.build_dataloader(runner_cfg.test_dataloader)
    sq, n, counts = 0.0, 0, []
    with torch.no_grad():
        for batch in loader:
            s, = model.test_step(batch)
            gt_d = s.gt_depth_map.data[0].numpy()
            pred_d = s.pred_depth_map.data[0].numpy()
            valid = gt_d > 0
            assert valid.sum() == H * (W - 3)       # mm -> m, 0 = no return
            sq += ((pred_d - gt_d)[valid]**2).sum()
            n += valid.sum()
            counts.append(boundary_counts_reference(
                s.pred_object_contour_map.data[0].numpy(),
                s.gt_object_contour_map.data[0].numpy(), thresholds=21,
                max_dist=0.03, nms=True, gt_is_boundary=True))
    m = range_run['record']['metrics']
    assert m['depth/rmse'] == pytest.approx(np.sqrt(sq / n), rel=1e-5)
    total = np.sum(counts, axis=0).astype(float)        # (21, 4)
    rec = total[:, 0] / np.maximum(total[:, 1], 1)
    prec = total[:, 2] / np.maximum(total[:, 3], 1)
    f = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec,
                                                             1e-12), 0)
    assert m['object_contour/odsF'] == pytest.approx(100 * f.max(), abs=1e-6)
