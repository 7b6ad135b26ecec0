# MTLSI-Net, HRNet-W18, NYUDv2.
_base_ = [
    '../_base_/models/mtlsi_hrnet.py', '../_base_/datasets/nyud.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = {{_base_.crop_size}}
tasks = {{_base_.tasks}}
task_cfg = {{_base_.task_cfg}}
model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size=crop_size)),
    decode_head=dict(tasks=tasks, task_cfg=task_cfg, window_size=(14, 16),
                     num_tokens=512))
train_dataloader = dict(batch_size=8)
