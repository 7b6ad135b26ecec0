# NYUDv2 multi-task (semseg, depth, normals, edge): 795 train / 654 val.
# data_root: the ETH/ATRC "NYUDv2" archive or the "NYUD_MT" copy (detected
# automatically); see docs/datasets.md.
dataset_type = 'NYUDv2Dataset'
data_root = 'data/NYUDv2'
crop_size = (448, 576)
tasks = ['semseg', 'depth', 'normals', 'edge']
task_cfg = dict(
    semseg=dict(num_classes=40),
    # the paper takes its loss weights from ATRC, whose NYUDv2 edge loss
    # weighs positives 0.8 (InvPT and later work use 0.95; docs/model.md)
    edge=dict(max_dist=0.011,
              loss=dict(type='BalancedBCELoss', pos_weight=0.8)),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='RandomScale', ratio_range=(0.5, 2.0)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
# no resize at test time; the data preprocessor pads to crop_size and the
# predictions are cropped back to the image
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        tasks=tasks,
        task_cfg=task_cfg,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        tasks=tasks,
        task_cfg=task_cfg,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# --- evaluation ------------------------------------------------------------
# tasks=None: every task the model predicts, so a config that selects tasks
# in the model (model.decode_head.tasks) needs no change here
val_evaluator = dict(
    type='MultiTaskMetric', tasks=None, task_cfg=task_cfg, nproc=2)
test_evaluator = val_evaluator
