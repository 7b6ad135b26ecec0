# Single-task MTLSI-Net (depth only), Swin-T, NYUDv2: the reference of Delta_m.
_base_ = ['../swin-t_nyud.py']
single_task = ['depth']
model = dict(decode_head=dict(tasks=single_task))
train_dataloader = dict(dataset=dict(tasks=single_task))
val_dataloader = dict(dataset=dict(tasks=single_task))
test_dataloader = val_dataloader
