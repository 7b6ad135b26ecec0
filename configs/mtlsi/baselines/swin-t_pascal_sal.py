# Single-task MTLSI-Net (sal only), Swin-T, PASCAL-Context: the reference of
# Delta_m.
_base_ = ['../swin-t_pascal.py']
single_task = ['sal']
model = dict(decode_head=dict(tasks=single_task))
train_dataloader = dict(dataset=dict(tasks=single_task))
val_dataloader = dict(dataset=dict(tasks=single_task))
test_dataloader = val_dataloader
