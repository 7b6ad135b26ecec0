# A downstream project's config: inherits the installed package's demo
# config and shrinks it to a 2-iteration run on 6 synthetic images.
_base_ = 'mmtlsi::demo/mtlsi_tiny_synthetic-nyud.py'
DATA_ROOT = 'data/synthetic'
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=DATA_ROOT, num_train=6, num_val=3,
                 img_size=(48, 64), seed=1))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=DATA_ROOT, num_train=6, num_val=3,
                 img_size=(48, 64), seed=1))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=1))
