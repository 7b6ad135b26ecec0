# Synthetic rooms with people in the PASCAL-Context layout (semseg, human
# parts, normals, saliency, edge), generated into data_root on first use
# (about 25 s; 200 train / 50 val at 96x128). What differs from
# pascal_context.py: the dataset class and its generator settings, 6 classes,
# the image and crop sizes (milder scale jitter), batch 8, fewer workers.
_base_ = ['./pascal_context.py']
dataset_type = 'SyntheticPascalContextDataset'
data_root = 'data/synthetic_pascal'
crop_size = (64, 96)
synthetic = dict(num_train=200, num_val=50, img_size=(96, 128), seed=0,
                 person_prob=0.7)
task_cfg = dict(semseg=dict(num_classes=6))

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
    batch_size=8,
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
