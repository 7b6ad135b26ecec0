# Synthetic rooms in the NYUDv2 layout (semseg, depth, normals, edge),
# generated into data_root on first use (about 10 s; 200 train / 50 val at
# 96x128). Small enough for a CPU run of a few minutes. What differs from
# nyud.py: the dataset class and its generator settings, 7 classes, the
# image and crop sizes (milder scale jitter), fewer loader workers, and the
# edge loss's positive weight: 0.95, the value the demo and the module
# ablation in docs/results.md were measured with.
_base_ = ['./nyud.py']
dataset_type = 'SyntheticNYUDv2Dataset'
data_root = 'data/synthetic_nyud'
crop_size = (64, 96)
synthetic = dict(num_train=200, num_val=50, img_size=(96, 128), seed=0)
task_cfg = dict(
    semseg=dict(num_classes=7),
    edge=dict(loss=dict(type='BalancedBCELoss', pos_weight=0.95)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='RandomScale', ratio_range=(0.75, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    num_workers=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        task_cfg=task_cfg,
        pipeline=train_pipeline,
        **synthetic))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(
        type=dataset_type, data_root=data_root, task_cfg=task_cfg,
        **synthetic))
test_dataloader = val_dataloader
val_evaluator = dict(task_cfg=task_cfg, nproc=1)
test_evaluator = val_evaluator
