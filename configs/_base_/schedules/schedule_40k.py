# AdamW, initial LR 2e-5, polynomial decay over 40k iterations (the paper).
# Weight decay: the paper is silent; 1e-6 as in InvPT's reference code.
optimizer = dict(type='AdamW', lr=2e-5, betas=(0.9, 0.999), weight_decay=1e-6)
# NonFiniteGuardConstructor: a step whose loss or gradient norm is NaN or
# infinite is not applied and stops the run (docs/cluster.md);
# max_nonfinite_skips=N skips up to N such steps instead.
optim_wrapper = dict(
    type='OptimWrapper', constructor='NonFiniteGuardConstructor',
    max_nonfinite_skips=0, optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=40000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # The protocol reports the LAST checkpoint: the val split of NYUDv2 and
    # PASCAL-Context is their test split, so choosing the checkpoint by a val
    # metric would choose it on the test set. To select by a metric anyway,
    # add save_best='multi_task/delta_m', rule='greater'
    # (docs/get_started.md).
    # Checkpoints are written atomically (write, fsync, rename), and old ones
    # are deleted only after the new one and last_checkpoint are on disk.
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=4000,
                    max_keep_ckpts=2, backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='MultiTaskVisualizationHook'))
