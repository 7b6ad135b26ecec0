# MTLSI-Net on NYUDv2, what every NYUDv2 config shares: the data (448x576
# crops, batch 8), the tasks the head predicts, the CWIB window, the size the
# data preprocessor pads to, the 40k-iteration schedule. The backbone is the
# model base's Swin-T; a paper config changes only the backbone.
_base_ = [
    './models/mtlsi_swin.py', './datasets/nyud.py', './default_runtime.py',
    './schedules/schedule_40k.py'
]
# one task_cfg (the dataset base's) for the data preprocessor, the head and
# the visualizer; the dataset, its transforms and the evaluator read it there
task_cfg = {{_base_.task_cfg}}
model = dict(
    data_preprocessor=dict(
        size={{_base_.crop_size}}, test_cfg=dict(size={{_base_.crop_size}}),
        task_cfg=task_cfg),
    decode_head=dict(
        tasks={{_base_.tasks}},
        task_cfg=task_cfg,
        window_size=(14, 16)))
visualizer = dict(task_cfg=task_cfg)
