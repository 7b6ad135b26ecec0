# A small MTLSI-Net that learns the synthetic NYUDv2-layout scenes on a CPU in
# a few minutes: `make demo` trains and tests it. Same modules as the paper's
# configs (preliminary decoders, MT-MQLFB, distiller, CWIB, output decoders),
# narrower and with a ResNet-18-like backbone trained from scratch (no
# download), plain BN (it also runs as CPU processes under torchrun, where
# SyncBN cannot), and the last checkpoint kept, as in the paper's configs.
_base_ = [
    '../_base_/models/mtlsi_swin.py', '../_base_/datasets/synthetic_nyud.py',
    '../_base_/default_runtime.py'
]
crop_size = {{_base_.crop_size}}
tasks = {{_base_.tasks}}
# the dataset base's task_cfg (the dataset, its transforms and the evaluator
# read it there) for the data preprocessor, the head and the visualizer too
task_cfg = {{_base_.task_cfg}}
model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32),
                           task_cfg=task_cfg),
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ResNet',
        depth=18,
        base_channels=32,
        stem_channels=32,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN'),
        init_cfg=None),
    decode_head=dict(
        in_channels=[32, 64, 128, 256],
        tasks=tasks,
        task_cfg=task_cfg,
        channels=48,
        num_heads=4,
        num_tokens=32,
        window_size=(4, 6),
        preliminary_decoder=dict(lateral_kernel=(1, 1, 1, 3), num_convs=1),
        output_decoder=dict(lateral_kernel=3, num_convs=1),
        norm_cfg=dict(type='BN')))
visualizer = dict(task_cfg=task_cfg)

max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='NonFiniteGuardConstructor',  # docs/cluster.md
    max_nonfinite_skips=0,
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999),
                   weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=100, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_dataloader = dict(batch_size=8, num_workers=2)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=300,
                    max_keep_ckpts=1, backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='MultiTaskVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
