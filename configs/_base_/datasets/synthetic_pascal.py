# Synthetic rooms with people in the PASCAL-Context layout (semseg, human
# parts, normals, saliency, edge), generated into data_root on first use
# (about 25 s; 200 train / 50 val at 96x128).
dataset_type = 'SyntheticPascalContextDataset'
data_root = 'data/synthetic_pascal'
img_size = (96, 128)
crop_size = (64, 96)
synthetic = dict(num_train=200, num_val=50, img_size=img_size, seed=0,
                 person_prob=0.7)
tasks = ['semseg', 'human_parts', 'normals', 'sal', 'edge']
task_cfg = dict(
    semseg=dict(num_classes=6),
    human_parts=dict(num_classes=7),
    edge=dict(max_dist=0.0075),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='RandomScale', ratio_range=(0.75, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]

data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    size=crop_size,
    test_cfg=dict(size_divisor=32))

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        tasks=tasks,
        task_cfg=task_cfg,
        pipeline=train_pipeline,
        **synthetic))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        tasks=tasks,
        task_cfg=task_cfg,
        test_mode=True,
        pipeline=test_pipeline,
        **synthetic))
test_dataloader = val_dataloader

# --- evaluation ------------------------------------------------------------
# tasks=None: every task the model predicts, so a config that selects tasks
# in the model (model.decode_head.tasks) needs no change here
val_evaluator = dict(
    type='MultiTaskMetric', tasks=None, task_cfg=task_cfg, nproc=1)
test_evaluator = val_evaluator
