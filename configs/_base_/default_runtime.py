default_scope = 'mmseg'
custom_imports = dict(imports=['mmtlsi'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
# TensorBoard: add dict(type='TensorboardVisBackend') to vis_backends
visualizer = dict(
    type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# SIGTERM / SIGUSR1: finish the iteration, save it, exit 75 (resume with
# --resume); a resumed run with another number of processes or batch size
# stops with advice. A config that sets its own custom_hooks keeps these two
# in its list (docs/cluster.md).
custom_hooks = [dict(type='PreemptionHook'), dict(type='ResumeCheckHook')]
